//! Answering as an URP answers (issue 19), against real Dovecot and Postfix: deadlines that
//! move reach the citizen's mailbox and the export; an answer model is filled in with the
//! ticket's facts by the running daemon's own notifier.

mod common;

use ascolto::deadlines::{self, Move};
use ascolto::domain::{Actor, Role};
use ascolto::workflow;
use common::{subject, Daemon, MailServers};
use mail_parser::MimeHeaders;

const CITIZEN: &str = "citizen@example.test";

fn body(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
}

#[test]
fn a_deadline_suspended_resumed_and_extended_is_told_and_exported() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    let op = Actor {
        id: d.add_user("operator@hospital.test", "operator", false),
        name: "Operatore Prova".into(),
        role: Role::Operator,
    };
    servers.send_complaint(CITIZEN, "Referto mancante", "Non ho ricevuto il referto.");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number): (i64, String) = d
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let original = d.ticket(&number)["due_at"].as_str().unwrap().to_string();
    servers.wait_for_mail(CITIZEN, 1);

    let now = chrono::Utc::now();
    let step = |what: Move, reason: &'static str, at: chrono::DateTime<chrono::Utc>| {
        d.act(|c, n| deadlines::move_deadline(c, n, &op, id, &what, reason, &[60, 90], at))
    };
    step(Move::Suspend, "In attesa della delega firmata", now);
    step(
        Move::Resume,
        "Delega ricevuta",
        now + chrono::Duration::days(3),
    );
    step(
        Move::Extend { to_days: 60 },
        "Serve il parere di due reparti",
        now + chrono::Duration::days(3),
    );

    // The citizen's mailbox: the acknowledgement and the three notices, the last with the date.
    let mails = servers.wait_for_mail(CITIZEN, 4);
    let find = |word: &str| {
        mails
            .iter()
            .find(|m| subject(m).contains(word))
            .unwrap_or_else(|| panic!("no mail {word:?}"))
    };
    let suspended = find("Termine sospeso");
    assert!(
        body(suspended).contains("In attesa della delega firmata"),
        "{}",
        body(suspended)
    );
    assert!(subject(suspended).starts_with(&format!("[{number}] ")));
    let extended = find("Termine prorogato");
    let export = d.ticket(&number);
    let effective = export["due_at_effective"].as_str().unwrap();
    assert_eq!(effective, export["due_at"].as_str().unwrap());
    let due: chrono::DateTime<chrono::Utc> = effective.parse().unwrap();
    let rome_date = ascolto::domain::time::to_rome(due)
        .format("%d/%m/%Y")
        .to_string();
    assert!(
        body(extended).contains(&rome_date),
        "{rome_date}: {}",
        body(extended)
    );
    assert!(body(extended).contains("Serve il parere di due reparti"));
    assert!(body(find("Termine ripreso")).contains("Delega ricevuta"));

    // The export: 60 Rome days from receipt, plus the 3 suspended days.
    let received: chrono::DateTime<chrono::Utc> =
        export["received_at"].as_str().unwrap().parse().unwrap();
    let expected =
        ascolto::domain::time::add_rome_days(ascolto::domain::time::due_at(received, 60), 3);
    assert_eq!(due, expected);
    let changes = export["deadline_changes"].as_array().unwrap();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["suspended", "resumed", "extended"]);
    assert_eq!(changes[0]["due_at"].as_str(), Some(original.as_str()));
    assert_eq!(changes[2]["reason"], "Serve il parere di due reparti");
    assert_eq!(changes[2]["due_at"].as_str(), Some(effective));

    // Once answered, the deadline no longer moves.
    d.act(|c, n| workflow::answer(c, n, &op, id, "Gentile utente, ecco il referto."));
    let refused = {
        let config = ascolto::config::Config::load(&d.config_path()).unwrap();
        let notifier = ascolto::notify::Notifier::from_config(&config).unwrap();
        let mut conn = rusqlite::Connection::open(d.db_path()).unwrap();
        workflow::in_transaction(&mut conn, |c| {
            deadlines::move_deadline(
                c,
                &notifier,
                &op,
                id,
                &Move::Suspend,
                "tardi",
                &[60, 90],
                now,
            )
        })
    };
    assert!(refused.is_err());
    // Still unsatisfied: the second level. Not answered → no review; now the export has it.
    assert!(d.ticket(&number)["review"].is_null());
    let workflow_config = ascolto::config::Config::load(&d.config_path())
        .unwrap()
        .workflow;
    d.act(|c, _| {
        ascolto::reviews::open(
            c,
            &workflow_config,
            &op,
            id,
            "Difensore civico",
            "Istanza",
            now,
        )
    });
    d.act(|c, _| {
        ascolto::reviews::close(c, &op, id, ascolto::domain::Outcome::NonAccolto, "", now)
    });
    let review = &d.ticket(&number)["review"];
    assert_eq!(review["body"], "Difensore civico");
    assert_eq!(review["outcome"], "non_accolto");
    assert!(review["opened_at"].is_string() && review["closed_at"].is_string());
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action LIKE 'ticket.deadline_%'"),
        3
    );
}

#[test]
fn an_answer_model_is_filled_in_with_the_tickets_facts() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    servers.send_complaint(CITIZEN, "Attesa", "Attesa lunga.");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number): (i64, String) = d
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let config = ascolto::config::Config::load(&d.config_path()).unwrap();
    let notifier = ascolto::notify::Notifier::from_config(&config).unwrap();
    let filled = notifier
        .fill_model(
            &d.db(),
            id,
            "Gentile {{ citizen_name or \"utente\" }}, sulla pratica {{ number }} del \
             {{ received_at }} le rispondiamo entro il {{ due_date }}. {{ operator_name }}",
            "Anna",
        )
        .unwrap();
    assert!(
        filled.starts_with("Gentile utente, sulla pratica "),
        "{filled}"
    );
    assert!(
        filled.contains(&number) && filled.ends_with("Anna"),
        "{filled}"
    );
}

#[test]
fn an_answer_with_files_arrives_as_multipart_byte_for_byte() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    let op = Actor {
        id: d.add_user("operator@hospital.test", "operator", false),
        name: "Operatore Prova".into(),
        role: Role::Operator,
    };
    servers.send_complaint(CITIZEN, "Referto", "Mi mandate il referto?");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number): (i64, String) = d
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    servers.wait_for_mail(CITIZEN, 1);
    // Every byte value, and line ends a careless encoder would rewrite.
    let pdf: Vec<u8> = (0..=255u8)
        .cycle()
        .take(70_000)
        .chain(*b"\r\n.\r\n\n\r")
        .collect();
    let text_file = "Riga uno\r\nRiga due àèìòù\n".as_bytes().to_vec();
    let files = vec![
        ascolto::domain::OutgoingFile {
            filename: "referto 2026.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf.clone(),
        },
        ascolto::domain::OutgoingFile {
            filename: "note.txt".into(),
            content_type: "text/plain".into(),
            bytes: text_file.clone(),
        },
    ];
    let limits = ascolto::config::Config::load(&d.config_path())
        .unwrap()
        .workflow;
    let text = "Gentile utente,\nin allegato il referto richiesto. Perché così è più semplice.\n";
    d.act(|c, n| ascolto::answer_files::answer_with_files(c, n, &op, id, text, &files, &limits));
    let mails = servers.wait_for_mail(CITIZEN, 3);
    let answer = mails
        .iter()
        .find(|m| subject(m).contains("Risposta"))
        .expect("the answer");
    let parsed = mail_parser::MessageParser::default().parse(answer).unwrap();
    assert!(
        common::header(answer, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{:?}",
        common::header(answer, "Content-Type")
    );
    assert!(
        common::header(answer, "In-Reply-To").is_some(),
        "threading headers kept"
    );
    assert!(common::header(answer, "Message-ID")
        .unwrap()
        .starts_with(&format!("<ascolto.{number}.")));
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("in allegato il referto richiesto. Perché così"),
        "{:?}",
        parsed.body_text(0)
    );
    let got: Vec<(String, Vec<u8>)> = parsed
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap_or("").to_string(),
                a.contents().to_vec(),
            )
        })
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "referto 2026.pdf");
    assert!(got[0].1 == pdf, "the PDF is byte-identical");
    assert_eq!(got[1], ("note.txt".to_string(), text_file));
    // Stored with the ticket, linked to the answer as stored.
    assert_eq!(
        d.count("SELECT count(*) FROM answer_files f JOIN messages m ON m.id = f.message_id WHERE m.direction = 'out'"),
        2
    );
    // Too many bytes: refused, and nothing is sent or stored.
    let mut small = limits.clone();
    small.attachment_max_bytes = 10;
    let config = ascolto::config::Config::load(&d.config_path()).unwrap();
    let notifier = ascolto::notify::Notifier::from_config(&config).unwrap();
    let mut conn = rusqlite::Connection::open(d.db_path()).unwrap();
    let refused = workflow::in_transaction(&mut conn, |c| {
        ascolto::answer_files::answer_with_files(c, &notifier, &op, id, "altro", &files, &small)
    });
    assert!(refused.is_err());
    assert_eq!(d.count("SELECT count(*) FROM answer_files"), 2);
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE kind = 'answer'"),
        1
    );
}
