//! `[workflow]`: answering as an URP answers (issue 19): how far a deadline may be extended.

use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// The deadlines, in days from receipt, a complex case may be extended to (the extension
    /// form offers these): each longer than `[tickets] deadline_days`, at most 365.
    #[serde(default = "default_extend_to")]
    pub extend_to_days: Vec<u32>,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self {
            extend_to_days: default_extend_to(),
        }
    }
}

fn default_extend_to() -> Vec<u32> {
    vec![60, 90]
}

impl WorkflowConfig {
    pub(super) fn validate(&mut self, deadline_days: u32) -> Result<()> {
        self.extend_to_days.sort_unstable();
        self.extend_to_days.dedup();
        for &d in &self.extend_to_days {
            if d <= deadline_days || d > 365 {
                bail!(
                    "key `workflow.extend_to_days`: {d} must be longer than `tickets.deadline_days` \
                     ({deadline_days}) and at most 365 (the default is [60, 90])"
                );
            }
        }
        Ok(())
    }
}
