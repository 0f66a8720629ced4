//! `[quality]` (issue 20): who hears of possible adverse events and the trust's regional code
//! (`[public]`'s transparency keys are in `public`).

use anyhow::{bail, Result};
use serde::Deserialize;

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
