//! Backoffice sessions as stored: the SHA-256 of the cookie's secret, never the secret.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// A live session and its user.
#[derive(Clone, Debug)]
pub struct SessionRow {
    pub id_hash: String,
    pub csrf: String,
    pub last_seen_at: String,
    pub user_id: i64,
    pub user_name: String,
    pub user_email: String,
    pub role: String,
    /// Issue 20: the clinical-risk and quality right.
    pub risk_manager: bool,
}

pub fn insert(
    conn: &Connection,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: &str,
    expires_at: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![id_hash, user_id, csrf, now, expires_at],
    )?;
    Ok(())
}

/// The session if it exists, has not expired and has been used since `idle_since`, and its
/// user is still active.
pub fn get(
    conn: &Connection,
    id_hash: &str,
    now: &str,
    idle_since: &str,
) -> Result<Option<SessionRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.id_hash, s.csrf, s.last_seen_at, u.id, u.name, u.email, u.role, u.risk_manager
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND s.last_seen_at > ?3 AND u.active = 1",
        )?
        .query_row(params![id_hash, now, idle_since], |r| {
            Ok(SessionRow {
                id_hash: r.get(0)?,
                csrf: r.get(1)?,
                last_seen_at: r.get(2)?,
                user_id: r.get(3)?,
                user_name: r.get(4)?,
                user_email: r.get(5)?,
                role: r.get(6)?,
                risk_manager: r.get(7)?,
            })
        })
        .optional()?)
}

/// The user and CSRF token of a session that may have ended (idle or past its age), if it is
/// still stored and its user active: a form that arrives too late is kept as a draft for them.
pub fn ended(conn: &Connection, id_hash: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT u.id, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = ?1 AND u.active = 1",
            [id_hash],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn touch(conn: &Connection, id_hash: &str, now: &str) -> Result<()> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1")?
        .execute(params![id_hash, now])?;
    Ok(())
}

pub fn delete(conn: &Connection, id_hash: &str) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// Signs a user out everywhere (disabled, role changed, password reset).
pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    Ok(())
}

/// Forgets expired and idle sessions.
pub fn purge(conn: &Connection, now: &str, idle_since: &str) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
        params![now, idle_since],
    )?)
}

/// The password hash of an active user, for sign-in.
pub fn credentials(conn: &Connection, email: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE email = ?1 AND active = 1",
            [email.trim()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_expired_or_the_user_is_disabled() {
        let conn = crate::store::open_in_memory().unwrap();
        let user = crate::store::users::insert(
            &conn,
            "a@h.test",
            "A",
            crate::domain::Role::Operator,
            "x",
            false,
        )
        .unwrap();
        insert(
            &conn,
            "h1",
            user,
            "c",
            "2026-01-01T10:00:00Z",
            "2026-01-01T22:00:00Z",
        )
        .unwrap();
        let at = |now: &str, idle_since: &str| get(&conn, "h1", now, idle_since).unwrap().is_some();
        assert!(at("2026-01-01T11:00:00Z", "2026-01-01T09:00:00Z"));
        // Idle: last seen before the idle limit.
        assert!(!at("2026-01-01T12:30:00Z", "2026-01-01T10:30:00Z"));
        touch(&conn, "h1", "2026-01-01T12:00:00Z").unwrap();
        assert!(at("2026-01-01T12:30:00Z", "2026-01-01T10:30:00Z"));
        // Absolute expiry, however busy.
        assert!(!at("2026-01-01T22:00:00Z", "2026-01-01T21:00:00Z"));
        crate::store::users::disable(&conn, "a@h.test").unwrap();
        assert!(!at("2026-01-01T12:30:00Z", "2026-01-01T10:30:00Z"));
        assert_eq!(
            purge(&conn, "2026-01-02T00:00:00Z", "2026-01-01T23:00:00Z").unwrap(),
            0,
            "disabling deleted it already"
        );
    }
}
