//! Throw-away Dovecot and Postfix, started by `deploy/mailservers.sh` on loopback ports, with
//! what tests do with them: deliver mail, read mailboxes, take a server away and bring it back.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{complaint, imap::imap_fetch_all, repo, smtp::smtp_send, PATIENCE};

/// Tests choose ports for programs that bind by number from here up to the kernel's ephemeral
/// range: the kernel gives ports from `net.ipv4.ip_local_port_range` (32768 up by default) to
/// `bind(port 0)` and to outgoing connections, so a port below it is never taken by one of those;
/// and the ports of services and of `deploy/mailservers.sh`'s defaults (10024–10993) lie lower.
const CHOSEN_PORTS_FROM: u16 = 16_384;

/// `N` distinct loopback ports, free when chosen, for programs that bind their own sockets from a
/// port number in a config file (Dovecot, Postfix, chromedriver): unlike the daemon, they cannot
/// take a listener handed over, so the number is bound again later — a race no choice removes.
/// It is made rare, and harmless:
/// - the numbers come from below the kernel's ephemeral range (see [`CHOSEN_PORTS_FROM`]), where
///   neither the daemons' listeners (port 0) nor any outgoing connection can get them;
/// - no number is given twice in a test process (`cargo test` runs a binary's tests as threads
///   of one process), and the search starts at a random number (`cargo nextest` runs each test
///   as its own process), so two tests rarely try the same one;
/// - each is checked free by binding it, all at once (so they are distinct from each other);
/// - a start that fails all the same (another process bound one meanwhile) is retried with new
///   numbers ([`MailServers::start_with`]).
pub fn spare_ports<const N: usize>() -> [u16; N] {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = if ephemeral_from > CHOSEN_PORTS_FROM + 2_000 {
        (CHOSEN_PORTS_FROM, ephemeral_from)
    } else {
        // No room below the ephemeral range on this machine: choose anywhere above 1024.
        (1_024, u16::MAX)
    };
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut seed = [0u8; 2];
    getrandom::fill(&mut seed).unwrap();
    let span = u32::from(high - low);
    let mut candidate = u32::from(u16::from_le_bytes(seed)) % span;
    let mut held = Vec::with_capacity(N);
    for _ in 0..span {
        if held.len() == N {
            break;
        }
        candidate = (candidate + 1) % span;
        let port = low + candidate as u16;
        if given.contains(&port) {
            continue;
        }
        if let Ok(probe) = TcpListener::bind(("127.0.0.1", port)) {
            given.insert(port);
            held.push(probe);
        }
    }
    assert_eq!(held.len(), N, "no {N} free loopback ports in {low}..{high}");
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// One port of [`spare_ports`].
pub fn spare_port() -> u16 {
    let [port] = spare_ports();
    port
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
        // A port taken by another process since it was chosen (see [`spare_ports`]) fails the
        // start: new ports, new start.
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("ascolto-mail-")
                .tempdir()
                .unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let [imap_port, imaps_port, smtp_port, lmtp_port] = spare_ports();
            let servers = MailServers {
                dir,
                imap_port,
                imaps_port,
                smtp_port,
                lmtp_port,
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
        let smtp = format!(
            "backend = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"",
            self.smtp_port
        );
        watching_config(db, self.imap_port, extra_mailbox_keys, &smtp)
    }
}

/// A daemon's config watching urp@hospital.test on `imap_port` over plain IMAP (1-second
/// checks), with `smtp` as its `[smtp]` section's keys.
pub fn watching_config(db: &Path, imap_port: u16, extra_mailbox_keys: &str, smtp: &str) -> String {
    format!(
        r#"[database]
path = "{db}"

[ingest]
batch_size = 50

[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "urp@hospital.test"
password = "secret"
poll_interval_secs = 1
{extra_mailbox_keys}

[smtp]
{smtp}

[log]
level = "info,ascolto=debug"
"#,
        db = db.display(),
    )
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
