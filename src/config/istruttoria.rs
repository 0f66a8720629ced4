//! `[istruttoria]`: asking the service concerned for its report (issue 14).

use anyhow::{bail, Result};
use serde::Deserialize;

use super::flex;
use crate::domain::RecipientKey;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IstruttoriaConfig {
    /// Days a referente has for the report: the request form's default due date.
    #[serde(default = "default_due_days", deserialize_with = "flex")]
    pub due_days: u32,
    /// Days after the due date (and its reminder) before an unanswered request is reported to
    /// `escalate_to`.
    #[serde(default = "default_escalate_after", deserialize_with = "flex")]
    pub escalate_after_days: u32,
    /// The URP's head, who hears of requests still unanswered. Empty: no escalation mail (the
    /// request stays in the dashboard's queue).
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// The hospital's own mail domains: a reply to a request carrying its token from another
    /// address of these domains (a deputy, a forward) is accepted as the report, marked "da
    /// altro mittente". Empty: the domains of the hospital's own addresses (`[ingest]
    /// own_addresses`, the mailboxes, the sender).
    #[serde(default)]
    pub hospital_domains: Vec<String>,
}

impl Default for IstruttoriaConfig {
    fn default() -> Self {
        Self {
            due_days: default_due_days(),
            escalate_after_days: default_escalate_after(),
            escalate_to: None,
            hospital_domains: Vec::new(),
        }
    }
}

impl IstruttoriaConfig {
    pub(super) fn resolve(&mut self, own: &[RecipientKey]) -> Result<()> {
        if self.due_days == 0 || self.due_days > 365 {
            bail!("key `istruttoria.due_days`: must be 1 to 365 (the default is 7)");
        }
        if self.escalate_after_days > 365 {
            bail!("key `istruttoria.escalate_after_days`: must be at most 365 (the default is 3)");
        }
        if let Some(to) = &self.escalate_to {
            let to = to.trim();
            if to.is_empty() {
                self.escalate_to = None;
            } else if !to.contains('@') || to.contains(char::is_whitespace) {
                bail!("key `istruttoria.escalate_to`: {to:?} is not a mail address");
            }
        }
        for d in &mut self.hospital_domains {
            *d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            if d.is_empty() || d.contains(['@', ' ']) {
                bail!("key `istruttoria.hospital_domains`: {d:?} is not a mail domain like \"ospedale.it\"");
            }
        }
        if self.hospital_domains.is_empty() {
            for key in own {
                if let Some((_, domain)) = key.as_str().rsplit_once('@') {
                    if !self.hospital_domains.iter().any(|d| d == domain) {
                        self.hospital_domains.push(domain.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `address` is of one of the hospital's own domains.
    pub fn is_hospital_address(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, domain)| {
            self.hospital_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain.trim()))
        })
    }
}

fn default_due_days() -> u32 {
    7
}
fn default_escalate_after() -> u32 {
    3
}
