use super::*;
use crate::mail::pec::PecBox;
use crate::store::open_in_memory;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn settings() -> Settings {
    Settings {
        number_prefix: "URP".into(),
        deadline_days: 30,
        reopen_window_days: 60,
        own_addresses: vec![RecipientKey::of("urp@hospital.test")],
        pec_boxes: [("pec".to_string(), PecBox::default())].into(),
        trusted_authserv_id: Some("mx.hospital.test".into()),
        istruttoria: Default::default(),
    }
}

struct Harness {
    conn: Connection,
    pipeline: Pipeline,
    n: u32,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            conn: open_in_memory().unwrap(),
            pipeline: Pipeline::new(settings()),
            n: 0,
        }
    }

    fn ingest(&mut self, raw: Vec<u8>) -> Outcome {
        self.ingest_into("urp", raw, "2026-03-02T09:00:00Z")
    }

    /// As mailbox `mailbox` (the settings make "pec" a PEC box) got it at `internal_date`.
    fn ingest_into(&mut self, mailbox: &str, raw: Vec<u8>, internal_date: &str) -> Outcome {
        self.n += 1;
        let origin = Origin::imap(mailbox, 1, self.n, Some(internal_date.parse().unwrap()));
        let prepared = prepare(raw, self.pipeline.pec_box(&origin));
        let mut out = self
            .pipeline
            .store_batch(&mut self.conn, &[(prepared, origin)], None)
            .unwrap();
        out.pop().unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn token(&self, number: &str) -> String {
        self.conn
            .query_row(
                "SELECT thread_token FROM tickets WHERE number = ?1",
                [number],
                |r| r.get(0),
            )
            .unwrap()
    }
}

fn mail(from: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: urp@hospital.test\r\nSubject: {subject}\r\n{extra}\r\n{body}\r\n")
        .into_bytes()
}

/// A ticket number written in a test.
fn num(n: &str) -> crate::domain::TicketNumber {
    n.parse().unwrap()
}

fn created(o: &Outcome) -> String {
    match o {
        Outcome::Created { ticket, .. } => ticket.to_string(),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

#[test]
fn a_complaint_becomes_a_classified_ticket() {
    let mut h = Harness::new();
    let number = created(&h.ingest(fixture("plain.eml")));
    assert_eq!(number, "URP-2026-000001");
    let (state, cat, svc, kind, due, channel): (String, String, String, String, String, String) = h
        .conn
        .query_row(
            "SELECT t.state, c.code, s.code, t.kind, t.due_at, t.channel FROM tickets t
             JOIN categories c ON c.id = t.category_id JOIN services s ON s.id = t.service_id",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        (state.as_str(), cat.as_str(), svc.as_str(), kind.as_str()),
        ("pending", "TEM.02", "PS", "reclamo")
    );
    assert_eq!(
        due, "2026-04-01T08:00:00Z",
        "30 Rome days after the mailbox received it: 10:00 in Rome, summer time by then (issue 19)"
    );
    assert_eq!(channel, "email");
    assert_eq!(
        h.count("SELECT count(*) FROM audit_log WHERE action = 'ticket.created'"),
        1
    );
    assert_eq!(
        h.count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'informazioni'"),
        1
    );
    // The raw bytes are kept unchanged.
    let raw: Vec<u8> = h
        .conn
        .query_row("SELECT bytes FROM raw_mail", [], |r| r.get(0))
        .unwrap();
    assert_eq!(raw, fixture("plain.eml"));
}

#[test]
fn the_same_bytes_or_message_id_twice_is_stored_once() {
    let mut h = Harness::new();
    created(&h.ingest(fixture("plain.eml")));
    assert_eq!(h.ingest(fixture("plain.eml")), Outcome::Duplicate);
    // Delivered again: other Received lines, same Message-ID and sender.
    let mut again = b"Received: from relay2 by mx; Mon, 2 Mar 2026 10:00:05 +0100\n".to_vec();
    again.extend(fixture("plain.eml"));
    assert_eq!(h.ingest(again), Outcome::Duplicate);
    assert_eq!(h.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(h.count("SELECT count(*) FROM messages"), 1);
}

#[test]
fn numbers_are_gap_free_per_year_of_rome() {
    let mut h = Harness::new();
    let a = created(&h.ingest(mail("a@example.test", "uno", "", "x")));
    let b = created(&h.ingest(mail("b@example.test", "due", "", "x")));
    assert_eq!(
        (a.as_str(), b.as_str()),
        ("URP-2026-000001", "URP-2026-000002")
    );
    // 31 Dec 23:30 UTC is already 1 January in Rome.
    let origin = Origin {
        label: "t".into(),
        internal_date: Some("2026-12-31T23:30:00Z".parse().unwrap()),
    };
    let out = h
        .pipeline
        .store_batch(
            &mut h.conn,
            &[(
                prepare(mail("c@example.test", "tre", "", "x"), None),
                origin,
            )],
            None,
        )
        .unwrap();
    assert_eq!(created(&out[0]), "URP-2027-000001");
}

#[test]
fn a_reply_with_the_number_from_the_citizen_threads() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("plain.eml")));
    h.conn
        .execute("UPDATE tickets SET needs_attention = 0", [])
        .unwrap();
    let reply = mail(
        "Maria Rossi <MARIA.ROSSI@example.test>",
        &format!("R: RIF: [{n}] Attesa"),
        "",
        "Aggiungo un dettaglio.",
    );
    assert_eq!(h.ingest(reply), Outcome::Threaded { ticket: num(&n) });
    assert_eq!(h.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(h.count("SELECT needs_attention FROM tickets"), 1);
    assert_eq!(
        h.count("SELECT count(*) FROM audit_log WHERE action = 'message.received'"),
        1
    );
}

#[test]
fn a_stranger_naming_a_number_gets_a_new_linked_ticket() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("plain.eml")));
    let hijack = mail(
        "intruder@example.test",
        &format!("Re: {n}"),
        "",
        "Chiudete questa pratica.",
    );
    match h.ingest(hijack) {
        Outcome::Created { ticket, linked_to } => {
            assert_ne!(ticket, num(&n));
            assert_eq!(linked_to, Some(num(&n)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE ticket_id = 1"),
        1
    );
}

#[test]
fn our_message_id_threads_and_a_forged_token_does_not() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("plain.eml")));
    let number: TicketNumber = n.parse().unwrap();
    let good = thread::outbound_message_id(&number, &h.token(&n), "hospital.test");
    // A reply from another address of the citizen, with no number in the subject.
    let reply = mail(
        "maria@work.example.test",
        "Re: Conferma",
        &format!("In-Reply-To: <{good}>\r\n"),
        "Grazie",
    );
    assert_eq!(h.ingest(reply), Outcome::Threaded { ticket: num(&n) });

    let forged = thread::outbound_message_id(&number, &thread::new_token(), "hospital.test");
    let attack = mail(
        "intruder@example.test",
        "Re: Conferma",
        &format!("In-Reply-To: <{forged}>\r\n"),
        "x",
    );
    assert!(matches!(
        h.ingest(attack),
        Outcome::Created {
            linked_to: None,
            ..
        }
    ));
}

#[test]
fn automatic_mail_is_stored_on_its_ticket_or_quarantined_never_a_ticket() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("plain.eml")));
    let ours = thread::outbound_message_id(&n.parse().unwrap(), &h.token(&n), "hospital.test");
    for name in ["out-of-office.eml", "bounce.eml", "pec-receipt.eml"] {
        let raw = String::from_utf8(fixture(name))
            .unwrap()
            .replace("{{REF}}", &ours);
        assert_eq!(
            h.ingest(raw.into_bytes()),
            Outcome::Automatic { ticket: num(&n) },
            "{name}"
        );
    }
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE automatic IS NOT NULL"),
        3
    );
    // About nothing we sent: quarantined, with the reason.
    let stray = String::from_utf8(fixture("out-of-office.eml"))
        .unwrap()
        .replace("{{REF}}", "other@example.test")
        .replace("ooo-1@", "ooo-2@");
    assert!(matches!(
        h.ingest(stray.into_bytes()),
        Outcome::Quarantined { .. }
    ));
    // Mail from our own address is never a new ticket.
    let own = mail("URP <urp@hospital.test>", "Copia", "", "x");
    assert!(matches!(h.ingest(own), Outcome::Quarantined { .. }));
    assert_eq!(h.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(
        h.count("SELECT count(*) FROM quarantine WHERE kind = 'automatic'"),
        2
    );
}

#[test]
fn a_pec_envelope_is_unwrapped_to_the_citizen() {
    let mut h = Harness::new();
    // The PEC box got it a minute after the certified sending.
    let n = created(&h.ingest_into("pec", fixture("pec-envelope.eml"), "2026-01-15T08:31:00Z"));
    let (email, name, subject, received, channel, body, pec): (String, String, String, String, String, String, String) = h
        .conn
        .query_row(
            "SELECT c.email, c.name, t.subject, t.received_at, t.channel, m.body_text, m.pec
             FROM tickets t JOIN contacts c ON c.id = t.contact_id JOIN messages m ON m.ticket_id = t.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(n, "URP-2026-000001");
    assert_eq!(
        (email.as_str(), name.as_str()),
        ("mario.bianchi@pec.example.test", "Mario Bianchi")
    );
    assert_eq!(subject, "Reclamo per mancata assistenza");
    assert_eq!(
        received, "2026-01-15T08:30:05Z",
        "daticert's certified time, not the mailbox's"
    );
    assert_eq!(channel, "pec");
    assert!(body.contains("sette ore") && !body.contains("Messaggio di posta certificata"));
    assert!(pec.contains("opec21.20260115093006.12345.67.1.1@pec.example.test"));
    let attachments: Vec<String> = h
        .conn
        .prepare("SELECT filename FROM attachments")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(attachments, vec!["verbale.pdf".to_string()]);
}

#[test]
fn an_anomaly_envelope_is_unwrapped_too() {
    let mut h = Harness::new();
    created(&h.ingest_into("pec", fixture("pec-anomaly.eml"), "2026-03-02T09:00:00Z"));
    let (email, cat): (String, String) = h
        .conn
        .query_row(
            "SELECT c.email, k.code FROM tickets t JOIN contacts c ON c.id = t.contact_id
             JOIN categories k ON k.id = t.category_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (email.as_str(), cat.as_str()),
        ("giulia.verdi@example.test", "ALB.01")
    );
}

#[test]
fn a_malformed_message_is_quarantined_and_the_next_one_still_ingested() {
    let mut h = Harness::new();
    let items = vec![
        (
            prepare(fixture("malformed.eml"), None),
            Origin {
                label: "a".into(),
                internal_date: None,
            },
        ),
        (
            prepare(fixture("plain.eml"), None),
            Origin {
                label: "b".into(),
                internal_date: None,
            },
        ),
    ];
    let out = h.pipeline.store_batch(&mut h.conn, &items, None).unwrap();
    assert!(
        matches!(&out[0], Outcome::Quarantined { reason, .. } if reason.contains("sender")),
        "{out:?}"
    );
    assert!(matches!(&out[1], Outcome::Created { .. }));
    let raw: Vec<u8> = h
        .conn
        .query_row(
            "SELECT r.bytes FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        raw,
        fixture("malformed.eml"),
        "quarantine keeps the raw bytes"
    );
}

#[test]
fn a_store_failure_quarantines_one_message_and_rolls_back_only_it() {
    let mut h = Harness::new();
    // Sabotage: make ticket creation fail for one category of messages.
    h.conn
        .execute_batch(
            "CREATE TRIGGER sabotage BEFORE INSERT ON tickets WHEN new.subject = 'boom'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let items = vec![
        (
            prepare(mail("a@example.test", "boom", "", "x"), None),
            Origin {
                label: "a".into(),
                internal_date: None,
            },
        ),
        (
            prepare(mail("b@example.test", "fine", "", "x"), None),
            Origin {
                label: "b".into(),
                internal_date: None,
            },
        ),
    ];
    let out = h.pipeline.store_batch(&mut h.conn, &items, None).unwrap();
    assert!(
        matches!(&out[0], Outcome::Quarantined { reason, .. } if reason.contains("disk on fire")),
        "{out:?}"
    );
    // The failed message's number was rolled back with it: no gap.
    assert_eq!(created(&out[1]), "URP-2026-000001");
    assert_eq!(h.count("SELECT count(*) FROM contacts"), 1);
    assert_eq!(
        h.count("SELECT count(*) FROM quarantine WHERE kind = 'store_error'"),
        1
    );
}

#[test]
fn rules_edited_in_the_database_apply_to_the_next_batch() {
    let mut h = Harness::new();
    let n = created(&h.ingest(mail(
        "a@example.test",
        "Guasto",
        "",
        "Il montacarichi è fermo.",
    )));
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) FROM tickets WHERE number = '{n}' AND category_id IS NULL"
        )),
        1
    );
    h.conn
        .execute(
            "INSERT INTO routing_rules (priority, name, field, pattern, category_id)
             SELECT 1, 'montacarichi', 'body', 'montacaric', id FROM categories WHERE code = 'STR.01'",
            [],
        )
        .unwrap();
    let m = created(&h.ingest(mail(
        "b@example.test",
        "Ancora guasto",
        "",
        "Il montacarichi è fermo.",
    )));
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) FROM tickets WHERE number = '{m}' AND category_id IS NOT NULL"
        )),
        1
    );
}

#[test]
fn a_reply_to_a_closed_ticket_reopens_it_within_the_window_and_opens_a_new_one_after() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("plain.eml")));
    let reply = |subject: &str| mail("maria.rossi@example.test", subject, "", "Ancora io.");
    h.conn
        .execute(
            "UPDATE tickets SET state = 'closed', closed_at = '2026-02-20T09:00:00Z'",
            [],
        )
        .unwrap();
    // Received 2026-03-02 (the harness's INTERNALDATE): 10 days after closing.
    assert_eq!(
        h.ingest(reply(&format!("Re: [{n}]"))),
        Outcome::Threaded { ticket: num(&n) }
    );
    let (state, reopened): (String, i64) = h
        .conn
        .query_row(
            "SELECT state, reopen_count FROM tickets WHERE number = ?1",
            [&n],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), reopened), ("answered", 1));

    // Closed 90 days before: a new ticket, linked to the old one.
    h.conn
        .execute(
            "UPDATE tickets SET state = 'closed', closed_at = '2025-12-01T09:00:00Z'",
            [],
        )
        .unwrap();
    match h.ingest(reply(&format!("Re: [{n}] di nuovo"))) {
        Outcome::Created { linked_to, .. } => assert_eq!(linked_to, Some(num(&n))),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.count("SELECT reopen_count FROM tickets WHERE id = 1"), 1);
}

#[test]
fn the_notification_sender_counts_as_one_of_our_addresses() {
    let config = crate::config::Config::from_sources(
        "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
         username = \"urp@hospital.test\"\npassword = \"x\"\n[smtp]\nfrom_address = \"NoReply@hospital.test\"\n",
        &Default::default(),
        None,
    )
    .unwrap();
    let s = Settings::from_config(&config);
    let own: Vec<&str> = s.own_addresses.iter().map(RecipientKey::as_str).collect();
    assert!(own.contains(&"urp@hospital.test"));
    assert!(own.contains(&"noreply@hospital.test"));
}

#[test]
fn mail_from_any_spelling_of_our_own_address_is_ours() {
    // Issue 11: `urp+x@…` reaches the mailbox `urp@…` does, so mail from it is the hospital's
    // own (a loop, an auto-reply), never a citizen's new ticket.
    let mut h = Harness::new();
    for from in ["URP <urp+x@hospital.test>", "Urp@Hospital.Test"] {
        let out = h.ingest(mail(from, "Copia", "", "x"));
        assert!(
            matches!(&out, Outcome::Quarantined { reason, .. }
                if reason.contains("one of the hospital's own addresses")),
            "{from}: {out:?}"
        );
    }
    assert_eq!(h.count("SELECT count(*) FROM tickets"), 0);
}

#[test]
fn a_quarantined_message_is_retried_once_the_fault_is_gone() {
    let mut h = Harness::new();
    h.conn
        .execute_batch(
            "CREATE TRIGGER sabotage BEFORE INSERT ON tickets WHEN new.subject = 'boom'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let Outcome::Quarantined { id, .. } = h.ingest(mail("a@example.test", "boom", "", "x")) else {
        panic!("quarantined expected")
    };
    // Still failing: nothing changes, the reason is told.
    let again = h
        .pipeline
        .retry_quarantined(&mut h.conn, id, crate::domain::AuditActor::User(1))
        .unwrap();
    assert!(
        matches!(&again, Err(r) if r.contains("disk on fire")),
        "{again:?}"
    );
    assert_eq!(
        h.count("SELECT count(*) FROM quarantine WHERE resolved_at IS NULL"),
        1
    );
    h.conn.execute_batch("DROP TRIGGER sabotage").unwrap();
    let done = h
        .pipeline
        .retry_quarantined(&mut h.conn, id, crate::domain::AuditActor::User(1))
        .unwrap()
        .unwrap();
    assert_eq!(created(&done), "URP-2026-000001");
    assert_eq!(
        h.count("SELECT count(*) FROM quarantine WHERE resolved_at IS NULL"),
        0
    );
    assert_eq!(
        h.count("SELECT count(*) FROM raw_mail"),
        1,
        "the same raw bytes, not a copy"
    );
    assert_eq!(
        h.count("SELECT count(*) FROM audit_log WHERE action = 'quarantine.retried' AND actor = 'user:1'"),
        1
    );
    // An unparseable message stays in quarantine.
    let Outcome::Quarantined { id, .. } = h.ingest(fixture("malformed.eml")) else {
        panic!()
    };
    assert!(h
        .pipeline
        .retry_quarantined(&mut h.conn, id, crate::domain::AuditActor::User(1))
        .unwrap()
        .is_err());
}

#[test]
fn mail_naming_a_merged_ticket_threads_into_the_surviving_one() {
    let mut h = Harness::new();
    let first = created(&h.ingest(fixture("plain.eml")));
    let second = created(&h.ingest(mail(
        "Maria Rossi <maria.rossi@example.test>",
        "Ancora attesa",
        "",
        "Scrivo di nuovo.",
    )));
    let op = crate::domain::Actor {
        id: crate::users::add(
            &h.conn,
            crate::domain::AuditActor::Cli,
            "op@hospital.test",
            "Op",
            crate::domain::Role::Operator,
            false,
            "password-lunga",
        )
        .unwrap(),
        name: "Op".into(),
        role: crate::domain::Role::Operator,
    };
    let (a, b) = (1, 2);
    crate::workflow::merge(&h.conn, &op, b, a).unwrap();
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE ticket_id = 2"),
        0
    );
    assert_eq!(
        h.count("SELECT state = 'closed' AND merged_into = 1 FROM tickets WHERE id = 2"),
        1
    );
    assert!(
        crate::workflow::merge(&h.conn, &op, a, b).is_err(),
        "no merging into a merged ticket"
    );
    // The citizen answers the second ticket's mail: it lands on the first.
    let number: TicketNumber = second.parse().unwrap();
    let ours = thread::outbound_message_id(&number, &h.token(&second), "hospital.test");
    let reply = mail(
        "maria.rossi@example.test",
        "Re: Ancora attesa",
        &format!("In-Reply-To: <{ours}>\r\n"),
        "Grazie",
    );
    assert_eq!(
        h.ingest(reply),
        Outcome::Threaded {
            ticket: num(&first)
        }
    );
    // And by number in the subject, from the citizen.
    let by_number = mail(
        "maria.rossi@example.test",
        &format!("Re: [{second}]"),
        "",
        "Altro dettaglio",
    );
    assert_eq!(
        h.ingest(by_number),
        Outcome::Threaded {
            ticket: num(&first)
        }
    );
}

/// The stored PEC facts of the only message of ticket `number`, as JSON.
fn pec_json(h: &Harness, number: &str) -> serde_json::Value {
    let json: String = h
        .conn
        .query_row(
            "SELECT m.pec FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.number = ?1",
            [number],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

/// Issue 11, finding 7: on an ordinary mailbox anyone can write `X-Trasporto`; it is just mail.
#[test]
fn a_pec_envelope_on_an_ordinary_box_is_ordinary_mail() {
    let mut h = Harness::new();
    let n = created(&h.ingest(fixture("pec-envelope.eml")));
    let (email, received, channel, pec): (String, String, String, Option<String>) = h
        .conn
        .query_row(
            "SELECT c.email, t.received_at, t.channel, m.pec FROM tickets t
             JOIN contacts c ON c.id = t.contact_id JOIN messages m ON m.ticket_id = t.id
             WHERE t.number = ?1",
            [&n],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(email, "posta-certificata@pec.example.test");
    assert_eq!(received, "2026-03-02T09:00:00Z", "the mailbox's own time");
    assert_eq!(channel, "email");
    assert_eq!(pec, None);
}

/// Issue 11, finding 7: a certified date far from the mailbox's own receipt (made up, or an
/// envelope held back for weeks) neither sets the time of receipt nor the ticket's year.
#[test]
fn a_certified_date_far_from_the_receipt_is_only_declared() {
    let mut h = Harness::new();
    for (i, day) in ["01/01/1999", "01/01/2099", "01/01/0000", "20/02/2026"]
        .iter()
        .enumerate()
    {
        let raw = String::from_utf8(fixture("pec-envelope.eml"))
            .unwrap()
            .replace(
                "<giorno>15/01/2026</giorno>",
                &format!("<giorno>{day}</giorno>"),
            )
            .replace("opec21.20260115093006", &format!("opec21.forged{i}"));
        let n = created(&h.ingest_into("pec", raw.into_bytes(), "2026-03-02T09:00:00Z"));
        assert!(n.starts_with("URP-2026-"), "{day}: {n}");
        let received: String = h
            .conn
            .query_row(
                "SELECT received_at FROM tickets WHERE number = ?1",
                [&n],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(received, "2026-03-02T09:00:00Z", "{day}");
        let pec = pec_json(&h, &n);
        assert_eq!(pec["certified_at_used"], false, "{day}: {pec}");
    }
    // Within [receipt - 5 days, receipt + 1 day] it counts.
    let raw = String::from_utf8(fixture("pec-envelope.eml"))
        .unwrap()
        .replace("<giorno>15/01/2026</giorno>", "<giorno>27/02/2026</giorno>")
        .replace("opec21.20260115093006", "opec21.plausible");
    let n = created(&h.ingest_into("pec", raw.into_bytes(), "2026-03-02T09:00:00Z"));
    assert_eq!(pec_json(&h, &n)["certified_at_used"], true);
    assert_eq!(
        pec_json(&h, &n)["certified_at"],
        "2026-02-27T08:30:05Z",
        "the certified time is kept as declared either way"
    );
}

/// Issue 11, finding 7, through `import`: an archive has no receipt time, so only a plausible
/// date counts (year 0 made `URP-0-000001`, whose page failed).
#[test]
fn an_imported_envelope_with_an_impossible_date_keeps_a_real_year() {
    let mut h = Harness::new();
    let raw = String::from_utf8(fixture("pec-envelope.eml"))
        .unwrap()
        .replace("<giorno>15/01/2026</giorno>", "<giorno>01/01/0000</giorno>");
    let origin = Origin::import("archivio.mbox#1", Some("pec"));
    let prepared = prepare(raw.into_bytes(), h.pipeline.pec_box(&origin));
    let out = h
        .pipeline
        .store_batch(&mut h.conn, &[(prepared, origin)], None)
        .unwrap();
    let n = created(&out[0]);
    assert_eq!(
        n, "URP-2026-000001",
        "the year of the citizen's own Date header"
    );
}

/// Issue 11, finding 7: with the providers' CA configured, the envelope's signature is checked
/// and the ticket says so.
#[test]
fn a_pec_signature_is_checked_against_the_configured_ca() {
    let ca = format!("{}/tests/fixtures/pec-ca.crt", env!("CARGO_MANIFEST_DIR"));
    let mut settings = settings();
    settings.pec_boxes.insert(
        "pec".into(),
        PecBox {
            ca_file: Some(ca.into()),
        },
    );
    let mut h = Harness::new();
    h.pipeline = Pipeline::new(settings);
    let signed = fixture("pec-signed.eml");
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("sette ore", "otto ore")
        .replace("opec21.20260115093006", "opec21.tampered");
    let unsigned = String::from_utf8(fixture("pec-envelope.eml"))
        .unwrap()
        .replace("opec21.20260115093006", "opec21.fakesig")
        .replace("orig-20260115-1@", "orig-fakesig@");
    let at = "2026-01-15T08:31:00Z";
    let ok = created(&h.ingest_into("pec", signed, at));
    let bad = created(&h.ingest_into("pec", tampered.into_bytes(), at));
    let fake = created(&h.ingest_into("pec", unsigned.into_bytes(), at));
    assert_eq!(pec_json(&h, &ok)["signature"], "verified");
    for n in [&bad, &fake] {
        let pec = pec_json(&h, n);
        assert_eq!(pec["signature"], "invalid", "{pec}");
        assert!(
            pec["signature_error"].as_str().unwrap().contains("failure")
                || pec["signature_error"].as_str().unwrap().contains("error"),
            "{pec}"
        );
    }
    // Without a CA file nothing is checked, and the ticket says that too.
    let mut h = Harness::new();
    let n = created(&h.ingest_into("pec", fixture("pec-signed.eml"), at));
    assert_eq!(pec_json(&h, &n)["signature"], "not_checked");
}

/// The "also: forged senders" part of issue 11: a forged From matching a citizen threaded into
/// and reopened their ticket. With the mail server's verdict, it opens a new linked one.
#[test]
fn a_sender_the_mail_server_could_not_authenticate_never_joins_a_ticket() {
    let mut h = Harness::new();
    let n = created(&h.ingest(mail(
        "Maria <maria@example.test>",
        "Attesa",
        "Authentication-Results: mx.hospital.test; dmarc=pass header.from=example.test\r\n",
        "Ho atteso.",
    )));
    let forged = |subject: &str, extra: &str| {
        mail(
            "Maria <maria@example.test>",
            subject,
            &format!(
                "Authentication-Results: mx.hospital.test; dmarc=fail (p=none dis=none) header.from=example.test\r\n\
                 Authentication-Results: mx.hospital.test; dmarc=pass header.from=example.test\r\n{extra}"
            ),
            "Ritiro il reclamo, chiudete pure.",
        )
    };
    // By the number in the subject, from the citizen's own (forged) address.
    let by_subject = h.ingest(forged(&format!("R: [{n}] Attesa"), ""));
    // By our Message-ID with the right token: still not.
    let ours = thread::outbound_message_id(&n.parse().unwrap(), &h.token(&n), "hospital.test");
    let by_reference = h.ingest(forged("R: Attesa", &format!("In-Reply-To: <{ours}>\r\n")));
    for o in [&by_subject, &by_reference] {
        assert!(
            matches!(o, Outcome::Created { linked_to: Some(l), .. } if *l == num(&n)),
            "{o:?}"
        );
    }
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE ticket_id = 1"),
        1,
        "the citizen's ticket is untouched"
    );
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE sender_unverified = 'dmarc=fail'"),
        2
    );
    // A forged bounce would mark the citizen's address as bouncing: quarantined instead.
    let bounce = String::from_utf8(fixture("bounce.eml"))
        .unwrap()
        .replace("{{REF}}", &ours)
        .replacen(
            "\n",
            "\nAuthentication-Results: mx.hospital.test; spf=fail smtp.mailfrom=x; dkim=none\n",
            1,
        );
    assert!(
        matches!(h.ingest(bounce.into_bytes()), Outcome::Quarantined { ref reason, .. } if reason.contains("spf=fail")),
    );
    assert_eq!(
        h.count("SELECT count(*) FROM contacts WHERE bouncing_since IS NOT NULL"),
        0
    );
    // The genuine citizen's reply threads as before.
    let genuine = mail(
        "Maria <maria@example.test>",
        &format!("R: [{n}] Attesa"),
        "Authentication-Results: mx.hospital.test; dmarc=pass header.from=example.test\r\n",
        "Aggiungo un dettaglio.",
    );
    assert_eq!(h.ingest(genuine), Outcome::Threaded { ticket: num(&n) });
}

#[test]
fn the_writers_time_is_attributed_to_its_phases_and_taken_once() {
    let mut h = Harness::new();
    assert!(matches!(
        h.ingest(fixture("plain.eml")),
        Outcome::Created { .. }
    ));
    let times = h.pipeline.take_writer_times();
    // A new ticket passes through every phase (Notify is empty here: no notifier).
    for phase in [
        WriterPhase::Dedup,
        WriterPhase::Raw,
        WriterPhase::Thread,
        WriterPhase::Ticket,
        WriterPhase::Classify,
        WriterPhase::Message,
        WriterPhase::Audit,
        WriterPhase::Commit,
    ] {
        assert!(times[phase as usize] > 0, "{phase:?}: {times:?}");
    }
    assert_eq!(h.pipeline.take_writer_times(), [0; 10], "taken once");
    // A duplicate spends its time recognising itself.
    assert_eq!(h.ingest(fixture("plain.eml")), Outcome::Duplicate);
    let times = h.pipeline.take_writer_times();
    assert!(times[WriterPhase::Dedup as usize] > 0);
    assert_eq!(times[WriterPhase::Message as usize], 0);
}
