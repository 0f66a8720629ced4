//! Deadlines that moved and second-level reviews (issue 19): of the tickets received in the
//! period, how many had their deadline suspended or extended, and how many times (timeliness
//! itself is measured against the effective deadline, which `tickets.due_at` holds); the
//! reviews opened in the period, by body and outcome.

use std::collections::HashSet;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

use super::Scope;
use crate::domain::{DeadlineChange, Outcome};
use crate::store;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeadlineFigures {
    /// Tickets whose deadline was suspended at least once, and the suspensions.
    pub suspended_tickets: usize,
    pub suspensions: usize,
    /// Tickets whose deadline was extended at least once, and the extensions.
    pub extended_tickets: usize,
    pub extensions: usize,
}

/// The figures of the tickets received in the scope (its service and category too).
pub fn figures(conn: &Connection, scope: &Scope) -> Result<DeadlineFigures> {
    let (from, to) = scope.bounds();
    let categories = match &scope.category {
        Some(code) => Some(store::backoffice::category_ids(conn, code)?),
        None => None,
    };
    let changes = store::deadlines::changes_between(
        conn,
        &store::time_text(from),
        &store::time_text(to),
        scope.service,
        categories.as_deref(),
    )?;
    Ok(tally(&changes))
}

/// Counts `(ticket, change)` pairs.
pub fn tally(changes: &[(i64, DeadlineChange)]) -> DeadlineFigures {
    let (mut suspended, mut extended) = (HashSet::new(), HashSet::new());
    let mut f = DeadlineFigures::default();
    for &(ticket, kind) in changes {
        match kind {
            DeadlineChange::Suspended => {
                f.suspensions += 1;
                suspended.insert(ticket);
            }
            DeadlineChange::Extended => {
                f.extensions += 1;
                extended.insert(ticket);
            }
            DeadlineChange::Resumed => {}
        }
    }
    f.suspended_tickets = suspended.len();
    f.extended_tickets = extended.len();
    f
}

/// Reviews opened in the period by one body with one outcome (None: still open).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewCount {
    pub body: String,
    pub outcome: Option<Outcome>,
    pub n: usize,
}

/// The reviews opened on the scope's days (of its service, if it names one), by body (in the
/// order first met) and outcome (in the vocabulary's order, open last).
pub fn reviews(conn: &Connection, scope: &Scope) -> Result<Vec<ReviewCount>> {
    let (from, to) = scope.bounds();
    let rows = store::reviews::opened_between(
        conn,
        &store::time_text(from),
        &store::time_text(to),
        scope.service,
    )?;
    let mut bodies: Vec<&str> = Vec::new();
    for (b, _) in &rows {
        if !bodies.contains(&b.as_str()) {
            bodies.push(b);
        }
    }
    let outcomes = Outcome::ALL.iter().copied().map(Some).chain([None]);
    let mut out = Vec::new();
    for body in bodies {
        for outcome in outcomes.clone() {
            let n = rows
                .iter()
                .filter(|(b, o)| b == body && *o == outcome)
                .count();
            if n > 0 {
                out.push(ReviewCount {
                    body: body.to_string(),
                    outcome,
                    n,
                });
            }
        }
    }
    Ok(out)
}
