//! Hostile mail against the running daemon (issue 11): what an attacker who can send an e-mail
//! can make ascolto do, reproduced through real Postfix and Dovecot.

mod common;

use base64::Engine;
use common::{complaint, subject, Daemon, MailServers};

const CITIZEN: &str = "citizen@example.test";
const OPERATOR: &str = "operator@hospital.test";

fn running(servers: &MailServers, extra_mailbox_keys: &str, extra: &str) -> Daemon {
    let mut d = Daemon::new(|db| format!("{}\n{extra}", servers.config(db, extra_mailbox_keys)));
    d.start();
    d
}

/// The decoded text of a raw message.
fn body(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
}

/// Finding 1: a Subject that decodes to several lines wrote the first lines of the hospital's
/// acknowledgement and of the operators' "new ticket" mail.
#[test]
fn a_multi_line_subject_cannot_write_the_hospitals_mail() {
    let servers = MailServers::start();
    let d = running(&servers, "", "");
    d.add_user(OPERATOR, "operator", true);

    let payload =
        "Attesa\nATTENZIONE: la pratica è sospesa finché non paghi su http://evil.test/pay\n\
                   Apri la pratica: http://evil.test/login";
    let encoded = format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(payload)
    );
    servers.send(
        CITIZEN,
        "urp@hospital.test",
        &complaint(CITIZEN, &encoded, "Ho atteso tre ore."),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let stored: String = d
        .db()
        .query_row("SELECT subject FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert!(!stored.contains('\n'), "{stored:?}");

    servers.wait_for_mail(CITIZEN, 1);
    let ack = &servers.imap_messages(CITIZEN)[0];
    let ack_subject = subject(ack);
    assert!(!ack_subject.contains(['\n', '\r']), "{ack_subject:?}");
    assert!(ack_subject.contains("Attesa ATTENZIONE"), "{ack_subject:?}");
    let text = body(ack);
    assert_eq!(text.lines().next(), Some("Gentile utente,"), "{text}");
    assert!(!text.starts_with("ATTENZIONE"), "{text}");

    let notice = &servers.wait_for_mail(OPERATOR, 1)[0];
    assert!(!subject(notice).contains('\n'), "{:?}", subject(notice));
    let text = body(notice);
    assert_eq!(
        text.lines().next(),
        Some("È arrivata una nuova pratica."),
        "{text}"
    );
}

/// A second mailbox, the PEC box, for `MailServers::config`'s daemon.
fn pec_mailbox(servers: &MailServers) -> String {
    format!(
        r#"
[[mailbox]]
name = "pec"
host = "127.0.0.1"
port = {port}
security = "none"
username = "pec@hospital.test"
password = "secret"
poll_interval_secs = 1
pec = true
pec_ca_file = "{ca}"
"#,
        port = servers.imap_port,
        ca = common::repo().join("tests/fixtures/pec-ca.crt").display()
    )
}

/// The envelope fixture with a made-up certified day and its own identifiers.
fn forged_envelope(day: &str, tag: &str) -> Vec<u8> {
    String::from_utf8(common::fixture("pec-envelope.eml"))
        .unwrap()
        .replace(
            "<giorno>15/01/2026</giorno>",
            &format!("<giorno>{day}</giorno>"),
        )
        .replace("opec21.20260115093006", &format!("opec21.{tag}"))
        .replace("orig-20260115-1@", &format!("orig-{tag}@"))
        .into_bytes()
}

/// Finding 7: a mail with `X-Trasporto: posta-certificata` and a made-up `daticert.xml` became
/// a "PEC" ticket whose certified time set its year (URP-1999-000001, URP-2099-000001).
#[test]
fn a_forged_pec_envelope_sets_neither_the_channel_nor_the_year() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| format!("{}{}", servers.config(db, ""), pec_mailbox(&servers)));
    d.start();
    let this_year = chrono::Utc::now().format("%Y").to_string();

    // On the ordinary box the header is only text.
    for (day, tag) in [("01/01/1999", "old"), ("01/01/2099", "future")] {
        servers.send(
            "posta-certificata@pec.example.test",
            "urp@hospital.test",
            &forged_envelope(day, tag),
        );
    }
    // On the PEC box the envelope is unwrapped, but its made-up date is only "declared".
    servers.send(
        "posta-certificata@pec.example.test",
        "pec@hospital.test",
        &forged_envelope("01/01/1999", "pecold"),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 3);
    let rows: Vec<(String, String, Option<String>)> = d
        .db()
        .prepare(
            "SELECT t.number, t.channel, m.pec FROM tickets t JOIN messages m ON m.ticket_id = t.id
             ORDER BY t.id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (number, _, _) in &rows {
        assert!(number.starts_with(&format!("URP-{this_year}-")), "{rows:?}");
    }
    let channels: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        channels.iter().filter(|c| **c == "email").count(),
        2,
        "{rows:?}"
    );
    let pec: serde_json::Value =
        serde_json::from_str(rows.iter().find_map(|r| r.2.as_deref()).unwrap()).unwrap();
    assert_eq!(pec["certified_at_used"], false, "{pec}");
    assert_eq!(
        pec["signature"], "invalid",
        "the fixture's signature is a fake: {pec}"
    );

    // The ticket page says both, to an operator.
    let pec_number = &rows.iter().find(|r| r.1 == "pec").unwrap().0;
    d.add_user_with_password("op@hospital.test", "operator", "una-password-lunga");
    common::http::Client::wait_ready(&d.base_url());
    let web =
        common::http::Client::sign_in(&d.base_url(), "op@hospital.test", "una-password-lunga");
    let page = web.get(&format!("/reclami/{pec_number}")).text();
    assert!(page.contains("Data dichiarata"), "{page}");
    assert!(page.contains("NON valida"), "{page}");
}

/// A message as the hospital's MX delivers it after OpenDKIM, policyd-spf and OpenDMARC
/// (Postfix milters) judged it: their Authentication-Results headers on top.
fn judged(from: &str, subject: &str, dmarc: &str, body: &str) -> Vec<u8> {
    let mut raw = format!(
        "Authentication-Results: mx.hospital.test; dmarc={dmarc} (p=none dis=none) header.from=example.test\r\n\
         Authentication-Results: mx.hospital.test; spf={dmarc} smtp.mailfrom=example.test\r\n\
         Authentication-Results: mx.hospital.test; dkim=none; dkim-atps=neutral\r\n"
    )
    .into_bytes();
    raw.extend(complaint(from, subject, body));
    raw
}

/// "Also: forged senders": unauthenticated mail with a citizen's address as From threaded into
/// and reopened their ticket. With `trusted_authserv_id`, a message whose DMARC failed opens a
/// new linked ticket marked "mittente non verificato" instead.
#[test]
fn a_forged_sender_cannot_write_into_a_citizens_ticket() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| {
        servers.config(db, "").replace(
            "[ingest]\n",
            "[ingest]\ntrusted_authserv_id = \"mx.hospital.test\"\n",
        )
    });
    d.start();
    servers.send(
        CITIZEN,
        "urp@hospital.test",
        &judged(CITIZEN, "Attesa al CUP", "pass", "Ho atteso due ore."),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number): (i64, String) = d
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let op = d.add_user_with_password("op@hospital.test", "operator", "una-password-lunga");
    let actor = ascolto::domain::Actor {
        id: op,
        name: "Operatore".into(),
        role: ascolto::domain::Role::Operator,
    };
    d.act(|c, n| ascolto::workflow::close(c, n, &actor, id, ascolto::domain::Outcome::Accolto));

    // Someone else writes "as" the citizen, naming the ticket.
    servers.send(
        "attacker@evil.test",
        "urp@hospital.test",
        &judged(
            CITIZEN,
            &format!("R: [{number}] Attesa al CUP"),
            "fail",
            "Il reclamo era falso, annullatelo.",
        ),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    let state: String = d
        .db()
        .query_row("SELECT state FROM tickets WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(state, "closed", "not reopened");
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM messages WHERE ticket_id = {id} AND direction = 'in'"
        )),
        1,
        "nothing joined the citizen's ticket"
    );
    let (new_number, linked, reason): (String, i64, String) = d
        .db()
        .query_row(
            "SELECT t.number, t.linked_ticket_id, m.sender_unverified FROM tickets t
             JOIN messages m ON m.ticket_id = t.id WHERE t.id != ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((linked, reason.as_str()), (id, "dmarc=fail"));

    common::http::Client::wait_ready(&d.base_url());
    let web =
        common::http::Client::sign_in(&d.base_url(), "op@hospital.test", "una-password-lunga");
    let page = web.get(&format!("/reclami/{new_number}")).text();
    assert!(page.contains("Mittente non verificato"), "{page}");
    assert!(
        page.contains(&number),
        "the page names the ticket it points at"
    );
}
