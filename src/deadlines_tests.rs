//! Moving deadlines on an in-memory database: the checks, the record, the notice.

use super::*;
use crate::domain::{AuditActor, Channel, Role, TicketNumber};
use crate::store::ingest::{self as ingest_sql, NewTicket};

const CONFIG: &str = "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
username = \"urp@hospital.test\"\npassword = \"x\"\n";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct World {
    conn: Connection,
    notifier: Notifier,
    op: Actor,
    viewer: Actor,
    ticket: i64,
}

impl World {
    fn new() -> World {
        let config =
            crate::config::Config::from_sources(CONFIG, &Default::default(), None).unwrap();
        let conn = store::open_in_memory().unwrap();
        let add = |email: &str, role: Role| {
            crate::users::add(
                &conn,
                AuditActor::Cli,
                email,
                "Op",
                role,
                false,
                "password-lunga",
            )
            .unwrap()
        };
        let op = Actor {
            id: add("op@hospital.test", Role::Operator),
            name: "Anna".into(),
            role: Role::Operator,
        };
        let viewer = Actor {
            id: add("v@hospital.test", Role::Viewer),
            name: "Vera".into(),
            role: Role::Viewer,
        };
        let contact_id = ingest_sql::upsert_contact(&conn, "maria@example.test", None).unwrap();
        let number: TicketNumber = "URP-2026-000001".parse().unwrap();
        let ticket = ingest_sql::insert_ticket(
            &conn,
            &NewTicket {
                number: &number,
                year: 2026,
                seq: 1,
                thread_token: "token",
                kind: None,
                category_id: None,
                service_id: None,
                contact_id,
                subject: "Attesa",
                received_at: "2026-03-02T09:00:00Z",
                due_at: "2026-04-01T08:00:00Z",
                channel: Channel::Email,
                linked_ticket_id: None,
            },
        )
        .unwrap();
        World {
            notifier: Notifier::from_config(&config).unwrap(),
            conn,
            op,
            viewer,
            ticket,
        }
    }

    fn act(&self, who: &Actor, what: Move, reason: &str, at: &str) -> Result<Queued> {
        move_deadline(
            &self.conn,
            &self.notifier,
            who,
            self.ticket,
            &what,
            reason,
            &[60, 90],
            t(at),
        )
    }

    fn due(&self) -> String {
        self.conn
            .query_row(
                "SELECT due_at FROM tickets WHERE id = ?1",
                [self.ticket],
                |r| r.get(0),
            )
            .unwrap()
    }
}

#[test]
fn suspending_and_resuming_adds_the_suspended_days_and_tells_the_citizen() {
    let w = World::new();
    w.act(
        &w.op,
        Move::Suspend,
        "In attesa della delega",
        "2026-03-05T14:00:00Z",
    )
    .unwrap();
    assert_eq!(
        w.due(),
        "2026-04-01T08:00:00Z",
        "an open suspension adds nothing yet"
    );
    assert!(matches!(
        w.act(&w.op, Move::Suspend, "ancora", "2026-03-06T14:00:00Z"),
        Err(WorkflowError::Invalid(Invalid::AlreadySuspended))
    ));
    w.act(
        &w.op,
        Move::Resume,
        "Delega ricevuta",
        "2026-03-12T08:00:00Z",
    )
    .unwrap();
    assert_eq!(w.due(), "2026-04-08T08:00:00Z");
    assert!(matches!(
        w.act(&w.op, Move::Resume, "di nuovo", "2026-03-13T08:00:00Z"),
        Err(WorkflowError::Invalid(Invalid::NotSuspended))
    ));
    let changes = sql::changes(&w.conn, w.ticket).unwrap();
    let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [DeadlineChange::Suspended, DeadlineChange::Resumed]);
    assert_eq!(changes[0].due_before, "2026-04-01T08:00:00Z");
    let mails: Vec<(String, String)> = w
        .conn
        .prepare("SELECT kind, body_text FROM outbox WHERE ticket_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([w.ticket], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|(k, _)| k == "deadline_changed"));
    assert!(mails[0].1.contains("sospeso") && mails[0].1.contains("In attesa della delega"));
    assert!(mails[1].1.contains("08/04/2026"), "{}", mails[1].1);
    let audited: i64 = w
        .conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action IN ('ticket.deadline_suspended', 'ticket.deadline_resumed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 2);
}

#[test]
fn an_extension_goes_to_a_configured_length_with_its_reason() {
    let w = World::new();
    assert!(matches!(
        w.act(
            &w.op,
            Move::Extend { to_days: 45 },
            "complesso",
            "2026-03-05T10:00:00Z"
        ),
        Err(WorkflowError::Invalid(Invalid::BadExtension))
    ));
    assert!(matches!(
        w.act(
            &w.op,
            Move::Extend { to_days: 60 },
            "  ",
            "2026-03-05T10:00:00Z"
        ),
        Err(WorkflowError::Invalid(Invalid::EmptyReason))
    ));
    w.act(
        &w.op,
        Move::Extend { to_days: 60 },
        "Caso complesso",
        "2026-03-05T10:00:00Z",
    )
    .unwrap();
    // 2 March 10:00 Rome + 60 days = 1 May 10:00 Rome (summer time) = 08:00 UTC.
    assert_eq!(w.due(), "2026-05-01T08:00:00Z");
    assert!(matches!(
        w.act(
            &w.op,
            Move::Extend { to_days: 60 },
            "ancora",
            "2026-03-06T10:00:00Z"
        ),
        Err(WorkflowError::Invalid(Invalid::BadExtension))
    ));
    w.act(
        &w.op,
        Move::Extend { to_days: 90 },
        "Serve il parere della direzione",
        "2026-03-06T10:00:00Z",
    )
    .unwrap();
    assert_eq!(w.due(), "2026-05-31T08:00:00Z");
}

#[test]
fn viewers_and_answered_tickets_move_nothing() {
    let w = World::new();
    assert!(matches!(
        w.act(&w.viewer, Move::Suspend, "no", "2026-03-05T10:00:00Z"),
        Err(WorkflowError::Forbidden { .. })
    ));
    crate::workflow::answer(&w.conn, &w.notifier, &w.op, w.ticket, "Risposta").unwrap();
    assert!(matches!(
        w.act(&w.op, Move::Suspend, "tardi", "2026-03-05T10:00:00Z"),
        Err(WorkflowError::WrongState { .. })
    ));
    assert!(sql::changes(&w.conn, w.ticket).unwrap().is_empty());
}
