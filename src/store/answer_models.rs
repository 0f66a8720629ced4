//! The statements of the administrators' answer models (issue 19).

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::Kind;

/// An answer model as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerModel {
    pub id: i64,
    pub title: String,
    /// The kind it suits; None: any.
    pub kind: Option<Kind>,
    /// The category it suits (a macro-category suits its sub-categories); None: any.
    pub category_id: Option<i64>,
    pub category_code: Option<String>,
    pub body: String,
    pub active: bool,
}

/// What an administrator writes.
#[derive(Clone, Debug)]
pub struct ModelInput {
    pub title: String,
    pub kind: Option<Kind>,
    pub category_id: Option<i64>,
    pub body: String,
    pub active: bool,
}

const MODEL: &str = "SELECT m.id, m.title, m.kind, m.category_id, c.code, m.body, m.active
  FROM answer_models m LEFT JOIN categories c ON c.id = m.category_id";

fn of_row(r: &rusqlite::Row) -> rusqlite::Result<AnswerModel> {
    Ok(AnswerModel {
        id: r.get(0)?,
        title: r.get(1)?,
        kind: r.get(2)?,
        category_id: r.get(3)?,
        category_code: r.get(4)?,
        body: r.get(5)?,
        active: r.get(6)?,
    })
}

/// Every model, by title.
pub fn all(conn: &Connection) -> Result<Vec<AnswerModel>> {
    Ok(conn
        .prepare_cached(&format!("{MODEL} ORDER BY m.title, m.id"))?
        .query_map([], of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<AnswerModel>> {
    Ok(conn
        .prepare_cached(&format!("{MODEL} WHERE m.id = ?1"))?
        .query_row([id], of_row)
        .optional()?)
}

/// The active models that suit a ticket of `kind` and `category_id`: those for any kind or its
/// kind, and for any category, its category or its category's macro-category.
pub fn suitable(
    conn: &Connection,
    kind: Option<Kind>,
    category_id: Option<i64>,
) -> Result<Vec<AnswerModel>> {
    Ok(conn
        .prepare_cached(&format!(
            "{MODEL} WHERE m.active = 1
               AND (m.kind IS NULL OR m.kind = ?1)
               AND (m.category_id IS NULL OR m.category_id = ?2
                    OR m.category_id = (SELECT parent_id FROM categories WHERE id = ?2))
             ORDER BY m.title, m.id"
        ))?
        .query_map(params![kind, category_id], of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn insert(conn: &Connection, m: &ModelInput, now: &str) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO answer_models (title, kind, category_id, body, active, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        m.title,
        m.kind,
        m.category_id,
        m.body,
        m.active,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// False when there is no such model.
pub fn update(conn: &Connection, id: i64, m: &ModelInput, now: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE answer_models SET title = ?2, kind = ?3, category_id = ?4, body = ?5,
               active = ?6, updated_at = ?7 WHERE id = ?1",
        )?
        .execute(params![
            id,
            m.title,
            m.kind,
            m.category_id,
            m.body,
            m.active,
            now
        ])?
        == 1)
}

pub fn category_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM categories WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}
