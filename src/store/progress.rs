//! Per-mailbox ingest progress: the highest UID committed under a UIDVALIDITY.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub account: String,
    pub uidvalidity: u32,
    pub last_uid: u32,
}

pub fn get(conn: &Connection, mailbox: &str) -> Result<Option<Progress>> {
    Ok(conn
        .query_row(
            "SELECT account, uidvalidity, last_uid FROM mailbox_progress WHERE mailbox = ?1",
            [mailbox],
            |r| {
                Ok(Progress {
                    account: r.get(0)?,
                    uidvalidity: r.get(1)?,
                    last_uid: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// Records progress; call it in the transaction that stores the messages it covers.
pub fn set(conn: &Connection, mailbox: &str, p: &Progress) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO mailbox_progress (mailbox, account, uidvalidity, last_uid, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (mailbox) DO UPDATE SET account = excluded.account,
           uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
           updated_at = excluded.updated_at",
    )?
    .execute(params![
        mailbox,
        p.account,
        p.uidvalidity,
        p.last_uid,
        super::now_text()
    ])?;
    Ok(())
}
