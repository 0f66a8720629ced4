//! Sign-off (issue 19, `[workflow] answers_need_approval`): an operator's answer becomes a
//! draft "da approvare" and nothing reaches the citizen; a user with the approver right (a flag
//! on the account) approves it — it is sent as its author's answer, with its files — or returns
//! it with a comment.
//!
//! Each step runs in the caller's transaction: role, right and state checks, the draft
//! (`store::drafts`), the audit log; approving runs `answer_files::answer_with_files`' own path.

use rusqlite::Connection;
use serde_json::json;

use crate::config::WorkflowConfig;
use crate::domain::refusal::{Invalid, Step, WorkflowError};
use crate::domain::{Actor, AuditAction, OutgoingFile};
use crate::notify::{Notifier, Queued};
use crate::store::{self, audit, drafts as sql};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// The operator's answer (and files), kept as a draft awaiting approval. Returns its id.
pub fn submit(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    text: &str,
    files: &[OutgoingFile],
    limits: &WorkflowConfig,
) -> Result<i64> {
    if !actor.role.works_tickets() {
        return Err(WorkflowError::Forbidden {
            role: actor.role,
            step: Step::Answer,
        });
    }
    if text.trim().is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyAnswer));
    }
    crate::answer_files::check(files, limits)?;
    let t = store::tickets::standing(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    if !t.state.is_open() {
        return Err(WorkflowError::WrongState {
            number: t.number,
            state: t.state,
            step: Step::Answer,
        });
    }
    let now = store::now_text();
    let draft = sql::insert(conn, ticket_id, actor.id, text, &now)?;
    for f in files {
        sql::insert_file(conn, ticket_id, draft, f, &now)?;
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnswerDrafted,
        Some(ticket_id),
        json!({ "draft": draft, "files": files.len() }),
    )?;
    Ok(draft)
}

fn approver(conn: &Connection, actor: &Actor) -> Result<()> {
    if actor.role.works_tickets() && sql::is_approver(conn, actor.id)? {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden {
            role: actor.role,
            step: Step::Approve,
        })
    }
}

fn pending(conn: &Connection, ticket_id: i64, draft: i64) -> Result<sql::Draft> {
    sql::get(conn, ticket_id, draft)?
        .filter(|d| d.state == crate::domain::DraftState::Pending)
        .ok_or(WorkflowError::Invalid(Invalid::NoPendingDraft))
}

/// Approves draft `draft` of ticket `ticket_id`: it is sent as its author's answer.
pub fn approve(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    draft: i64,
) -> Result<Queued> {
    approver(conn, actor)?;
    let d = pending(conn, ticket_id, draft)?;
    let author = Actor {
        id: d.author_id,
        name: d.author_name.clone(),
        role: d.author_role,
    };
    let queued = crate::workflow::answer(conn, notifier, &author, ticket_id, &d.body)?;
    sql::files_sent(conn, draft, queued.outbox_id)?;
    sql::decide(
        conn,
        draft,
        crate::domain::DraftState::Approved,
        actor.id,
        "",
        &store::now_text(),
    )?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnswerApproved,
        Some(ticket_id),
        json!({ "draft": draft, "outbox": queued.outbox_id }),
    )?;
    Ok(queued)
}

/// Returns draft `draft` to its author with `comment`; nothing is sent.
pub fn send_back(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    draft: i64,
    comment: &str,
) -> Result<()> {
    approver(conn, actor)?;
    pending(conn, ticket_id, draft)?;
    if comment.trim().is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyReason));
    }
    sql::decide(
        conn,
        draft,
        crate::domain::DraftState::Returned,
        actor.id,
        comment.trim(),
        &store::now_text(),
    )?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnswerReturned,
        Some(ticket_id),
        json!({ "draft": draft }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditActor, Role};

    #[test]
    fn a_draft_sends_nothing_until_an_approver_approves_it() {
        let conn = store::open_in_memory().unwrap();
        let config = crate::config::Config::from_sources(
            "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
             username = \"urp@hospital.test\"\npassword = \"x\"\n",
            &Default::default(),
            None,
        )
        .unwrap();
        let notifier = Notifier::from_config(&config).unwrap();
        let add = |email: &str| {
            crate::users::add(
                &conn,
                AuditActor::Cli,
                email,
                "Op",
                Role::Operator,
                false,
                "password-lunga",
            )
            .unwrap()
        };
        let op = Actor {
            id: add("op@h.test"),
            name: "Anna".into(),
            role: Role::Operator,
        };
        let head = Actor {
            id: add("capo@h.test"),
            name: "Capo".into(),
            role: Role::Operator,
        };
        conn.execute("UPDATE users SET approver = 1 WHERE id = ?1", [head.id])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO contacts (id, email, created_at) VALUES (1, 'c@example.test', '2026-01-01T00:00:00Z');
             INSERT INTO tickets (id, number, year, seq, thread_token, state, contact_id, subject, received_at,
               due_at, channel, created_at, updated_at)
             VALUES (1, 'URP-2026-000001', 2026, 1, 't', 'in_charge', 1, 's', '2026-01-01T00:00:00Z',
               '2026-01-31T00:00:00Z', 'email', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        let file = OutgoingFile {
            filename: "lettera.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF".to_vec(),
        };
        let wf = WorkflowConfig::default();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let first = submit(&conn, &op, 1, "Prima versione", &[], &wf).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM outbox"),
            0,
            "a draft sends nothing"
        );
        assert!(matches!(
            approve(&conn, &notifier, &op, 1, first),
            Err(WorkflowError::Forbidden { .. })
        ));
        send_back(&conn, &head, 1, first, "Citare il regolamento").unwrap();
        assert!(matches!(
            approve(&conn, &notifier, &head, 1, first),
            Err(WorkflowError::Invalid(Invalid::NoPendingDraft))
        ));
        let second = submit(
            &conn,
            &op,
            1,
            "Seconda versione",
            std::slice::from_ref(&file),
            &wf,
        )
        .unwrap();
        assert_eq!(count("SELECT count(*) FROM outbox"), 0);
        approve(&conn, &notifier, &head, 1, second).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM outbox WHERE kind = 'answer'"),
            1
        );
        assert_eq!(count("SELECT count(*) FROM answer_files WHERE outbox_id IS NOT NULL AND message_id IS NOT NULL"), 1);
        let author: i64 = conn
            .query_row(
                "SELECT author_id FROM messages WHERE direction = 'out'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(author, op.id, "sent as its author's answer");
        assert_eq!(
            count(
                "SELECT count(*) FROM audit_log WHERE action IN
                   ('ticket.answer_drafted', 'ticket.answer_approved', 'ticket.answer_returned')"
            ),
            4,
            "two drafts, one returned, one approved"
        );
    }
}
