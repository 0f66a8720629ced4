//! Issue 15 against the real daemon, Postfix and Dovecot: complaints recorded by operators
//! (phone, desk, letter), the search that finds a citizen, and the citizen's own page reached
//! through the link in the real acknowledgement.

mod common;

use std::time::{Duration, Instant};

use ascolto::domain::time::to_rome;
use common::http::{csrf_of, Client};
use common::{Daemon, MailServers};

const PASSWORD: &str = "una-password-lunga";
const CITIZEN: &str = "citizen@example.test";

fn running(servers: &MailServers) -> Daemon {
    let mut d = Daemon::new(|db| {
        format!(
            "{}\n[notify]\nletterhead = \"ASL Prova\\nUfficio Relazioni con il Pubblico\"\n",
            servers.config(db, "")
        )
    });
    d.start();
    d
}

fn run(d: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = d.command().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The day `days` ago, as the form's date field writes it (Europe/Rome).
fn rome_day(days_ago: i64) -> chrono::NaiveDate {
    to_rome(chrono::Utc::now() - chrono::Duration::days(days_ago)).date_naive()
}

fn number_of(location: &str) -> String {
    location.strip_prefix("/reclami/").unwrap().to_string()
}

#[test]
fn a_phone_complaint_recorded_back_dated_counts_from_its_day_and_mails_no_one() {
    let servers = MailServers::start();
    let d = running(&servers);
    d.add_user_with_password("operator@hospital.test", "operator", PASSWORD);
    let mut op = Client::sign_in(&d.base_url(), "operator@hospital.test", PASSWORD);

    // Received by phone ten days ago, from a citizen without e-mail.
    let received = rome_day(10);
    let r = op.post(
        "/reclami/nuovo",
        "/reclami/nuovo",
        &[
            ("canale", "telefono"),
            ("ricevuto", &received.format("%Y-%m-%d").to_string()),
            ("nome", "Giuseppe Verdi"),
            ("telefono", "+39 055 765 4321"),
            ("indirizzo", "Via Roma 1\n50100 Firenze"),
            ("oggetto", "Attesa al telefono del CUP"),
            (
                "testo",
                "Ha chiamato per lamentare l'attesa di un'ora al CUP.",
            ),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let number = number_of(r.location.as_deref().unwrap());

    let t = d.ticket(&number);
    assert_eq!(t["channel"], "telefono");
    assert_eq!(t["pec"], false);
    assert_eq!(
        t["citizen_email"], "",
        "the placeholder address is never exported"
    );
    assert_eq!(t["citizen_name"], "Giuseppe Verdi");
    // The deadline counts from the day received: 30 days after it, 20 from today.
    let due: chrono::DateTime<chrono::Utc> = t["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(to_rome(due).date_naive(), rome_day(-20));
    let recv: chrono::DateTime<chrono::Utc> = t["received_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(to_rome(recv).date_naive(), received);

    // Counted in its month and under its channel.
    let year = received.format("%Y").to_string();
    let month = received.format("%-m").to_string();
    let (ok, stats, err) = run(&d, &["export", "stats", "--year", &year, "--month", &month]);
    assert!(ok, "{err}");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let telefono = stats["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "telefono")
        .unwrap_or_else(|| panic!("no telefono row: {}", stats["by_channel"]));
    assert_eq!(telefono["n"], 1, "{}", stats["by_channel"]);

    // The ticket page says there is no e-mail, and the answer is printed instead.
    let page = op.get(&format!("/reclami/{number}")).text();
    assert!(
        page.contains("non ha indicato un indirizzo e-mail"),
        "{page}"
    );
    assert!(page.contains("055 765 4321"));
    let r = op.post(
        &format!("/reclami/{number}"),
        &format!("/reclami/{number}/risposta"),
        &[(
            "testo",
            "Gentile signor Verdi,\n\nabbiamo verificato i tempi di attesa.",
        )],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let letter = op.get(&format!("/reclami/{number}/stampa"));
    assert_eq!(letter.status, 200);
    let letter = letter.text();
    assert!(letter.contains("ASL Prova"), "the letterhead: {letter}");
    assert!(letter.contains(&number));
    assert!(letter.contains("abbiamo verificato i tempi di attesa"));
    assert!(letter.contains("Via Roma 1"));
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action = 'ticket.answer_printed'"),
        1
    );

    // No mail for this citizen: each one held back with the reason, none sent, no link made.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
             WHERE t.number = '{number}' AND o.state != 'suppressed'"
        )),
        0
    );
    assert!(
        d.count(&format!(
            "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
             WHERE t.number = '{number}' AND o.last_error LIKE '%no e-mail%'"
        )) >= 2,
        "the acknowledgement and the answer, held back"
    );
    assert_eq!(d.count("SELECT count(*) FROM citizen_links"), 0);
    let audit_actor: String = d
        .db()
        .query_row(
            "SELECT actor FROM audit_log WHERE action = 'ticket.created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audit_actor.starts_with("user:"), "{audit_actor}");
}

#[test]
fn the_list_finds_a_citizen_by_number_name_address_and_phone() {
    let servers = MailServers::start();
    let d = running(&servers);
    d.add_user_with_password("operator@hospital.test", "operator", PASSWORD);
    let mut op = Client::sign_in(&d.base_url(), "operator@hospital.test", PASSWORD);
    let today = rome_day(0).format("%Y-%m-%d").to_string();
    let mut record = |channel: &str, name: &str, email: &str, phone: &str, text: &str| {
        let r = op.post(
            "/reclami/nuovo",
            "/reclami/nuovo",
            &[
                ("canale", channel),
                ("ricevuto", today.as_str()),
                ("nome", name),
                ("email", email),
                ("telefono", phone),
                ("testo", text),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        number_of(r.location.as_deref().unwrap())
    };
    let rossi = record(
        "sportello",
        "Maria Rossi",
        "maria.rossi@example.test",
        "",
        "Allo sportello per il parcheggio.",
    );
    let bianchi = record(
        "lettera",
        "Luca Bianchi",
        "",
        "347 1234567",
        "Lettera sulla pulizia dei bagni.",
    );
    let rossi_again = record(
        "telefono",
        "Maria Rossi",
        "MARIA.ROSSI@example.test",
        "",
        "Di nuovo sul parcheggio.",
    );

    let finds = |q: &str, n: &str| -> bool {
        op.get(&format!("/reclami?q={}", urlencode(q)))
            .text()
            .contains(&format!("/reclami/{n}\""))
    };
    assert!(finds("maria.rossi@example.test", &rossi));
    assert!(finds("maria.rossi@example.test", &rossi_again));
    assert!(!finds("maria.rossi@example.test", &bianchi));
    assert!(finds("Rossi", &rossi));
    assert!(finds("rossi maria", &rossi_again));
    assert!(!finds("Rossi", &bianchi));
    assert!(finds("3471234567", &bianchi));
    assert!(finds("347 123 4567", &bianchi));
    assert!(!finds("3471234567", &rossi));
    // Part of a number: the sequence, or year and sequence.
    let seq: i64 = bianchi.rsplit('-').next().unwrap().parse().unwrap();
    let year = bianchi.split('-').nth(1).unwrap();
    assert!(finds(&seq.to_string(), &bianchi));
    assert!(finds(&format!("{year}-{seq}"), &bianchi));
    assert!(!finds(&format!("{year}-{seq}"), &rossi));
    // A whole number goes straight to the ticket.
    let r = op.get(&format!("/reclami?q={bianchi}"));
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/reclami/{bianchi}").as_str())
    );
    // The ticket page lists the citizen's other tickets.
    let page = op.get(&format!("/reclami/{rossi}")).text();
    assert!(page.contains("Altre pratiche dello stesso cittadino"));
    assert!(page.contains(&format!("/reclami/{rossi_again}\"")));
    assert!(!page.contains(&format!("/reclami/{bianchi}\"")));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The link to the citizen's page in a mail's text.
fn link_in(mail: &[u8]) -> String {
    let text = mail_parser::MessageParser::default()
        .parse(mail)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    let start = text
        .find("/pratica/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn the_citizens_page_from_the_real_acknowledgement() {
    let servers = MailServers::start();
    let d = running(&servers);
    let op_id = d.add_user_with_password("operator@hospital.test", "operator", PASSWORD);
    let op = ascolto::domain::Actor {
        id: op_id,
        name: "Operatore".into(),
        role: ascolto::domain::Role::Operator,
    };
    servers.send_complaint(
        CITIZEN,
        "Attesa al CUP",
        "Ho atteso due ore allo sportello.",
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (id, number): (i64, String) = d
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let ack = servers.wait_for_mail(CITIZEN, 1).remove(0);
    let link = link_in(&ack);
    assert_ne!(
        link.trim_start_matches("/pratica/"),
        d.db()
            .query_row("SELECT thread_token FROM tickets", [], |r| r
                .get::<_, String>(0))
            .unwrap(),
        "the link is not the threading token"
    );

    // The citizen opens it, with no account.
    let mut citizen = Client::new(&d.base_url());
    let page = citizen.get(&link);
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains(&number));
    assert!(
        text.contains("Ricevuta, in attesa di essere esaminata"),
        "{text}"
    );
    assert!(text.contains("Ho atteso due ore"));
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action = 'citizen.page_viewed' AND actor = 'web:citizen'"),
        1
    );

    // They add a message: threaded like a reply.
    let r = citizen.post(
        &link,
        &format!("{link}/messaggio"),
        &[("testo", "Aggiungo: era il 3 marzo.")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM messages WHERE ticket_id = {id} AND direction = 'in'"
        )),
        2
    );
    assert_eq!(
        d.count(&format!(
            "SELECT needs_attention FROM tickets WHERE id = {id}"
        )),
        1
    );

    // Answered, then closed; the citizen is not satisfied: the ticket reopens.
    d.act(|c, n| ascolto::workflow::answer(c, n, &op, id, "Gentile utente, abbiamo verificato."));
    d.act(|c, _| ascolto::workflow::add_note(c, &op, id, "Nota interna riservata"));
    d.act(|c, n| ascolto::workflow::close(c, n, &op, id, ascolto::domain::Outcome::Accolto));
    let page = citizen.get(&link).text();
    assert!(page.contains("Chiusa"), "{page}");
    assert!(page.contains("abbiamo verificato"));
    assert!(
        !page.contains("Nota interna riservata"),
        "internal notes never shown"
    );
    assert!(!page.contains("Operatore"), "operators' names never shown");
    let r = citizen.post(
        &link,
        &format!("{link}/non-soddisfatto"),
        &[("motivo", "Il problema non è stato risolto.")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        d.db()
            .query_row(
                &format!(
                    "SELECT state, reopen_count, needs_attention FROM tickets WHERE id = {id}"
                ),
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                }
            )
            .unwrap(),
        ("answered".to_string(), 1, 1)
    );
    assert_eq!(
        d.count("SELECT count(*) FROM citizen_feedback WHERE satisfied = 0"),
        1
    );

    // A wrong or shortened link is a 404, like any unknown page.
    let secret = link.trim_start_matches("/pratica/").to_string();
    let flipped = {
        let mut s = secret.clone();
        let last = if s.ends_with('0') { "1" } else { "0" };
        s.replace_range(63..64, last);
        s
    };
    assert_eq!(citizen.get(&format!("/pratica/{flipped}")).status, 404);
    assert_eq!(
        citizen.get(&format!("/pratica/{}", &secret[..40])).status,
        404
    );
    assert_eq!(citizen.get("/pratica/").status, 404);
    // A form with the right link but another page's token is refused.
    let r = citizen.post_raw(
        &format!("{link}/messaggio"),
        &[
            ("_csrf", &ascolto::citizen_link::page_csrf(&flipped)),
            ("testo", "x"),
        ],
    );
    assert_eq!(r.status, 403);

    // The link is never exported nor logged.
    let (ok, export, _) = run(&d, &["export", "tickets", "--format", "json"]);
    assert!(ok);
    assert!(!export.contains(&secret));
    let (ok, citizen_export, _) = run(&d, &["export", "citizen", CITIZEN]);
    assert!(ok);
    assert!(!citizen_export.contains(&secret));
    assert!(citizen_export.contains("/pratica/…"));
    assert!(!d.log().contains(&secret));

    // After anonymisation the link opens nothing.
    d.act(|c, n| ascolto::workflow::close(c, n, &op, id, ascolto::domain::Outcome::Accolto));
    ascolto::store::open(&d.db_path())
        .unwrap()
        .execute(
            &format!(
                "UPDATE tickets SET closed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 days') WHERE id = {id}"
            ),
            [],
        )
        .unwrap();
    let (ok, said, err) = run(&d, &["anonymise", "--after-days", "2"]);
    assert!(ok, "{said} {err}");
    assert_eq!(citizen.get(&link).status, 404);
    assert_eq!(d.count("SELECT count(*) FROM citizen_links"), 0);
}

/// Not an assertion (timing assertions are flaky on a shared machine): how long a right link,
/// a wrong one and a malformed one take, for the note. `cargo nextest run --test intake
/// timing --no-capture`.
#[test]
fn timing_of_right_and_wrong_links() {
    let servers = MailServers::start();
    let d = running(&servers);
    servers.send_complaint(CITIZEN, "Attesa", "Ho atteso.");
    let ack = servers.wait_for_mail(CITIZEN, 1).remove(0);
    let link = link_in(&ack);
    let secret = link.trim_start_matches("/pratica/").to_string();
    let wrong = format!("/pratica/{}", "0".repeat(64));
    let short = format!("/pratica/{}", &secret[..20]);
    let client = Client::new(&d.base_url());
    // 25 of each (the per-address limit is 30 a minute), interleaved.
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..9 {
        for (i, path) in [&link, &wrong, &short].iter().enumerate() {
            let t = Instant::now();
            let r = client.get(path);
            times[i].push(t.elapsed());
            assert!(matches!(r.status, 200 | 404), "{}", r.status);
        }
    }
    for (name, mut t) in ["right", "wrong", "short"].into_iter().zip(times) {
        t.sort();
        println!("link {name}: median {:?}, min {:?}", t[t.len() / 2], t[0]);
    }
    // Past the per-address limit: refused, whatever the link.
    let mut refused = false;
    for _ in 0..10 {
        refused |= client.get(&wrong).status == 503;
    }
    assert!(refused, "the per-address limit holds");
    let _ = csrf_of;
}

fn public_office(servers: &MailServers) -> Daemon {
    let mut d = Daemon::new(|db| {
        format!(
            "{}\n[public]\nform = true\nmin_fill_secs = 2\nper_address_per_hour = 2\n",
            servers.config(db, "")
        )
    });
    d.start();
    d
}

/// The public form's own token, from its page.
fn form_token(c: &Client) -> String {
    let page = c.get("/segnala").text();
    let start = page.find("name=\"_token\" value=\"").expect("a form token") + 21;
    page[start..].split('"').next().unwrap().to_string()
}

fn public_fields<'a>(token: &'a str, honeypot: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_token", token),
        ("sito_web", honeypot),
        ("nome", "Anna Neri"),
        ("email", CITIZEN),
        ("tipologia", "reclamo"),
        ("testo", "Il parcheggio è sempre pieno."),
        ("consenso", "1"),
    ]
}

#[test]
fn the_public_form_refuses_scripts_and_floods_and_stores_nothing() {
    let servers = MailServers::start();
    let d = public_office(&servers);
    let mut c = Client::new(&d.base_url());
    let tickets = || d.count("SELECT count(*) FROM tickets");

    // No token at all, or a made-up one.
    let r = c.post_raw("/segnala", &public_fields("", "")[1..]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = c.post_raw("/segnala", &public_fields("1.2.3", ""));
    assert_eq!(r.status, 403);
    // Too fast: sent back at once.
    let token = form_token(&c);
    let r = c.post_raw("/segnala", &public_fields(&token, ""));
    assert_eq!(r.status, 403);
    assert!(r.text().contains("troppo in fretta"));
    // The honeypot filled, after a person's time.
    let token = form_token(&c);
    std::thread::sleep(Duration::from_millis(2100));
    let r = c.post_raw("/segnala", &public_fields(&token, "http://spam.example"));
    assert_eq!(r.status, 403);
    assert_eq!(tickets(), 0, "nothing stored");

    // Two accepted from this address in an hour; the third refused; each token once.
    let tokens: Vec<String> = (0..4).map(|_| form_token(&c)).collect();
    std::thread::sleep(Duration::from_millis(2100));
    for t in &tokens[..2] {
        let r = c.post_raw("/segnala", &public_fields(t, ""));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("Segnalazione ricevuta"));
    }
    let r = c.post_raw("/segnala", &public_fields(&tokens[0], ""));
    assert_eq!(r.status, 403, "a token is good once");
    let r = c.post_raw("/segnala", &public_fields(&tokens[2], ""));
    assert_eq!(r.status, 429);
    assert_eq!(tickets(), 2);
    assert_eq!(
        d.count("SELECT count(*) FROM tickets WHERE channel = 'web'"),
        2
    );
    // The routing rules classify them as they classify mail.
    assert_eq!(
        d.count(
            "SELECT count(*) FROM tickets t JOIN categories k ON k.id = t.category_id
             JOIN ticket_field_sources f ON f.ticket_id = t.id AND f.field = 'category'
             WHERE k.code = 'STR.01' AND f.source = 'rule'"
        ),
        2
    );

    // Until the address is confirmed only the acknowledgement goes to it.
    let op_id = d.add_user_with_password("operator@hospital.test", "operator", PASSWORD);
    let op = ascolto::domain::Actor {
        id: op_id,
        name: "Operatore".into(),
        role: ascolto::domain::Role::Operator,
    };
    let id: i64 = d
        .db()
        .query_row("SELECT min(id) FROM tickets", [], |r| r.get(0))
        .unwrap();
    d.act(|conn, n| ascolto::workflow::view(conn, n, &op, id));
    assert_eq!(
        d.count(&format!(
            "SELECT count(*) FROM outbox WHERE ticket_id = {id} AND kind = 'in_charge'
               AND state = 'suppressed' AND last_error LIKE '%not confirmed%'"
        )),
        1
    );
    let mut page = Client::sign_in(&d.base_url(), "operator@hospital.test", PASSWORD);
    let number: String = d
        .db()
        .query_row(
            &format!("SELECT number FROM tickets WHERE id = {id}"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(page
        .get_mut(&format!("/reclami/{number}"))
        .text()
        .contains("e-mail non confermata"));
}
