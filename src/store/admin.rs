//! The SQL of what administrators change: services, the category list, routing rules,
//! quarantine and the outbox. The checks and the audit entries are `crate::admin`'s; these only
//! read and write, inside the caller's transaction.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{Kind, OutboxState, RuleField};

pub fn service_code_taken(conn: &Connection, code: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM services WHERE code = ?1")?
        .exists([code])?)
}

pub fn insert_service(conn: &Connection, code: &str, name: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO services (code, name) VALUES (?1, ?2)",
        params![code, name],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Returns whether the service exists.
pub fn update_service(conn: &Connection, id: i64, name: &str, active: bool) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE services SET name = ?2, active = ?3 WHERE id = ?1",
        params![id, name, active],
    )? > 0)
}

/// Whether another category than `except` has `code`.
pub fn category_code_taken(conn: &Connection, code: &str, except: Option<i64>) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM categories WHERE code = ?1 AND id IS NOT ?2")?
        .exists(params![code, except])?)
}

pub fn is_macro_category(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM categories WHERE id = ?1 AND parent_id IS NULL")?
        .exists([id])?)
}

/// Adds a category last among its siblings.
pub fn insert_category(
    conn: &Connection,
    code: &str,
    label: &str,
    parent: Option<i64>,
) -> Result<i64> {
    let position: i64 = conn.query_row(
        "SELECT coalesce(max(position), 0) + 1 FROM categories WHERE parent_id IS ?1",
        [parent],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO categories (code, parent_id, label, position) VALUES (?1, ?2, ?3, ?4)",
        params![code, parent, label, position],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn category_code(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT code FROM categories WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub fn update_category(
    conn: &Connection,
    id: i64,
    code: &str,
    label: &str,
    active: bool,
) -> Result<()> {
    conn.execute(
        "UPDATE categories SET code = ?2, label = ?3, active = ?4 WHERE id = ?1",
        params![id, code, label, active],
    )?;
    Ok(())
}

/// Whether a ticket, a rule or a sub-category uses the category.
pub fn category_in_use(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM tickets WHERE category_id = ?1)
                 OR EXISTS (SELECT 1 FROM routing_rules WHERE category_id = ?1)
                 OR EXISTS (SELECT 1 FROM categories WHERE parent_id = ?1)",
        )?
        .query_row([id], |r| r.get(0))?)
}

pub fn delete_category(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM categories WHERE id = ?1", [id])?;
    Ok(())
}

/// A rule as the administrator writes it (already checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInput {
    pub name: String,
    pub field: RuleField,
    pub pattern: String,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub kind: Option<Kind>,
    pub active: bool,
}

/// Adds a rule after every other one.
pub fn insert_rule(conn: &Connection, r: &RuleInput) -> Result<i64> {
    let priority: i64 = conn.query_row(
        "SELECT coalesce(max(priority), 0) + 10 FROM routing_rules",
        [],
        |row| row.get(0),
    )?;
    conn.execute(
        "INSERT INTO routing_rules (priority, name, field, pattern, category_id, service_id, kind, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![priority, r.name, r.field, r.pattern, r.category_id, r.service_id, r.kind, r.active],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Returns whether the rule exists.
pub fn update_rule(conn: &Connection, id: i64, r: &RuleInput) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE routing_rules SET name = ?2, field = ?3, pattern = ?4, category_id = ?5,
           service_id = ?6, kind = ?7, active = ?8 WHERE id = ?1",
        params![
            id,
            r.name,
            r.field,
            r.pattern,
            r.category_id,
            r.service_id,
            r.kind,
            r.active
        ],
    )? > 0)
}

pub fn delete_rule(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM routing_rules WHERE id = ?1", [id])?;
    Ok(())
}

/// Every rule's id in the order rules apply.
pub fn rule_order(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare("SELECT id FROM routing_rules ORDER BY priority, id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Renumbers the rules in the order of `ids` (10, 20, …), touching only what moves.
pub fn renumber_rules(conn: &Connection, ids: &[i64]) -> Result<()> {
    let mut stmt =
        conn.prepare("UPDATE routing_rules SET priority = ?2 WHERE id = ?1 AND priority != ?2")?;
    for (n, id) in ids.iter().enumerate() {
        stmt.execute(params![id, (n as i64 + 1) * 10])?;
    }
    Ok(())
}

/// Returns whether an open entry was discarded.
pub fn discard_quarantined(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE quarantine SET resolved_at = ?2, resolution = 'discarded'
         WHERE id = ?1 AND resolved_at IS NULL",
        params![id, super::now_text()],
    )? > 0)
}

/// The ticket of a failed notification (`Some(None)`: about no ticket), if it failed.
pub fn failed_notification(conn: &Connection, id: i64) -> Result<Option<Option<i64>>> {
    Ok(conn
        .prepare_cached("SELECT ticket_id FROM outbox WHERE id = ?1 AND state = ?2")?
        .query_row(params![id, OutboxState::Failed], |r| r.get(0))
        .optional()?)
}

/// Puts a notification back in the queue, to be sent at once.
pub fn requeue_notification(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET state = ?3, attempts = 0, next_attempt_at = ?2 WHERE id = ?1",
        params![id, super::now_text(), OutboxState::Pending],
    )?;
    Ok(())
}

/// Tickets for the "test this rule" box: the most recent `limit`, with the first message
/// (number, subject, body, sender).
pub fn recent_for_rule_test(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(String, String, String, String)>> {
    let rows = conn
        .prepare(
            "SELECT t.number, t.subject,
                    coalesce((SELECT m.body_text FROM messages m WHERE m.ticket_id = t.id
                              AND m.direction = 'in' ORDER BY m.id LIMIT 1), ''), c.email
             FROM tickets t JOIN contacts c ON c.id = t.contact_id ORDER BY t.id DESC LIMIT ?1",
        )?
        .query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// What waits for an administrator: quarantined messages, failed and pending notifications.
/// (The administration page and `/metrics` show the same counts.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingWork {
    pub quarantined: i64,
    pub failed: i64,
    pub pending: i64,
}

pub fn pending_work(conn: &Connection) -> Result<PendingWork> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM quarantine WHERE resolved_at IS NULL),
                    (SELECT count(*) FROM outbox WHERE state = ?1),
                    (SELECT count(*) FROM outbox WHERE state = ?2)",
        )?
        .query_row(params![OutboxState::Failed, OutboxState::Pending], |r| {
            Ok(PendingWork {
                quarantined: r.get(0)?,
                failed: r.get(1)?,
                pending: r.get(2)?,
            })
        })?)
}
