//! The append-only audit log: who did what, when (DESIGN.md invariant 7).

use anyhow::Result;
use rusqlite::{params, Connection};

use crate::domain::{AuditAction, AuditActor};

/// Appends one entry. `detail` is JSON and must hold no personal data (numbers, codes, ids).
pub fn record(
    conn: &Connection,
    actor: AuditActor,
    action: AuditAction,
    ticket_id: Option<i64>,
    detail: serde_json::Value,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, ticket_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        super::now_text(),
        actor,
        action,
        ticket_id,
        detail.to_string()
    ])?;
    Ok(())
}
