//! `[quality]` and `[public]`'s transparency keys (issue 20): who hears of possible adverse
//! events, the trust's regional code, and whether the transparency report is public.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flex;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// The clinical-risk office's address: flagging a ticket as a possible adverse event may
    /// mail it a link. Unset: no mail (the risk view lists the ticket anyway).
    #[serde(default)]
    pub risk_office: Option<String>,
    /// The trust's code in the regional flows (`ascolto export regional`'s first column).
    #[serde(default)]
    pub trust_code: String,
}

impl QualityConfig {
    pub(super) fn resolve(&mut self) -> Result<()> {
        if let Some(to) = &self.risk_office {
            let to = to.trim();
            if to.is_empty() {
                self.risk_office = None;
            } else if !to.contains('@') || to.contains(char::is_whitespace) {
                bail!("key `quality.risk_office`: {to:?} is not a mail address");
            }
        }
        Ok(())
    }
}

/// `[public]`: what the public (not signed in) may read. Issue 15 adds the public form's keys
/// to the same section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// `/trasparenza/<anno>` without signing in.
    #[serde(default)]
    pub transparency: bool,
    /// Counts below this are published as "< N", so that no cell points at a person.
    #[serde(default = "default_min_count", deserialize_with = "flex")]
    pub transparency_min_count: u32,
}

impl Default for PublicConfig {
    fn default() -> Self {
        Self {
            transparency: false,
            transparency_min_count: default_min_count(),
        }
    }
}

impl PublicConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if !(1..=100).contains(&self.transparency_min_count) {
            bail!("key `public.transparency_min_count`: must be 1 to 100 (the default is 3)");
        }
        Ok(())
    }
}

fn default_min_count() -> u32 {
    3
}
