//! The statements of a ticket's moving deadline (issue 19): its changes on the record, the
//! effective deadline written back to `tickets.due_at`, and what the statistics count of them.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::domain::time::{self, DeadlineEvent};
use crate::domain::DeadlineChange;

/// One change of a ticket's deadline, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeRow {
    pub kind: DeadlineChange,
    /// RFC 3339 UTC, as stored.
    pub at: String,
    pub reason: String,
    /// For an extension: the days from receipt now in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_days: Option<u32>,
    #[serde(skip)]
    pub due_before: String,
    /// The effective deadline after this change.
    pub due_at: String,
    /// Who made it (the account's name).
    #[serde(skip)]
    pub author: Option<String>,
}

impl ChangeRow {
    /// The change as the deadline arithmetic reads it; None when its time cannot be read.
    pub fn event(&self) -> Option<DeadlineEvent> {
        let at = DateTime::parse_from_rfc3339(&self.at)
            .ok()?
            .with_timezone(&Utc);
        self.kind.event(at, self.to_days)
    }
}

/// A ticket's deadline changes, oldest first.
pub fn changes(conn: &Connection, ticket_id: i64) -> Result<Vec<ChangeRow>> {
    let mut st = conn.prepare_cached(
        "SELECT d.kind, d.at, d.reason, d.to_days, d.due_before, d.due_at, u.name
         FROM deadline_changes d LEFT JOIN users u ON u.id = d.user_id
         WHERE d.ticket_id = ?1 ORDER BY d.id",
    )?;
    let rows = st
        .query_map([ticket_id], |r| {
            Ok(ChangeRow {
                kind: r.get(0)?,
                at: r.get(1)?,
                reason: r.get(2)?,
                to_days: r.get(3)?,
                due_before: r.get(4)?,
                due_at: r.get(5)?,
                author: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// What a deadline change needs to know of its ticket.
#[derive(Clone, Debug)]
pub struct DeadlineFacts {
    pub received_at: DateTime<Utc>,
    /// As ingest set it, before any change.
    pub original_due: DateTime<Utc>,
    pub due_at: String,
    pub first_answered: bool,
    pub changes: Vec<ChangeRow>,
}

impl DeadlineFacts {
    /// The deadline in force after the changes.
    pub fn effective(&self) -> time::Effective {
        let events: Vec<DeadlineEvent> = self.changes.iter().filter_map(ChangeRow::event).collect();
        time::effective_due_at(self.received_at, self.original_due, &events)
    }
}

pub fn facts(conn: &Connection, ticket_id: i64) -> Result<Option<DeadlineFacts>> {
    let row: Option<(String, String, bool)> = conn
        .prepare_cached(
            "SELECT received_at, due_at, first_answered_at IS NOT NULL FROM tickets WHERE id = ?1",
        )?
        .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some((received, due, first_answered)) = row else {
        return Ok(None);
    };
    let changes = changes(conn, ticket_id)?;
    let parse = |s: &str| -> Result<DateTime<Utc>> {
        Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
    };
    let original = changes
        .first()
        .map_or(due.as_str(), |c| c.due_before.as_str());
    Ok(Some(DeadlineFacts {
        received_at: parse(&received)?,
        original_due: parse(original)?,
        due_at: due,
        first_answered,
        changes,
    }))
}

/// A change to record.
pub struct NewChange<'a> {
    pub ticket_id: i64,
    pub kind: DeadlineChange,
    pub at: &'a str,
    pub reason: &'a str,
    pub to_days: Option<u32>,
    pub due_before: &'a str,
    pub due_at: &'a str,
    pub user_id: i64,
}

/// Records the change and moves the ticket's effective deadline.
pub fn record(conn: &Connection, c: &NewChange) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO deadline_changes (ticket_id, kind, at, reason, to_days, due_before, due_at,
           user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        c.ticket_id,
        c.kind,
        c.at,
        c.reason,
        c.to_days,
        c.due_before,
        c.due_at,
        c.user_id
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("UPDATE tickets SET due_at = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![c.ticket_id, c.due_at, c.at])?;
    Ok(id)
}

/// Whether a ticket's deadline is suspended now (its last suspension not resumed).
pub fn is_suspended(conn: &Connection, ticket_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT kind FROM deadline_changes WHERE ticket_id = ?1 AND kind != 'extended'
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([ticket_id], |r| r.get::<_, DeadlineChange>(0))
        .map(|k| k == DeadlineChange::Suspended)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(false),
            e => Err(e),
        })?)
}

/// The changes of the tickets received in `[from, to)` (not merged), of one service if named
/// and of the categories `categories` if given: each change's kind and its ticket.
pub fn changes_between(
    conn: &Connection,
    from: &str,
    to: &str,
    service: Option<i64>,
    categories: Option<&[i64]>,
) -> Result<Vec<(i64, DeadlineChange)>> {
    let mut st = conn.prepare_cached(
        "SELECT d.ticket_id, d.kind, t.category_id FROM deadline_changes d
         JOIN tickets t ON t.id = d.ticket_id
         WHERE t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL
           AND (?3 IS NULL OR t.service_id = ?3)
         ORDER BY d.id",
    )?;
    let rows = st
        .query_map(params![from, to, service], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, DeadlineChange>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, cat)| match categories {
            None => true,
            Some(ids) => cat.is_some_and(|c| ids.contains(&c)),
        })
        .map(|(t, k, _)| (t, k))
        .collect())
}

/// The retention job: the reasons of the due tickets' deadline changes (they may name the
/// citizen or what they were asked for) become `marker`.
pub fn anonymise_due(conn: &Connection, marker: &str) -> Result<()> {
    conn.execute(
        "UPDATE deadline_changes SET reason = ?1
         WHERE ticket_id IN (SELECT id FROM temp.retention_due)",
        [marker],
    )?;
    Ok(())
}
