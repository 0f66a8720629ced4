//! The small sections: `[database]`, `[tickets]`, `[ingest]`, `[notify]`, `[retention]`, `[log]`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flex;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_path")]
    pub path: PathBuf,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: default_db_path(),
        }
    }
}

fn default_db_path() -> PathBuf {
    PathBuf::from("ascolto.sqlite3")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsConfig {
    #[serde(default = "default_prefix")]
    pub number_prefix: String,
    #[serde(default = "default_deadline", deserialize_with = "flex")]
    pub deadline_days: u32,
    /// A citizen's reply within this many days of closing reopens the ticket; later, it opens
    /// a new ticket linked to the old one.
    #[serde(default = "default_reopen_window", deserialize_with = "flex")]
    pub reopen_window_days: u32,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        Self {
            number_prefix: default_prefix(),
            deadline_days: default_deadline(),
            reopen_window_days: default_reopen_window(),
        }
    }
}

impl TicketsConfig {
    pub(super) fn validate(&self) -> Result<()> {
        let prefix = &self.number_prefix;
        if prefix.is_empty()
            || prefix.len() > 10
            || !prefix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            bail!("key `tickets.number_prefix`: {prefix:?} must be 1 to 10 capital letters or digits, e.g. \"URP\"");
        }
        if self.deadline_days == 0 {
            bail!("key `tickets.deadline_days`: must be at least 1 (the law says 30)");
        }
        Ok(())
    }
}

fn default_prefix() -> String {
    "URP".into()
}
fn default_deadline() -> u32 {
    30
}
fn default_reopen_window() -> u32 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The hospital's own addresses: mail from them never opens a ticket or triggers a reply.
    /// Read through [`super::Config::own_addresses`], which adds the mailboxes and the sender.
    #[serde(default)]
    pub own_addresses: Vec<String>,
    /// Messages committed together in one transaction while catching up on a backlog.
    #[serde(default = "default_batch", deserialize_with = "flex")]
    pub batch_size: usize,
    /// The name (authserv-id) the hospital's own mail server writes in the
    /// `Authentication-Results` headers it adds. When set, a message whose DMARC fails (or
    /// whose SPF and DKIM both fail) is marked "mittente non verificato" and never joins an
    /// existing ticket.
    #[serde(default)]
    pub trusted_authserv_id: Option<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            own_addresses: Vec::new(),
            batch_size: default_batch(),
            trusted_authserv_id: None,
        }
    }
}

impl IngestConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("key `ingest.batch_size`: must be at least 1");
        }
        if let Some(id) = &self.trusted_authserv_id {
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';') {
                bail!(
                    "key `ingest.trusted_authserv_id`: {id:?} must be the one word your mail server \
                     writes first in its Authentication-Results headers, e.g. \"mx.hospital.it\""
                );
            }
        }
        Ok(())
    }
}

fn default_batch() -> usize {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A folder with the hospital's own copies of the templates; missing files fall back to
    /// the built-in ones.
    #[serde(default)]
    pub templates_dir: Option<PathBuf>,
    /// How the office signs its mails.
    #[serde(default = "default_office")]
    pub office_name: String,
    /// Mails answering inbound mail (acknowledgements, reopenings) one address may receive per
    /// window; more are recorded as suppressed, never sent. Notices of operators' actions are
    /// not counted.
    #[serde(default = "default_auto_limit", deserialize_with = "flex")]
    pub auto_reply_limit: u32,
    #[serde(default = "default_auto_window", deserialize_with = "flex")]
    pub auto_reply_window_hours: u32,
    /// Mails answering inbound mail to anyone, per hour: a ceiling for the whole hospital, so
    /// that a flood of mail with forged senders cannot make it mail thousands of addresses.
    /// More are recorded as suppressed, never sent.
    #[serde(default = "default_auto_global", deserialize_with = "flex")]
    pub auto_reply_global_per_hour: u32,
    /// Sending attempts before a notification is marked failed for an administrator to see.
    #[serde(default = "default_attempts", deserialize_with = "flex")]
    pub max_attempts: u32,
    /// The letterhead of answers printed as letters (citizens without e-mail; issue 15): one
    /// line per line. Empty: the office's name.
    #[serde(default)]
    pub letterhead: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            templates_dir: None,
            office_name: default_office(),
            auto_reply_limit: default_auto_limit(),
            auto_reply_window_hours: default_auto_window(),
            auto_reply_global_per_hour: default_auto_global(),
            max_attempts: default_attempts(),
            letterhead: String::new(),
        }
    }
}

impl NotifyConfig {
    pub(super) fn validate(&self) -> Result<()> {
        // 0 would be an empty window: the per-address limit would never count anything.
        if self.auto_reply_window_hours == 0 {
            bail!("key `notify.auto_reply_window_hours`: must be at least 1 (the default is 24)");
        }
        if self.auto_reply_global_per_hour == 0 {
            bail!(
                "key `notify.auto_reply_global_per_hour`: must be at least 1 (the default is {}): \
                 it is a ceiling on acknowledgements to anyone per hour",
                default_auto_global()
            );
        }
        Ok(())
    }
}

fn default_office() -> String {
    "Ufficio Relazioni con il Pubblico".into()
}
fn default_auto_limit() -> u32 {
    3
}
fn default_auto_window() -> u32 {
    24
}
/// About ten times the busiest hour of a large hospital's complaints office.
fn default_auto_global() -> u32 {
    60
}
fn default_attempts() -> u32 {
    12
}

/// How long citizens' personal data stay once a ticket is closed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Tickets closed longer ago than this lose names, addresses, texts and attachments
    /// (kept: dates, kind, category, service, outcome). 0: never (the default).
    #[serde(default, deserialize_with = "flex")]
    pub anonymise_after_days: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default = "default_format")]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: default_format(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}
fn default_format() -> LogFormat {
    LogFormat::Human
}

/// `[classify]`: the learned classifier (issue 13). The routing rules need no settings here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Train a model from the corpus shipped in the binary when the database has none (the first
    /// start); in the background, while ingest runs on the rules alone.
    #[serde(default = "default_true", deserialize_with = "flex")]
    pub train_at_start: bool,
    /// Retrain every night from the operators' confirmed tickets and the corpus.
    #[serde(default = "default_true", deserialize_with = "flex")]
    pub nightly: bool,
    /// The hour of the nightly training, Europe/Rome (0–23).
    #[serde(default = "default_train_hour", deserialize_with = "flex")]
    pub nightly_hour: u32,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            train_at_start: true,
            nightly: true,
            nightly_hour: default_train_hour(),
        }
    }
}

impl ClassifyConfig {
    pub fn validate(&self) -> Result<()> {
        if self.nightly_hour > 23 {
            bail!("key `classify.nightly_hour`: an hour from 0 to 23");
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}
/// Night, after the 02:30 backup and far from office hours.
fn default_train_hour() -> u32 {
    3
}
