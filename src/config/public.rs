//! `[public]`: what the public reaches without signing in — the complaint form at `/segnala`
//! (issue 15) and the transparency report at `/trasparenza/<anno>` (issue 20).

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flex;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// Serve the public complaint form at `/segnala`. Off by default: the hospital decides
    /// to publish it.
    #[serde(default, deserialize_with = "flex")]
    pub form: bool,
    /// Complaints one client address may send through the form per hour.
    #[serde(default = "default_per_address", deserialize_with = "flex")]
    pub per_address_per_hour: u32,
    /// Complaints the form accepts per hour from everyone together.
    #[serde(default = "default_global", deserialize_with = "flex")]
    pub global_per_hour: u32,
    /// A form sent back sooner than this after it was served is refused: people take longer
    /// than a script to write a complaint.
    #[serde(default = "default_min_fill", deserialize_with = "flex")]
    pub min_fill_secs: u32,
    /// Who processes the data, shown above the consent box (the privacy notice, art. 13 GDPR).
    /// Empty: a generic notice naming `[notify] office_name`.
    #[serde(default)]
    pub privacy_notice: String,
    /// `/trasparenza/<anno>` without signing in (issue 20).
    #[serde(default, deserialize_with = "flex")]
    pub transparency: bool,
    /// Counts below this are published as "< N", so that no cell points at a person.
    #[serde(default = "default_min_count", deserialize_with = "flex")]
    pub transparency_min_count: u32,
}

fn default_per_address() -> u32 {
    5
}
fn default_global() -> u32 {
    100
}
fn default_min_fill() -> u32 {
    5
}
fn default_min_count() -> u32 {
    3
}

impl Default for PublicConfig {
    fn default() -> Self {
        Self {
            form: false,
            per_address_per_hour: default_per_address(),
            global_per_hour: default_global(),
            min_fill_secs: default_min_fill(),
            privacy_notice: String::new(),
            transparency: false,
            transparency_min_count: default_min_count(),
        }
    }
}

impl PublicConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if self.per_address_per_hour == 0 || self.global_per_hour == 0 {
            bail!(
                "keys `public.per_address_per_hour` and `public.global_per_hour`: at least 1 \
                 (to close the form, set `public.form = false`)"
            );
        }
        if !(1..=100).contains(&self.transparency_min_count) {
            bail!("key `public.transparency_min_count`: must be 1 to 100 (the default is 3)");
        }
        Ok(())
    }
}
