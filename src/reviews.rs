//! The second level (riesame, issue 19): when the citizen remains unsatisfied after the answer,
//! an operator opens a review addressed to one of `[workflow] review_bodies` (the Commissione
//! Mista Conciliativa, the Difensore civico), then records its outcome. One review per ticket,
//! with its own dates; a body may exclude categories (a refusal the operator reads in Italian).
//!
//! Each step runs in the caller's transaction: role and ticket checks, the record
//! (`store::reviews`), the audit log.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::config::WorkflowConfig;
use crate::domain::refusal::{Invalid, Step, WorkflowError};
use crate::domain::{Actor, AuditAction, Outcome};
use crate::store::{self, audit, reviews as sql};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

fn staff_only(actor: &Actor) -> Result<()> {
    if actor.role.works_tickets() {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden {
            role: actor.role,
            step: Step::Review,
        })
    }
}

/// Opens the ticket's review by `body` (a name of `workflow.review_bodies`), with the
/// operator's `notes` (the citizen's request, the documents sent).
pub fn open(
    conn: &Connection,
    workflow: &WorkflowConfig,
    actor: &Actor,
    ticket_id: i64,
    body: &str,
    notes: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    staff_only(actor)?;
    let t = store::tickets::ticket(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    if t.first_answered_at.is_none() {
        return Err(WorkflowError::Invalid(Invalid::NotAnsweredYet));
    }
    let b = workflow
        .review_body(body)
        .ok_or(WorkflowError::Invalid(Invalid::UnknownReviewBody))?;
    if t.category.as_ref().is_some_and(|c| b.excludes(&c.code)) {
        return Err(WorkflowError::Invalid(Invalid::ReviewBodyExcluded));
    }
    if sql::of_ticket(conn, ticket_id)?.is_some() {
        return Err(WorkflowError::Invalid(Invalid::ReviewExists));
    }
    let id = sql::open(
        conn,
        ticket_id,
        &b.name,
        notes.trim(),
        &store::time_text(now),
        actor.id,
    )?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketReviewOpened,
        Some(ticket_id),
        json!({ "review": id, "body": b.name }),
    )?;
    Ok(id)
}

/// Records the outcome of the ticket's open review.
pub fn close(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    outcome: Outcome,
    notes: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    staff_only(actor)?;
    store::tickets::standing(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    if !sql::close(
        conn,
        ticket_id,
        outcome,
        notes.trim(),
        &store::time_text(now),
        actor.id,
    )? {
        return Err(WorkflowError::Invalid(Invalid::NoReview));
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketReviewClosed,
        Some(ticket_id),
        json!({ "outcome": outcome }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReviewBody;
    use crate::domain::{AuditActor, Role};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_review_follows_the_answer_once_and_respects_excluded_categories() {
        let conn = store::open_in_memory().unwrap();
        let op = Actor {
            id: crate::users::add(
                &conn,
                AuditActor::Cli,
                "o@h.test",
                "Op",
                Role::Operator,
                false,
                "password-lunga",
            )
            .unwrap(),
            name: "Op".into(),
            role: Role::Operator,
        };
        let viewer = Actor {
            id: op.id,
            name: "V".into(),
            role: Role::Viewer,
        };
        conn.execute_batch(
            "INSERT INTO contacts (id, email, created_at) VALUES (1, 'c@example.test', '2026-01-01T00:00:00Z');
             INSERT INTO tickets (id, number, year, seq, thread_token, state, contact_id, subject, received_at,
               due_at, channel, created_at, updated_at, category_id)
             VALUES (1, 'URP-2026-000001', 2026, 1, 't', 'in_charge', 1, 's', '2026-01-01T00:00:00Z',
               '2026-01-31T00:00:00Z', 'email', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z',
               (SELECT id FROM categories WHERE code = 'TEM.02'));",
        )
        .unwrap();
        let mut wf = WorkflowConfig::default();
        wf.review_bodies.push(ReviewBody {
            name: "Garante".into(),
            exclude_categories: vec!["TEM".into()],
        });
        let now = t("2026-03-01T10:00:00Z");
        let cmc = "Commissione Mista Conciliativa";
        assert!(matches!(
            open(&conn, &wf, &op, 1, cmc, "", now),
            Err(WorkflowError::Invalid(Invalid::NotAnsweredYet))
        ));
        conn.execute(
            "UPDATE tickets SET state = 'closed', first_answered_at = '2026-01-20T00:00:00Z'",
            [],
        )
        .unwrap();
        assert!(matches!(
            open(&conn, &wf, &viewer, 1, cmc, "", now),
            Err(WorkflowError::Forbidden { .. })
        ));
        assert!(matches!(
            open(&conn, &wf, &op, 1, "Garante", "", now),
            Err(WorkflowError::Invalid(Invalid::ReviewBodyExcluded))
        ));
        assert!(matches!(
            open(&conn, &wf, &op, 1, "Tribunale", "", now),
            Err(WorkflowError::Invalid(Invalid::UnknownReviewBody))
        ));
        assert!(matches!(
            close(&conn, &op, 1, Outcome::Accolto, "", now),
            Err(WorkflowError::Invalid(Invalid::NoReview))
        ));
        open(&conn, &wf, &op, 1, cmc, "Istanza del 28/02", now).unwrap();
        assert!(matches!(
            open(&conn, &wf, &op, 1, "Difensore civico", "", now),
            Err(WorkflowError::Invalid(Invalid::ReviewExists))
        ));
        close(
            &conn,
            &op,
            1,
            Outcome::ParzialmenteAccolto,
            "Verbale 12",
            t("2026-04-01T10:00:00Z"),
        )
        .unwrap();
        let r = sql::of_ticket(&conn, 1).unwrap().unwrap();
        assert_eq!(
            (r.body.as_str(), r.outcome, r.closed_at.as_deref()),
            (
                cmc,
                Some(Outcome::ParzialmenteAccolto),
                Some("2026-04-01T10:00:00Z")
            )
        );
        assert_eq!(r.notes, "Istanza del 28/02\nVerbale 12");
        let audited: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'ticket.review_%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(audited, 2);
    }
}
