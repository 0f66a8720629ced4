//! The real `ascolto` binary, run as a user would: its own directory, config and database; the
//! backoffice's socket bound by the test and handed over at each start (socket activation).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use rusqlite::Connection;

use super::{tail, PATIENCE};

/// A loopback socket on a port of the kernel's choice, listening with the backlog the daemon's
/// own bind has (tokio's 1024: floods of connections in the tests meet the same queue).
/// Close-on-exec, as socket2 makes every socket: only the `serve` it is handed to gets it.
fn backoffice_listener() -> TcpListener {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(1024).unwrap();
    socket.into()
}

/// The binary under test: this build's, or `ASCOLTO_BIN` (a benchmark comparing two builds runs
/// the same harness against an older binary).
pub fn binary() -> PathBuf {
    std::env::var_os("ASCOLTO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ascolto")))
}

/// The `ascolto` binary run as a user would, with its own config file and database.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The backoffice's socket, bound here for the daemon's whole life (restarts included) and
    /// handed to each `serve` as systemd would (see [`Daemon::hand_over`]): its port is never
    /// free for anything else to take.
    web: TcpListener,
    /// The backoffice's port (given through the environment too, so every config names it).
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
        let web = backoffice_listener();
        Daemon {
            dir,
            child: None,
            web_port: web.local_addr().unwrap().port(),
            web,
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

    /// The environment every command gets: the backoffice's address, which no config file
    /// names.
    fn environment(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "ASCOLTO__WEB__BIND".to_string(),
                format!("127.0.0.1:{}", self.web_port),
            ),
            ("ASCOLTO__WEB__BASE_URL".to_string(), self.base_url()),
            // Training on the whole corpus takes minutes of CPU in a debug build: tests that
            // need a model train one with `ascolto classify train` (or in-process).
            (
                "ASCOLTO__CLASSIFY__TRAIN_AT_START".to_string(),
                "false".to_string(),
            ),
            (
                "ASCOLTO__CLASSIFY__NIGHTLY".to_string(),
                "false".to_string(),
            ),
        ])
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.arg("--config")
            .arg(self.config_path())
            .env_remove("RUST_LOG")
            .envs(self.environment())
            .stdin(Stdio::null());
        c
    }

    /// The configuration as the daemon's commands read it (the file, and their environment).
    pub fn config(&self) -> ascolto::config::Config {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        ascolto::config::Config::from_sources(&text, &self.environment(), Some(self.dir.path()))
            .unwrap()
    }

    /// `inner` (an `ascolto serve`, maybe wrapped) started as systemd starts a socket-activated
    /// service: the backoffice's listener as fd 3, `LISTEN_FDS=1`, and `LISTEN_PID` the pid of
    /// the process that runs it. That pid is not known before the process starts, so a shell
    /// sets it to its own and `exec`s the program, which keeps the pid.
    pub fn hand_over(&self, inner: Command) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("LISTEN_PID=$$ exec \"$@\"")
            .arg("sh")
            .arg(inner.get_program())
            .args(inner.get_args())
            .stdin(Stdio::null());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let socket = OwnedFd::from(self.web.try_clone().unwrap());
        c.env("LISTEN_FDS", "1")
            .fd_mappings(vec![FdMapping {
                parent_fd: socket,
                child_fd: 3,
            }])
            .unwrap();
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
        let mut serve = self.command();
        serve.arg("serve");
        let child = self
            .hand_over(serve)
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
