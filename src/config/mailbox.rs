//! `[[mailbox]]`: an IMAP mailbox the daemon watches.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::oauth2::OAuth2Config;
use super::secret::{self, Secret};
use super::{flex, Security, ENV_PREFIX};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    All,
    New,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub name: String,
    pub host: String,
    #[serde(deserialize_with = "flex")]
    pub port: u16,
    pub security: Security,
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_folder")]
    pub folder: String,
    #[serde(default = "yes", deserialize_with = "flex")]
    pub idle: bool,
    #[serde(default = "default_poll", deserialize_with = "flex")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_start_from")]
    pub start_from: StartFrom,
    /// Optional folder to move a message to once its ticket is durably committed.
    #[serde(default)]
    pub move_to: Option<String>,
    /// Extra CA certificate (PEM) trusted for this server, for a hospital's internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Sign in with an OAuth2 access token (SASL XOAUTH2 or OAUTHBEARER) instead of a
    /// password: Microsoft 365 and Gmail accept nothing else.
    #[serde(default)]
    pub oauth2: Option<OAuth2Config>,
    /// A PEC (certified mail) box: envelopes are unwrapped to the citizen's message and their
    /// certified time may set the time of receipt. On an ordinary box an envelope is just mail.
    #[serde(default, deserialize_with = "flex")]
    pub pec: bool,
    /// The PEC providers' CA certificates (PEM): each envelope's signature is checked against
    /// them and the ticket says whether it was verified. Only with `pec = true`.
    #[serde(default)]
    pub pec_ca_file: Option<PathBuf>,
}

impl MailboxConfig {
    /// How this mailbox treats PEC envelopes: `None` for an ordinary box.
    pub fn pec_box(&self) -> Option<crate::mail::pec::PecBox> {
        self.pec.then(|| crate::mail::pec::PecBox {
            ca_file: self.pec_ca_file.clone(),
        })
    }

    /// The password, from `password` or `password_file`; validated at load time.
    pub fn secret(&self) -> &str {
        self.password.as_ref().map_or("", Secret::expose)
    }

    /// What identifies the mailbox on the server: progress recorded for another account or
    /// folder under the same name must not be reused.
    pub fn account(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.username, self.host, self.port, self.folder
        )
    }

    /// Checks the `i`th mailbox on its own and reads its secrets; the names' uniqueness is
    /// checked by the caller, which sees them all.
    pub(super) fn resolve(&mut self, i: usize, base_dir: Option<&Path>) -> Result<()> {
        let key = format!("mailbox[{i}]");
        if self.poll_interval_secs == 0 {
            bail!("key `{key}.poll_interval_secs`: must be at least 1");
        }
        if let Some(file) = self.pec_ca_file.as_mut() {
            if !self.pec {
                bail!(
                    "key `{key}.pec_ca_file`: only for a PEC box: add `pec = true` to mailbox {:?} or remove the key",
                    self.name
                );
            }
            if let (Some(dir), true) = (base_dir, file.is_relative()) {
                *file = dir.join(&*file);
            }
            std::fs::metadata(&*file).with_context(|| {
                format!("key `{key}.pec_ca_file`: cannot read {}", file.display())
            })?;
        }
        if let Some(oauth2) = self.oauth2.as_mut() {
            if self.password.is_some() || self.password_file.is_some() {
                bail!(
                    "key `{key}.password`: mailbox {:?} signs in with OAuth2 ([mailbox.oauth2]): remove its password",
                    self.name
                );
            }
            return oauth2.resolve(&format!("{key}.oauth2"), base_dir);
        }
        secret::inline_or_file(
            &format!("{key}.password"),
            &mut self.password,
            self.password_file.as_deref(),
            base_dir,
        )?;
        if self.password.is_none() {
            bail!(
                "key `{key}.password`: mailbox {:?} has no password: write `password = \"…\"` or \
                 `password_file = \"/etc/ascolto/{}.secret\"` in its [[mailbox]] table, or set \
                 {ENV_PREFIX}MAILBOX__{i}__PASSWORD",
                self.name,
                self.name
            );
        }
        Ok(())
    }
}

fn default_folder() -> String {
    "INBOX".into()
}
fn yes() -> bool {
    true
}
fn default_poll() -> u64 {
    60
}
fn default_start_from() -> StartFrom {
    StartFrom::All
}
