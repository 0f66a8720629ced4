//! OAuth2 access tokens for signing in to mail servers that no longer take passwords
//! (Microsoft 365, Gmail): SASL XOAUTH2 or OAUTHBEARER (RFC 7628) with a bearer token from
//! either a configured command (`token_command`, its token used for five minutes or until
//! refused: tools such as `oauth2l` or `az account get-access-token` keep their own cache) or a
//! token endpoint
//! (refresh-token grant, or client-credentials grant when no refresh token is configured).
//!
//! A token from the endpoint is kept and refreshed before it expires (at 90% of its life, at
//! most 5 minutes early). A token the server refuses is forgotten, so the next sign-in fetches a
//! new one. A failure says which endpoint answered what (`invalid_grant: …`): the most common
//! outage is a refresh token that silently expired or was revoked, and the watcher reports it
//! in the log and on `/healthz` like any other sign-in failure.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::Mutex;

use crate::config::{OAuth2Config, OAuthMechanism};

/// A token from `token_command` (whose lifetime is not known) is used again for this long, or
/// until the server refuses it: access tokens live an hour or more, and a burst of
/// notifications then runs the command once, not once a mail.
const COMMAND_TOKEN_REUSE: Duration = Duration::from_secs(300);

/// How long a token command or the token endpoint may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TokenSource {
    cfg: OAuth2Config,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The token and when to stop using it.
    token: Option<(String, Instant)>,
    /// A refresh token the endpoint rotated (kept in memory only).
    refresh_token: Option<String>,
}

impl TokenSource {
    pub fn new(cfg: OAuth2Config) -> TokenSource {
        TokenSource {
            cfg,
            state: Mutex::new(State::default()),
        }
    }

    pub fn mechanism(&self) -> OAuthMechanism {
        self.cfg.mechanism
    }

    /// A token good for a sign-in now.
    pub async fn token(&self) -> Result<String> {
        let mut state = self.state.lock().await;
        if let Some((token, until)) = &state.token {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        if let Some(command) = &self.cfg.token_command {
            let token = run_command(command).await?;
            state.token = Some((token.clone(), Instant::now() + COMMAND_TOKEN_REUSE));
            return Ok(token);
        }
        let url = self
            .cfg
            .token_url
            .clone()
            .context("no token_command and no token_url")?;
        let refresh_token = state.refresh_token.clone().or_else(|| {
            self.cfg
                .refresh_token
                .as_ref()
                .map(|t| t.expose().to_string())
        });
        let cfg = self.cfg.clone();
        let granted = tokio::time::timeout(
            TOKEN_TIMEOUT,
            tokio::task::spawn_blocking(move || request(&url, &cfg, refresh_token.as_deref())),
        )
        .await
        .map_err(|_| anyhow!("the token endpoint did not answer within {TOKEN_TIMEOUT:?}"))??
        .with_context(|| {
            format!(
                "cannot get an OAuth2 access token from {}",
                self.cfg.token_url.as_deref().unwrap_or_default()
            )
        })?;
        let lifetime = Duration::from_secs(granted.expires_in);
        tracing::info!(
            expires_in_secs = granted.expires_in,
            "OAuth2 access token obtained"
        );
        if let Some(rotated) = granted.refresh_token {
            state.refresh_token = Some(rotated);
        }
        state.token = Some((
            granted.access_token.clone(),
            Instant::now() + use_for(lifetime),
        ));
        Ok(granted.access_token)
    }

    /// The server refused the token: the next sign-in gets a new one.
    pub async fn forget(&self) {
        self.state.lock().await.token = None;
    }
}

/// How long to use a token that lives `lifetime`: until 90% of it has passed, stopping at most
/// five minutes and at least half of its life before it ends.
fn use_for(lifetime: Duration) -> Duration {
    let early = (lifetime / 10)
        .clamp(Duration::from_secs(60), Duration::from_secs(300))
        .min(lifetime / 2);
    lifetime - early
}

async fn run_command(command: &str) -> Result<String> {
    let out = tokio::time::timeout(
        TOKEN_TIMEOUT,
        tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("token_command did not finish within {TOKEN_TIMEOUT:?}"))?
    .context("cannot run token_command")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "token_command failed ({}): {}",
            out.status,
            stderr.trim().chars().take(300).collect::<String>()
        );
    }
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if token.is_empty() {
        bail!("token_command printed no token");
    }
    Ok(token)
}

struct Granted {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
}

/// One POST to the token endpoint (RFC 6749 §6 refresh, or §4.4 client credentials).
fn request(url: &str, cfg: &OAuth2Config, refresh_token: Option<&str>) -> Result<Granted> {
    let mut form: Vec<(&str, &str)> = Vec::new();
    match refresh_token {
        Some(token) => {
            form.push(("grant_type", "refresh_token"));
            form.push(("refresh_token", token));
        }
        None => form.push(("grant_type", "client_credentials")),
    }
    if let Some(id) = &cfg.client_id {
        form.push(("client_id", id));
    }
    if let Some(secret) = &cfg.client_secret {
        form.push(("client_secret", secret.expose()));
    }
    if let Some(scope) = &cfg.scope {
        form.push(("scope", scope));
    }
    let agent = ureq::AgentBuilder::new().timeout(TOKEN_TIMEOUT).build();
    let response = match agent.post(url).send_form(&form) {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            // RFC 6749 §5.2: {"error": "invalid_grant", "error_description": "…"}
            let body: serde_json::Value = r.into_json().unwrap_or_default();
            let error = body["error"].as_str().unwrap_or("no error code");
            let description = body["error_description"].as_str().unwrap_or_default();
            bail!(
                "HTTP {code}: {error}{}{}",
                if description.is_empty() { "" } else { ": " },
                description.chars().take(300).collect::<String>()
            );
        }
        Err(e) => return Err(e.into()),
    };
    let body: serde_json::Value = response
        .into_json()
        .context("the token endpoint's answer is not JSON")?;
    let access_token = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .context("the token endpoint's answer has no access_token")?
        .to_string();
    Ok(Granted {
        access_token,
        // Without expires_in the token is used for an hour at most.
        expires_in: body["expires_in"]
            .as_u64()
            .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(3600),
        refresh_token: body["refresh_token"].as_str().map(str::to_string),
    })
}

/// The SASL initial response carrying the token.
pub fn initial_response(
    mechanism: OAuthMechanism,
    user: &str,
    token: &str,
    host: &str,
    port: u16,
) -> String {
    match mechanism {
        OAuthMechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        OAuthMechanism::Oauthbearer => {
            // RFC 5801 §4: "," and "=" in the authorisation identity are escaped.
            let user = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
        }
    }
}

pub fn mechanism_name(mechanism: OAuthMechanism) -> &'static str {
    match mechanism {
        OAuthMechanism::Xoauth2 => "XOAUTH2",
        OAuthMechanism::Oauthbearer => "OAUTHBEARER",
    }
}

/// Answers the server: the initial response first, then (after a refusal, whose challenge
/// carries the server's error) an empty line, as both mechanisms require.
pub struct Sasl {
    first: Option<String>,
    /// What the server said when it refused (its JSON error), for the log.
    pub refusal: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Sasl {
    pub fn new(initial: String) -> Sasl {
        Sasl {
            first: Some(initial),
            refusal: Default::default(),
        }
    }
}

impl async_imap::Authenticator for Sasl {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(initial) => initial.into_bytes(),
            None => {
                *self.refusal.lock().unwrap() = Some(String::from_utf8_lossy(challenge).into());
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_used_until_most_of_their_life_has_passed() {
        assert_eq!(
            use_for(Duration::from_secs(3600)),
            Duration::from_secs(3300)
        );
        assert_eq!(use_for(Duration::from_secs(600)), Duration::from_secs(540));
        assert_eq!(use_for(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(use_for(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn initial_responses_follow_the_mechanisms() {
        assert_eq!(
            initial_response(
                OAuthMechanism::Xoauth2,
                "urp@h.test",
                "tok",
                "imap.h.test",
                993
            ),
            "user=urp@h.test\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            initial_response(
                OAuthMechanism::Oauthbearer,
                "a,b=c@h",
                "tok",
                "imap.h.test",
                993
            ),
            "n,a=a=2Cb=3Dc@h,\x01host=imap.h.test\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }
}
