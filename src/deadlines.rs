//! Deadlines that move, on the record (issue 19): an operator suspends the answer deadline
//! (waiting for a document or a delegation from the citizen: the clock stops until resumed),
//! resumes it (the suspended Rome days are added), or extends it with a reason (complex cases:
//! to one of `[workflow] extend_to_days` from receipt).
//!
//! Like the workflow's transitions, each step is one function over `&Connection` inside the
//! caller's transaction: it checks the role and the ticket, records the change with the
//! effective deadline (`domain::time::effective_due_at`, the one deadline function) and moves
//! `tickets.due_at` to it, writes the audit log, and queues the citizen's notice.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::domain::refusal::{Invalid, Step, WorkflowError};
use crate::domain::{Actor, AuditAction, DeadlineChange, MailKind, State};
use crate::notify::{Extra, Notifier, Queued};
use crate::store::deadlines::{self as sql, NewChange};
use crate::store::{self, audit};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// What an operator asks of a ticket's deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    Suspend,
    Resume,
    /// To this many days from receipt.
    Extend {
        to_days: u32,
    },
}

impl Move {
    fn change(&self) -> DeadlineChange {
        match self {
            Move::Suspend => DeadlineChange::Suspended,
            Move::Resume => DeadlineChange::Resumed,
            Move::Extend { .. } => DeadlineChange::Extended,
        }
    }

    fn audit(&self) -> AuditAction {
        match self {
            Move::Suspend => AuditAction::TicketDeadlineSuspended,
            Move::Resume => AuditAction::TicketDeadlineResumed,
            Move::Extend { .. } => AuditAction::TicketDeadlineExtended,
        }
    }
}

/// Moves ticket `ticket_id`'s deadline at `now`; `extend_to` is `[workflow] extend_to_days`.
/// The citizen is told (the `deadline_changed` mail, with the new effective deadline).
#[allow(clippy::too_many_arguments)]
pub fn move_deadline(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    what: &Move,
    reason: &str,
    extend_to: &[u32],
    now: DateTime<Utc>,
) -> Result<Queued> {
    if !actor.role.works_tickets() {
        return Err(WorkflowError::Forbidden {
            role: actor.role,
            step: Step::Deadline,
        });
    }
    let standing =
        crate::store::tickets::standing(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    match standing.state {
        State::Pending | State::InCharge => {}
        State::Answered | State::Closed => {
            return Err(WorkflowError::WrongState {
                number: standing.number,
                state: standing.state,
                step: Step::Deadline,
            })
        }
    }
    if standing.merged_into.is_some() {
        return Err(WorkflowError::Invalid(Invalid::AlreadyMerged));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyReason));
    }
    let facts = sql::facts(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    if facts.first_answered {
        return Err(WorkflowError::Invalid(Invalid::DeadlineMet));
    }
    let before = facts.effective();
    match what {
        Move::Suspend if before.suspended_since.is_some() => {
            return Err(WorkflowError::Invalid(Invalid::AlreadySuspended))
        }
        Move::Resume if before.suspended_since.is_none() => {
            return Err(WorkflowError::Invalid(Invalid::NotSuspended))
        }
        Move::Extend { to_days } => {
            let in_force = crate::domain::time::rome_days_between(
                facts.received_at,
                before.extended_to.map_or(facts.original_due, |d| {
                    crate::domain::time::due_at(facts.received_at, d)
                }),
            );
            if !extend_to.contains(to_days) || i64::from(*to_days) <= in_force {
                return Err(WorkflowError::Invalid(Invalid::BadExtension));
            }
        }
        Move::Suspend | Move::Resume => {}
    }
    let kind = what.change();
    let to_days = match what {
        Move::Extend { to_days } => Some(*to_days),
        Move::Suspend | Move::Resume => None,
    };
    let mut events: Vec<_> = facts
        .changes
        .iter()
        .filter_map(sql::ChangeRow::event)
        .collect();
    events.extend(kind.event(now, to_days));
    let after =
        crate::domain::time::effective_due_at(facts.received_at, facts.original_due, &events);
    let at = store::time_text(now);
    let due_at = store::time_text(after.due_at);
    let change = sql::record(
        conn,
        &NewChange {
            ticket_id,
            kind,
            at: &at,
            reason,
            to_days,
            due_before: &facts.due_at,
            due_at: &due_at,
            user_id: actor.id,
        },
    )?;
    audit::record(
        conn,
        actor.audit(),
        what.audit(),
        Some(ticket_id),
        // The reason is the citizen's business: it stays in its table, which retention blanks.
        json!({ "change": change, "due_before": facts.due_at, "due_at": due_at, "to_days": to_days }),
    )?;
    let extra = Extra {
        deadline_change: Some(kind),
        deadline_reason: Some(reason.to_string()),
        ..Default::default()
    };
    Ok(notifier.to_citizen(conn, ticket_id, MailKind::DeadlineChanged, extra)?)
}

#[cfg(test)]
#[path = "deadlines_tests.rs"]
mod tests;
