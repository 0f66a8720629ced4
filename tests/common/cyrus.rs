//! A second IMAP server for the ingest contract: a throw-away Cyrus IMAP 3.6, started by
//! `deploy/mailservers.sh cyrus-start` on a loopback port, with its default lazy IDLE (an idling
//! client hears of new mail only at Cyrus's own 60-second poll). [`ImapServer`] lets one test run
//! against Dovecot and Cyrus alike; mail is added by IMAP APPEND, as a mail program would.

use std::path::Path;
use std::process::{Command, Stdio};

use super::imap::ImapConn;
use super::repo;
use super::servers::{spare_port, watching_config, MailServers};

/// What the ingest contract needs of an IMAP server.
pub trait ImapServer {
    /// Its name in assertion messages.
    fn name(&self) -> &'static str;
    fn imap_port(&self) -> u16;
    /// Whether an idling client hears of new mail only at the server's own poll (Cyrus's default).
    fn lazy_idle(&self) -> bool;
    /// Takes the server away (an outage) and brings it back, the mailbox kept.
    fn stop_imap(&self);
    fn start_imap(&self);

    /// Adds one message to `user`'s INBOX by APPEND.
    fn append(&self, user: &str, raw: &[u8]) {
        ImapConn::login(self.imap_port(), user, "secret").append(raw);
    }

    /// INBOX's message count and how many messages carry a flag (see [`ImapConn::inbox_state`]).
    fn inbox_state(&self, user: &str) -> (usize, usize) {
        ImapConn::login(self.imap_port(), user, "secret").inbox_state()
    }

    /// A daemon config watching urp@hospital.test on this server, mail to citizens written to
    /// files (the contract is about reading the mailbox).
    fn config(&self, db: &Path, extra_mailbox_keys: &str) -> String {
        let smtp = format!(
            "backend = \"file\"\nfile_dir = \"{}\"",
            db.with_file_name("sent").display()
        );
        watching_config(db, self.imap_port(), extra_mailbox_keys, &smtp)
    }
}

impl ImapServer for MailServers {
    fn name(&self) -> &'static str {
        "Dovecot"
    }
    fn lazy_idle(&self) -> bool {
        false
    }
    fn imap_port(&self) -> u16 {
        self.imap_port
    }
    fn stop_imap(&self) {
        MailServers::stop_imap(self)
    }
    fn start_imap(&self) {
        MailServers::start_imap(self)
    }
}

/// A throw-away Cyrus IMAP, stopped on drop. Any password is accepted and a user's INBOX is
/// created at their first login.
pub struct Cyrus {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Cyrus {
    pub fn start() -> Cyrus {
        let mut last_error = String::new();
        // As for Dovecot: a port taken since it was chosen fails the start; retry with another.
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("ascolto-cyrus-")
                .tempdir()
                .unwrap();
            let cyrus = Cyrus {
                dir,
                port: spare_port(),
            };
            let out = cyrus.script("cyrus-start");
            if out.status.success() {
                return cyrus;
            }
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
            cyrus.script("cyrus-stop");
        }
        panic!("Cyrus did not start: {last_error}");
    }

    fn script(&self, command: &str) -> std::process::Output {
        Command::new(repo().join("deploy/mailservers.sh"))
            .arg(command)
            .arg(self.dir.path())
            .env("CYRUS_PORT", self.port.to_string())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn script_ok(&self, command: &str) {
        let out = self.script(command);
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl ImapServer for Cyrus {
    fn name(&self) -> &'static str {
        "Cyrus"
    }
    fn lazy_idle(&self) -> bool {
        true
    }
    fn imap_port(&self) -> u16 {
        self.port
    }
    fn stop_imap(&self) {
        self.script_ok("cyrus-stop");
    }
    fn start_imap(&self) {
        self.script_ok("cyrus-start");
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        self.script("cyrus-stop");
    }
}
