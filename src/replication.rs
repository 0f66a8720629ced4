//! Watching Litestream (`[replication]`): is the replica keeping up with the database?
//!
//! Litestream streams the write-ahead log to the replica by itself; ascolto only asks it, over
//! its control socket, to sync and wait (`POST /sync` with `"wait": true`, what
//! `litestream sync -wait` does). The answer carries the database's newest transaction
//! (`txid`) and the newest one in the replica (`replicated_txid`): when they are equal,
//! everything committed before the question was asked is in the replica. The time of the last
//! such answer is what `/healthz` and `/metrics` report; past `max_lag_secs` the daemon is
//! unhealthy. Asking is cheap: with nothing new Litestream answers `no_change` and uploads
//! nothing.
//!
//! Litestream keeps the write-ahead log's checkpoints for itself (it holds a read transaction
//! between its own); see [`crate::retention::finish`] for what ascolto does not do then.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::config::ReplicationConfig;
use crate::metrics::Metrics;

/// The longest pause between two probes: a third of `max_lag_secs`, at most this, so that a
/// replica that keeps up never looks late between two probes.
const PROBE_EVERY_MAX: Duration = Duration::from_secs(10);
/// How long Litestream may take to sync (an upload of a large snapshot after a restart takes
/// longer: the probe then fails and the lag grows, which is the truth).
const SYNC_TIMEOUT_SECS: u64 = 30;

/// What Litestream answered.
#[derive(Debug, Deserialize)]
pub struct SyncAnswer {
    pub status: String,
    pub txid: u64,
    pub replicated_txid: u64,
}

/// Asks Litestream to sync `db` to its replica and wait for it.
pub async fn probe(socket: &Path, db: &Path) -> Result<SyncAnswer> {
    let body =
        serde_json::json!({ "path": db, "wait": true, "timeout": SYNC_TIMEOUT_SECS }).to_string();
    let request = format!(
        "POST /sync HTTP/1.1\r\nHost: litestream\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket)
            .await
            .with_context(|| {
                format!(
                    "cannot reach Litestream's control socket {} (is litestream running, with \
                     `socket: enabled: true`?)",
                    socket.display()
                )
            })?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(SYNC_TIMEOUT_SECS + 5), exchange)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "Litestream did not answer within {}s",
                SYNC_TIMEOUT_SECS + 5
            )
        })??;
    let (status, body) = http_response(&raw)?;
    if status != 200 {
        bail!(
            "Litestream answered {status}: {} (is `{}` in litestream.yml's dbs?)",
            body.trim(),
            db.display()
        );
    }
    serde_json::from_str(&body)
        .with_context(|| format!("unexpected answer from Litestream: {body}"))
}

/// The status and the body of an HTTP/1.1 response (plain or chunked).
fn http_response(raw: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("a truncated answer from Litestream")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("an answer from Litestream without a status")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_string()));
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .context("a malformed chunk from Litestream")?;
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    Ok((status, out))
}

/// Probes Litestream until shutdown and records what it says in `metrics`.
pub struct Watcher {
    pub socket: PathBuf,
    pub db: PathBuf,
    pub every: Duration,
    pub metrics: Arc<Metrics>,
}

impl Watcher {
    /// `None` when `[replication]` is off.
    pub fn from_config(config: &ReplicationConfig, metrics: Arc<Metrics>) -> Option<Watcher> {
        let db = config.litestream_db_path.clone()?;
        Some(Watcher {
            socket: config.litestream_socket.clone(),
            db,
            every: (config.max_lag() / 3).clamp(Duration::from_secs(1), PROBE_EVERY_MAX),
            metrics,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) {
        self.metrics.replication_watching();
        let mut was_ok = None;
        loop {
            // Said once per change, not at every probe (the error stays in /healthz).
            let ok = self.probe_once().await;
            if was_ok != Some(ok) {
                match (ok, self.metrics.replication().and_then(|r| r.last_error)) {
                    (true, _) => {
                        tracing::info!(db = %self.db.display(), "replication: the replica is up to date")
                    }
                    (false, why) => {
                        tracing::warn!(db = %self.db.display(), "replication: {}", why.unwrap_or_default())
                    }
                }
                was_ok = Some(ok);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// One probe; whether it confirmed the replica up to date.
    pub async fn probe_once(&self) -> bool {
        let asked = chrono::Utc::now();
        match probe(&self.socket, &self.db).await {
            Ok(a) if a.replicated_txid >= a.txid => {
                self.metrics.replication_confirmed(asked, a.replicated_txid);
                true
            }
            Ok(a) => {
                let why = format!(
                    "the replica holds transaction {} of {} ({})",
                    a.replicated_txid, a.txid, a.status
                );
                tracing::debug!("replication: {why}");
                self.metrics.replication_failed(why);
                false
            }
            Err(e) => {
                let why = crate::errors::chain(&*e).to_string();
                tracing::debug!("replication: {why}");
                self.metrics.replication_failed(why);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"txid\":3}\n";
        assert_eq!(
            http_response(plain).unwrap(),
            (200, "{\"txid\":3}\n".into())
        );
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(http_response(chunked).unwrap(), (404, "hello world".into()));
        assert!(http_response(b"HTTP/1.1 200").is_err());
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_failed_probe_that_says_what_to_check() {
        let metrics = Arc::new(Metrics::default());
        let w = Watcher {
            socket: PathBuf::from("/nonexistent/litestream.sock"),
            db: PathBuf::from("/var/lib/ascolto/ascolto.sqlite3"),
            every: Duration::from_secs(1),
            metrics: metrics.clone(),
        };
        metrics.replication_watching();
        assert!(!w.probe_once().await);
        let state = metrics.replication().unwrap();
        assert!(state.last_confirmed.is_none());
        assert!(
            state.last_error.unwrap().contains("is litestream running"),
            "the error names the socket and what to check"
        );
    }
}
