//! Quarantined messages: listed for administrators and the export, retried, their bytes served.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::QuarantineKind;

/// A quarantined message as listed and exported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    pub received_at: String,
    pub kind: QuarantineKind,
    pub reason: String,
    pub size: i64,
    pub source: String,
    pub resolved: bool,
}

/// Every quarantine entry, oldest first.
pub fn each(conn: &Connection, mut each: impl FnMut(QuarantineRow) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT q.id, q.received_at, q.kind, q.reason, r.size, r.source, q.resolved_at IS NOT NULL
         FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id ORDER BY q.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(QuarantineRow {
            id: r.get(0)?,
            received_at: r.get(1)?,
            kind: r.get(2)?,
            reason: r.get(3)?,
            size: r.get(4)?,
            source: r.get(5)?,
            resolved: r.get(6)?,
        })?;
    }
    Ok(())
}

/// The original bytes of an entry.
pub fn raw_bytes(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.bytes FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id WHERE q.id = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// An open entry to retry: its bytes, where they came from, when they arrived.
pub struct OpenEntry {
    pub raw: Vec<u8>,
    pub source: String,
    pub received_at: String,
}

pub fn open_entry(conn: &Connection, id: i64) -> Result<Option<OpenEntry>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.bytes, r.source, q.received_at FROM quarantine q
             JOIN raw_mail r ON r.id = q.raw_id WHERE q.id = ?1 AND q.resolved_at IS NULL",
        )?
        .query_row([id], |r| {
            Ok(OpenEntry {
                raw: r.get(0)?,
                source: r.get(1)?,
                received_at: r.get(2)?,
            })
        })
        .optional()?)
}

/// Marks an entry dealt with, saying how (e.g. "retried: URP-2026-000001").
pub fn resolve(conn: &Connection, id: i64, resolution: &str) -> Result<()> {
    conn.prepare_cached("UPDATE quarantine SET resolved_at = ?2, resolution = ?3 WHERE id = ?1")?
        .execute(params![id, super::now_text(), resolution])?;
    Ok(())
}
