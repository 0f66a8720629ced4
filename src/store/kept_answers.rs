//! Answers kept when the session ended before they were sent (issue 18): at most one per user
//! and ticket.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// A kept answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub body: String,
    pub saved_at: String,
}

/// Keeps `body` as `user_id`'s answer to `ticket_id`, in place of an older one.
pub fn keep(conn: &Connection, user_id: i64, ticket_id: i64, body: &str, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO kept_answers (user_id, ticket_id, body, saved_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, ticket_id) DO UPDATE SET body = excluded.body, saved_at = excluded.saved_at",
        params![user_id, ticket_id, body, now],
    )?;
    Ok(())
}

pub fn of(conn: &Connection, user_id: i64, ticket_id: i64) -> Result<Option<Draft>> {
    Ok(conn
        .query_row(
            "SELECT body, saved_at FROM kept_answers WHERE user_id = ?1 AND ticket_id = ?2",
            params![user_id, ticket_id],
            |r| {
                Ok(Draft {
                    body: r.get(0)?,
                    saved_at: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// Forgets `user_id`'s draft for `ticket_id` (the answer was sent).
pub fn forget(conn: &Connection, user_id: i64, ticket_id: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM kept_answers WHERE user_id = ?1 AND ticket_id = ?2",
        params![user_id, ticket_id],
    )?;
    Ok(())
}

/// Forgets every draft of `ticket_id` (anonymisation).
pub fn forget_ticket(conn: &Connection, ticket_id: i64) -> Result<()> {
    conn.execute("DELETE FROM kept_answers WHERE ticket_id = ?1", [ticket_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_kept_replaced_and_forgotten() {
        let conn = crate::store::open_in_memory().unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, name, role, password_hash, active, created_at)
             VALUES (7, 'op@h.test', 'Op', 'operator', 'x', 1, '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO contacts (email, name, created_at) VALUES ('c@e.test', 'Ada', 'x');
             INSERT INTO tickets (number, year, seq, thread_token, contact_id, subject, received_at,
                 due_at, channel, created_at, updated_at)
             VALUES ('URP-2026-000001', 2026, 1, 't', 1, 'Oggetto', '2026-03-02T09:00:00Z',
                 '2026-04-01T09:00:00Z', 'email', 'x', 'x');",
        )
        .unwrap();
        let ticket = conn.last_insert_rowid();
        assert_eq!(of(&conn, 7, ticket).unwrap(), None);
        keep(&conn, 7, ticket, "prima", "2026-01-01T10:00:00Z").unwrap();
        keep(&conn, 7, ticket, "seconda", "2026-01-01T11:00:00Z").unwrap();
        assert_eq!(of(&conn, 7, ticket).unwrap().unwrap().body, "seconda");
        forget(&conn, 7, ticket).unwrap();
        assert_eq!(of(&conn, 7, ticket).unwrap(), None);
        keep(&conn, 7, ticket, "terza", "2026-01-01T12:00:00Z").unwrap();
        forget_ticket(&conn, ticket).unwrap();
        assert_eq!(of(&conn, 7, ticket).unwrap(), None);
    }
}
