//! Backoffice accounts as stored.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::Role;

#[derive(Clone, Debug, serde::Serialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub notify: bool,
    pub active: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, email, name, role, notify, active, created_at";

fn row(r: &rusqlite::Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: r.get(3)?,
        notify: r.get(4)?,
        active: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn insert(
    conn: &Connection,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    notify: bool,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, notify, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![email, name, role, password_hash, notify, super::now_text()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn by_email(conn: &Connection, email: &str) -> Result<Option<UserRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE email = ?1"),
            [email],
            row,
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<UserRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY id"))?;
    let rows = stmt
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Returns whether a user was disabled.
pub fn disable(conn: &Connection, email: &str) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET active = 0 WHERE email = ?1 AND active = 1",
        [email],
    )? > 0;
    conn.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = ?1)",
        [email],
    )?;
    Ok(changed)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<UserRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            [id],
            row,
        )
        .optional()?)
}

/// Sets role, "riceve mail" and active; the user is signed out everywhere when their role or
/// access changes.
pub fn update(conn: &Connection, id: i64, role: Role, notify: bool, active: bool) -> Result<()> {
    let before = by_id(conn, id)?;
    conn.execute(
        "UPDATE users SET role = ?2, notify = ?3, active = ?4 WHERE id = ?1",
        params![id, role, notify, active],
    )?;
    if before.is_some_and(|b| b.role != role || (b.active && !active)) {
        super::sessions::delete_for_user(conn, id)?;
    }
    Ok(())
}

pub fn set_password_hash(conn: &Connection, id: i64, hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    super::sessions::delete_for_user(conn, id)
}
