//! Personal data over time (`[retention] anonymise_after_days`): tickets closed longer ago than
//! that lose what identifies the citizen or tells their story — subjects, message texts, names
//! and addresses, attachment names, the original mail's bytes, internal notes, the texts of the
//! notifications sent — replaced by [`texts::ANONYMISED`]. What the statistics count stays:
//! dates, kind, category, service, state, outcome, channel, reopenings. Each ticket done gets an
//! audit entry (`ticket.anonymised`, no personal data).
//!
//! What is kept on purpose: the raw mail's SHA-256 (so that the same message fetched again is
//! still recognised as already stored, and no ticket reappears) and the citizens' Message-IDs
//! as hashes only ([`store::ingest::hashed_message_id`]: a late reply still finds its ticket by
//! comparing hashes, and the IDs, which often carry a name or a domain, are gone). A citizen's
//! contact row is anonymised once none of their tickets keeps personal data. Quarantined mail
//! falls under the same period, counted from when it was dealt with (or, never dealt with, from
//! when it arrived). The writes run with `PRAGMA secure_delete = ON` (every connection has
//! `FAST` anyway), so the old texts do not linger in the database file's free space, and a run
//! ends with a `wal_checkpoint(TRUNCATE)` so that they do not linger in the write-ahead log
//! either ([`finish`]) — unless Litestream replicates the database (`[replication]`): then
//! the checkpoints are Litestream's (see [`WalCheckpoint`]).

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::json;

use crate::domain::{AuditAction, AuditActor};
use crate::store::{self, retention as sql};
use crate::texts::ANONYMISED;

/// Tickets done per transaction: the daemon's other writers wait at most one batch.
pub const BATCH: usize = 500;

/// How a run that removed anything ends with the write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalCheckpoint {
    /// `wal_checkpoint(TRUNCATE)`: no page of the removed texts stays in the `-wal` file.
    Truncate,
    /// None: a WAL replicator (Litestream, `[replication]`) owns the checkpoints. Litestream
    /// "works by effectively taking over the checkpointing process" and holds a long read
    /// transaction between its own checkpoints (litestream.io, How it works): a TRUNCATE of
    /// ours would wait out the busy timeout holding the write lock (ingest stalls 10 s) and
    /// then fail, and if it ever got between two of Litestream's syncs, Litestream would find
    /// the log restarted under it and ship a whole new snapshot of the database. Litestream's
    /// own checkpoints (every minute, or every 1,000 pages) restart the log, whose old frames
    /// the next writes overwrite; the replica keeps the removed texts until its retention
    /// (`snapshot: retention:` in litestream.yml) removes the older snapshots and LTX files.
    LeaveToReplicator,
}

impl WalCheckpoint {
    pub fn for_config(config: &crate::config::Config) -> WalCheckpoint {
        if config.replication.enabled() {
            WalCheckpoint::LeaveToReplicator
        } else {
            WalCheckpoint::Truncate
        }
    }
}

/// What one run did (or, dry, would do).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub cutoff: String,
    pub tickets: usize,
    pub messages: usize,
    pub attachments: usize,
    /// Bytes of original mail removed.
    pub original_bytes: i64,
    pub notes: usize,
    pub notifications: usize,
    pub contacts: usize,
    /// Quarantined messages whose contents were removed.
    pub quarantined: usize,
    /// The first tickets' numbers (at most 20), to show.
    pub first_numbers: Vec<String>,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.tickets += other.tickets;
        self.messages += other.messages;
        self.attachments += other.attachments;
        self.original_bytes += other.original_bytes;
        self.notes += other.notes;
        self.notifications += other.notifications;
        self.contacts += other.contacts;
        self.quarantined += other.quarantined;
        for n in other.first_numbers {
            if self.first_numbers.len() < 20 {
                self.first_numbers.push(n);
            }
        }
    }
}

/// The moment before which a closing makes a ticket due.
pub fn cutoff(after_days: u32, now: DateTime<Utc>) -> String {
    store::time_text(now - chrono::Duration::days(i64::from(after_days)))
}

/// Does (or with `dry_run` only counts) at most `limit` due tickets, in one transaction.
pub fn batch(
    conn: &mut Connection,
    after_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
    limit: usize,
) -> Result<Summary> {
    let cutoff = cutoff(after_days, now);
    let tx = conn.transaction()?;
    let n = sql::select_due(&tx, &cutoff, limit)?;
    let first_numbers = sql::first_due(&tx, 20)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut summary = Summary {
        cutoff,
        tickets: n,
        first_numbers,
        ..Summary::default()
    };
    if n == 0 {
        return Ok(summary);
    }
    let counts = sql::due_counts(&tx)?;
    summary.messages = counts.messages as usize;
    summary.attachments = counts.attachments as usize;
    summary.original_bytes = counts.original_bytes;
    summary.notes = counts.notes as usize;
    summary.notifications = counts.notifications as usize;
    summary.contacts = counts.contacts as usize;
    if dry_run {
        return Ok(summary);
    }
    sql::zeroing(&tx, |c| {
        sql::anonymise_due(
            c,
            ANONYMISED,
            &store::time_text(now),
            store::ingest::hashed_message_id,
        )?;
        for id in sql::due_ids(c)? {
            store::audit::record(
                c,
                AuditActor::Retention,
                AuditAction::TicketAnonymised,
                Some(id),
                json!({ "after_days": after_days }),
            )?;
        }
        Ok(())
    })?;
    tx.commit()?;
    Ok(summary)
}

/// Every due ticket, batch after batch (a dry run looks at all of them at once), then the due
/// quarantined mail, then [`finish`].
pub fn run(
    conn: &mut Connection,
    after_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Summary> {
    run_with(conn, after_days, now, dry_run, WalCheckpoint::Truncate)
}

/// [`run`], ending as `wal` says.
pub fn run_with(
    conn: &mut Connection,
    after_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
    wal: WalCheckpoint,
) -> Result<Summary> {
    let mut total = if dry_run {
        batch(conn, after_days, now, true, usize::MAX >> 2)?
    } else {
        let mut total = Summary {
            cutoff: cutoff(after_days, now),
            ..Summary::default()
        };
        loop {
            let done = batch(conn, after_days, now, false, BATCH)?;
            let n = done.tickets;
            total.add(done);
            if n < BATCH {
                break;
            }
        }
        total
    };
    total.quarantined = quarantine(conn, after_days, now, dry_run)?;
    if !dry_run {
        finish(conn, &total, wal)?;
    }
    Ok(total)
}

/// Quarantined mail dealt with (retried or discarded) before the cutoff, or never dealt with
/// and received before it, loses its raw bytes and its reason; an open entry is closed as
/// anonymised. Raw bytes that a ticket's message holds (a retried message) follow that
/// ticket's period instead. Returns how many entries (with `dry_run`, would be) done.
pub fn quarantine(
    conn: &mut Connection,
    after_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<usize> {
    let cutoff = cutoff(after_days, now);
    let tx = conn.transaction()?;
    if dry_run {
        return sql::quarantine_due(&tx, &cutoff);
    }
    let now_text = store::time_text(now);
    let n = sql::zeroing(&tx, |c| {
        sql::anonymise_quarantine(c, &cutoff, ANONYMISED, &now_text)
    })?;
    if n > 0 {
        store::audit::record(
            &tx,
            AuditActor::Retention,
            AuditAction::QuarantineAnonymised,
            None,
            json!({ "entries": n, "after_days": after_days }),
        )?;
    }
    tx.commit()?;
    Ok(n)
}

/// Ends a run that removed anything: the full-text index forgets the tickets' texts (a rewrite
/// of the index, seconds on a million messages, once per run), and the write-ahead log is
/// checkpointed and truncated, so that no old page of the removed texts is left in the `-wal`
/// file either (unless a replicator owns the checkpoints: [`WalCheckpoint`]).
pub fn finish(conn: &Connection, done: &Summary, wal: WalCheckpoint) -> Result<()> {
    if done.tickets > 0 {
        sql::purge_search_index(conn)?;
    }
    if wal == WalCheckpoint::LeaveToReplicator {
        return Ok(());
    }
    if done.tickets > 0 || done.quarantined > 0 {
        // If a reader stays on an older snapshot, the log is checkpointed as far as possible
        // and SQLite's own checkpoints overwrite the rest.
        let c = sql::truncate_wal(conn)?;
        if c.busy {
            tracing::warn!(
                frames = c.frames,
                copied = c.copied,
                "retention: a reader kept the write-ahead log from being truncated; it will be overwritten by later checkpoints"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_tickets_past_the_period_lose_personal_data_and_keep_their_figures() {
        let mut conn = store::open_in_memory().unwrap();
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        crate::store::demo::generate(&mut conn, 400, 3, now, 5).unwrap();
        // Issue 19: a deadline change's reason may name the citizen.
        conn.execute(
            "INSERT INTO deadline_changes (ticket_id, kind, at, reason, due_before, due_at)
             SELECT id, 'suspended', received_at, 'In attesa della delega di Mario Rossi', due_at, due_at
             FROM tickets",
            [],
        )
        .unwrap();
        let year = crate::stats::Scope::year(2025).unwrap();
        let before = crate::stats::report(&conn, &year, now).unwrap();
        let open_before: i64 = conn
            .query_row(
                "SELECT count(*) FROM tickets WHERE anonymised_at IS NULL AND NOT
                   (state = 'closed' AND closed_at < '2026-05-26T12:00:00Z')",
                [],
                |r| r.get(0),
            )
            .unwrap();

        let dry = run(&mut conn, 180, now, true).unwrap();
        assert!(dry.tickets > 50, "{dry:?}");
        assert!(dry.messages >= dry.tickets);
        let untouched: i64 = conn
            .query_row(
                "SELECT count(*) FROM tickets WHERE anonymised_at IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(untouched, 0, "a dry run changes nothing");

        let done = run(&mut conn, 180, now, false).unwrap();
        assert_eq!(done.tickets, dry.tickets);
        assert_eq!(done.messages, dry.messages);
        assert_eq!(done.contacts, dry.contacts);
        assert_eq!(
            crate::stats::report(&conn, &year, now).unwrap(),
            before,
            "the statistics of the year are the same"
        );
        let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            q("SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id
               WHERE t.anonymised_at IS NOT NULL AND (m.body_text != (SELECT subject FROM tickets WHERE id = t.id)
                 OR m.from_email IS NOT NULL)"),
            0
        );
        assert_eq!(
            q(
                "SELECT count(*) FROM raw_mail r JOIN messages m ON m.raw_id = r.id
               JOIN tickets t ON t.id = m.ticket_id
               WHERE t.anonymised_at IS NOT NULL AND length(r.bytes) > 0"
            ),
            0
        );
        assert_eq!(
            q("SELECT count(*) FROM audit_log WHERE action = 'ticket.anonymised'"),
            done.tickets as i64
        );
        assert_eq!(
            q(
                "SELECT count(*) FROM deadline_changes d JOIN tickets t ON t.id = d.ticket_id
               WHERE t.anonymised_at IS NOT NULL AND d.reason LIKE '%Rossi%'"
            ),
            0,
            "deadline reasons are removed"
        );
        assert!(q("SELECT count(*) FROM deadline_changes WHERE reason LIKE '%Rossi%'") > 0);
        // Nothing else was touched.
        assert_eq!(
            q("SELECT count(*) FROM tickets WHERE anonymised_at IS NULL"),
            open_before
        );
        // The full-text index forgot the texts: a word of the demo's complaints is found in
        // tickets still kept, never in those done.
        let found = |done: bool| {
            q(&format!(
                "SELECT count(*) FROM messages_fts f JOIN messages m ON m.id = f.rowid
                 JOIN tickets t ON t.id = m.ticket_id
                 WHERE messages_fts MATCH 'ascensore' AND t.anonymised_at IS {} NULL",
                if done { "NOT" } else { "" }
            ))
        };
        assert_eq!(found(true), 0);
        assert!(found(false) > 0);
        // A second run finds nothing to do.
        assert_eq!(run(&mut conn, 180, now, false).unwrap().tickets, 0);
    }
}

#[cfg(test)]
mod issue_11_tests {
    use super::*;

    /// Issue 11, finding 8: Message-IDs, PEC details, threading headers and quarantined mail
    /// were left behind.
    #[test]
    fn ids_pec_details_and_quarantined_mail_go_too_and_threading_still_works() {
        let mut conn = store::open_in_memory().unwrap();
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        crate::store::demo::generate(&mut conn, 200, 3, now, 5).unwrap();
        let q = |c: &Connection, sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        // A closed ticket whose citizen's Message-ID names them, reached by PEC, answered.
        let (ticket, original): (i64, String) = conn
            .query_row(
                "SELECT t.id, m.message_id FROM tickets t JOIN messages m ON m.ticket_id = t.id
                 WHERE t.state = 'closed' AND t.closed_at < '2026-01-01' AND m.direction = 'in'
                   AND m.message_id IS NOT NULL LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        conn.execute_batch(&format!(
            "UPDATE messages SET pec = '{{\"identificativo\":\"opec.rossi\"}}',
                    in_reply_to = 'maria.rossi.reply@example.test' WHERE ticket_id = {ticket};
             INSERT INTO outbox (ticket_id, kind, to_address, subject, body_text, message_id,
                    in_reply_to, refs, automatic, state, next_attempt_at, created_at)
             VALUES ({ticket}, 'ack', 'maria.rossi@example.test', 's', 'b', 'ascolto.x@h',
                    '<{original}>', '<{original}>', 1, 'sent', '2025-01-01T00:00:00Z',
                    '2025-01-01T00:00:00Z');
             INSERT INTO raw_mail (sha256, size, bytes, source, fetched_at)
             VALUES ('q1', 5, X'526f737369', 'imap:urp uidvalidity=1 uid=1', '2025-01-01T00:00:00Z'),
                    ('q2', 5, X'4269616e63', 'imap:urp uidvalidity=1 uid=2', '2025-01-01T00:00:00Z'),
                    ('q3', 5, X'5665726469', 'imap:urp uidvalidity=1 uid=3', '2026-11-20T00:00:00Z');
             INSERT INTO quarantine (raw_id, received_at, kind, reason, created_at, resolved_at, resolution)
             VALUES ((SELECT id FROM raw_mail WHERE sha256 = 'q1'), '2025-01-01T00:00:00Z', 'unparseable',
                     'from Rossi', '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', 'discarded'),
                    ((SELECT id FROM raw_mail WHERE sha256 = 'q2'), '2025-01-01T00:00:00Z', 'unparseable',
                     'from Bianchi', '2025-01-01T00:00:00Z', NULL, NULL),
                    ((SELECT id FROM raw_mail WHERE sha256 = 'q3'), '2026-11-20T00:00:00Z', 'unparseable',
                     'from Verdi', '2026-11-20T00:00:00Z', NULL, NULL);"
        ))
        .unwrap();

        let dry = run(&mut conn, 180, now, true).unwrap();
        assert_eq!(dry.quarantined, 2);
        let done = run(&mut conn, 180, now, false).unwrap();
        assert_eq!(done.quarantined, 2);

        assert_eq!(
            q(
                &conn,
                "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id
                      WHERE t.anonymised_at IS NOT NULL AND m.direction = 'in'
                        AND m.message_id NOT LIKE 'sha256:%'"
            ),
            0,
            "citizens' Message-IDs are kept only as hashes"
        );
        assert_eq!(
            q(
                &conn,
                &format!(
                    "SELECT count(*) FROM messages WHERE ticket_id = {ticket}
                               AND (pec IS NOT NULL OR in_reply_to NOT LIKE 'sha256:%')"
                )
            ),
            0
        );
        assert_eq!(
            q(
                &conn,
                &format!(
                    "SELECT count(*) FROM outbox WHERE ticket_id = {ticket}
                               AND (in_reply_to IS NOT NULL OR refs IS NOT NULL)"
                )
            ),
            0
        );
        // A late reply naming the original Message-ID still finds its ticket.
        let found = store::ingest::ticket_by_inbound_message_id(&conn, &original)
            .unwrap()
            .expect("found by hash");
        assert_eq!(found.id, ticket);
        // Quarantine: the discarded and the long-forgotten entries lose their contents; the
        // recent one is kept.
        assert_eq!(
            q(
                &conn,
                "SELECT count(*) FROM raw_mail WHERE sha256 IN ('q1', 'q2') AND length(bytes) > 0"
            ),
            0
        );
        assert_eq!(
            q(
                &conn,
                "SELECT count(*) FROM raw_mail WHERE sha256 = 'q3' AND length(bytes) = 5"
            ),
            1
        );
        assert_eq!(
            q(
                &conn,
                "SELECT count(*) FROM quarantine WHERE reason LIKE 'from %'"
            ),
            1
        );
        assert_eq!(
            q(
                &conn,
                "SELECT count(*) FROM quarantine WHERE resolved_at IS NULL"
            ),
            1,
            "the forgotten entry is closed"
        );
        assert_eq!(run(&mut conn, 180, now, false).unwrap().quarantined, 0);
    }
}
