//! The outbox and what composing a mail needs to know about a ticket.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::{MailKind, OutboxState, Outgoing, RecipientKey, TicketNumber};

/// What a mail about a ticket needs beyond the ticket itself: its secret, and its citizen's own
/// messages (for the threading headers and the quote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadFacts {
    /// The ticket's secret, carried in our Message-IDs.
    pub thread_token: String,
    /// Message-IDs of the citizen's own first and last messages (threading headers).
    pub first_inbound_id: Option<String>,
    pub last_inbound_id: Option<String>,
    /// The citizen's own last message, for quoting in an answer.
    pub last_inbound_body: Option<String>,
    pub last_inbound_at: Option<String>,
}

/// The messages of ticket `t` that its citizen `c` wrote (not automatic mail). A ticket may hold
/// someone else's mail (a merge of two citizens' tickets, a reply from another address to our
/// mail): mail to the citizen never quotes it nor names its Message-ID.
const OWN_INBOUND: &str = "m.ticket_id = t.id AND m.direction = 'in' AND m.automatic IS NULL
    AND m.request_id IS NULL AND m.from_email = c.email COLLATE NOCASE";

pub fn thread_facts(conn: &Connection, ticket_id: i64) -> Result<Option<ThreadFacts>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT t.thread_token,
                    (SELECT message_id FROM messages m WHERE {OWN_INBOUND} ORDER BY id LIMIT 1),
                    (SELECT message_id FROM messages m WHERE {OWN_INBOUND} ORDER BY id DESC LIMIT 1),
                    (SELECT body_text FROM messages m WHERE {OWN_INBOUND} ORDER BY id DESC LIMIT 1),
                    (SELECT received_at FROM messages m WHERE {OWN_INBOUND} ORDER BY id DESC LIMIT 1)
             FROM tickets t JOIN contacts c ON c.id = t.contact_id
             WHERE t.id = ?1"
        ))?
        .query_row([ticket_id], |r| {
            Ok(ThreadFacts {
                thread_token: r.get(0)?,
                first_inbound_id: r.get(1)?,
                last_inbound_id: r.get(2)?,
                last_inbound_body: r.get(3)?,
                last_inbound_at: r.get(4)?,
            })
        })
        .optional()?)
}

pub struct NewMail<'a> {
    pub ticket_id: Option<i64>,
    pub kind: MailKind,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub refs: Option<&'a str>,
    pub automatic: bool,
    /// `None` to send; `Some(reason)` to record it as suppressed.
    pub suppressed: Option<&'a str>,
}

pub fn insert(conn: &Connection, m: &NewMail) -> Result<i64> {
    let now = super::now_text();
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, kind, to_address, to_key, subject, body_text, message_id,
           in_reply_to, refs, automatic, state, last_error, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?
    .execute(params![
        m.ticket_id,
        m.kind,
        m.to,
        RecipientKey::of(m.to).as_str(),
        m.subject,
        m.body,
        m.message_id,
        m.in_reply_to,
        m.refs,
        m.automatic,
        if m.suppressed.is_some() {
            OutboxState::Suppressed
        } else {
            OutboxState::Pending
        },
        m.suppressed,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Mails answering inbound mail (acknowledgements, reopenings) queued or sent to the mailbox
/// `to` (any spelling of it) since `since`: the per-address rate limit's count. It runs for
/// every inbound mail, so it reads one range of its partial index (whose condition on `kind` it
/// repeats word for word), named because SQLite would otherwise pick `outbox_due` for
/// `state IN (…)` and walk every mail ever sent.
const REPLIES_TO: &str = "SELECT count(*) FROM (SELECT 1 FROM outbox INDEXED BY outbox_replies_to
    WHERE to_key = ?1 AND kind IN ('ack', 'reopened') AND state IN ('pending', 'sent')
      AND created_at >= ?2 LIMIT ?3)";

/// The same to anyone: the global ceiling's count.
const ALL_REPLIES: &str =
    "SELECT count(*) FROM (SELECT 1 FROM outbox INDEXED BY outbox_replies_recent
    WHERE kind IN ('ack', 'reopened') AND state IN ('pending', 'sent') AND created_at >= ?1
    LIMIT ?2)";

// Both counts stop at the limit they are compared with (`at_most`): the rate limit only asks
// whether it is reached. Counting on would read, for each message of a flood, every
// acknowledgement of the last hour (suppressed ones too: they lie in the same index range) —
// quadratic in the flood's size, and most of ingest's time in a large import or backlog.

/// See [`REPLIES_TO`]; at most `at_most`.
pub fn replies_to_inbound_since(
    conn: &Connection,
    to: &RecipientKey,
    since: &str,
    at_most: u32,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(REPLIES_TO)?
        .query_row(params![to.as_str(), since, at_most], |r| r.get(0))?)
}

/// See [`ALL_REPLIES`]; at most `at_most`.
pub fn all_replies_to_inbound_since(conn: &Connection, since: &str, at_most: u32) -> Result<i64> {
    Ok(conn
        .prepare_cached(ALL_REPLIES)?
        .query_row(params![since, at_most], |r| r.get(0))?)
}

/// A mail the worker should try now.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub attempts: u32,
    pub mail: Outgoing,
}

pub fn due(conn: &Connection, now: &str, limit: usize) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, to_address, subject, body_text, message_id, in_reply_to, refs, automatic, attempts
         FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit as i64], |r| {
            Ok(Due {
                id: r.get(0)?,
                attempts: r.get(8)?,
                mail: Outgoing {
                    to: r.get(1)?,
                    subject: r.get(2)?,
                    body: r.get(3)?,
                    message_id: r.get(4)?,
                    in_reply_to: r.get(5)?,
                    refs: r.get(6)?,
                    automatic: r.get(7)?,
                    attachments: Vec::new(),
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut rows = rows;
    for d in &mut rows {
        d.mail.attachments = super::answer_files::of_outbox(conn, d.id)?;
    }
    Ok(rows)
}

/// Marks mails sent, in one transaction.
pub fn mark_sent(conn: &mut Connection, ids: &[i64]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL
             WHERE id = ?1",
        )?;
        let now = super::now_text();
        for id in ids {
            stmt.execute(params![id, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Records a failed attempt: retried at `next_attempt_at`, or marked failed for good.
pub fn mark_attempt_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: &str,
    give_up: bool,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
           state = CASE WHEN ?4 THEN 'failed' ELSE state END
         WHERE id = ?1",
    )?
    .execute(params![id, error, next_attempt_at, give_up])?;
    Ok(())
}

/// Active operators with the "riceve mail" flag.
pub fn notified_operators(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT email FROM users WHERE notify = 1 AND active = 1 AND role IN ('admin', 'operator') ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// A bounce of our mail: the citizen's address stops getting automatic mail.
pub fn mark_bouncing(conn: &Connection, ticket_id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE contacts SET bouncing_since = coalesce(bouncing_since, ?2)
         WHERE id = (SELECT contact_id FROM tickets WHERE id = ?1)",
    )?
    .execute(params![ticket_id, super::now_text()])?;
    Ok(())
}

/// A notification as listed and exported: what was (or will be, or will never be) sent, and
/// why not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket: Option<TicketNumber>,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub state: OutboxState,
    pub attempts: i64,
    /// For failed and pending mail the last error; for suppressed mail the reason.
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub message_id: String,
}

fn outbox_row(r: &rusqlite::Row) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        ticket: r.get(1)?,
        kind: r.get(2)?,
        to: r.get(3)?,
        subject: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        last_error: r.get(7)?,
        created_at: r.get(8)?,
        sent_at: r.get(9)?,
        message_id: r.get(10)?,
    })
}

/// Every notification, oldest first (the export).
pub fn each(conn: &Connection, each: &mut dyn FnMut(OutboxRow) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT o.id, t.number, o.kind, o.to_address, o.subject, o.state, o.attempts, o.last_error,
                o.created_at, o.sent_at, o.message_id
         FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id ORDER BY o.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(outbox_row(r)?)?;
    }
    Ok(())
}

/// Notifications someone may need to look at: pending, failed and suppressed, newest first,
/// with at most 201 characters of address and subject (a list shows 200).
pub fn attention(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>> {
    let rows = conn
        .prepare_cached(
            "SELECT o.id, t.number, o.kind, substr(o.to_address, 1, 201), substr(o.subject, 1, 201),
                    o.state, o.attempts,
                    o.last_error, o.created_at, o.sent_at, o.message_id
             FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id
             WHERE o.state IN (?2, ?3, ?4) ORDER BY o.id DESC LIMIT ?1",
        )?
        .query_map(
            params![
                limit as i64,
                OutboxState::Pending,
                OutboxState::Failed,
                OutboxState::Suppressed
            ],
            outbox_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rate limit runs for every inbound mail: its counts read an index range (the rows of
    /// one mailbox, or of the last hour), never the whole outbox.
    #[test]
    fn the_rate_limit_counts_through_its_indexes() {
        let conn = crate::store::open_in_memory().unwrap();
        let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> String {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            st.query_map(params, |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let per_mailbox = plan(
            REPLIES_TO,
            &[&"victim@gmail.test", &"2026-01-01T00:00:00Z", &3],
        );
        assert!(
            per_mailbox
                .contains("USING COVERING INDEX outbox_replies_to (to_key=? AND created_at>?)"),
            "{per_mailbox}"
        );
        let everyone = plan(ALL_REPLIES, &[&"2026-01-01T00:00:00Z", &60]);
        assert!(
            everyone.contains("USING COVERING INDEX outbox_replies_recent (created_at>?)"),
            "{everyone}"
        );
    }

    /// Every kind of mail the code knows fits the table: three branches once changed the outbox
    /// at the same time, one of them listing its kinds in a CHECK that missed the others'.
    #[test]
    fn every_kind_of_mail_can_be_queued() {
        let conn = crate::store::open_in_memory().unwrap();
        for (i, kind) in MailKind::ALL.iter().enumerate() {
            let message_id = format!("m{i}@hospital.test");
            insert(
                &conn,
                &NewMail {
                    ticket_id: None,
                    kind: *kind,
                    to: "someone@example.test",
                    subject: "s",
                    body: "b",
                    message_id: &message_id,
                    in_reply_to: None,
                    refs: None,
                    automatic: kind.automatic(),
                    suppressed: None,
                },
            )
            .unwrap_or_else(|e| panic!("{kind}: {e:#}"));
        }
        let count: i64 = conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, MailKind::ALL.len() as i64);
    }

    #[test]
    fn a_blanked_address_leaves_no_key_behind() {
        let conn = crate::store::open_in_memory().unwrap();
        let id = insert(
            &conn,
            &NewMail {
                ticket_id: None,
                kind: MailKind::Ack,
                to: "Mario.Rossi+urp@GMAIL.com",
                subject: "s",
                body: "b",
                message_id: "m1@hospital.test",
                in_reply_to: None,
                refs: None,
                automatic: true,
                suppressed: None,
            },
        )
        .unwrap();
        let key = || -> Option<String> {
            conn.query_row("SELECT to_key FROM outbox WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
        };
        assert_eq!(key().as_deref(), Some("mariorossi@gmail.com"));
        // What the retention job does to a notification.
        conn.execute("UPDATE outbox SET to_address = '' WHERE id = ?1", [id])
            .unwrap();
        assert_eq!(key(), None);
    }
}
