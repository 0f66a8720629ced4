//! The istruttoria (issue 14) against real Dovecot and Postfix and the real binary: a request
//! leaves by mail, the referente answers with a plain Reply from a mail client, the report
//! lands on the ticket as internal; deputies, strangers, out-of-office replies and bounces;
//! reminders and escalation with the clock moved (`ascolto istruttoria solleciti --now`).

mod common;

use common::http::Client;
use common::{header, subject, Daemon, MailServers};

const URP: &str = "urp@hospital.test";
const CITIZEN: &str = "citizen@example.test";
const REFERENTE: &str = "dir.ps@hospital.test";
const DEPUTY: &str = "vice.ps@hospital.test";
const HEAD: &str = "capo.urp@hospital.test";
const PASSWORD: &str = "una-password-lunga";

fn servers() -> MailServers {
    MailServers::start_with(&[("EXTRA_USERS", &format!("{REFERENTE} {DEPUTY} {HEAD}"))])
}

fn running(servers: &MailServers) -> Daemon {
    let mut d = Daemon::new(|db| {
        format!(
            "{}\n[istruttoria]\nescalate_to = \"{HEAD}\"\n",
            servers.config(db, "")
        )
    });
    d.start();
    Client::wait_ready(&d.base_url());
    d
}

fn body(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
}

/// The referente's plain "Reply" to `original`, with a PDF attached, as a mail client builds it.
fn reply_with_attachment(original: &[u8], from: &str, text: &str) -> Vec<u8> {
    let id = header(original, "Message-ID").unwrap();
    format!(
        "From: {from}\r\nTo: {URP}\r\nSubject: R: {}\r\nIn-Reply-To: {id}\r\nReferences: {id}\r\n\
         Message-ID: <report.{}@hospital.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         {text}\r\n--b\r\nContent-Type: application/pdf; name=\"relazione.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"relazione.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         JVBERi0xLjQKJcOkw7zDtsOf\r\n--b--\r\n",
        subject(original),
        from.len() * 1000 + text.len()
    )
    .into_bytes()
}

/// The request's mail in `user`'s mailbox, read over IMAP as their mail client would.
fn mail_to(servers: &MailServers, user: &str, n: usize) -> Vec<Vec<u8>> {
    servers.wait_for_mail(user, n);
    let got = servers.imap_messages(user);
    assert!(got.len() >= n, "{user}: {} mails over IMAP", got.len());
    got
}

fn sign_in(d: &Daemon, email: &str, role: &str) -> Client {
    d.add_user_with_password(email, role, PASSWORD);
    Client::sign_in(&d.base_url(), email, PASSWORD)
}

/// Adds a referente of the PS service through Amministrazione; returns its id.
fn add_referente(d: &Daemon, admin: &mut Client, name: &str, email: &str) -> i64 {
    let ps: i64 = d
        .db()
        .query_row("SELECT id FROM services WHERE code = 'PS'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let r = admin.post(
        "/amministrazione/referenti",
        "/amministrazione/referenti",
        &[
            ("servizio", &ps.to_string()),
            ("nome", name),
            ("email", email),
            ("ruolo", "Direttore UO"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    d.db()
        .query_row("SELECT id FROM referenti WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Sends a request through the backoffice as the operator does: the form, then its text.
fn ask(op: &mut Client, number: &str, referente: i64, due: &str) -> String {
    let form = op.get(&format!(
        "/reclami/{number}/relazioni/nuova?referente={referente}&scadenza={due}"
    ));
    assert_eq!(form.status, 200, "{}", form.text());
    let page = form.text();
    assert!(page.contains("Invia la richiesta"), "{page}");
    let text = page
        .split("name=\"testo\"")
        .nth(1)
        .and_then(|t| t.split_once('>'))
        .map(|(_, t)| t.split("</textarea>").next().unwrap().to_string())
        .unwrap();
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let r = op.post(
        &format!("/reclami/{number}/relazioni/nuova?referente={referente}&scadenza={due}"),
        &format!("/reclami/{number}/relazioni"),
        &[
            ("referente", &referente.to_string()),
            ("scadenza", due),
            (
                "oggetto",
                "Richiesta di relazione: attesa in pronto soccorso",
            ),
            ("testo", &text),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    text
}

fn due_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

fn audit(d: &Daemon, number: &str) -> Vec<String> {
    let db = d.db();
    let mut st = db
        .prepare(
            "SELECT a.action FROM audit_log a JOIN tickets t ON t.id = a.ticket_id
             WHERE t.number = ?1 AND a.action != 'ticket.viewed' ORDER BY a.id",
        )
        .unwrap();
    st.query_map([number], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_request_by_mail_and_the_referentes_reply_as_an_internal_report() {
    let servers = servers();
    let d = running(&servers);
    let mut admin = sign_in(&d, "admin@hospital.test", "admin");
    let mut op = sign_in(&d, "operator@hospital.test", "operator");
    // The operator has "riceve mail".
    let rw = rusqlite::Connection::open(d.db_path()).unwrap();
    rw.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    rw.execute(
        "UPDATE users SET notify = 1 WHERE email = 'operator@hospital.test'",
        [],
    )
    .unwrap();
    drop(rw);
    let viewer = sign_in(&d, "viewer@hospital.test", "viewer");

    servers.send_complaint(
        &format!("Mario Verdi <{CITIZEN}>"),
        "Attesa al pronto soccorso",
        "Ho atteso nove ore al pronto soccorso. Mario Verdi, tel. 333 7654321.",
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let number: String = d
        .db()
        .query_row("SELECT number FROM tickets", [], |r| r.get(0))
        .unwrap();
    let referente = add_referente(&d, &mut admin, "Dott. Bianchi", REFERENTE);
    assert_eq!(op.get(&format!("/reclami/{number}")).status, 200);

    // The request: the referente's mailbox receives it, without the citizen.
    let due = due_in(7);
    ask(&mut op, &number, referente, &due);
    let request = mail_to(&servers, REFERENTE, 1).remove(0);
    let subj = subject(&request);
    assert!(subj.starts_with(&format!("[{number} R1] ")), "{subj}");
    let token: String = d
        .db()
        .query_row("SELECT thread_token FROM tickets", [], |r| r.get(0))
        .unwrap();
    let mid = header(&request, "Message-ID").unwrap();
    assert!(mid.contains(&token), "the ticket's token in {mid}");
    assert!(header(&request, "In-Reply-To").is_none());
    let text = body(&request);
    assert!(text.contains("Ho atteso nove ore"), "{text}");
    for leak in [CITIZEN, "Verdi", "333 7654321"] {
        assert!(
            !text.contains(leak),
            "{leak} leaked into the request: {text}"
        );
    }

    // The referente's plain Reply, with an attachment: an internal report.
    servers.send(
        REFERENTE,
        URP,
        &reply_with_attachment(
            &request,
            REFERENTE,
            "Relazione: codice verde, afflusso eccezionale.",
        ),
    );
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE request_id IS NOT NULL",
        1,
    );
    assert_eq!(
        d.count(
            "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE m.request_id IS NOT NULL AND a.filename = 'relazione.pdf'"
        ),
        1
    );
    assert_eq!(
        d.count("SELECT count(*) FROM requests WHERE state = 'answered' AND report_unread = 1"),
        1
    );
    // The operator is told; nothing reaches the citizen beyond the usual notices.
    let told = mail_to(&servers, "operator@hospital.test", 2);
    assert!(
        told.iter()
            .any(|m| subject(m).contains("Relazione ricevuta") && !body(m).contains("codice verde")),
        "{:?}",
        told.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
    let citizen_kinds: Vec<String> = {
        let db = d.db();
        let mut st = db
            .prepare("SELECT kind FROM outbox WHERE to_address = ?1 ORDER BY id")
            .unwrap();
        st.query_map([CITIZEN], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(citizen_kinds, ["ack", "in_charge"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    for m in servers.maildir_messages(CITIZEN) {
        assert!(
            !body(&m).contains("codice verde"),
            "the citizen got the report"
        );
    }
    let exported = d.ticket(&number);
    assert_eq!(
        exported["inbound_messages"], 1,
        "the report is not the citizen's"
    );
    assert_eq!(
        exported["state"], "in_charge",
        "the report changed no state"
    );
    let requests = exported["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["service"], "PS");
    assert_eq!(requests[0]["to"], REFERENTE);
    assert_eq!(requests[0]["state"], "answered");
    assert!(requests[0]["answered_at"].is_string());
    assert!(requests[0]["sent_at"].is_string() && requests[0]["due_at"].is_string());

    // The ticket page: the report with its attachment; "read" takes it off the queue.
    let page = op.get(&format!("/reclami/{number}")).text();
    assert!(page.contains("Relazione del servizio") && page.contains("codice verde"));
    assert!(page.contains("relazione.pdf"));
    let dash = op.get("/").text();
    assert!(
        dash.contains("Relazioni arrivate da leggere") && dash.contains(&format!("{number} R1"))
    );
    let request_id: i64 = d
        .db()
        .query_row("SELECT id FROM requests", [], |r| r.get(0))
        .unwrap();
    let r = op.post(
        &format!("/reclami/{number}"),
        &format!("/reclami/{number}/relazioni/{request_id}/letta"),
        &[],
    );
    assert_eq!(r.status, 303);
    assert_eq!(d.count("SELECT report_unread FROM requests"), 0);

    // A viewer sees the request (not its texts), and cannot send one.
    let seen = viewer.get(&format!("/reclami/{number}")).text();
    assert!(seen.contains("Istruttoria") && seen.contains(&format!("{number} R1")));
    assert!(!seen.contains("codice verde"));
    assert_eq!(
        viewer
            .get(&format!("/reclami/{number}/relazioni/nuova"))
            .status,
        403
    );

    // A deputy from the hospital's domain with the token: accepted, marked.
    servers.send(
        DEPUTY,
        URP,
        &reply_with_attachment(
            &request,
            DEPUTY,
            "Integrazione <script>alert(1)</script> <img src=x onerror=alert(2)> del vicedirettore.",
        ),
    );
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE request_id IS NOT NULL",
        2,
    );
    let page = op.get(&format!("/reclami/{number}")).text();
    assert!(page.contains("da altro mittente"), "the deputy is marked");
    assert!(
        !page.contains("<script>alert") && !page.contains("<img src=x"),
        "a referente's text is escaped"
    );
    assert!(page.contains("&lt;script&gt;alert(1)"));

    // A stranger with the subject tag and no token: not attached (a new, linked ticket).
    servers.send(
        "other@example.test",
        URP,
        format!(
            "From: other@example.test\r\nTo: {URP}\r\nSubject: R: {subj}\r\n\
             Message-ID: <stranger.1@example.test>\r\n\r\nEcco la mia relazione falsa.\r\n"
        )
        .as_bytes(),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE request_id IS NOT NULL"),
        2
    );
    assert_eq!(
        d.count("SELECT count(*) FROM tickets WHERE linked_ticket_id IS NOT NULL"),
        1
    );

    // Every step in the audit trail, in order.
    let trail = audit(&d, &number);
    let steps: Vec<&str> = trail
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("request.") || *a == "ticket.created")
        .collect();
    assert_eq!(
        steps,
        [
            "ticket.created",
            "request.sent",
            "request.answered",
            "request.report_read",
            "request.answered"
        ]
    );
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action = 'referente.created'"),
        1
    );

    // The statistics count the request for its service.
    let year = chrono::Utc::now().format("%Y").to_string();
    let out = d
        .command()
        .args(["export", "stats", "--year", &year, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ps = &stats["requests"][0];
    assert_eq!(ps["service"], "Pronto Soccorso");
    assert_eq!(
        (ps["sent"].as_i64(), ps["answered"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["requests"][1]["service"], "Totale");
}

#[test]
fn out_of_office_bounces_reminders_and_escalation() {
    let servers = servers();
    let d = running(&servers);
    let mut admin = sign_in(&d, "admin@hospital.test", "admin");
    let mut op = sign_in(&d, "operator@hospital.test", "operator");
    servers.send_complaint(CITIZEN, "Parcheggio", "Nessun posto per disabili.");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let number: String = d
        .db()
        .query_row("SELECT number FROM tickets", [], |r| r.get(0))
        .unwrap();
    let referente = add_referente(&d, &mut admin, "Dott. Bianchi", REFERENTE);
    let wrong = add_referente(&d, &mut admin, "Dott. Sbagliato", DEPUTY);
    ask(&mut op, &number, referente, &due_in(3));
    ask(&mut op, &number, wrong, &due_in(3));
    let request = mail_to(&servers, REFERENTE, 1).remove(0);
    let mid = header(&request, "Message-ID").unwrap();
    let to_wrong = mail_to(&servers, DEPUTY, 1).remove(0);
    let mid_wrong = header(&to_wrong, "Message-ID").unwrap();
    let outbox_before = d.count("SELECT count(*) FROM outbox");

    // The referente's out-of-office reply, and a bounce of the other request.
    servers.send(
        REFERENTE,
        URP,
        format!(
            "From: {REFERENTE}\r\nTo: {URP}\r\nSubject: Fuori sede: {}\r\nAuto-Submitted: auto-replied\r\n\
             In-Reply-To: {mid}\r\nMessage-ID: <ooo.1@hospital.test>\r\n\r\nSono fuori sede fino a lunedì.\r\n",
            subject(&request)
        )
        .as_bytes(),
    );
    servers.send(
        "MAILER-DAEMON@mx.hospital.test",
        URP,
        format!(
            "From: MAILER-DAEMON@mx.hospital.test\r\nTo: {URP}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
             Message-ID: <bounce.1@mx.hospital.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; mx.hospital.test\r\n\r\nFinal-Recipient: rfc822; {DEPUTY}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
             --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {URP}\r\nMessage-ID: {mid_wrong}\r\n\r\n--B--\r\n"
        )
        .as_bytes(),
    );
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE request_id IS NOT NULL AND automatic IS NOT NULL",
        2,
    );
    assert_eq!(
        d.count("SELECT count(*) FROM requests WHERE auto_reply_at IS NOT NULL"),
        1
    );
    assert_eq!(
        d.count("SELECT count(*) FROM requests WHERE bounced_at IS NOT NULL"),
        1
    );
    assert_eq!(
        d.count("SELECT count(*) FROM requests WHERE state = 'open'"),
        2,
        "no report"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM outbox"),
        outbox_before,
        "nothing answers automatic mail"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM contacts WHERE bouncing_since IS NOT NULL"),
        0,
        "the citizen's address does not bounce"
    );
    let page = op.get(&format!("/reclami/{number}")).text();
    assert!(page.contains("Risposta automatica") && page.contains("Mancata consegna"));
    let referenti = admin.get("/amministrazione/referenti").text();
    assert!(
        referenti.contains("indirizzo non raggiungibile"),
        "the bounce is shown to admins"
    );

    // The clock moved past the due date: one reminder each (the bouncing one held back).
    let at = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
    let solleciti = |now: &str| {
        let out = d
            .command()
            .args(["istruttoria", "solleciti", "--now", now])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(solleciti(&at(1)).starts_with("0 reminders and 0 escalations"));
    assert!(solleciti(&at(4)).starts_with("2 reminders and 0 escalations"));
    assert!(solleciti(&at(4)).starts_with("0 reminders"), "once");
    let reminders = mail_to(&servers, REFERENTE, 2);
    let reminder = reminders
        .iter()
        .find(|m| subject(m).contains("Sollecito"))
        .expect("the reminder reached the referente");
    assert_eq!(
        header(reminder, "In-Reply-To").as_deref(),
        Some(mid.as_str())
    );
    assert!(subject(reminder).starts_with(&format!("[{number} R1]")));
    assert_eq!(
        d.count(
            "SELECT count(*) FROM outbox WHERE kind = 'request_reminder' AND state = 'suppressed'"
        ),
        1,
        "no reminder to an address that bounced"
    );
    // escalate_after_days (3) after the due date: to the URP's head.
    assert!(solleciti(&at(6)).starts_with("0 reminders and 0 escalations"));
    assert!(solleciti(&at(8)).starts_with("0 reminders and 2 escalations"));
    let escalated = mail_to(&servers, HEAD, 2);
    assert!(escalated
        .iter()
        .all(|m| subject(m).contains("Relazione non pervenuta") && !body(m).contains(CITIZEN)));
    let steps: Vec<String> = audit(&d, &number)
        .into_iter()
        .filter(|a| a.starts_with("request."))
        .collect();
    assert_eq!(
        steps,
        [
            "request.sent",
            "request.sent",
            "request.automatic",
            "request.automatic",
            "request.reminded",
            "request.reminded",
            "request.escalated",
            "request.escalated"
        ]
    );
    // The citizen's deadline did not move.
    let due: String = d
        .db()
        .query_row("SELECT due_at FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(d.ticket(&number)["due_at"], due);
}
