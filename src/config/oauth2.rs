//! `[mailbox.oauth2]` and `[smtp.oauth2]`: signing in with an OAuth2 access token.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

use super::secret::{self, Secret};

/// Where OAuth2 access tokens come from: a command, or a token endpoint (refresh-token grant
/// when a refresh token is given, client-credentials grant otherwise).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    #[serde(default)]
    pub mechanism: OAuthMechanism,
    /// Run with `sh -c` at every sign-in; its first line of output is the access token.
    #[serde(default)]
    pub token_command: Option<String>,
    /// The token endpoint, e.g.
    /// `https://login.microsoftonline.com/TENANT/oauth2/v2.0/token`.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub refresh_token_file: Option<PathBuf>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthMechanism {
    /// Google's and Microsoft's mechanism.
    #[default]
    Xoauth2,
    /// RFC 7628.
    Oauthbearer,
}

impl OAuth2Config {
    /// Reads the secrets kept in files and checks that tokens can come from somewhere; `key` is
    /// where this table sits (`mailbox[0].oauth2`, `smtp.oauth2`), for the messages.
    pub(super) fn resolve(&mut self, key: &str, base_dir: Option<&Path>) -> Result<()> {
        secret::inline_or_file(
            &format!("{key}.client_secret"),
            &mut self.client_secret,
            self.client_secret_file.as_deref(),
            base_dir,
        )?;
        secret::inline_or_file(
            &format!("{key}.refresh_token"),
            &mut self.refresh_token,
            self.refresh_token_file.as_deref(),
            base_dir,
        )?;
        match (&self.token_command, &self.token_url) {
            (Some(_), Some(_)) => {
                bail!("key `{key}.token_command` and `{key}.token_url`: set only one of them")
            }
            (None, None) => bail!(
                "key `{key}`: say where access tokens come from: `token_command = \"…\"` (a \
                 command that prints one), or `token_url`, `client_id` and `refresh_token` (or \
                 `client_secret` for the client-credentials grant)"
            ),
            (Some(_), None) => {}
            (None, Some(url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!("key `{key}.token_url`: {url:?} must start with https://");
                }
                if self.client_id.is_none() {
                    bail!("key `{key}.client_id`: needed with token_url");
                }
                if self.refresh_token.is_none() && self.client_secret.is_none() {
                    bail!(
                        "key `{key}.refresh_token`: with token_url give a refresh_token (or \
                         refresh_token_file), or a client_secret for the client-credentials grant"
                    );
                }
            }
        }
        Ok(())
    }
}
