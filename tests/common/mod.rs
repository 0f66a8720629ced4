//! Shared by the integration tests, in layers:
//! - [`servers`]: real Dovecot and Postfix, started by `deploy/mailservers.sh` on loopback;
//!   [`cyrus`]: a second IMAP server (Cyrus) for the ingest contract;
//! - [`smtp`] and [`imap`]: small hand-written clients, as a citizen's mail program;
//! - [`daemon`]: the real `ascolto` binary with its own config and database, its backoffice
//!   socket bound here and handed over;
//! - [`http`]: a browser-like client for the backoffice, over HTTP to the daemon or calling the
//!   router in-process, and the `Office` that backoffice tests start from;
//! - [`matrix`]: every route tried by every role, for both ways of reaching the backoffice.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub mod cyrus;
pub mod daemon;
pub mod http;
pub mod imap;
pub mod matrix;
pub mod servers;
pub mod smtp;
pub mod systemd;

// Each test binary uses some of these: the others would be warned about.
#[allow(unused_imports)]
pub use daemon::Daemon;
#[allow(unused_imports)]
pub use servers::{spare_port, MailServers};

/// Generous: tests must not fail because the machine is slow, only because something is wrong.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures").join(name)).unwrap()
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
