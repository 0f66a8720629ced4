//! The istruttoria on an in-memory database: requests, what comes back, the clock.

use std::sync::Arc;

use super::*;
use crate::domain::Role;
use crate::ingest::{prepare, Origin, Outcome, Pipeline, Settings as IngestSettings};

const CONFIG: &str = "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
username = \"urp@hospital.test\"\npassword = \"x\"\n\
[istruttoria]\nescalate_to = \"capo.urp@hospital.test\"\n";

struct World {
    conn: Connection,
    notifier: Notifier,
    pipeline: Pipeline,
    settings: Settings,
    op: Actor,
    viewer: Actor,
    ticket: i64,
    /// Referenti of the PS service and of the CUP.
    ps: i64,
    cup: i64,
    n: u32,
}

fn config() -> crate::config::Config {
    crate::config::Config::from_sources(CONFIG, &Default::default(), None).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

impl World {
    fn new() -> World {
        let config = config();
        let notifier = Notifier::from_config(&config).unwrap();
        let pipeline = Pipeline::new(IngestSettings::from_config(&config))
            .with_notifier(Arc::new(Notifier::from_config(&config).unwrap()));
        let conn = store::open_in_memory().unwrap();
        let add = |email: &str, role: Role, notify: bool| {
            crate::users::add(
                &conn,
                AuditActor::Cli,
                email,
                "Op",
                role,
                notify,
                "password-lunga",
            )
            .unwrap()
        };
        let op = Actor {
            id: add("op@hospital.test", Role::Operator, true),
            name: "Anna Operatrice".into(),
            role: Role::Operator,
        };
        let viewer = Actor {
            id: add("v@hospital.test", Role::Viewer, false),
            name: "V".into(),
            role: Role::Viewer,
        };
        let service = |code: &str| -> i64 {
            conn.query_row("SELECT id FROM services WHERE code = ?1", [code], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let referente = |service_id, name: &str, email: &str| {
            referente_add(
                &conn,
                AuditActor::Cli,
                &ReferenteInput {
                    service_id,
                    name: name.into(),
                    email: email.into(),
                    role: "Direttore UO".into(),
                    active: true,
                },
            )
            .unwrap()
        };
        let ps = referente(service("PS"), "Dott. Bianchi", "dir.ps@hospital.test");
        let cup = referente(service("CUP"), "Dott.ssa Neri", "cup@asl.example.test");
        let mut w = World {
            conn,
            notifier,
            pipeline,
            settings: Settings::from_config(&config),
            op,
            viewer,
            ticket: 0,
            ps,
            cup,
            n: 0,
        };
        let out = w.ingest(
            "From: Maria Rossi <maria.rossi@example.test>\r\nSubject: Attesa al pronto soccorso\r\n\
             Message-ID: <m1@example.test>\r\n\r\nHo atteso nove ore. Sono Maria Rossi, \
             telefono 333 1234567, mail maria.rossi@example.test.\r\n"
                .as_bytes(),
        );
        assert!(matches!(out, Outcome::Created { .. }), "{out:?}");
        w.ticket = 1;
        w
    }

    fn ingest(&mut self, raw: &[u8]) -> Outcome {
        self.n += 1;
        let origin = Origin::imap("urp", 1, self.n, Some(now()));
        self.pipeline
            .store_batch(
                &mut self.conn,
                &[(prepare(raw.to_vec(), None), origin)],
                None,
            )
            .unwrap()
            .pop()
            .unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn send(&self, referenti: &[i64]) -> Vec<i64> {
        let due = now().date_naive() + Duration::days(7);
        let (subject, body) = draft(
            &self.conn,
            &self.notifier,
            &self.op,
            self.ticket,
            referenti,
            due,
            false,
        )
        .unwrap();
        send(
            &self.conn,
            &self.notifier,
            &self.op,
            self.ticket,
            &Send {
                referente_ids: referenti.to_vec(),
                due,
                subject,
                body,
            },
            now(),
        )
        .unwrap()
    }

    /// (Message-ID, subject, body, in_reply_to, automatic) of outbox row `id`.
    fn mail(
        &self,
        request_id: i64,
        kind: MailKind,
    ) -> (String, String, String, Option<String>, bool) {
        self.conn
            .query_row(
                "SELECT message_id, subject, body_text, in_reply_to, automatic FROM outbox
                 WHERE request_id = ?1 AND kind = ?2",
                params![request_id, kind],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap()
    }

    fn actions(&self) -> Vec<String> {
        let mut st = self
            .conn
            .prepare("SELECT actor || ' ' || action FROM audit_log WHERE action LIKE 'request.%' ORDER BY id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }
}

use rusqlite::params;

fn reply(from: &str, subject: &str, refs: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: urp@hospital.test\r\nSubject: {subject}\r\n{refs}\
         Message-ID: <r{}@x.test>\r\n\r\n{body}\r\n",
        body.len() * 7919 + from.len()
    )
    .into_bytes()
}

#[test]
fn a_request_leaves_the_citizen_out_and_carries_the_tickets_token() {
    let w = World::new();
    let due_before: String = w
        .conn
        .query_row("SELECT due_at FROM tickets WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    let ids = w.send(&[w.ps, w.cup]);
    assert_eq!(ids.len(), 2, "one request per referente");
    let (mid, subject, body, irt, automatic) = w.mail(ids[0], MailKind::Request);
    assert!(subject.starts_with("[URP-2026-000001 R1] "), "{subject}");
    assert_eq!(
        w.mail(ids[1], MailKind::Request).1.get(..20),
        Some("[URP-2026-000001 R2]")
    );
    let token: String = w
        .conn
        .query_row("SELECT thread_token FROM tickets WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(mid.contains(&token), "the ticket's token is in {mid}");
    assert!(irt.is_none(), "no citizen's Message-ID in a request");
    assert!(!automatic, "an operator's request is no automatic mail");
    assert!(body.contains("Ho atteso nove ore"), "{body}");
    for leak in ["Rossi", "Maria", "maria.rossi", "333 1234567"] {
        assert!(
            !body.contains(leak) && !subject.contains(leak),
            "{leak} in {body}"
        );
    }
    assert!(body.contains(OMITTED));
    // The citizen's deadline is unchanged; the citizen got nothing new.
    assert_eq!(
        w.count("SELECT count(*) FROM outbox WHERE to_address = 'maria.rossi@example.test' AND kind != 'ack'"),
        0
    );
    let due_after: String = w
        .conn
        .query_row("SELECT due_at FROM tickets WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(due_before, due_after);
    assert_eq!(
        w.actions(),
        [
            format!("user:{} request.sent", w.op.id),
            format!("user:{} request.sent", w.op.id)
        ]
    );
}

#[test]
fn keeping_the_citizens_data_keeps_them() {
    let w = World::new();
    let due = now().date_naive() + Duration::days(7);
    let (_, body) = draft(&w.conn, &w.notifier, &w.op, 1, &[w.ps], due, true).unwrap();
    assert!(
        body.contains("Maria Rossi <maria.rossi@example.test>"),
        "{body}"
    );
}

#[test]
fn viewers_cannot_send_and_bad_requests_are_refused() {
    let w = World::new();
    let due = now().date_naive() + Duration::days(7);
    let s = |ids: Vec<i64>, due, subject: &str| Send {
        referente_ids: ids,
        due,
        subject: subject.into(),
        body: "Testo".into(),
    };
    let refused = send(
        &w.conn,
        &w.notifier,
        &w.viewer,
        1,
        &s(vec![w.ps], due, "x"),
        now(),
    );
    assert!(
        matches!(refused, Err(WorkflowError::Forbidden { .. })),
        "{refused:?}"
    );
    for (bad, why) in [
        (s(vec![], due, "x"), Invalid::NoReferente),
        (s(vec![999], due, "x"), Invalid::NoReferente),
        (s(vec![w.ps], due, "  "), Invalid::EmptyRequest),
        (
            s(vec![w.ps], now().date_naive(), "x"),
            Invalid::BadRequestDue,
        ),
    ] {
        let e = send(&w.conn, &w.notifier, &w.op, 1, &bad, now());
        assert!(
            matches!(e, Err(WorkflowError::Invalid(r)) if r == why),
            "{e:?}"
        );
    }
    assert_eq!(w.count("SELECT count(*) FROM requests"), 0);
}

#[test]
fn the_referentes_reply_is_an_internal_report() {
    let mut w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, subject, ..) = w.mail(ids[0], MailKind::Request);
    let closed_before = w.count("SELECT count(*) FROM outbox");
    let out = w.ingest(&reply(
        "Dott. Bianchi <DIR.PS@hospital.test>",
        &format!("Re: {subject}"),
        &format!("In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n"),
        "Relazione: il paziente era in codice verde.",
    ));
    assert_eq!(
        out,
        Outcome::Report {
            ticket: "URP-2026-000001".parse().unwrap()
        }
    );
    let (state, unread, answered): (RequestState, bool, Option<String>) = w
        .conn
        .query_row(
            "SELECT state, report_unread, answered_at FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((state, unread), (RequestState::Answered, true));
    assert!(answered.is_some());
    assert_eq!(
        w.count("SELECT count(*) FROM messages WHERE request_id IS NOT NULL"),
        1
    );
    // Not the citizen's: no attention, no citizen mail, the operator told once.
    assert_eq!(
        w.count("SELECT needs_attention FROM tickets WHERE id = 1"),
        1,
        "still new (pending)"
    );
    let new_mail: Vec<(String, String)> = {
        let mut st = w
            .conn
            .prepare("SELECT kind, to_address FROM outbox WHERE id > ?1 ORDER BY id")
            .unwrap();
        st.query_map([closed_before], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(
        new_mail,
        [("report_arrived".to_string(), "op@hospital.test".to_string())]
    );
    // A second report before anyone read the first: kept, no second notice.
    w.ingest(&reply(
        "dir.ps@hospital.test",
        "Re: integrazione",
        &format!("References: <{mid}>\r\n"),
        "Integrazione alla relazione.",
    ));
    assert_eq!(
        w.count("SELECT count(*) FROM outbox WHERE kind = 'report_arrived'"),
        1
    );
    mark_read(&w.conn, &w.op, 1, ids[0]).unwrap();
    assert_eq!(w.count("SELECT report_unread FROM requests"), 0);
    assert!(matches!(
        mark_read(&w.conn, &w.viewer, 1, ids[0]),
        Err(WorkflowError::Forbidden { .. })
    ));
    assert_eq!(
        w.actions(),
        [
            format!("user:{} request.sent", w.op.id),
            "system:ingest request.answered".into(),
            "system:ingest request.answered".into(),
            format!("user:{} request.report_read", w.op.id),
        ]
    );
    // The answer to the citizen quotes the citizen, never the report.
    let q = crate::workflow::answer(&w.conn, &w.notifier, &w.op, 1, "Risposta.").unwrap();
    let body: String = w
        .conn
        .query_row(
            "SELECT body_text FROM outbox WHERE id = ?1",
            [q.outbox_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        body.contains("Ho atteso") && !body.contains("codice verde"),
        "{body}"
    );
}

#[test]
fn a_report_on_a_closed_ticket_reopens_nothing() {
    let mut w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, ..) = w.mail(ids[0], MailKind::Request);
    crate::workflow::close(
        &w.conn,
        &w.notifier,
        &w.op,
        1,
        crate::domain::Outcome::Accolto,
    )
    .unwrap();
    let out = w.ingest(&reply(
        "dir.ps@hospital.test",
        "Re: x",
        &format!("References: <{mid}>\r\n"),
        "Tardi.",
    ));
    assert!(matches!(out, Outcome::Report { .. }), "{out:?}");
    assert_eq!(w.count("SELECT reopen_count FROM tickets WHERE id = 1"), 0);
    assert_eq!(
        w.count("SELECT count(*) FROM tickets WHERE state = 'closed'"),
        1
    );
}

#[test]
fn deputies_strangers_and_tags() {
    let mut w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, subject, ..) = w.mail(ids[0], MailKind::Request);
    // A deputy of the hospital's domain with the token: accepted, marked.
    let out = w.ingest(&reply(
        "vice.ps@hospital.test",
        "Re: x",
        &format!("References: <{mid}>\r\n"),
        "Sono il vice.",
    ));
    assert!(matches!(out, Outcome::Report { .. }), "{out:?}");
    let detail: String = w
        .conn
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'request.answered'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("\"other_sender\":true"), "{detail}");
    // An outsider with the token: a stranger, a new ticket linked to this one.
    let out = w.ingest(&reply(
        "curioso@example.test",
        "Re: x",
        &format!("References: <{mid}>\r\n"),
        "Io?",
    ));
    assert!(
        matches!(&out, Outcome::Created { linked_to: Some(n), .. } if n.to_string() == "URP-2026-000001"),
        "{out:?}"
    );
    // The tag without the token from someone else: not attached (a new ticket, linked as today).
    let out = w.ingest(&reply(
        "vice.ps@hospital.test",
        &format!("Re: {subject}"),
        "",
        "Senza token.",
    ));
    assert!(matches!(out, Outcome::Created { .. }), "{out:?}");
    // A forged token: nothing.
    let token: String = w
        .conn
        .query_row("SELECT thread_token FROM tickets WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let forged = mid.replace(&token, &"0".repeat(32));
    assert_ne!(forged, mid);
    let out = w.ingest(&reply(
        "dir.ps@hospital.test",
        "Re: y",
        &format!("References: <{forged}>\r\n"),
        "Falso.",
    ));
    assert!(matches!(out, Outcome::Created { .. }), "{out:?}");
    // The tag from the referente's own address, without references: the report.
    let out = w.ingest(&reply(
        "dir.ps@hospital.test",
        &format!("R: {subject}"),
        "",
        "Dal mio telefono.",
    ));
    assert!(matches!(out, Outcome::Report { .. }), "{out:?}");
    assert_eq!(
        w.count("SELECT count(*) FROM messages WHERE request_id IS NOT NULL"),
        2
    );
}

#[test]
fn out_of_office_and_bounces_stay_on_the_request() {
    let mut w = World::new();
    let ids = w.send(&[w.ps, w.cup]);
    let (mid_ps, ..) = w.mail(ids[0], MailKind::Request);
    let (mid_cup, ..) = w.mail(ids[1], MailKind::Request);
    let before = w.count("SELECT count(*) FROM outbox");
    let ooo = format!(
        "From: dir.ps@hospital.test\r\nSubject: Fuori ufficio\r\nAuto-Submitted: auto-replied\r\n\
         In-Reply-To: <{mid_ps}>\r\nMessage-ID: <ooo@x.test>\r\n\r\nSono in ferie.\r\n"
    );
    assert!(matches!(
        w.ingest(ooo.as_bytes()),
        Outcome::Automatic { .. }
    ));
    let bounce = format!(
        "From: MAILER-DAEMON@mx.hospital.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\nMessage-ID: <b@x.test>\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         Message-ID: <{mid_cup}>\r\n\r\n--B--\r\n"
    );
    assert!(matches!(
        w.ingest(bounce.as_bytes()),
        Outcome::Automatic { .. }
    ));
    assert_eq!(
        w.count("SELECT count(*) FROM outbox"),
        before,
        "nothing answers automatic mail"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM requests WHERE auto_reply_at IS NOT NULL"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM requests WHERE bounced_at IS NOT NULL AND state = 'open'"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM referenti WHERE bouncing_since IS NOT NULL"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM contacts WHERE bouncing_since IS NOT NULL"),
        0,
        "the citizen's address is not the one bouncing"
    );
    // The reminder to a bouncing referente is recorded, not sent.
    let later = now() + Duration::days(9);
    due_round(&w.conn, &w.notifier, &w.settings, later).unwrap();
    assert_eq!(
        w.count(
            "SELECT count(*) FROM outbox WHERE kind = 'request_reminder' AND state = 'suppressed'"
        ),
        1
    );
}

#[test]
fn reminders_at_the_due_date_and_escalation_after() {
    let w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, ..) = w.mail(ids[0], MailKind::Request);
    let round = |days: i64, hours: i64| {
        due_round(
            &w.conn,
            &w.notifier,
            &w.settings,
            now() + Duration::days(days) + Duration::hours(hours),
        )
        .unwrap()
    };
    assert_eq!(round(6, 0), RoundCounts::default(), "not yet due");
    // Due at the end of the due date (Rome): the 9th of March.
    assert_eq!(round(7, 0), RoundCounts::default());
    assert_eq!(
        round(7, 14),
        RoundCounts {
            reminded: 1,
            escalated: 0
        }
    );
    assert_eq!(round(7, 15), RoundCounts::default(), "reminded once");
    let (_, subject, body, irt, automatic) = w.mail(ids[0], MailKind::RequestReminder);
    assert!(
        subject.starts_with("[URP-2026-000001 R1] Sollecito"),
        "{subject}"
    );
    assert_eq!(irt.as_deref(), Some(format!("<{mid}>").as_str()));
    assert!(automatic && body.contains("09/03/2026"), "{body}");
    assert_eq!(
        round(9, 0),
        RoundCounts::default(),
        "3 days after the due date, not 2"
    );
    assert_eq!(
        round(10, 14),
        RoundCounts {
            reminded: 0,
            escalated: 1
        }
    );
    assert_eq!(round(20, 0), RoundCounts::default(), "escalated once");
    let to: String = w
        .conn
        .query_row(
            "SELECT to_address FROM outbox WHERE kind = 'request_escalation'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(to, "capo.urp@hospital.test");
    assert_eq!(
        w.actions()[1..],
        [
            "system:istruttoria request.reminded",
            "system:istruttoria request.escalated"
        ]
    );
}

#[test]
fn an_answered_request_gets_no_reminder() {
    let mut w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, ..) = w.mail(ids[0], MailKind::Request);
    w.ingest(&reply(
        "dir.ps@hospital.test",
        "Re: x",
        &format!("References: <{mid}>\r\n"),
        "Fatto.",
    ));
    let done = due_round(
        &w.conn,
        &w.notifier,
        &w.settings,
        now() + Duration::days(30),
    )
    .unwrap();
    assert_eq!(done, RoundCounts::default());
}

#[test]
fn referenti_are_checked_and_audited() {
    let w = World::new();
    let add = |email: &str| {
        referente_add(
            &w.conn,
            AuditActor::Cli,
            &ReferenteInput {
                service_id: 1,
                name: "X".into(),
                email: email.into(),
                role: String::new(),
                active: true,
            },
        )
    };
    assert!(matches!(
        add("dir.ps@hospital.test"),
        Err(AdminError::ReferenteTaken(_))
    ));
    assert!(matches!(
        add("non un indirizzo"),
        Err(AdminError::NotAnEmail(_))
    ));
    assert!(matches!(add("a@b"), Err(AdminError::NotAnEmail(_))));
    let id = add("altro@hospital.test").unwrap();
    referente_update(
        &w.conn,
        AuditActor::Cli,
        id,
        &ReferenteInput {
            service_id: 99,
            name: "Y".into(),
            email: "nuovo@hospital.test".into(),
            role: "Coordinatore".into(),
            active: false,
        },
    )
    .unwrap();
    let r = crate::store::requests::referente(&w.conn, id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.service_id, r.active, r.email.as_str()),
        (1, false, "nuovo@hospital.test")
    );
    assert_eq!(
        w.count("SELECT count(*) FROM audit_log WHERE action LIKE 'referente.%'"),
        4
    );
}

#[test]
fn redaction_leaves_dates_and_times() {
    let text = "Il 12/03/2026 alle 09.30 Mario Rossi (RSSMRA80A01H501U, +39 333 123 4567, \
                06 1234 5678, mario@x.it) ha atteso 3 ore.";
    let out = redact(text, Some("Mario Rossi"), "mario@x.it");
    assert_eq!(
        out,
        "Il 12/03/2026 alle 09.30 [omissis] [omissis] ([omissis], [omissis], [omissis], [omissis]) ha atteso 3 ore."
    );
}

#[test]
fn the_due_date_ends_with_its_day_in_rome() {
    let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    assert_eq!(store::time_text(due_at_of(day)), "2026-03-09T22:59:59Z");
    let summer = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    assert_eq!(store::time_text(due_at_of(summer)), "2026-07-01T21:59:59Z");
}

#[test]
fn anonymisation_covers_requests_and_reports() {
    let mut w = World::new();
    let ids = w.send(&[w.ps]);
    let (mid, ..) = w.mail(ids[0], MailKind::Request);
    w.ingest(&reply(
        "dir.ps@hospital.test",
        "Re: x",
        &format!("References: <{mid}>\r\n"),
        "La signora Rossi era in codice verde.",
    ));
    crate::workflow::close(
        &w.conn,
        &w.notifier,
        &w.op,
        1,
        crate::domain::Outcome::Accolto,
    )
    .unwrap();
    // Sent by then (pending mail still goes out, and is left alone).
    w.conn
        .execute("UPDATE outbox SET state = 'sent'", [])
        .unwrap();
    let later = Utc::now() + Duration::days(400);
    crate::retention::run(&mut w.conn, 365, later, false).unwrap();
    for sql in [
        "SELECT count(*) FROM requests WHERE body_text LIKE '%atteso%' OR subject LIKE '%soccorso%'",
        "SELECT count(*) FROM messages WHERE body_text LIKE '%codice verde%' OR from_email IS NOT NULL",
        "SELECT count(*) FROM outbox WHERE body_text LIKE '%atteso%'",
    ] {
        assert_eq!(w.count(sql), 0, "{sql}");
    }
    // What the statistics count stays.
    assert_eq!(
        w.count("SELECT count(*) FROM requests WHERE answered_at IS NOT NULL AND service_id IS NOT NULL"),
        1
    );
}
