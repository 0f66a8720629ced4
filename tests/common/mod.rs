//! Shared by the integration tests: real Dovecot and Postfix started by `deploy/mailservers.sh`
//! on free loopback ports, the real `ascolto` binary, and a small SMTP client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod http;

use rusqlite::Connection;

/// Generous: tests must not fail because the machine is slow, only because something is wrong.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures").join(name)).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throw-away Dovecot + Postfix pair, stopped on drop.
pub struct MailServers {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub lmtp_port: u16,
    /// More settings for deploy/mailservers.sh (e.g. OAUTH2_INTROSPECTION_URL).
    env: Vec<(String, String)>,
}

impl MailServers {
    pub fn start() -> MailServers {
        Self::start_with(&[])
    }

    /// With more settings for deploy/mailservers.sh, as environment variables.
    pub fn start_with(env: &[(&str, &str)]) -> MailServers {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("ascolto-mail-")
                .tempdir()
                .unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let servers = MailServers {
                dir,
                imap_port: free_port(),
                imaps_port: free_port(),
                smtp_port: free_port(),
                lmtp_port: free_port(),
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            let out = servers.script("start");
            if out.status.success() {
                return servers;
            }
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
            servers.script("stop");
        }
        panic!("mail servers did not start: {last_error}");
    }

    fn script(&self, command: &str) -> std::process::Output {
        Command::new(repo().join("deploy/mailservers.sh"))
            .arg(command)
            .arg(self.dir.path())
            .env("IMAP_PORT", self.imap_port.to_string())
            .env("IMAPS_PORT", self.imaps_port.to_string())
            .env("SMTP_PORT", self.smtp_port.to_string())
            .env("LMTP_PORT", self.lmtp_port.to_string())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn stop_imap(&self) {
        self.script_ok("imap-stop");
    }

    pub fn start_imap(&self) {
        self.script_ok("imap-start");
    }

    fn script_ok(&self, command: &str) {
        let out = self.script(command);
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop_smtp(&self) {
        self.script_ok("smtp-stop");
    }

    pub fn start_smtp(&self) {
        self.script_ok("smtp-start");
    }

    /// Every message in `user`'s INBOX, read over IMAP as the citizen's mail client would.
    pub fn imap_messages(&self, user: &str) -> Vec<Vec<u8>> {
        imap_fetch_all(self.imap_port, user, "secret")
    }

    /// Where `user`'s mail is stored on disk.
    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        self.dir
            .path()
            .join("mail")
            .join(domain)
            .join(local)
            .join("Maildir")
    }

    /// Every message delivered to `user`, read from the Maildir on disk (any address).
    pub fn maildir_messages(&self, user: &str) -> Vec<Vec<u8>> {
        let maildir = self.maildir(user);
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    /// Waits until `user` has at least `n` messages (read from disk); returns them.
    pub fn wait_for_mail(&self, user: &str, n: usize) -> Vec<Vec<u8>> {
        let start = Instant::now();
        loop {
            let got = self.maildir_messages(user);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "waited for {n} mails to {user}, got {}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    /// Sends `raw` through Postfix, as any mail client would.
    pub fn send(&self, from: &str, to: &str, raw: &[u8]) {
        smtp_send(self.smtp_port, from, to, raw).unwrap_or_else(|e| panic!("SMTP: {e}"));
    }

    /// A citizen `from` mails a complaint to the URP box.
    pub fn send_complaint(&self, from: &str, subject: &str, body: &str) {
        self.send(from, "urp@hospital.test", &complaint(from, subject, body));
    }

    /// Writes `raw` straight into a user's Maildir (fast, for large backlogs).
    pub fn deliver_to_maildir(&self, user: &str, raw: &[u8]) {
        self.deliver_to_maildir_at(user, raw, std::time::SystemTime::now());
    }

    /// Writes `raw` into a user's Maildir as received at `at`: Dovecot reports a Maildir
    /// file's mtime as the message's INTERNALDATE (when the mailbox got it).
    pub fn deliver_to_maildir_at(&self, user: &str, raw: &[u8], at: std::time::SystemTime) {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let (local, domain) = user.split_once('@').unwrap();
        let maildir = self.maildir(user);
        let mut p = self.dir.path().join("mail");
        for part in [domain, local, "Maildir"] {
            p = p.join(part);
            ensure_mail_dir(&p);
        }
        for sub in ["new", "cur", "tmp"] {
            ensure_mail_dir(&maildir.join(sub));
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.P{}Q{n}.ascolto-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(at)
            .unwrap();
        chown(&tmp, Some(5000), Some(5000)).unwrap();
        std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
    }

    /// A config for a daemon watching urp@hospital.test over plain IMAP.
    pub fn config(&self, db: &Path, extra_mailbox_keys: &str) -> String {
        format!(
            r#"[database]
path = "{db}"

[ingest]
batch_size = 50

[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = {port}
security = "none"
username = "urp@hospital.test"
password = "secret"
poll_interval_secs = 1
{extra_mailbox_keys}

[smtp]
backend = "smtp"
host = "127.0.0.1"
port = {smtp}
security = "none"

[log]
level = "info,ascolto=debug"
"#,
            db = db.display(),
            port = self.imap_port,
            smtp = self.smtp_port,
        )
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        self.script("stop");
    }
}

/// Creates a mail directory owned by the mail user, unless it exists: Dovecot or Postfix may
/// be creating the same one at this very moment (delivering the daemon's mail), so "already
/// exists" is success.
fn ensure_mail_dir(p: &Path) {
    match std::fs::create_dir(p) {
        Ok(()) => chown(p, Some(5000), Some(5000)).unwrap(),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("cannot create {}: {e}", p.display()),
    }
}

/// A minimal SMTP client: EHLO, MAIL, RCPT, DATA with dot-stuffing and CRLF line ends.
pub fn smtp_send(port: u16, from: &str, to: &str, raw: &[u8]) -> std::io::Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let expect = |code: &str, reader: &mut BufReader<TcpStream>| -> std::io::Result<()> {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if !line.starts_with(code) {
                return Err(std::io::Error::other(format!(
                    "expected {code}, got {line:?}"
                )));
            }
            if line.as_bytes().get(3) == Some(&b' ') {
                return Ok(());
            }
        }
    };
    expect("220", &mut reader)?;
    for (cmd, code) in [
        ("EHLO test.example\r\n".to_string(), "250"),
        (format!("MAIL FROM:<{from}> BODY=8BITMIME\r\n"), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_string(), "354"),
    ] {
        writer.write_all(cmd.as_bytes())?;
        expect(code, &mut reader)?;
    }
    let mut data = Vec::with_capacity(raw.len() + raw.len() / 30);
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    writer.write_all(&data)?;
    expect("250", &mut reader)?;
    writer.write_all(b"QUIT\r\n")?;
    Ok(())
}

/// The `ascolto` binary run as a user would, with its own config file and database.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The backoffice's port (given through the environment, so every config gets one).
    pub web_port: u16,
}

impl Daemon {
    pub fn new(config: impl FnOnce(&Path) -> String) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("ascolto-app-")
            .tempdir()
            .unwrap();
        let text = config(&dir.path().join("ascolto.sqlite3"));
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        Daemon {
            dir,
            child: None,
            web_port: free_port(),
        }
    }

    /// The backoffice's address, as `[web] base_url` says it.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("ascolto.sqlite3")
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ascolto"));
        c.arg("--config")
            .arg(self.config_path())
            .env_remove("RUST_LOG")
            .env("ASCOLTO__WEB__BIND", format!("127.0.0.1:{}", self.web_port))
            .env("ASCOLTO__WEB__BASE_URL", self.base_url())
            .stdin(Stdio::null());
        c
    }

    /// Starts `ascolto serve`; its log goes to `serve.log` in the daemon's directory.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("serve.log"))
            .unwrap();
        let child = self
            .command()
            .arg("serve")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// SIGKILL: the daemon gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, then waits; returns how long the daemon took to exit.
    pub fn terminate(&mut self) -> Duration {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "ascolto exited with {status}; log:\n{}",
            self.log()
        );
        start.elapsed()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Read-only access to the daemon's database, while it runs.
    pub fn db(&self) -> Connection {
        let c =
            Connection::open_with_flags(self.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }

    pub fn count(&self, sql: &str) -> i64 {
        if !self.db_path().exists() {
            return 0;
        }
        self.db().query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    }

    /// Waits until `sql` (a count) reaches `n`; panics with the daemon's log otherwise.
    pub fn wait_for_count(&self, sql: &str, n: i64) {
        let start = Instant::now();
        loop {
            let got = self.count(sql);
            if got >= n {
                return;
            }
            if start.elapsed() > PATIENCE {
                panic!(
                    "waited {PATIENCE:?} for {sql} to reach {n}, got {got}; log:\n{}",
                    tail(&self.log())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ascolto export tickets --format json`, parsed.
    pub fn export_tickets(&self) -> Vec<serde_json::Value> {
        self.export(&["export", "tickets", "--format", "json"])
    }

    pub fn export_quarantine(&self) -> Vec<serde_json::Value> {
        self.export(&["export", "quarantine", "--format", "json"])
    }

    fn export(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn ticket(&self, number: &str) -> serde_json::Value {
        self.export_tickets()
            .into_iter()
            .find(|t| t["number"] == number)
            .unwrap_or_else(|| panic!("no ticket {number}"))
    }

    /// The ticket whose subject is exactly `subject`.
    pub fn ticket_by_subject(&self, subject: &str) -> serde_json::Value {
        self.export_tickets()
            .into_iter()
            .find(|t| t["subject"] == subject)
            .unwrap_or_else(|| {
                panic!(
                    "no ticket with subject {subject:?}; log:\n{}",
                    tail(&self.log())
                )
            })
    }

    /// A Message-ID ascolto would put on mail about `number` (for replies built by tests).
    pub fn our_message_id(&self, number: &str) -> String {
        let token: String = self
            .db()
            .query_row(
                "SELECT thread_token FROM tickets WHERE number = ?1",
                [number],
                |r| r.get(0),
            )
            .unwrap();
        ascolto::mail::thread::outbound_message_id(
            &number.parse().unwrap(),
            &token,
            "hospital.test",
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- ascolto log ---\n{}", tail(&self.log()));
        }
    }
}

pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// A plain complaint with a fresh Message-ID.
pub fn complaint(from: &str, subject: &str, body: &str) -> Vec<u8> {
    static N: AtomicU32 = AtomicU32::new(0);
    let id = format!(
        "{}.{}.{}@example.test",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        now_nanos()
    );
    format!(
        "From: {from}\r\nTo: urp@hospital.test\r\nSubject: {subject}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n\
Message-ID: <{id}>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A minimal IMAP client: LOGIN, EXAMINE INBOX, UID FETCH 1:* BODY.PEEK[]; returns the bodies.
pub fn imap_fetch_all(port: u16, user: &str, password: &str) -> Vec<Vec<u8>> {
    use std::io::Read;
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut greeting = Vec::new();
    r.read_until(b'\n', &mut greeting).unwrap();
    let mut bodies = Vec::new();
    for (tag, cmd) in [
        ("a", format!("LOGIN {user} {password}")),
        ("b", "EXAMINE INBOX".to_string()),
        ("c", "UID FETCH 1:* BODY.PEEK[]".to_string()),
        ("d", "LOGOUT".to_string()),
    ] {
        w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "IMAP connection closed");
            // A literal {N} ends the line: its N bytes are a message body.
            if let Some(len) = literal_len(&line) {
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                bodies.push(body);
                continue;
            }
            if line.starts_with(format!("{tag} ").as_bytes()) {
                let ok = line.starts_with(format!("{tag} OK").as_bytes());
                assert!(
                    ok || tag == "b",
                    "IMAP {cmd}: {}",
                    String::from_utf8_lossy(&line)
                );
                if !ok {
                    return Vec::new(); // no INBOX yet: no mail
                }
                break;
            }
        }
    }
    bodies
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

/// Header `name` of a raw message (first occurrence, unfolded), if present.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(raw)?;
    m.header_raw(name)
        .map(|v| v.trim().replace("\r\n", "").replace('\n', ""))
}

/// The decoded subject of a raw message.
pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

impl Daemon {
    /// Creates a backoffice account through the command line; returns its id.
    pub fn add_user(&self, email: &str, role: &str, notify: bool) -> i64 {
        let mut c = self.command();
        c.args([
            "user",
            "add",
            email,
            "--name",
            "Operatore Prova",
            "--role",
            role,
        ]);
        if notify {
            c.arg("--notify");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.user_id(email)
    }

    /// The id of the account with this email.
    pub fn user_id(&self, email: &str) -> i64 {
        self.db()
            .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
                r.get(0)
            })
            .unwrap()
    }

    /// Creates an account with a known password (read from standard input, as an
    /// administrator's script would); returns its id.
    pub fn add_user_with_password(&self, email: &str, role: &str, password: &str) -> i64 {
        use std::io::Write;
        let mut child = self
            .command()
            .args([
                "user",
                "add",
                email,
                "--name",
                &format!("Utente {role}"),
                "--role",
                role,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.user_id(email)
    }

    /// Runs a workflow step as the backoffice will: in a transaction on the daemon's database,
    /// with the daemon's own configuration; the daemon's outbox worker sends the mail.
    pub fn act<T>(
        &self,
        f: impl FnOnce(
            &Connection,
            &ascolto::notify::Notifier,
        ) -> Result<T, ascolto::workflow::WorkflowError>,
    ) -> T {
        let config = ascolto::config::Config::load(&self.config_path()).unwrap();
        let notifier = ascolto::notify::Notifier::from_config(&config).unwrap();
        let mut conn = Connection::open(self.db_path()).unwrap();
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        ascolto::workflow::in_transaction(&mut conn, |c| f(c, &notifier)).unwrap()
    }
}
