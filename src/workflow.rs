//! The ticket's life, from the hospital's procedure (DESIGN.md "Ticket life"):
//! `pending → in_charge → answered → closed`, and back to `answered` when the citizen writes to
//! a closed ticket within the reopen window.
//!
//! Each transition is one function over `&Connection`, to be called inside a transaction (use
//! [`in_transaction`]): it checks the role and the state, changes the ticket (through
//! `store::tickets`), writes the audit log with its author, and queues the citizen's mail in the
//! outbox — all or nothing.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::domain::TicketNumber;
use crate::domain::{
    Actor, AuditAction, AuditActor, ClassField, ClassSource, MailKind, Outcome, State,
};
use crate::notify::{Extra, Notifier, Queued};
use crate::store::classifier::{self as class_sql, FieldSource};
use crate::store::tickets::{self as sql, Standing};
use crate::store::{self, audit};

pub use crate::store::tickets::Classification;

pub use crate::domain::refusal::{Invalid, Step, TwoCitizens, WorkflowError};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// Runs `f` in a transaction committed only if it succeeds.
pub fn in_transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction()?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

fn current(conn: &Connection, ticket_id: i64) -> Result<Standing> {
    sql::standing(conn, ticket_id)?.ok_or(WorkflowError::NotFound)
}

/// The id of the ticket with this number.
pub fn ticket_id(conn: &Connection, number: &TicketNumber) -> Result<i64> {
    sql::id_by_number(conn, number)?.ok_or(WorkflowError::NotFound)
}

fn refuse_viewer(actor: &Actor, step: Step) -> Result<()> {
    if !actor.role.works_tickets() {
        return Err(WorkflowError::Forbidden {
            role: actor.role,
            step,
        });
    }
    Ok(())
}

fn wrong_state(t: Standing, step: Step) -> WorkflowError {
    WorkflowError::WrongState {
        number: t.number,
        state: t.state,
        step,
    }
}

/// Someone opens the ticket: the view is audited (health data), and an operator's (or
/// administrator's) first opening takes it in charge. A viewer's never does.
pub fn view(conn: &Connection, notifier: &Notifier, actor: &Actor, ticket_id: i64) -> Result<()> {
    let t = current(conn, ticket_id)?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketViewed,
        Some(ticket_id),
        json!({}),
    )?;
    if actor.role.works_tickets() && t.state == State::Pending {
        take_in_charge(conn, notifier, actor, ticket_id)?;
    }
    Ok(())
}

/// `pending → in_charge`; the citizen is told.
pub fn take_in_charge(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
) -> Result<Queued> {
    refuse_viewer(actor, Step::TakeInCharge)?;
    let t = current(conn, ticket_id)?;
    match t.state {
        State::Pending => {}
        State::InCharge | State::Answered | State::Closed => {
            return Err(wrong_state(t, Step::TakeInCharge))
        }
    }
    sql::set_in_charge(conn, ticket_id, actor.id, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketTakenInCharge,
        Some(ticket_id),
        json!({}),
    )?;
    Ok(notifier.to_citizen(conn, ticket_id, MailKind::InCharge, Extra::default())?)
}

/// The operator's answer goes to the citizen (not marked automatic) and the ticket becomes
/// `answered`. Answering a pending ticket takes it in charge first.
pub fn answer(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    text: &str,
) -> Result<Queued> {
    refuse_viewer(actor, Step::Answer)?;
    if text.trim().is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyAnswer));
    }
    let t = current(conn, ticket_id)?;
    match t.state {
        State::Closed => return Err(wrong_state(t, Step::Answer)),
        State::Pending => {
            take_in_charge(conn, notifier, actor, ticket_id)?;
        }
        State::InCharge | State::Answered => {}
    }
    let extra = Extra {
        answer: Some(text.to_string()),
        operator_name: Some(actor.name.clone()),
        ..Default::default()
    };
    let queued = notifier.to_citizen(conn, ticket_id, MailKind::Answer, extra)?;
    let now = store::now_text();
    let message = sql::insert_answer(conn, ticket_id, text, &now, actor.id, queued.outbox_id)?;
    sql::set_answered(conn, ticket_id, &now)?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnswered,
        Some(ticket_id),
        json!({ "message": message, "outbox": queued.outbox_id }),
    )?;
    Ok(queued)
}

/// Closes the ticket with its outcome; only the backoffice closes.
pub fn close(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    outcome: Outcome,
) -> Result<Queued> {
    refuse_viewer(actor, Step::Close)?;
    let t = current(conn, ticket_id)?;
    if !t.state.is_open() {
        return Err(wrong_state(t, Step::Close));
    }
    sql::set_closed(conn, ticket_id, outcome, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketClosed,
        Some(ticket_id),
        json!({ "outcome": outcome }),
    )?;
    let extra = Extra {
        outcome: Some(outcome),
        ..Default::default()
    };
    Ok(notifier.to_citizen(conn, ticket_id, MailKind::Closed, extra)?)
}

/// An internal note: for colleagues, never sent to the citizen.
pub fn add_note(conn: &Connection, actor: &Actor, ticket_id: i64, body: &str) -> Result<i64> {
    refuse_viewer(actor, Step::Note)?;
    let body = body.trim();
    if body.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyNote));
    }
    current(conn, ticket_id)?;
    let note = sql::insert_note(conn, ticket_id, actor.id, body, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketNoteAdded,
        Some(ticket_id),
        json!({ "note": note }),
    )?;
    Ok(note)
}

/// Reclassifies and (re)assigns a ticket; each field that changes is audited with its old and
/// new value (ids and codes, no personal data). Returns whether anything changed.
pub fn classify(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    new: &Classification,
) -> Result<bool> {
    refuse_viewer(actor, Step::Classify)?;
    let old = sql::classification(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    let refuse_unless = |ok: bool, why: Invalid| -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(WorkflowError::Invalid(why))
        }
    };
    if let Some(id) = new.category_id {
        refuse_unless(sql::is_sub_category(conn, id)?, Invalid::UnknownCategory)?;
    }
    if let Some(id) = new.service_id {
        refuse_unless(sql::service_exists(conn, id)?, Invalid::UnknownService)?;
    }
    if let Some(id) = new.assigned_to {
        refuse_unless(sql::is_active_operator(conn, id)?, Invalid::NotAnOperator)?;
    }
    let mut changes = serde_json::Map::new();
    if old.kind != new.kind {
        changes.insert("kind".into(), json!([old.kind, new.kind]));
    }
    if old.category_id != new.category_id {
        changes.insert("category".into(), json!([old.category_id, new.category_id]));
    }
    if old.service_id != new.service_id {
        changes.insert("service".into(), json!([old.service_id, new.service_id]));
    }
    if old.assigned_to != new.assigned_to {
        changes.insert(
            "assigned_to".into(),
            json!([old.assigned_to, new.assigned_to]),
        );
    }
    // Saving the form is the operator's word on kind, category and service, changed or not:
    // each becomes the operator's (what the learned classifier learns from). Only the first
    // save of an unchanged field is a confirmation worth recording.
    let now = store::now_text();
    let previous = class_sql::sources(conn, ticket_id)?;
    let mut confirmed = Vec::new();
    for field in ClassField::ALL.iter().copied() {
        let changed = match field {
            ClassField::Kind => old.kind != new.kind,
            ClassField::Category => old.category_id != new.category_id,
            ClassField::Service => old.service_id != new.service_id,
        };
        let was_operator = previous
            .iter()
            .any(|s| s.field == field && s.source == ClassSource::Operator);
        if changed || !was_operator {
            class_sql::set_source(
                conn,
                ticket_id,
                &FieldSource::operator(field, actor.id, &now),
            )?;
            if !changed {
                confirmed.push(field);
            }
        }
    }
    if !confirmed.is_empty() {
        audit::record(
            conn,
            actor.audit(),
            AuditAction::TicketClassificationConfirmed,
            Some(ticket_id),
            json!({ "fields": confirmed, "source": ClassSource::Operator }),
        )?;
    }
    if changes.is_empty() {
        return Ok(false);
    }
    sql::set_classification(conn, ticket_id, new, &now)?;
    changes.insert("source".into(), json!(ClassSource::Operator));
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketClassified,
        Some(ticket_id),
        serde_json::Value::Object(changes),
    )?;
    Ok(true)
}

/// What an operator confirms with one click.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The kind, category and service the ticket has now (set by a rule or the model).
    Current,
    /// One of the model's suggestions: a kind word, a category code or a service code
    /// ([`crate::learn::NO_SERVICE`]: no unit concerned).
    Suggestion { field: ClassField, value: String },
}

/// An operator confirms a classification with one click: the field takes the suggested value
/// (or keeps its value) and becomes the operator's. Audited with the field, the value and
/// where it had come from.
pub fn confirm(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    what: &Confirmation,
) -> Result<()> {
    refuse_viewer(actor, Step::Classify)?;
    let old = sql::classification(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    let now = store::now_text();
    let previous = class_sql::sources(conn, ticket_id)?;
    let from = |field: ClassField| {
        previous
            .iter()
            .find(|s| s.field == field)
            .map(FieldSource::audit_detail)
    };
    match what {
        Confirmation::Current => {
            let mut fields = serde_json::Map::new();
            for field in ClassField::ALL.iter().copied() {
                let set = match field {
                    ClassField::Kind => old.kind.is_some(),
                    ClassField::Category => old.category_id.is_some(),
                    ClassField::Service => old.service_id.is_some(),
                };
                if set {
                    fields.insert(field.as_str().into(), json!({ "was": from(field) }));
                    class_sql::set_source(
                        conn,
                        ticket_id,
                        &FieldSource::operator(field, actor.id, &now),
                    )?;
                }
            }
            if fields.is_empty() {
                return Err(WorkflowError::Invalid(Invalid::NothingToConfirm));
            }
            audit::record(
                conn,
                actor.audit(),
                AuditAction::TicketClassificationConfirmed,
                Some(ticket_id),
                json!({ "fields": fields }),
            )?;
        }
        Confirmation::Suggestion { field, value } => {
            let mut new = old.clone();
            let stored = match field {
                ClassField::Kind => {
                    let kind = value
                        .parse()
                        .map_err(|_| WorkflowError::Invalid(Invalid::UnknownKind))?;
                    new.kind = Some(kind);
                    json!(kind)
                }
                ClassField::Category => {
                    let id = class_sql::sub_category_by_code(conn, value)?
                        .ok_or(WorkflowError::Invalid(Invalid::UnknownCategory))?;
                    new.category_id = Some(id);
                    json!(id)
                }
                ClassField::Service if value == crate::learn::NO_SERVICE => {
                    new.service_id = None;
                    json!(null)
                }
                ClassField::Service => {
                    let id = class_sql::service_by_code(conn, value)?
                        .ok_or(WorkflowError::Invalid(Invalid::UnknownService))?;
                    new.service_id = Some(id);
                    json!(id)
                }
            };
            if new != old {
                sql::set_classification(conn, ticket_id, &new, &now)?;
            }
            class_sql::set_source(
                conn,
                ticket_id,
                &FieldSource::operator(*field, actor.id, &now),
            )?;
            audit::record(
                conn,
                actor.audit(),
                AuditAction::TicketClassificationConfirmed,
                Some(ticket_id),
                json!({
                    "fields": { field.as_str(): { "value": stored, "was": from(*field), "suggestion": true } },
                }),
            )?;
        }
    }
    Ok(())
}

/// What the operator confirmed when merging two tickets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeConsent {
    /// Nothing: only tickets of the same citizen merge.
    SameCitizen,
    /// The two tickets are one case although two citizens wrote them (a relative and the
    /// patient, say).
    DifferentCitizens,
}

/// Merges ticket `from` into `into` (the same complaint written twice) if both are of the same
/// citizen; see [`merge_with`].
pub fn merge(conn: &Connection, actor: &Actor, from: i64, into: i64) -> Result<()> {
    merge_with(conn, actor, from, into, MergeConsent::SameCitizen)
}

/// Merges ticket `from` into `into`: `from`'s messages and notes move to `into`, `from` is
/// closed as merged, and mail that still names `from` threads into `into`. No mail goes to the
/// citizen. Tickets of two different citizens merge only with [`MergeConsent::DifferentCitizens`].
pub fn merge_with(
    conn: &Connection,
    actor: &Actor,
    from: i64,
    into: i64,
    consent: MergeConsent,
) -> Result<()> {
    refuse_viewer(actor, Step::Merge)?;
    if from == into {
        return Err(WorkflowError::Invalid(Invalid::MergeIntoItself));
    }
    let (from_t, into_t) = (current(conn, from)?, current(conn, into)?);
    if from_t.merged_into.is_some() {
        return Err(WorkflowError::Invalid(Invalid::AlreadyMerged));
    }
    if into_t.merged_into.is_some() {
        return Err(WorkflowError::Invalid(Invalid::TargetMerged));
    }
    let (from_c, into_c) = (
        sql::ticket(conn, from)?
            .ok_or(WorkflowError::NotFound)?
            .citizen,
        sql::ticket(conn, into)?
            .ok_or(WorkflowError::NotFound)?
            .citizen,
    );
    // Contacts are unique by address (without case): one contact, one citizen.
    let different_citizens = from_c.id != into_c.id;
    if different_citizens && consent == MergeConsent::SameCitizen {
        return Err(WorkflowError::DifferentCitizens(Box::new(TwoCitizens {
            from: from_t.number,
            into: into_t.number,
            from_citizen: from_c.email,
            into_citizen: into_c.email,
        })));
    }
    sql::merge(conn, from, into, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketMergedInto,
        Some(from),
        json!({ "into": into, "different_citizens": different_citizens }),
    )?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketMergedFrom,
        Some(into),
        json!({ "from": from, "different_citizens": different_citizens }),
    )?;
    Ok(())
}

/// Whether a citizen's message at `now` still reopens a ticket closed at `closed_at`.
pub fn within_reopen_window(closed_at: Option<&str>, now: DateTime<Utc>, window_days: u32) -> bool {
    let Some(closed) = closed_at.and_then(|c| DateTime::parse_from_rfc3339(c).ok()) else {
        return true;
    };
    now - closed.with_timezone(&Utc) <= chrono::Duration::days(i64::from(window_days))
}

/// The citizen wrote to a closed ticket within the window: back to `answered` ("torna in
/// attesa di risposta"), the reopening counted, the ticket flagged. Ingest calls this.
pub fn reopen_by_citizen(
    conn: &Connection,
    notifier: Option<&Notifier>,
    ticket_id: i64,
) -> Result<()> {
    let t = current(conn, ticket_id)?;
    if t.state.is_open() {
        return Err(wrong_state(t, Step::Reopen));
    }
    sql::set_reopened(conn, ticket_id, &store::now_text())?;
    audit::record(
        conn,
        AuditActor::Ingest,
        AuditAction::TicketReopened,
        Some(ticket_id),
        json!({}),
    )?;
    if let Some(n) = notifier {
        n.to_citizen(conn, ticket_id, MailKind::Reopened, Extra::default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::ingest::{prepare, Origin, Pipeline, Settings};

    struct World {
        conn: Connection,
        notifier: Notifier,
        ticket: i64,
        op: Actor,
        viewer: Actor,
    }

    fn config() -> crate::config::Config {
        crate::config::Config::from_sources(
            "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\nusername = \"urp@hospital.test\"\npassword = \"x\"\n",
            &Default::default(),
            None,
        )
        .unwrap()
    }

    /// Mail arriving in the mailbox, as ingest stores it (with its notifications).
    fn ingest(conn: &mut Connection, raw: &[u8]) {
        let config = config();
        Pipeline::new(Settings::from_config(&config))
            .with_notifier(std::sync::Arc::new(Notifier::from_config(&config).unwrap()))
            .store_batch(
                conn,
                &[(
                    prepare(raw.to_vec(), None),
                    Origin {
                        label: "t".into(),
                        internal_date: None,
                    },
                )],
                None,
            )
            .unwrap();
    }

    fn world() -> World {
        let notifier = Notifier::from_config(&config()).unwrap();
        let mut conn = store::open_in_memory().unwrap();
        ingest(
            &mut conn,
            b"From: Maria <maria@example.test>\r\nSubject: Attesa\r\nMessage-ID: <m1@example.test>\r\n\r\nAttesa lunga.\r\n",
        );
        let op = crate::users::add(
            &conn,
            crate::domain::AuditActor::Cli,
            "op@hospital.test",
            "Op",
            Role::Operator,
            false,
            "password-lunga",
        )
        .unwrap();
        let viewer = crate::users::add(
            &conn,
            crate::domain::AuditActor::Cli,
            "v@hospital.test",
            "V",
            Role::Viewer,
            false,
            "password-lunga",
        )
        .unwrap();
        World {
            conn,
            notifier,
            ticket: 1,
            op: Actor {
                id: op,
                name: "Op".into(),
                role: Role::Operator,
            },
            viewer: Actor {
                id: viewer,
                name: "V".into(),
                role: Role::Viewer,
            },
        }
    }

    fn state(w: &World) -> String {
        w.conn
            .query_row("SELECT state FROM tickets WHERE id = 1", [], |r| r.get(0))
            .unwrap()
    }

    fn outbox_kinds(w: &World) -> Vec<String> {
        let mut st = w
            .conn
            .prepare("SELECT kind FROM outbox ORDER BY id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn taking_in_charge_only_from_pending_and_never_by_a_viewer() {
        let w = world();
        let refused = take_in_charge(&w.conn, &w.notifier, &w.viewer, w.ticket);
        assert!(
            matches!(refused, Err(WorkflowError::Forbidden { .. })),
            "{refused:?}"
        );
        view(&w.conn, &w.notifier, &w.viewer, w.ticket).unwrap();
        assert_eq!(
            state(&w),
            "pending",
            "a viewer's opening takes nothing in charge"
        );
        view(&w.conn, &w.notifier, &w.op, w.ticket).unwrap();
        assert_eq!(state(&w), "in_charge");
        let again = take_in_charge(&w.conn, &w.notifier, &w.op, w.ticket);
        assert!(
            matches!(again, Err(WorkflowError::WrongState { .. })),
            "{again:?}"
        );
        assert_eq!(outbox_kinds(&w), ["ack", "in_charge"]);
    }

    #[test]
    fn answering_stores_the_message_and_queues_a_non_automatic_mail() {
        let w = world();
        assert!(matches!(
            answer(&w.conn, &w.notifier, &w.op, w.ticket, "  "),
            Err(WorkflowError::Invalid(_))
        ));
        let q = answer(
            &w.conn,
            &w.notifier,
            &w.op,
            w.ticket,
            "Risposta dell'ufficio.",
        )
        .unwrap();
        assert_eq!(state(&w), "answered");
        // Answering a pending ticket took it in charge first.
        assert_eq!(outbox_kinds(&w), ["ack", "in_charge", "answer"]);
        let (automatic, irt, subject): (bool, String, String) = w
            .conn
            .query_row(
                "SELECT automatic, in_reply_to, subject FROM outbox WHERE id = ?1",
                [q.outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(!automatic);
        assert_eq!(irt, "<m1@example.test>");
        assert!(
            subject.starts_with("[URP-") && subject.contains("Attesa"),
            "{subject}"
        );
        let (dir, author): (String, i64) = w
            .conn
            .query_row(
                "SELECT direction, author_id FROM messages WHERE message_id = ?1",
                [&q.message_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((dir.as_str(), author), ("out", w.op.id));
    }

    #[test]
    fn closing_records_the_outcome_once_and_reopening_counts() {
        let w = world();
        close(
            &w.conn,
            &w.notifier,
            &w.op,
            w.ticket,
            Outcome::NonDiCompetenza,
        )
        .unwrap();
        assert_eq!(state(&w), "closed");
        assert!(matches!(
            close(&w.conn, &w.notifier, &w.op, w.ticket, Outcome::Accolto),
            Err(WorkflowError::WrongState { .. })
        ));
        assert!(matches!(
            answer(&w.conn, &w.notifier, &w.op, w.ticket, "x"),
            Err(WorkflowError::WrongState { .. })
        ));
        reopen_by_citizen(&w.conn, Some(&w.notifier), w.ticket).unwrap();
        let (state, reopened, outcome): (String, i64, String) = w
            .conn
            .query_row(
                "SELECT state, reopen_count, outcome FROM tickets WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (state.as_str(), reopened, outcome.as_str()),
            ("answered", 1, "non_di_competenza")
        );
        assert_eq!(outbox_kinds(&w), ["ack", "closed", "reopened"]);
        let authors: Vec<String> = {
            let mut st = w
                .conn
                .prepare(
                    "SELECT actor || ' ' || action FROM audit_log WHERE ticket_id = 1 ORDER BY id",
                )
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(authors.last().unwrap(), "system:ingest ticket.reopened");
        assert!(authors.contains(&format!("user:{} ticket.closed", w.op.id)));
    }

    #[test]
    fn merging_two_citizens_tickets_needs_consent_and_mail_names_only_the_citizens_own() {
        let mut w = world();
        ingest(
            &mut w.conn,
            b"From: nul@example.test\r\nSubject: Esito\r\nMessage-ID: <nul1@example.test>\r\n\r\nSegreto di nul.\r\n",
        );
        let merged = |w: &World| -> Option<i64> {
            w.conn
                .query_row("SELECT merged_into FROM tickets WHERE id = 2", [], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        let refused = merge(&w.conn, &w.op, 2, w.ticket);
        assert!(
            matches!(&refused, Err(WorkflowError::DifferentCitizens(c))
                if c.from_citizen == "nul@example.test" && c.into_citizen == "maria@example.test"),
            "{refused:?}"
        );
        assert_eq!(merged(&w), None);
        let text = crate::texts::workflow_error(&refused.unwrap_err());
        assert!(text.contains("cittadini diversi"), "{text}");
        assert!(
            matches!(
                merge_with(
                    &w.conn,
                    &w.viewer,
                    2,
                    w.ticket,
                    MergeConsent::DifferentCitizens
                ),
                Err(WorkflowError::Forbidden { .. })
            ),
            "consent is no role"
        );

        merge_with(&w.conn, &w.op, 2, w.ticket, MergeConsent::DifferentCitizens).unwrap();
        assert_eq!(merged(&w), Some(w.ticket));
        // nul@'s message is now the ticket's last: the answer to Maria still quotes and names
        // only Maria's.
        let q = answer(&w.conn, &w.notifier, &w.op, w.ticket, "Risposta.").unwrap();
        let (body, irt, refs): (String, String, String) = w
            .conn
            .query_row(
                "SELECT body_text, in_reply_to, refs FROM outbox WHERE id = ?1",
                [q.outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(
            body.contains("Attesa lunga") && !body.contains("nul"),
            "{body}"
        );
        assert_eq!(irt, "<m1@example.test>");
        assert_eq!(refs, "<m1@example.test>");
    }

    #[test]
    fn merging_one_citizens_tickets_needs_no_consent() {
        let mut w = world();
        ingest(
            &mut w.conn,
            b"From: MARIA@example.test\r\nSubject: Ancora\r\nMessage-ID: <m2@example.test>\r\n\r\nDi nuovo.\r\n",
        );
        merge(&w.conn, &w.op, 2, w.ticket).unwrap();
        let q = answer(&w.conn, &w.notifier, &w.op, w.ticket, "Risposta.").unwrap();
        let irt: String = w
            .conn
            .query_row(
                "SELECT in_reply_to FROM outbox WHERE id = ?1",
                [q.outbox_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            irt, "<m2@example.test>",
            "her own last message, whatever its case"
        );
    }

    #[test]
    fn the_reopen_window_is_measured_from_closing() {
        let now: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
        assert!(within_reopen_window(Some("2026-01-02T09:00:00Z"), now, 60));
        assert!(!within_reopen_window(Some("2026-01-01T08:59:59Z"), now, 60));
    }
}
