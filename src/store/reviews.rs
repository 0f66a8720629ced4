//! The statements of the second level (riesame, issue 19): one review per ticket.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::Outcome;

/// A ticket's review, as recorded (and exported: `body`, `opened_at`, `closed_at`, `outcome`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Review {
    pub body: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub outcome: Option<Outcome>,
    #[serde(skip)]
    pub notes: String,
}

pub fn of_ticket(conn: &Connection, ticket_id: i64) -> Result<Option<Review>> {
    Ok(conn
        .prepare_cached(
            "SELECT body, opened_at, closed_at, outcome, notes FROM reviews WHERE ticket_id = ?1",
        )?
        .query_row([ticket_id], |r| {
            Ok(Review {
                body: r.get(0)?,
                opened_at: r.get(1)?,
                closed_at: r.get(2)?,
                outcome: r.get(3)?,
                notes: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn open(
    conn: &Connection,
    ticket_id: i64,
    body: &str,
    notes: &str,
    at: &str,
    user: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO reviews (ticket_id, body, notes, opened_at, opened_by) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![ticket_id, body, notes, at, user])?;
    Ok(conn.last_insert_rowid())
}

/// Records the outcome of the ticket's open review; false when it has none open.
pub fn close(
    conn: &Connection,
    ticket_id: i64,
    outcome: Outcome,
    notes: &str,
    at: &str,
    user: i64,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE reviews SET outcome = ?2, closed_at = ?3, closed_by = ?4,
               notes = CASE WHEN ?5 = '' THEN notes ELSE notes || char(10) || ?5 END
             WHERE ticket_id = ?1 AND closed_at IS NULL",
        )?
        .execute(params![ticket_id, outcome, at, user, notes])?
        == 1)
}

/// The reviews opened in `[from, to)`, of one service if named: body and outcome (None: open).
pub fn opened_between(
    conn: &Connection,
    from: &str,
    to: &str,
    service: Option<i64>,
) -> Result<Vec<(String, Option<Outcome>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.body, r.outcome FROM reviews r JOIN tickets t ON t.id = r.ticket_id
             WHERE r.opened_at >= ?1 AND r.opened_at < ?2 AND (?3 IS NULL OR t.service_id = ?3)
             ORDER BY r.id",
        )?
        .query_map(params![from, to, service], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The retention job: the due tickets' review notes become `marker`.
pub fn anonymise_due(conn: &Connection, marker: &str) -> Result<()> {
    conn.execute(
        "UPDATE reviews SET notes = ?1 WHERE ticket_id IN (SELECT id FROM temp.retention_due)",
        [marker],
    )?;
    Ok(())
}
