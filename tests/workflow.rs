//! The ticket's life and its mails, against real Dovecot and Postfix: the citizen only ever uses
//! a mail client; operators act through the workflow functions the backoffice will call.

mod common;

use std::time::Duration;

use ascolto::domain::{Actor, Outcome, Role};
use ascolto::workflow;
use common::{header, subject, Daemon, MailServers};

const URP: &str = "urp@hospital.test";
const CITIZEN: &str = "citizen@example.test";

fn running(servers: &MailServers) -> Daemon {
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    d
}

fn operator(d: &Daemon) -> Actor {
    let id = d.add_user("operator@hospital.test", "operator", true);
    Actor {
        id,
        name: "Operatore Prova".into(),
        role: Role::Operator,
    }
}

fn only_ticket(d: &Daemon) -> (i64, String) {
    d.db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
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

/// A reply built from `original` as a mail client builds one.
fn reply_to(original: &[u8], from: &str, prefix: &str, text: &str) -> Vec<u8> {
    let id = header(original, "Message-ID").unwrap();
    let refs = header(original, "References")
        .map(|r| format!("{r} {id}"))
        .unwrap_or_else(|| id.clone());
    let quoted: String = mail_parser::MessageParser::default()
        .parse(original)
        .unwrap()
        .body_text(0)
        .unwrap()
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "From: {from}\r\nTo: {URP}\r\nSubject: {prefix} {}\r\nIn-Reply-To: {id}\r\nReferences: {refs}\r\n\
Message-ID: <reply.{}@example.test>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n\r\n{quoted}",
        subject(original),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
    .into_bytes()
}

#[test]
fn a_whole_ticket_life_by_mail() {
    let servers = MailServers::start();
    let d = running(&servers);
    let op = operator(&d);

    servers.send_complaint(
        CITIZEN,
        "Attesa al CUP",
        "Ho atteso due ore allo sportello del CUP.",
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number) = only_ticket(&d);

    // The acknowledgement reaches the citizen's own mailbox, read over IMAP.
    servers.wait_for_mail(CITIZEN, 1);
    let inbox = servers.imap_messages(CITIZEN);
    assert_eq!(inbox.len(), 1);
    let ack = &inbox[0];
    assert!(
        subject(ack).starts_with(&format!("[{number}] ")),
        "{}",
        subject(ack)
    );
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert!(header(ack, "Message-ID")
        .unwrap()
        .starts_with(&format!("<ascolto.{number}.")));
    // The operators with "riceve mail" are told, with a link to the ticket.
    let notice = &servers.wait_for_mail("operator@hospital.test", 1)[0];
    assert!(
        body(notice).contains(&format!("/reclami/{number}")),
        "{}",
        body(notice)
    );

    // The operator opens the ticket (taking it in charge) and answers.
    d.act(|c, n| workflow::view(c, n, &op, id));
    d.act(|c, n| {
        workflow::answer(
            c,
            n,
            &op,
            id,
            "Gentile utente, abbiamo verificato i tempi di attesa.",
        )
    });
    let mails = servers.wait_for_mail(CITIZEN, 3);
    let answer = mails
        .iter()
        .find(|m| subject(m).contains("Risposta"))
        .expect("the answer");
    assert!(mails.iter().any(|m| subject(m).contains("Presa in carico")));
    assert_eq!(
        header(answer, "Auto-Submitted"),
        None,
        "an operator's answer is not automatic"
    );
    assert!(header(answer, "In-Reply-To").is_some());
    let state = || d.ticket(&number)["state"].as_str().unwrap().to_string();
    assert_eq!(state(), "answered");

    // The citizen presses "Reply"; the reply threads into the ticket.
    servers.send(
        CITIZEN,
        URP,
        &reply_to(answer, CITIZEN, "R:", "Grazie, ma l'attesa resta lunga."),
    );
    d.wait_for_count("SELECT count(*) FROM messages WHERE direction = 'in'", 2);
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(d.count("SELECT needs_attention FROM tickets"), 1);

    // Closed with an outcome; the citizen is told.
    d.act(|c, n| workflow::close(c, n, &op, id, Outcome::ParzialmenteAccolto));
    let mails = servers.wait_for_mail(CITIZEN, 4);
    let closed = mails
        .iter()
        .find(|m| subject(m).contains("Pratica chiusa"))
        .expect("the closing notice");
    assert!(
        body(closed).contains("parzialmente accolto"),
        "{}",
        body(closed)
    );

    // The citizen replies to the closing notice: the ticket reopens.
    servers.send(
        CITIZEN,
        URP,
        &reply_to(closed, CITIZEN, "Re:", "Non sono d'accordo."),
    );
    d.wait_for_count("SELECT reopen_count FROM tickets", 1);
    assert_eq!(state(), "answered");
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 1);
    let mails = servers.wait_for_mail(CITIZEN, 5);
    assert!(mails
        .iter()
        .any(|m| subject(m).contains("Pratica riaperta")));

    // Every step is in the audit log, with its author.
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT actor, action FROM audit_log WHERE ticket_id = ?1 ORDER BY id")
        .unwrap();
    let log: Vec<(String, String)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let user = format!("user:{}", op.id);
    let expected: Vec<(&str, &str)> = vec![
        ("system:ingest", "ticket.created"),
        ("system:ingest", "ticket.classified"),
        (&user, "ticket.viewed"),
        (&user, "ticket.taken_in_charge"),
        (&user, "ticket.answered"),
        ("system:ingest", "message.received"),
        (&user, "ticket.closed"),
        ("system:ingest", "message.received"),
        ("system:ingest", "ticket.reopened"),
    ];
    let got: Vec<(&str, &str)> = log.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(got, expected);
    // Every mail went out exactly once.
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE state <> 'sent'"),
        0
    );
}

#[test]
fn a_viewer_opening_a_ticket_does_not_take_it_in_charge_and_cannot_act() {
    let servers = MailServers::start();
    let d = running(&servers);
    servers.send_complaint(CITIZEN, "Prova", "testo");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number) = only_ticket(&d);
    let viewer = Actor {
        id: d.add_user("asl@hospital.test", "viewer", false),
        name: "ASL".into(),
        role: Role::Viewer,
    };
    d.act(|c, n| workflow::view(c, n, &viewer, id));
    assert_eq!(d.ticket(&number)["state"], "pending");
    let config = ascolto::config::Config::load(&d.config_path()).unwrap();
    let notifier = ascolto::notify::Notifier::from_config(&config).unwrap();
    let conn = rusqlite::Connection::open(d.db_path()).unwrap();
    let refused = workflow::answer(&conn, &notifier, &viewer, id, "no");
    assert!(
        matches!(refused, Err(workflow::WorkflowError::Forbidden { .. })),
        "{refused:?}"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action = 'ticket.viewed'"),
        1
    );
}

#[test]
fn auto_replies_and_bounces_to_our_mail_get_nothing_back() {
    let servers = MailServers::start();
    let d = running(&servers);
    servers.send_complaint(CITIZEN, "Reclamo", "testo");
    let ack = servers.wait_for_mail(CITIZEN, 1).remove(0);
    let ack_id = header(&ack, "Message-ID").unwrap();
    let ack_id = ack_id.trim_matches(['<', '>']);
    for name in ["out-of-office.eml", "bounce.eml"] {
        let raw = String::from_utf8(common::fixture(name))
            .unwrap()
            .replace("{{REF}}", ack_id);
        servers.send("mailer-daemon@example.test", URP, raw.as_bytes());
    }
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE automatic IS NOT NULL",
        2,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE to_address <> 'operator@hospital.test'"),
        1,
        "only the ack"
    );
    assert_eq!(servers.maildir_messages(CITIZEN).len(), 1);
    assert_eq!(
        servers.maildir_messages("mario.bianchi@example.test").len(),
        0
    );
    // The bounce marks the citizen's address: no more automatic mail to it.
    assert_eq!(
        d.count("SELECT count(*) FROM contacts WHERE bouncing_since IS NOT NULL"),
        1
    );
}

#[test]
fn a_mail_bomb_gets_no_more_acknowledgements_than_the_rate_limit() {
    const N: usize = 50;
    let servers = MailServers::start();
    let d = running(&servers);
    let bomber = "bomber@example.test";
    for i in 0..N {
        servers.send_complaint(bomber, &format!("Messaggio {i}"), "spam");
    }
    d.wait_for_count("SELECT count(*) FROM tickets", N as i64);
    d.wait_for_count("SELECT count(*) FROM outbox WHERE state = 'sent'", 3);
    std::thread::sleep(Duration::from_secs(2));
    let limit = 3; // [notify] auto_reply_limit's default
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE state = 'sent'"),
        limit
    );
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE state = 'suppressed'"),
        N as i64 - limit
    );
    assert_eq!(servers.maildir_messages(bomber).len(), limit as usize);
    // An administrator sees why the others were not sent.
    let out = d
        .command()
        .args(["export", "outbox", "--format", "json"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let suppressed: Vec<_> = rows.iter().filter(|r| r["state"] == "suppressed").collect();
    assert_eq!(suppressed.len(), N - limit as usize);
    assert!(
        suppressed[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("rate limit"),
        "{:?}",
        suppressed[0]
    );
}

/// Waits until every ticket's acknowledgement has left the outbox's queue (sent or suppressed).
fn wait_for_acks(d: &Daemon, n: i64) {
    d.wait_for_count(
        "SELECT count(*) FROM outbox WHERE kind = 'ack' AND state IN ('sent', 'suppressed')",
        n,
    );
}

/// Issue 11, finding 2: `victim+1…+5@gmail.test` got five acknowledgements where
/// `victim@gmail.test` five times got three. One mailbox, one limit.
#[test]
fn plus_addressing_does_not_bypass_the_acknowledgement_rate_limit() {
    let servers = MailServers::start();
    let d = running(&servers);
    for i in 1..=5 {
        let from = format!("victim+{i}@gmail.test");
        servers.send_complaint(&from, &format!("Reclamo {i}"), "testo");
    }
    d.wait_for_count("SELECT count(*) FROM tickets", 5);
    wait_for_acks(&d, 5);
    let limit = 3; // [notify] auto_reply_limit's default
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'sent'"),
        limit
    );
    assert_eq!(
        d.count(
            "SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'suppressed'
             AND last_error LIKE 'rate limit:%'"
        ),
        5 - limit
    );
    // Each was addressed as the citizen wrote it: the key only counts.
    assert_eq!(
        d.count("SELECT count(DISTINCT to_address) FROM outbox WHERE kind = 'ack'"),
        5
    );
}

/// Issue 11, finding 2: forged senders are as many as an attacker likes; the hospital mails
/// at most `auto_reply_global_per_hour` of them an hour.
#[test]
fn a_flood_of_forged_senders_stops_at_the_global_ceiling() {
    let servers = MailServers::start();
    let mut d =
        Daemon::new(|db| servers.config(db, "") + "\n[notify]\nauto_reply_global_per_hour = 4\n");
    d.start();
    for i in 1..=7 {
        let from = format!("forged{i}@example.test");
        servers.send_complaint(&from, &format!("Reclamo {i}"), "testo");
    }
    d.wait_for_count("SELECT count(*) FROM tickets", 7);
    wait_for_acks(&d, 7);
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'sent'"),
        4
    );
    assert_eq!(
        d.count(
            "SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'suppressed'
             AND last_error LIKE 'global rate limit:%auto_reply_global_per_hour = 4%'"
        ),
        3
    );
    // "Sent" is Postfix's acceptance; delivery into the mailboxes follows.
    let delivered = || -> usize {
        (1..=7)
            .map(|i| {
                servers
                    .maildir_messages(&format!("forged{i}@example.test"))
                    .len()
            })
            .sum()
    };
    let started = std::time::Instant::now();
    while delivered() < 4 && started.elapsed() < common::PATIENCE {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(delivered(), 4);
    // Every ticket was still made: only the mail is held back.
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 7);
}

/// Issue 11, finding 9: merging a ticket of `nul@` into one of `tr@` made the answer mailed to
/// `tr@` quote `nul@`'s message and name its Message-ID. Now the merge of two citizens' tickets
/// needs confirming in the backoffice, and mail to a citizen names and quotes only their own.
#[test]
fn merging_two_citizens_tickets_needs_confirming_and_leaks_nothing_by_mail() {
    use common::http::Client;
    const TR: &str = "tr@example.test";
    const NUL: &str = "nul@example.test";
    let servers = MailServers::start();
    let d = running(&servers);
    d.add_user_with_password("operator@hospital.test", "operator", "una-password-lunga");
    // tr@ writes first, nul@ second: nul@'s is then the ticket's last message once merged.
    let from_tr = common::complaint(TR, "Attesa al CUP", "Ho atteso tre ore al CUP.");
    servers.send(TR, URP, &from_tr);
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let from_nul = common::complaint(
        NUL,
        "Esito esame",
        "Segreto di nul: referto HIV positivo, codice fiscale NLLMRA80A01H501Z.",
    );
    servers.send(NUL, URP, &from_nul);
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    let number_of = |citizen: &str| -> String {
        d.export_tickets()
            .into_iter()
            .find(|t| t["citizen_email"] == citizen)
            .unwrap()["number"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (tr, nul) = (number_of(TR), number_of(NUL));
    let message_id_of = |raw: &[u8]| -> String {
        header(raw, "Message-ID")
            .unwrap()
            .trim_matches(['<', '>'])
            .to_string()
    };
    let (tr_id, nul_id) = (message_id_of(&from_tr), message_id_of(&from_nul));
    Client::wait_ready(&d.base_url());
    let mut op = Client::sign_in(
        &d.base_url(),
        "operator@hospital.test",
        "una-password-lunga",
    );

    // Without the confirmation: the confirmation step says why, and asks for the checkbox.
    let page = format!("/reclami/{nul}");
    let r = op.post(
        &page,
        &format!("/reclami/{nul}/unione"),
        &[("destinazione", &tr)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains("cittadini diversi"), "{html}");
    assert!(html.contains("name=\"conferma\""), "{html}");
    assert!(html.contains(&format!("value=\"{tr}\"")), "{html}");
    let merged_into = || -> Option<String> {
        d.db()
            .query_row(
                "SELECT m.number FROM tickets t LEFT JOIN tickets m ON m.id = t.merged_into
                 WHERE t.number = ?1",
                [&nul],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(merged_into(), None, "nothing merged");

    // Confirmed: merged.
    let r = op.post(
        &page,
        &format!("/reclami/{nul}/unione"),
        &[
            ("destinazione", &tr),
            ("conferma", "1"),
            ("confermato", "1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(merged_into().as_deref(), Some(tr.as_str()));
    assert_eq!(
        d.count(
            "SELECT count(*) FROM audit_log WHERE action = 'ticket.merged_into'
             AND json_extract(detail, '$.different_citizens') = 1"
        ),
        1
    );

    // The operator answers tr@'s ticket: the mail quotes and names tr@'s message only.
    let r = op.post(
        &format!("/reclami/{tr}"),
        &format!("/reclami/{tr}/risposta"),
        &[("testo", "Gentile utente, abbiamo verificato.")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let mails = servers.wait_for_mail(TR, 3);
    let answer = mails
        .iter()
        .find(|m| subject(m).contains("Risposta"))
        .expect("the answer");
    let text = body(answer);
    assert!(text.contains("abbiamo verificato"), "{text}");
    assert!(
        !text.contains("Segreto di nul"),
        "nul@'s text quoted: {text}"
    );
    assert!(
        text.contains("Ho atteso tre ore"),
        "tr@'s own text is quoted: {text}"
    );
    let threading = format!(
        "{} {}",
        header(answer, "In-Reply-To").unwrap_or_default(),
        header(answer, "References").unwrap_or_default()
    );
    assert!(
        !threading.contains(&nul_id),
        "nul@'s Message-ID: {threading}"
    );
    assert!(
        header(answer, "In-Reply-To").unwrap().contains(&tr_id),
        "{threading}"
    );
    // And nothing of nul@'s went to tr@ at all.
    for m in &mails {
        let raw = String::from_utf8_lossy(m);
        assert!(
            !raw.contains("NLLMRA80A01H501Z") && !raw.contains(&nul_id),
            "{raw}"
        );
    }
}

#[test]
fn notifications_wait_for_smtp_and_survive_a_kill() {
    let servers = MailServers::start();
    let mut d = running(&servers);
    servers.stop_smtp();
    // Complaints keep arriving (straight into the mailbox) while SMTP is down.
    let citizens: Vec<String> = (0..4).map(|i| format!("c{i}@example.test")).collect();
    for c in &citizens {
        servers.deliver_to_maildir(URP, &common::complaint(c, "Durante il guasto", "x"));
    }
    d.wait_for_count("SELECT count(*) FROM tickets", 4);
    d.wait_for_count("SELECT count(*) FROM outbox WHERE attempts > 0", 4);
    assert_eq!(
        d.count("SELECT count(*) FROM outbox WHERE state = 'sent'"),
        0
    );
    // Killed between the commit and the send: the mail waits in the outbox.
    d.kill();
    servers.start_smtp();
    d.start();
    d.wait_for_count("SELECT count(*) FROM outbox WHERE state = 'sent'", 4);
    for c in &citizens {
        let mails = servers.wait_for_mail(c, 1);
        std::thread::sleep(Duration::from_millis(300));
        let ids: std::collections::HashSet<String> = servers
            .maildir_messages(c)
            .iter()
            .map(|m| header(m, "Message-ID").unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{c} got {} mails with {} Message-IDs",
            mails.len(),
            ids.len()
        );
    }
}

#[test]
fn strangers_cannot_thread_into_or_reopen_a_ticket() {
    let servers = MailServers::start();
    let d = running(&servers);
    let op = operator(&d);
    servers.send_complaint(CITIZEN, "Reclamo riservato", "dati sanitari");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number) = only_ticket(&d);
    d.act(|c, n| workflow::close(c, n, &op, id, Outcome::Accolto));

    // Knowing the number is not enough…
    servers.send_complaint(
        "other@example.test",
        &format!("Re: [{number}] riaprite"),
        "riaprite",
    );
    // …nor is a Message-ID of our shape with a forged token.
    let forged = ascolto::mail::thread::outbound_message_id(
        &number.parse().unwrap(),
        &ascolto::mail::thread::new_token(),
        "hospital.test",
    );
    let raw = format!(
        "From: other@example.test\r\nTo: {URP}\r\nSubject: Re: conferma\r\nIn-Reply-To: <{forged}>\r\n\
Message-ID: <forged-1@example.test>\r\n\r\nriaprite\r\n"
    );
    servers.send("other@example.test", URP, raw.as_bytes());
    d.wait_for_count("SELECT count(*) FROM tickets", 3);
    assert_eq!(d.ticket(&number)["state"], "closed");
    assert_eq!(d.ticket(&number)["inbound_messages"], 1);
    assert_eq!(
        d.count(&format!("SELECT reopen_count FROM tickets WHERE id = {id}")),
        0
    );
}

#[test]
fn send_test_email_delivers_or_explains() {
    let servers = MailServers::start();
    let d = Daemon::new(|db| servers.config(db, ""));
    let out = d
        .command()
        .args(["send-test-email", CITIZEN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mail = servers.wait_for_mail(CITIZEN, 1).remove(0);
    assert_eq!(subject(&mail), "Prova di invio da ascolto");

    // Implicit TLS against a plain port: the error says what to check.
    let out = d
        .command()
        .args(["send-test-email", CITIZEN])
        .env("ASCOLTO__SMTP__SECURITY", "tls")
        .env("ASCOLTO__SMTP__PORT", "465")
        .env("ASCOLTO__SMTP__HOST", "127.0.0.1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("127.0.0.1:465"), "{e}");
    let out = d
        .command()
        .args(["send-test-email", CITIZEN])
        .env("ASCOLTO__SMTP__SECURITY", "none")
        .env("ASCOLTO__SMTP__PORT", "587")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("587 wants security = \"starttls\""),
        "{e}"
    );
}

#[test]
fn user_commands_add_list_and_disable() {
    let d = Daemon::new(|db| {
        format!(
            "[database]\npath = \"{}\"\n[smtp]\nfrom_address = \"urp@hospital.test\"\n",
            db.display()
        )
    });
    let mut add = d
        .command()
        .args([
            "user",
            "add",
            "admin@hospital.test",
            "--name",
            "Amministratrice",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"una-password-lunga\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("una-password-lunga"));
    let hash: String = d
        .db()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(ascolto::users::verify_password("una-password-lunga", &hash));

    let out = d
        .command()
        .args([
            "user",
            "add",
            "op@hospital.test",
            "--name",
            "Op",
            "--role",
            "operator",
            "--notify",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let generated = said
        .lines()
        .find_map(|l| l.strip_prefix("password (shown only now): "))
        .expect(&said);
    let hash: String = d
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE email = 'op@hospital.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ascolto::users::verify_password(generated, &hash));

    let bad = d
        .command()
        .args([
            "user",
            "add",
            "x@hospital.test",
            "--name",
            "X",
            "--role",
            "boss",
        ])
        .output()
        .unwrap();
    assert!(
        !bad.status.success()
            && String::from_utf8_lossy(&bad.stderr).contains("admin, operator or viewer")
    );

    assert!(d
        .command()
        .args(["user", "disable", "op@hospital.test"])
        .output()
        .unwrap()
        .status
        .success());
    let list =
        String::from_utf8(d.command().args(["user", "list"]).output().unwrap().stdout).unwrap();
    assert!(
        list.contains("admin@hospital.test\tAmministratrice\tadmin"),
        "{list}"
    );
    assert!(
        list.contains("op@hospital.test\tOp\toperator\triceve mail\tdisabled"),
        "{list}"
    );
}
