//! `[web]`: the backoffice's listener, address, sessions and reverse proxies.

use std::str::FromStr;

use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer};

use super::flex;

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

impl WebConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if self.trusted_proxies.iter().any(|n| n.prefix() == 0) {
            bail!(
                "key `web.trusted_proxies`: a network of every address would let any client choose \
                 the address its sign-ins are counted under: list the reverse proxy's own address"
            );
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            bail!(
                "key `web.base_url`: {:?} must start with http:// or https://",
                self.base_url
            );
        }
        Ok(())
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
fn default_base_url() -> String {
    "http://127.0.0.1:8080".into()
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
