//! `[replication]`: the database is streamed to a replica by Litestream (a separate service, see
//! README's Operations), and ascolto watches that it keeps up.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flex;

/// Where Litestream's control socket is when `deploy/litestream.yml` is used.
pub const DEFAULT_SOCKET: &str = "/run/litestream/litestream.sock";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// The database as `litestream.yml` names it (`dbs: - path:`), absolute. Setting it turns
    /// the replication check on (`/healthz`, `/metrics`) and makes the anonymisation job leave
    /// the write-ahead log's checkpoints to Litestream.
    #[serde(default)]
    pub litestream_db_path: Option<PathBuf>,
    /// Litestream's control socket (`socket: enabled: true, path: …` in `litestream.yml`).
    #[serde(default = "default_socket")]
    pub litestream_socket: PathBuf,
    /// `/healthz` turns unhealthy when the replica was last confirmed up to date longer ago.
    #[serde(default = "default_max_lag", deserialize_with = "flex")]
    pub max_lag_secs: u32,
    /// The `litestream` program, for `ascolto restore --from-litestream`.
    #[serde(default = "default_command")]
    pub litestream_command: String,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        Self {
            litestream_db_path: None,
            litestream_socket: default_socket(),
            max_lag_secs: default_max_lag(),
            litestream_command: default_command(),
        }
    }
}

impl ReplicationConfig {
    /// Whether Litestream replicates the database (`litestream_db_path` is set).
    pub fn enabled(&self) -> bool {
        self.litestream_db_path.is_some()
    }

    pub fn max_lag(&self) -> Duration {
        Duration::from_secs(u64::from(self.max_lag_secs))
    }

    pub(super) fn validate(&self) -> Result<()> {
        if let Some(p) = &self.litestream_db_path {
            if !p.is_absolute() {
                bail!(
                    "key `replication.litestream_db_path`: {:?} is not absolute: write the path \
                     exactly as `dbs: - path:` in litestream.yml names the database, e.g. \
                     \"/var/lib/ascolto/ascolto.sqlite3\"",
                    p.display().to_string()
                );
            }
        }
        if !self.litestream_socket.is_absolute() {
            bail!(
                "key `replication.litestream_socket`: {:?} is not absolute (the default is {DEFAULT_SOCKET:?}, \
                 as `socket: path:` in deploy/litestream.yml)",
                self.litestream_socket.display().to_string()
            );
        }
        // The replica is asked every max_lag/3 (at most every 10 s): below 3 s the check would
        // be busier than Litestream's own once-a-second sync.
        if self.max_lag_secs < 3 {
            bail!(
                "key `replication.max_lag_secs`: must be at least 3 (the default is {})",
                default_max_lag()
            );
        }
        if self.litestream_command.trim().is_empty() {
            bail!("key `replication.litestream_command`: must not be empty (the default is \"litestream\")");
        }
        Ok(())
    }
}

fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SOCKET)
}
/// Five minutes: Litestream ships every second, so a replica minutes behind means it stopped.
fn default_max_lag() -> u32 {
    300
}
fn default_command() -> String {
    "litestream".into()
}
