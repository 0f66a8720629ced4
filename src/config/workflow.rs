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
    /// The bodies a second-level review (riesame) may be addressed to, in the order the form
    /// offers them.
    #[serde(default = "default_review_bodies")]
    pub review_bodies: Vec<ReviewBody>,
    /// Files attached to an answer: at most this many bytes together…
    #[serde(default = "default_attachment_max_bytes")]
    pub attachment_max_bytes: u64,
    /// …at most this many files…
    #[serde(default = "default_attachment_max_files")]
    pub attachment_max_files: usize,
    /// …of these media types (as the browser names them).
    #[serde(default = "default_attachment_types")]
    pub attachment_types: Vec<String>,
    /// The morning digest lists the tickets due within this many days (and those overdue)…
    #[serde(default = "default_remind_days")]
    pub remind_days: u32,
    /// …from this hour of the morning, Europe/Rome…
    #[serde(default = "default_digest_hour")]
    pub digest_hour: u32,
    /// …and the URP's head gets the whole office's (unset: no overall digest).
    #[serde(default)]
    pub digest_head: Option<String>,
    /// Sign-off: an operator's answer waits for a user with the approver right.
    #[serde(default)]
    pub answers_need_approval: bool,
}

fn default_remind_days() -> u32 {
    7
}
fn default_digest_hour() -> u32 {
    7
}

fn default_attachment_max_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_attachment_max_files() -> usize {
    5
}
fn default_attachment_types() -> Vec<String> {
    [
        "application/pdf",
        "image/jpeg",
        "image/png",
        "text/plain",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// One body of second-level review, and the category codes it does not take (a code names
/// itself and, for a macro-category, its sub-categories).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    pub name: String,
    #[serde(default)]
    pub exclude_categories: Vec<String>,
}

impl ReviewBody {
    /// Whether this body takes no review of a ticket classified `code` ("TEM.02").
    pub fn excludes(&self, code: &str) -> bool {
        self.exclude_categories.iter().any(|x| {
            code == x
                || code
                    .strip_prefix(x.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self {
            extend_to_days: default_extend_to(),
            review_bodies: default_review_bodies(),
            attachment_max_bytes: default_attachment_max_bytes(),
            attachment_max_files: default_attachment_max_files(),
            attachment_types: default_attachment_types(),
            remind_days: default_remind_days(),
            digest_hour: default_digest_hour(),
            digest_head: None,
            answers_need_approval: false,
        }
    }
}

fn default_review_bodies() -> Vec<ReviewBody> {
    ["Commissione Mista Conciliativa", "Difensore civico"]
        .into_iter()
        .map(|name| ReviewBody {
            name: name.into(),
            exclude_categories: Vec::new(),
        })
        .collect()
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
        if self.remind_days > 60 || self.digest_hour > 23 {
            bail!("keys `workflow.remind_days` (at most 60) and `workflow.digest_hour` (0 to 23)");
        }
        if let Some(head) = &self.digest_head {
            if !head.contains('@') || head.contains(char::is_whitespace) {
                bail!("key `workflow.digest_head`: {head:?} is not a mail address");
            }
        }
        if self.attachment_max_bytes > 100 * 1024 * 1024 {
            bail!("key `workflow.attachment_max_bytes`: at most 100 MiB (the default is 10 MiB)");
        }
        for t in &mut self.attachment_types {
            *t = t.trim().to_ascii_lowercase();
        }
        let mut names = std::collections::HashSet::new();
        for (i, b) in self.review_bodies.iter_mut().enumerate() {
            b.name = b.name.trim().to_string();
            if b.name.is_empty() || b.name.len() > 200 || !names.insert(b.name.clone()) {
                bail!("key `workflow.review_bodies[{i}].name`: must be a name, 1 to 200 characters, used once");
            }
        }
        Ok(())
    }

    /// The body named `name`, if configured.
    pub fn review_body(&self, name: &str) -> Option<&ReviewBody> {
        self.review_bodies.iter().find(|b| b.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_excludes_a_code_and_its_sub_categories_only() {
        let b = ReviewBody {
            name: "Difensore civico".into(),
            exclude_categories: vec!["TEC".into(), "ALB.01".into()],
        };
        assert!(b.excludes("TEC") && b.excludes("TEC.03") && b.excludes("ALB.01"));
        assert!(!b.excludes("TECX.01") && !b.excludes("ALB.02") && !b.excludes("ALB"));
    }
}
