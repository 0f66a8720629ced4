//! The words of answering as a URP answers (issue 19): how a ticket's deadline moved.

use super::time::DeadlineEvent;
use super::vocabulary;
use chrono::{DateTime, Utc};

vocabulary! {
    /// A change of a ticket's answer deadline, as `deadline_changes.kind` stores it.
    pub enum DeadlineChange {
        /// The clock stopped: waiting for a document or a delegation from the citizen.
        Suspended = "suspended",
        /// The clock runs again; the suspended days are added.
        Resumed = "resumed",
        /// A complex case: the deadline becomes 60 or 90 days from receipt.
        Extended = "extended",
    }
}

impl DeadlineChange {
    /// The change as the deadline arithmetic reads it (`to_days` only for an extension).
    pub fn event(self, at: DateTime<Utc>, to_days: Option<u32>) -> Option<DeadlineEvent> {
        match self {
            DeadlineChange::Suspended => Some(DeadlineEvent::Suspended { at }),
            DeadlineChange::Resumed => Some(DeadlineEvent::Resumed { at }),
            DeadlineChange::Extended => to_days.map(|to_days| DeadlineEvent::Extended { to_days }),
        }
    }
}

vocabulary! {
    /// Where an answer awaiting approval stands (sign-off), as `answer_drafts.state` stores it.
    pub enum DraftState {
        /// "da approvare": nothing was sent.
        Pending = "pending",
        /// Approved and sent as its author's answer.
        Approved = "approved",
        /// Returned to its author with a comment.
        Returned = "returned",
    }
}
