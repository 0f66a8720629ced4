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
