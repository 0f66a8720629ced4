//! Typed, layered configuration: built-in defaults, then `config.toml`, then environment
//! overrides named `ASCOLTO__SECTION__KEY` (arrays of tables by index:
//! `ASCOLTO__MAILBOX__0__PASSWORD`).
//!
//! Every error names the key to fix. Secrets are never printed: `Debug` redacts them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer};

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
    pub log: LogConfig,
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

fn default_reopen_window() -> u32 {
    60
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailBackend {
    /// Send through an SMTP server.
    Smtp,
    /// Write each mail as an `.eml` file into `file_dir` (for trying ascolto without a server).
    File,
}

#[derive(Clone, Deserialize)]
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
    pub password: Option<String>,
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

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("backend", &self.backend)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .field("file_dir", &self.file_dir)
            .field("oauth2", &self.oauth2)
            .finish()
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
        }
    }
}

impl NotifyConfig {
    fn validate(&self) -> Result<()> {
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the backoffice listens. Put a TLS reverse proxy in front of anything but loopback.
    #[serde(default = "default_bind")]
    pub bind: std::net::SocketAddr,
    /// The backoffice's address as operators reach it: links in mails point there, forms are
    /// accepted only from this origin, and cookies are `Secure` when it is https.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A session unused this long signs out.
    #[serde(default = "default_idle")]
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, however busy.
    #[serde(default = "default_session_hours")]
    pub session_max_hours: u32,
    /// `/healthz` turns unhealthy when a mailbox's server has not answered for this long.
    #[serde(default = "default_health_grace", deserialize_with = "flex")]
    pub health_mailbox_grace_secs: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks). From
    /// any other peer the header is ignored: a client could write any address in it.
    #[serde(default, deserialize_with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Whether ASL viewers read what citizens wrote (identity, messages, notes, attachments,
    /// original mail). Off: the statistics, the lists and each ticket's facts only.
    #[serde(default, deserialize_with = "flex")]
    pub viewer_sees_content: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            base_url: default_base_url(),
            session_idle_minutes: default_idle(),
            session_max_hours: default_session_hours(),
            health_mailbox_grace_secs: default_health_grace(),
            trusted_proxies: Vec::new(),
            viewer_sees_content: false,
        }
    }
}

/// An address (`10.1.2.3`, `::1`) or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (an IPv4 address seen as `::ffff:a.b.c.d` included).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let bits = |a: &[u8], b: &[u8], prefix: u8| {
            let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
            a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
        };
        match (self.addr, ip.to_canonical()) {
            (V4(net), V4(ip)) => bits(&net.octets(), &ip.octets(), self.prefix),
            (V6(net), V6(ip)) => bits(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }

    /// The number of leading bits that must match.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an address or a network such as \"10.0.0.0/8\"");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

/// A list of networks: a TOML array of strings, or one string with commas (an environment
/// override such as `ASCOLTO__WEB__TRUSTED_PROXIES=10.0.0.2,10.0.0.3`).
fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Many(Vec<String>),
        One(String),
    }
    let entries = match List::deserialize(d)? {
        List::Many(v) => v,
        List::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
    };
    entries
        .iter()
        .map(|e| e.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn default_bind() -> std::net::SocketAddr {
    ([127, 0, 0, 1], 8080).into()
}
fn default_idle() -> u32 {
    120
}
fn default_session_hours() -> u32 {
    12
}
fn default_health_grace() -> u32 {
    300
}

fn default_base_url() -> String {
    "http://127.0.0.1:8080".into()
}

fn default_prefix() -> String {
    "URP".into()
}
fn default_deadline() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The hospital's own addresses: mail from them never opens a ticket or triggers a reply.
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

fn default_batch() -> usize {
    200
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    All,
    New,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub name: String,
    pub host: String,
    #[serde(deserialize_with = "flex")]
    pub port: u16,
    pub security: Security,
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
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

/// Where OAuth2 access tokens come from: a command, or a token endpoint (refresh-token grant
/// when a refresh token is given, client-credentials grant otherwise).
#[derive(Clone, Deserialize)]
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
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub refresh_token: Option<String>,
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

impl fmt::Debug for OAuth2Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("OAuth2Config")
            .field("mechanism", &self.mechanism)
            .field("token_command", &self.token_command)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("client_secret_file", &self.client_secret_file)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("refresh_token_file", &self.refresh_token_file)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Reads a secret from a file (relative to the config's folder), without its line end.
fn read_secret(key: &str, file: &Path, base_dir: Option<&Path>) -> Result<String> {
    let file = match base_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    };
    let secret = std::fs::read_to_string(&file)
        .with_context(|| format!("key `{key}`: cannot read {}", file.display()))?;
    Ok(secret.trim_end_matches(['\r', '\n']).to_string())
}

impl OAuth2Config {
    fn resolve(&mut self, key: &str, base_dir: Option<&Path>) -> Result<()> {
        for (value, file, name) in [
            (
                &mut self.client_secret,
                &self.client_secret_file,
                "client_secret",
            ),
            (
                &mut self.refresh_token,
                &self.refresh_token_file,
                "refresh_token",
            ),
        ] {
            match (value.is_some(), file) {
                (true, Some(_)) => {
                    bail!("key `{key}.{name}` and `{key}.{name}_file`: set only one of them")
                }
                (false, Some(f)) => {
                    *value = Some(read_secret(&format!("{key}.{name}_file"), f, base_dir)?)
                }
                _ => {}
            }
        }
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

impl MailboxConfig {
    /// How this mailbox treats PEC envelopes: `None` for an ordinary box.
    pub fn pec_box(&self) -> Option<crate::mail::pec::PecBox> {
        self.pec.then(|| crate::mail::pec::PecBox {
            ca_file: self.pec_ca_file.clone(),
        })
    }

    /// The password, from `password` or `password_file`; validated at load time.
    pub fn secret(&self) -> &str {
        self.password.as_deref().unwrap_or_default()
    }

    /// What identifies the mailbox on the server: progress recorded for another account or
    /// folder under the same name must not be reused.
    pub fn account(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.username, self.host, self.port, self.folder
        )
    }
}

impl fmt::Debug for MailboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("folder", &self.folder)
            .field("idle", &self.idle)
            .field("poll_interval_secs", &self.poll_interval_secs)
            .field("start_from", &self.start_from)
            .field("move_to", &self.move_to)
            .field("ca_file", &self.ca_file)
            .field("oauth2", &self.oauth2)
            .field("pec", &self.pec)
            .field("pec_ca_file", &self.pec_ca_file)
            .finish()
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

    fn resolve_and_validate(&mut self, base_dir: Option<&Path>) -> Result<()> {
        let prefix = &self.tickets.number_prefix;
        if prefix.is_empty()
            || prefix.len() > 10
            || !prefix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            bail!("key `tickets.number_prefix`: {prefix:?} must be 1 to 10 capital letters or digits, e.g. \"URP\"");
        }
        if self.tickets.deadline_days == 0 {
            bail!("key `tickets.deadline_days`: must be at least 1 (the law says 30)");
        }
        if self.ingest.batch_size == 0 {
            bail!("key `ingest.batch_size`: must be at least 1");
        }
        if let Some(id) = &self.ingest.trusted_authserv_id {
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';') {
                bail!(
                    "key `ingest.trusted_authserv_id`: {id:?} must be the one word your mail server \
                     writes first in its Authentication-Results headers, e.g. \"mx.hospital.it\""
                );
            }
        }
        self.notify.validate()?;
        self.resolve_smtp(base_dir)?;
        let mut names = std::collections::HashSet::new();
        for (i, mb) in self.mailboxes.iter_mut().enumerate() {
            let key = format!("mailbox[{i}]");
            if mb.name.trim().is_empty() {
                bail!("key `{key}.name`: must not be empty");
            }
            if !names.insert(mb.name.clone()) {
                bail!("key `{key}.name`: {:?} is used by two mailboxes", mb.name);
            }
            if mb.poll_interval_secs == 0 {
                bail!("key `{key}.poll_interval_secs`: must be at least 1");
            }
            if let Some(file) = mb.pec_ca_file.as_mut() {
                if !mb.pec {
                    bail!(
                        "key `{key}.pec_ca_file`: only for a PEC box: add `pec = true` to mailbox {:?} or remove the key",
                        mb.name
                    );
                }
                if let (Some(dir), true) = (base_dir, file.is_relative()) {
                    *file = dir.join(&*file);
                }
                std::fs::metadata(&*file).with_context(|| {
                    format!("key `{key}.pec_ca_file`: cannot read {}", file.display())
                })?;
            }
            if let Some(oauth2) = mb.oauth2.as_mut() {
                if mb.password.is_some() || mb.password_file.is_some() {
                    bail!(
                        "key `{key}.password`: mailbox {:?} signs in with OAuth2 ([mailbox.oauth2]): remove its password",
                        mb.name
                    );
                }
                oauth2.resolve(&format!("{key}.oauth2"), base_dir)?;
                continue;
            }
            match (&mb.password, &mb.password_file) {
                (Some(_), Some(_)) => bail!(
                    "key `{key}.password` and `{key}.password_file`: set only one of them"
                ),
                (Some(_), None) => {}
                (None, Some(file)) => {
                    mb.password = Some(read_secret(
                        &format!("{key}.password_file"),
                        file,
                        base_dir,
                    )?);
                }
                (None, None) => bail!(
                    "key `{key}.password`: mailbox {:?} has no password: write `password = \"…\"` or \
                     `password_file = \"/etc/ascolto/{}.secret\"` in its [[mailbox]] table, or set \
                     {ENV_PREFIX}MAILBOX__{i}__PASSWORD",
                    mb.name,
                    mb.name
                ),
            }
        }
        Ok(())
    }
}

impl Config {
    fn resolve_smtp(&mut self, base_dir: Option<&Path>) -> Result<()> {
        let smtp = &mut self.smtp;
        if smtp.from_address.is_none() {
            smtp.from_address = self.mailboxes.first().map(|m| m.username.clone());
        }
        match smtp.from_address.as_deref() {
            Some(a) if a.contains('@') && !a.contains(char::is_whitespace) => {}
            Some(a) => bail!("key `smtp.from_address`: {a:?} is not an email address"),
            None => bail!(
                "key `smtp.from_address`: no sender for notifications: write `from_address = \"urp@ospedale.example\"` in [smtp] (it defaults to the first mailbox's username)"
            ),
        }
        match (&smtp.password, &smtp.password_file) {
            (Some(_), Some(_)) => {
                bail!("key `smtp.password` and `smtp.password_file`: set only one of them")
            }
            (None, Some(file)) => {
                smtp.password = Some(read_secret("smtp.password_file", file, base_dir)?);
            }
            _ => {}
        }
        if let Some(oauth2) = smtp.oauth2.as_mut() {
            if smtp.password.is_some() {
                bail!("key `smtp.password`: [smtp] signs in with OAuth2 ([smtp.oauth2]): remove its password");
            }
            if smtp.username.is_none() {
                bail!("key `smtp.username`: OAuth2 needs the account to sign in as");
            }
            if oauth2.mechanism != OAuthMechanism::Xoauth2 {
                bail!("key `smtp.oauth2.mechanism`: SMTP submission supports \"xoauth2\" only");
            }
            oauth2.resolve("smtp.oauth2", base_dir)?;
        } else if smtp.username.is_some() && smtp.password.is_none() {
            bail!("key `smtp.password`: `smtp.username` is set but no password: write `password` or `password_file` in [smtp], or set {ENV_PREFIX}SMTP__PASSWORD");
        }
        if self.web.trusted_proxies.iter().any(|n| n.prefix() == 0) {
            bail!(
                "key `web.trusted_proxies`: a network of every address would let any client choose \
                 the address its sign-ins are counted under: list the reverse proxy's own address"
            );
        }
        if !(self.web.base_url.starts_with("http://") || self.web.base_url.starts_with("https://"))
        {
            bail!(
                "key `web.base_url`: {:?} must start with http:// or https://",
                self.web.base_url
            );
        }
        Ok(())
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
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = 143
security = "none"
username = "urp@hospital.test"
password = "s3cret"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(text, &env, None)
    }

    fn err(text: &str, env: &[(&str, &str)]) -> String {
        format!("{:#}", load(text, env).unwrap_err())
    }

    #[test]
    fn oauth2_sign_in_replaces_the_password_and_says_what_is_missing() {
        let oauth = MINIMAL.replace("password = \"s3cret\"\n", "")
            + "[mailbox.oauth2]\ntoken_url = \"https://login.example/token\"\nclient_id = \"app\"\nrefresh_token = \"r-secret\"\n";
        let c = load(&oauth, &[]).unwrap();
        let o = c.mailboxes[0].oauth2.as_ref().unwrap();
        assert_eq!(o.mechanism, OAuthMechanism::Xoauth2);
        assert!(
            !format!("{c:?}").contains("r-secret"),
            "refresh token redacted"
        );

        // From the environment alone, as under systemd.
        let env_only = MINIMAL.replace("password = \"s3cret\"\n", "");
        let c = load(
            &env_only,
            &[(
                "ASCOLTO__MAILBOX__0__OAUTH2__TOKEN_COMMAND",
                "get-token urp",
            )],
        )
        .unwrap();
        assert_eq!(
            c.mailboxes[0]
                .oauth2
                .as_ref()
                .unwrap()
                .token_command
                .as_deref(),
            Some("get-token urp")
        );

        let with_password = MINIMAL.to_string() + "[mailbox.oauth2]\ntoken_command = \"x\"\n";
        assert!(err(&with_password, &[]).contains("remove its password"));
        let both = oauth.replace(
            "[mailbox.oauth2]\n",
            "[mailbox.oauth2]\ntoken_command = \"x\"\n",
        );
        assert!(err(&both, &[]).contains("set only one of them"));
        let neither =
            MINIMAL.replace("password = \"s3cret\"\n", "") + "[mailbox.oauth2]\nscope = \"s\"\n";
        assert!(err(&neither, &[]).contains("say where access tokens come from"));
        let no_grant = oauth.replace("refresh_token = \"r-secret\"\n", "");
        assert!(err(&no_grant, &[]).contains("client-credentials"));
        let bad_mechanism = oauth.replace(
            "[mailbox.oauth2]\n",
            "[mailbox.oauth2]\nmechanism = \"plain\"\n",
        );
        assert!(err(&bad_mechanism, &[]).contains("mailbox[0].oauth2.mechanism"));
        let smtp = MINIMAL.to_string()
            + "[smtp]\nusername = \"urp@hospital.test\"\n[smtp.oauth2]\nmechanism = \"oauthbearer\"\ntoken_command = \"x\"\n";
        assert!(err(&smtp, &[]).contains("\"xoauth2\" only"));
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.tickets.number_prefix, "URP");
        assert_eq!(c.tickets.deadline_days, 30);
        assert_eq!(c.mailboxes[0].folder, "INBOX");
        assert!(c.mailboxes[0].idle);
        assert_eq!(c.mailboxes[0].start_from, StartFrom::All);
    }

    #[test]
    fn environment_overrides_the_file_with_typed_values() {
        let c = load(
            MINIMAL,
            &[
                ("ASCOLTO__TICKETS__DEADLINE_DAYS", "20"),
                ("ASCOLTO__MAILBOX__0__PORT", "993"),
                ("ASCOLTO__MAILBOX__0__IDLE", "false"),
                ("ASCOLTO__MAILBOX__0__PASSWORD", "12345"),
                ("ASCOLTO__DATABASE__PATH", "/var/lib/ascolto/db.sqlite3"),
            ],
        )
        .unwrap();
        assert_eq!(c.tickets.deadline_days, 20);
        assert_eq!(c.mailboxes[0].port, 993);
        assert!(!c.mailboxes[0].idle);
        assert_eq!(c.mailboxes[0].secret(), "12345");
        assert_eq!(
            c.database.path,
            PathBuf::from("/var/lib/ascolto/db.sqlite3")
        );
    }

    #[test]
    fn a_misspelt_key_is_named() {
        let e = err(&format!("{MINIMAL}poll_interval = 5\n"), &[]);
        assert!(
            e.contains("mailbox[0]") && e.contains("poll_interval"),
            "{e}"
        );
        let e = err("[tickets]\nprefix = \"X\"\n", &[]);
        assert!(e.contains("prefix") && e.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_wrong_type_is_named() {
        let e = err(&MINIMAL.replace("port = 143", "port = \"imap\""), &[]);
        assert!(e.contains("mailbox[0].port"), "{e}");
        let e = err(MINIMAL, &[("ASCOLTO__TICKETS__DEADLINE_DAYS", "thirty")]);
        assert!(e.contains("tickets.deadline_days"), "{e}");
    }

    #[test]
    fn a_missing_password_says_where_to_write_it() {
        let e = err(&MINIMAL.replace("password = \"s3cret\"", ""), &[]);
        assert!(e.contains("mailbox[0].password"), "{e}");
        assert!(e.contains("ASCOLTO__MAILBOX__0__PASSWORD"), "{e}");
    }

    #[test]
    fn password_file_is_read_and_the_secret_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("urp.secret"), "from-file\n").unwrap();
        let text = MINIMAL.replace("password = \"s3cret\"", "password_file = \"urp.secret\"");
        let c = Config::from_sources(&text, &BTreeMap::new(), Some(dir.path())).unwrap();
        assert_eq!(c.mailboxes[0].secret(), "from-file");
        assert!(!format!("{c:?}").contains("from-file"));
    }

    #[test]
    fn a_bad_enum_value_is_named() {
        let e = err(&MINIMAL.replace("\"none\"", "\"ssl\""), &[]);
        assert!(e.contains("mailbox[0].security"), "{e}");
    }

    #[test]
    fn notifications_come_from_the_first_mailbox_unless_told_otherwise() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.smtp.from(), "urp@hospital.test");
        assert_eq!(c.smtp.message_id_domain(), "hospital.test");
        assert_eq!(c.smtp.backend, MailBackend::File);
        let c = load(
            MINIMAL,
            &[("ASCOLTO__SMTP__FROM_ADDRESS", "reclami@asl.example")],
        )
        .unwrap();
        assert_eq!(c.smtp.message_id_domain(), "asl.example");
        let e = err(
            MINIMAL,
            &[("ASCOLTO__SMTP__FROM_ADDRESS", "not an address")],
        );
        assert!(e.contains("smtp.from_address"), "{e}");
        let e = err(MINIMAL, &[("ASCOLTO__SMTP__USERNAME", "u")]);
        assert!(e.contains("smtp.password"), "{e}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let c = load(MINIMAL, &[]).unwrap();
        assert!(c.web.trusted_proxies.is_empty());
        assert!(!c.web.viewer_sees_content);
        let text = format!(
            "{MINIMAL}[web]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\nviewer_sees_content = true\n"
        );
        let c = load(&text, &[]).unwrap();
        assert!(c.web.viewer_sees_content);
        let trusted = |ip: &str| {
            let ip = ip.parse().unwrap();
            c.web.trusted_proxies.iter().any(|n| n.contains(ip))
        };
        assert!(trusted("127.0.0.1") && trusted("10.200.3.4") && trusted("fd12::1"));
        assert!(
            trusted("::ffff:10.1.1.1"),
            "IPv4 seen through an IPv6 socket"
        );
        assert!(!trusted("127.0.0.2") && !trusted("11.0.0.1") && !trusted("fe80::1"));
        let c = load(
            MINIMAL,
            &[("ASCOLTO__WEB__TRUSTED_PROXIES", "10.0.0.2, 192.168.1.0/24")],
        )
        .unwrap();
        assert_eq!(c.web.trusted_proxies.len(), 2);
        assert!(c.web.trusted_proxies[1].contains("192.168.1.77".parse().unwrap()));
        for bad in [
            "\"proxy.local\"",
            "\"10.0.0.0/33\"",
            "\"10.0.0.0/x\"",
            "\"0.0.0.0/0\"",
            "\"::/0\"",
        ] {
            let e = err(&format!("{MINIMAL}[web]\ntrusted_proxies = [{bad}]\n"), &[]);
            assert!(e.contains("web.trusted_proxies"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_shipped_config_file_is_valid() {
        let text = include_str!("../config.toml");
        let c = load(text, &[("ASCOLTO__MAILBOX__0__PASSWORD", "x")]).unwrap();
        assert_eq!(c.tickets.number_prefix, "URP");
        assert_eq!(
            c.notify.auto_reply_global_per_hour,
            NotifyConfig::default().auto_reply_global_per_hour,
            "config.toml documents the default"
        );
    }

    #[test]
    fn the_automatic_reply_ceilings_must_be_ceilings() {
        assert_eq!(
            load(MINIMAL, &[])
                .unwrap()
                .notify
                .auto_reply_global_per_hour,
            60
        );
        let c = load(
            MINIMAL,
            &[("ASCOLTO__NOTIFY__AUTO_REPLY_GLOBAL_PER_HOUR", "500")],
        )
        .unwrap();
        assert_eq!(c.notify.auto_reply_global_per_hour, 500);
        let e = err(
            &format!("{MINIMAL}[notify]\nauto_reply_global_per_hour = 0\n"),
            &[],
        );
        assert!(e.contains("notify.auto_reply_global_per_hour"), "{e}");
        let e = err(
            MINIMAL,
            &[("ASCOLTO__NOTIFY__AUTO_REPLY_GLOBAL_PER_HOUR", "-1")],
        );
        assert!(e.contains("notify.auto_reply_global_per_hour"), "{e}");
        let e = err(
            MINIMAL,
            &[("ASCOLTO__NOTIFY__AUTO_REPLY_WINDOW_HOURS", "0")],
        );
        assert!(e.contains("notify.auto_reply_window_hours"), "{e}");
    }
}
