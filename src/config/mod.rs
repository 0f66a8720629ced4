//! Typed, layered configuration: built-in defaults, then `config.toml`, then environment
//! overrides named `ASCOLTO__SECTION__KEY` (arrays of tables by index:
//! `ASCOLTO__MAILBOX__0__PASSWORD`).
//!
//! Every error names the key to fix. Secrets are never printed: they are held as [`Secret`],
//! whose `Debug` redacts them.
//!
//! # Layout
//! - this file: [`Config`], loading, environment overrides, validation, our own addresses.
//! - [`mailbox`]: `[[mailbox]]`, the IMAP mailboxes watched.
//! - [`smtp`]: `[smtp]`, how notifications leave.
//! - [`oauth2`]: `[mailbox.oauth2]` and `[smtp.oauth2]`.
//! - [`web`]: `[web]`, with the trusted proxies' networks.
//! - [`replication`]: `[replication]`, Litestream watched.
//! - [`istruttoria`]: `[istruttoria]`, requests for reports to the services.
//! - [`workflow`]: `[workflow]`, answering: how far a deadline may be extended.
//! - [`quality`]: `[quality]` (issue 20).
//! - [`sections`]: the small sections (database, tickets, ingest, notify, retention, log).
//! - [`secret`]: how a secret is held and read (inline or from a `…_file`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer};

use crate::domain::RecipientKey;

pub mod istruttoria;
pub mod mailbox;
pub mod oauth2;
pub mod public;
pub mod quality;
pub mod replication;
pub mod secret;
pub mod sections;
pub mod smtp;
pub mod web;
pub mod workflow;

pub use istruttoria::IstruttoriaConfig;
pub use mailbox::{MailboxConfig, StartFrom};
pub use oauth2::{OAuth2Config, OAuthMechanism};
pub use public::PublicConfig;
pub use quality::QualityConfig;
pub use replication::ReplicationConfig;
pub use secret::Secret;
pub use sections::{
    ClassifyConfig, DatabaseConfig, IngestConfig, LogConfig, LogFormat, NotifyConfig,
    RetentionConfig, TicketsConfig,
};
pub use smtp::{MailBackend, SmtpConfig};
pub use web::{IpNet, WebConfig};
pub use workflow::{ReviewBody, WorkflowConfig};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "ASCOLTO__";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub tickets: TicketsConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default, rename = "mailbox")]
    pub mailboxes: Vec<MailboxConfig>,
    #[serde(default)]
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub replication: ReplicationConfig,
    #[serde(default)]
    pub classify: ClassifyConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub istruttoria: IstruttoriaConfig,
    /// The public complaint form (issue 15) and transparency report (issue 20).
    #[serde(default)]
    pub public: PublicConfig,
    #[serde(default)]
    pub workflow: WorkflowConfig,
    /// Issue 20: the clinical-risk office, the trust's regional code.
    #[serde(default)]
    pub quality: QualityConfig,
    /// Computed once the sections are validated; not a key of the file.
    #[serde(skip)]
    own_addresses: Vec<RecipientKey>,
}

/// How a connection to a mail server is protected (IMAP and SMTP alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    None,
    Starttls,
    Tls,
}

impl Config {
    /// Loads `path` (which must exist) and applies the process's environment overrides.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_sources(&text, &env, path.parent())
            .with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// Builds a config from the file's text and an environment; relative `password_file`
    /// paths resolve against `base_dir`.
    pub fn from_sources(
        text: &str,
        env: &BTreeMap<String, String>,
        base_dir: Option<&Path>,
    ) -> Result<Config> {
        let mut root: toml::Table = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        for (name, value) in env {
            if let Some(key) = name.strip_prefix(ENV_PREFIX) {
                apply_override(&mut root, key, value)
                    .with_context(|| format!("in the environment variable {name}"))?;
            }
        }
        let de = toml::Value::Table(root);
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            anyhow::anyhow!("key `{path}`: {}", e.inner())
        })?;
        config.resolve_and_validate(base_dir)?;
        Ok(config)
    }

    /// The hospital's own mailboxes, each reduced to the mailbox it reaches: mail from any
    /// spelling of them is never a citizen's, and automatic mail to any spelling of them is
    /// never sent ("Mail never loops" in ARCHITECTURE.md). The ingest and the notifier both
    /// read this one list, so the two halves of the loop cannot disagree on what is ours.
    pub fn own_addresses(&self) -> &[RecipientKey] {
        &self.own_addresses
    }

    fn resolve_and_validate(&mut self, base_dir: Option<&Path>) -> Result<()> {
        self.tickets.validate()?;
        self.ingest.validate()?;
        self.notify.validate()?;
        self.classify.validate()?;
        self.workflow.validate(self.tickets.deadline_days)?;
        let first_mailbox = self.mailboxes.first().map(|m| m.username.as_str());
        self.smtp.resolve(first_mailbox, base_dir)?;
        self.web.validate()?;
        self.replication.validate()?;
        self.public.validate()?;
        let mut names = std::collections::HashSet::new();
        for (i, mb) in self.mailboxes.iter_mut().enumerate() {
            if mb.name.trim().is_empty() {
                bail!("key `mailbox[{i}].name`: must not be empty");
            }
            if !names.insert(mb.name.clone()) {
                bail!(
                    "key `mailbox[{i}].name`: {:?} is used by two mailboxes",
                    mb.name
                );
            }
            mb.resolve(i, base_dir)?;
        }
        self.own_addresses = own_addresses(&self.ingest, &self.mailboxes, &self.smtp);
        self.istruttoria.resolve(&self.own_addresses)?;
        self.quality.resolve()?;
        Ok(())
    }
}

/// `[ingest] own_addresses`, every mailbox's username and the notifications' sender.
///
/// A value without `@` is left out: a mailbox's `username` may be a login name rather than an
/// address (`urp`, `OSPEDALE\urp`), and as a bare word it would make any mail whose From lacks
/// a domain count as the hospital's own, so that it would never open a ticket.
fn own_addresses(
    ingest: &IngestConfig,
    mailboxes: &[MailboxConfig],
    smtp: &SmtpConfig,
) -> Vec<RecipientKey> {
    let written = ingest
        .own_addresses
        .iter()
        .map(String::as_str)
        .chain(mailboxes.iter().map(|m| m.username.as_str()))
        .chain([smtp.from()]);
    let mut own: Vec<RecipientKey> = Vec::new();
    for key in written.filter(|a| a.contains('@')).map(RecipientKey::of) {
        if !own.contains(&key) {
            own.push(key);
        }
    }
    own
}

/// Accepts a value either as its TOML type or as a string (environment overrides are strings).
fn flex<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex<T> {
        Typed(T),
        Text(String),
    }
    match Flex::<T>::deserialize(d)? {
        Flex::Typed(v) => Ok(v),
        Flex::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Sets `SECTION__KEY` (or `MAILBOX__0__KEY`) in the TOML tree, as a string: typed fields
/// accept strings through [`flex`].
fn apply_override(root: &mut toml::Table, key: &str, value: &str) -> Result<()> {
    let parts: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("malformed name: expected {ENV_PREFIX}SECTION__KEY");
    }
    let mut table = root;
    let (last, path) = parts.split_last().expect("split yields at least one part");
    let mut iter = path.iter().peekable();
    while let Some(part) = iter.next() {
        let next_is_index = iter.peek().is_some_and(|p| p.parse::<usize>().is_ok());
        if next_is_index {
            let index: usize = iter.next().unwrap().parse().unwrap();
            let array = table
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Array(Vec::new()))
                .as_array_mut()
                .with_context(|| format!("`{part}` is not a list of tables"))?;
            if index > array.len() {
                bail!("`{part}` index {index}: entries must be numbered from 0 without gaps");
            }
            if index == array.len() {
                array.push(toml::Value::Table(toml::Table::new()));
            }
            table = array[index]
                .as_table_mut()
                .with_context(|| format!("`{part}[{index}]` is not a table"))?;
        } else {
            let entry = table
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                bail!("`{part}` is not a table");
            };
            table = inner;
        }
    }
    let parsed = match value {
        "true" | "false" => toml::Value::Boolean(value == "true"),
        _ => toml::Value::String(value.to_string()),
    };
    table.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests;
