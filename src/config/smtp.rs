//! `[smtp]`: how notifications leave.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

use super::oauth2::{OAuth2Config, OAuthMechanism};
use super::secret::{self, Secret};
use super::{flex, Security, ENV_PREFIX};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailBackend {
    /// Send through an SMTP server.
    Smtp,
    /// Write each mail as an `.eml` file into `file_dir` (for trying ascolto without a server).
    File,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    #[serde(default = "default_backend")]
    pub backend: MailBackend,
    #[serde(default = "default_smtp_host")]
    pub host: String,
    #[serde(default = "default_smtp_port", deserialize_with = "flex")]
    pub port: u16,
    #[serde(default = "default_smtp_security")]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender of every mail; defaults to the first mailbox's username, so that a citizen's
    /// "Reply" reaches the watched mailbox.
    #[serde(default)]
    pub from_address: Option<String>,
    #[serde(default = "default_from_name")]
    pub from_name: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_file_dir")]
    pub file_dir: PathBuf,
    /// Submit with an OAuth2 access token (SASL XOAUTH2) as `username` instead of a password.
    #[serde(default)]
    pub oauth2: Option<OAuth2Config>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            backend: default_backend(),
            host: default_smtp_host(),
            port: default_smtp_port(),
            security: default_smtp_security(),
            username: None,
            password: None,
            password_file: None,
            from_address: None,
            from_name: default_from_name(),
            ca_file: None,
            file_dir: default_file_dir(),
            oauth2: None,
        }
    }
}

impl SmtpConfig {
    /// The sender address (validated at load time).
    pub fn from(&self) -> &str {
        self.from_address.as_deref().unwrap_or_default()
    }

    /// The domain of our Message-IDs: the sender's.
    pub fn message_id_domain(&self) -> &str {
        self.from().rsplit_once('@').map_or("localhost", |(_, d)| d)
    }

    /// Fills the sender in from the first mailbox's username when not given, reads the
    /// secrets and checks that the way of signing in is complete.
    pub(super) fn resolve(
        &mut self,
        first_mailbox: Option<&str>,
        base_dir: Option<&Path>,
    ) -> Result<()> {
        if self.from_address.is_none() {
            self.from_address = first_mailbox.map(str::to_string);
        }
        match self.from_address.as_deref() {
            Some(a) if a.contains('@') && !a.contains(char::is_whitespace) => {}
            Some(a) => bail!("key `smtp.from_address`: {a:?} is not an email address"),
            None => bail!(
                "key `smtp.from_address`: no sender for notifications: write `from_address = \"urp@ospedale.example\"` in [smtp] (it defaults to the first mailbox's username)"
            ),
        }
        secret::inline_or_file(
            "smtp.password",
            &mut self.password,
            self.password_file.as_deref(),
            base_dir,
        )?;
        if let Some(oauth2) = self.oauth2.as_mut() {
            if self.password.is_some() {
                bail!("key `smtp.password`: [smtp] signs in with OAuth2 ([smtp.oauth2]): remove its password");
            }
            if self.username.is_none() {
                bail!("key `smtp.username`: OAuth2 needs the account to sign in as");
            }
            if oauth2.mechanism != OAuthMechanism::Xoauth2 {
                bail!("key `smtp.oauth2.mechanism`: SMTP submission supports \"xoauth2\" only");
            }
            oauth2.resolve("smtp.oauth2", base_dir)?;
        } else if self.username.is_some() && self.password.is_none() {
            bail!("key `smtp.password`: `smtp.username` is set but no password: write `password` or `password_file` in [smtp], or set {ENV_PREFIX}SMTP__PASSWORD");
        }
        Ok(())
    }
}

fn default_backend() -> MailBackend {
    MailBackend::File
}
fn default_smtp_host() -> String {
    "127.0.0.1".into()
}
fn default_smtp_port() -> u16 {
    25
}
fn default_smtp_security() -> Security {
    Security::Starttls
}
fn default_from_name() -> String {
    "URP".into()
}
fn default_file_dir() -> PathBuf {
    PathBuf::from("sent-mail")
}
