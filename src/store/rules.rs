//! Routing rules as stored.

use anyhow::Result;
use rusqlite::Connection;

use crate::domain::{Kind, RuleField};

#[derive(Clone, Debug)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub field: RuleField,
    pub pattern: String,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub kind: Option<Kind>,
    pub active: bool,
}

fn select(conn: &Connection, only_active: bool) -> Result<Vec<RuleRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, field, pattern, category_id, service_id, kind, active
         FROM routing_rules WHERE active = 1 OR NOT ?1 ORDER BY priority, id",
    )?;
    let rows = stmt
        .query_map([only_active], |r| {
            Ok(RuleRow {
                id: r.get(0)?,
                name: r.get(1)?,
                field: r.get(2)?,
                pattern: r.get(3)?,
                category_id: r.get(4)?,
                service_id: r.get(5)?,
                kind: r.get(6)?,
                active: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The active rules in the order they apply.
pub fn load(conn: &Connection) -> Result<Vec<RuleRow>> {
    select(conn, true)
}

/// Every rule, inactive ones included, in the order they apply (the administration page).
pub fn all(conn: &Connection) -> Result<Vec<RuleRow>> {
    select(conn, false)
}

/// Bumped by triggers whenever a rule changes: compiled rules older than this are stale.
pub fn generation(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'rules_generation'",
        [],
        |r| r.get(0),
    )?)
}
