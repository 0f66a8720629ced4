//! The backoffice over HTTP, as browsers and attackers reach it: the real daemon, its real
//! database, every route tried by every role (and the same matrix in-process, through
//! `Router::oneshot`).

mod common;

use common::complaint;
use common::http::{csrf_of, office, office_in_process, office_with, Client, Office, PASSWORD};
use common::matrix;

fn complaints(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            complaint(
                &format!("cittadino{i}@example.test"),
                &format!("Reclamo numero {i}"),
                "Attesa di sei ore in pronto soccorso.",
            )
        })
        .collect()
}

fn matrix_office(web: &str) -> Office {
    office_with(&matrix::messages(), web)
}

fn matrix_in_process(web: &str) -> Office {
    office_in_process(&matrix::messages(), web)
}

#[test]
fn every_route_checks_every_role() {
    matrix::every_route_checks_every_role(&matrix_office(""));
}

#[test]
fn every_route_checks_every_role_when_viewers_see_content() {
    matrix::every_route_checks_every_role_when_viewers_see_content(&matrix_office(
        "viewer_sees_content = true",
    ));
}

/// The same matrix through `Router::oneshot`: the handlers and their guard without a daemon.
#[test]
fn every_route_checks_every_role_in_process() {
    matrix::every_route_checks_every_role(&matrix_in_process(""));
}

#[test]
fn every_route_checks_every_role_in_process_when_viewers_see_content() {
    matrix::every_route_checks_every_role_when_viewers_see_content(&matrix_in_process(
        "viewer_sees_content = true",
    ));
}

#[test]
fn forms_need_their_token_and_their_origin() {
    let o = office(&complaints(1));
    let number = &o.tickets[0];
    let mut c = o.sign_in("operator");
    let page = c.get(&format!("/reclami/{number}")).text();
    let token = csrf_of(&page).unwrap();
    let note = format!("/reclami/{number}/nota");
    let notes = || o.daemon.count("SELECT count(*) FROM notes");

    assert_eq!(c.post_raw(&note, &[("testo", "senza token")]).status, 403);
    assert_eq!(
        c.post_raw(
            &note,
            &[("_csrf", "0".repeat(64).as_str()), ("testo", "token falso")]
        )
        .status,
        403
    );
    c.origin = Some("http://evil.example.test".into());
    assert_eq!(
        c.post_raw(&note, &[("_csrf", &token), ("testo", "altra origine")])
            .status,
        403
    );
    c.origin = None;
    assert_eq!(
        c.post_raw(&note, &[("_csrf", &token), ("testo", "nessuna origine")])
            .status,
        403
    );
    assert_eq!(notes(), 0, "no refused form changed anything");
    c.origin = Some(o.url());
    assert_eq!(
        c.post_raw(&note, &[("_csrf", &token), ("testo", "giusto")])
            .status,
        303
    );
    assert_eq!(notes(), 1);

    // Another user's token is not this session's.
    let admin = o.sign_in("admin");
    let home = admin.get("/");
    let admin_token = csrf_of(&home.text())
        .unwrap_or_else(|| panic!("{} {:?} {}", home.status, home.location, home.text()));
    assert_eq!(
        c.post_raw(&note, &[("_csrf", &admin_token), ("testo", "token altrui")])
            .status,
        403
    );

    // The sign-in form has its own token, tied to its cookie.
    let mut stranger = Client::new(&o.url());
    let r = stranger.post_raw(
        "/accedi",
        &[
            ("_csrf", "abc"),
            ("email", "operator@hospital.test"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn sessions_are_safe_cookies_that_end() {
    let o = office(&complaints(1));
    let mut c = Client::new(&o.url());
    c.get_mut("/accedi");
    let r = c.try_sign_in("operator@hospital.test", PASSWORD);
    assert_eq!(r.status, 303);
    let cookie = r.headers["set-cookie"]
        .iter()
        .find(|c| c.starts_with("ascolto_sessione="))
        .unwrap()
        .clone();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "base_url is http here");
    let before = c.cookies["ascolto_sessione"].clone();
    assert_eq!(c.get("/").status, 200);
    // Signing in again (a new day, the same browser) makes a new session.
    c.cookies.remove("ascolto_sessione");
    assert_eq!(
        c.try_sign_in("operator@hospital.test", PASSWORD).status,
        303
    );
    assert_ne!(c.cookies["ascolto_sessione"], before);
    // The database holds no session secret.
    let stored: i64 = o.daemon.count(&format!(
        "SELECT count(*) FROM sessions WHERE id_hash = '{}'",
        c.cookies["ascolto_sessione"]
    ));
    assert_eq!(stored, 0);
    // Logging out ends it for good, even for a stolen copy of the cookie.
    let stolen = c.cookies.clone();
    assert_eq!(c.post("/", "/esci", &[]).status, 303);
    let mut thief = Client::new(&o.url());
    thief.cookies = stolen;
    assert_eq!(thief.get("/").status, 303);
    // A disabled user is signed out at once.
    let c = o.sign_in("viewer");
    let out = o
        .daemon
        .command()
        .args(["user", "disable", "viewer@hospital.test"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        c.get("/reclami").location.as_deref(),
        Some("/accedi?dopo=/reclami")
    );
}

#[test]
fn failed_sign_ins_are_throttled_without_locking_out_for_long() {
    let o = office(&complaints(1));
    let mut c = Client::new(&o.url());
    for _ in 0..5 {
        assert_eq!(
            c.try_sign_in("operator@hospital.test", "sbagliata").status,
            401
        );
    }
    // The sixth attempt waits, even with the right password…
    let r = c.try_sign_in("operator@hospital.test", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("Troppi tentativi"));
    // …another account is not affected, and unknown accounts answer like wrong passwords.
    assert_eq!(c.try_sign_in("nessuno@hospital.test", "x").status, 401);
    assert_eq!(
        Client::new(&o.url())
            .try_sign_in("admin@hospital.test", PASSWORD)
            .status,
        303
    );
    assert!(
        o.daemon
            .count("SELECT count(*) FROM audit_log WHERE action = 'user.login_failed'")
            >= 6
    );
}

/// A ticket written by an attacker: script tags, event handlers and javascript: links in the
/// subject, the name, the body (plain and HTML) and an attachment's name.
fn hostile() -> Vec<u8> {
    let mut m = String::new();
    m.push_str("From: \"<script>alert('nome')</script>\" <evil@example.test>\r\n");
    m.push_str("To: urp@hospital.test\r\n");
    m.push_str("Subject: <script>alert('oggetto')</script><img src=x onerror=alert(1)>\r\n");
    m.push_str("Message-ID: <hostile-1@example.test>\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    m.push_str("--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
    m.push_str("<p>Pagina <a href=\"javascript:alert('link')\">clicca</a></p><img src=\"http://tracker.example.test/p.gif\" onerror=\"alert(2)\"><script>alert('corpo')</script>\r\n");
    m.push_str("--b\r\nContent-Type: text/html; name=\"<script>x</script>.html\"\r\nContent-Disposition: attachment; filename=\"<script>x</script>.html\"\r\n\r\n");
    m.push_str("<html><script>alert('allegato')</script></html>\r\n");
    m.push_str("--b--\r\n");
    m.into_bytes()
}

#[test]
fn hostile_content_renders_inert() {
    // Viewers read contents here, so that both kinds of page meet the hostile text.
    let o = office_with(&[hostile()], "viewer_sees_content = true");
    let number = &o.tickets[0];
    for role in ["viewer", "operator"] {
        let c = o.sign_in(role);
        for path in [
            "/".to_string(),
            "/reclami".to_string(),
            format!("/reclami/{number}"),
        ] {
            let r = c.get(&path);
            assert_eq!(r.status, 200);
            let html = r.text();
            // Escaped text has no raw '<': every '<' opens a tag the backoffice wrote.
            for tag in html
                .split('<')
                .skip(1)
                .map(|t| t.split('>').next().unwrap().to_lowercase())
            {
                assert!(
                    !tag.starts_with("script") && !tag.starts_with("img"),
                    "{path}: <{tag}> got through"
                );
                assert!(
                    !tag.contains("onerror") && !tag.contains("javascript:"),
                    "{path}: <{tag}> got through"
                );
            }
            let csp = r.header("content-security-policy").unwrap();
            assert!(
                csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        }
        let page = c.get(&format!("/reclami/{number}")).text();
        assert!(
            page.contains("&lt;script&gt;alert('oggetto')&lt;/script&gt;"),
            "the subject is shown, escaped"
        );
        assert!(page.contains("clicca"), "the HTML body is shown as text");
        // The attachment is a download, never a page.
        let link_at = page.find("/allegati/").expect("attachment link");
        let link: String = page[link_at..].chars().take_while(|c| *c != '"').collect();
        let r = c.get(&format!("/reclami/{number}{link}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        let disposition = r.header("content-disposition").unwrap();
        assert!(
            disposition.starts_with("attachment;") && !disposition.contains('<'),
            "{disposition}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.text().contains("alert('allegato')"),
            "the bytes are the attachment's"
        );
    }
}

#[test]
fn the_list_filters_searches_and_pages() {
    let mut messages = complaints(60);
    messages.push(complaint(
        "maria@example.test",
        "Parcheggio",
        "Il parcheggio multipiano era chiuso senza preavviso.",
    ));
    let o = office(&messages);
    let c = o.sign_in("operator");
    let page = c.get("/reclami?q=multipiano").text();
    assert!(page.contains("1 reclamo,"), "{page}");
    assert!(page.contains(&o.tickets[60]));
    // 61 tickets: two pages of 50, the second with 11 rows.
    let first = c.get("/reclami").text();
    assert!(first.contains("61 reclami") && first.contains("pagina=2"));
    let second = c.get("/reclami?pagina=2").text();
    assert_eq!(
        second.matches("<tr").count(),
        1 + 11,
        "header row + 11 tickets"
    );
    // Oldest first puts the first import on top.
    let oldest = c.get("/reclami?ordine=meno_recenti").text();
    let first_row = oldest.find("<tbody").unwrap();
    assert!(
        oldest[first_row..].find(&o.tickets[0]).unwrap()
            < oldest[first_row..].find(&o.tickets[1]).unwrap()
    );
    // FTS syntax typed by a person is just words.
    assert_eq!(c.get("/reclami?q=%22NEAR(%20*").status, 200);
    // Italian dates on the page.
    assert!(regex_like_date(&first), "dates are dd/mm/yyyy");
}

fn regex_like_date(html: &str) -> bool {
    html.as_bytes().windows(10).any(|w| {
        w[2] == b'/'
            && w[5] == b'/'
            && w.iter()
                .enumerate()
                .all(|(i, b)| i == 2 || i == 5 || b.is_ascii_digit())
    })
}

#[test]
fn viewers_see_no_form_that_changes_anything() {
    let o = office(&complaints(1));
    let number = &o.tickets[0];
    let c = o.sign_in("viewer");
    let page = c.get(&format!("/reclami/{number}")).text();
    assert_eq!(
        page.matches("method=\"post\"").count(),
        1,
        "only the logout form"
    );
    assert!(page.contains("action=\"/esci\""));
    let op = o.sign_in("operator");
    let page = op.get(&format!("/reclami/{number}")).text();
    assert!(page.contains("/risposta") && page.contains("/chiusura") && page.contains("/nota"));
    assert_eq!(
        o.state(number),
        "in_charge",
        "the operator's opening took it in charge"
    );
}

#[test]
fn administrators_manage_people_rules_and_quarantine() {
    let mut messages = complaints(3);
    messages.push(common::fixture("malformed.eml"));
    let o = office(&messages);
    let mut admin = o.sign_in("admin");

    // A new operator: the password is shown once, and it works.
    let r = admin.post(
        "/amministrazione/utenti",
        "/amministrazione/utenti",
        &[
            ("email", "nuova@hospital.test"),
            ("nome", "Nuova Operatrice"),
            ("ruolo", "operator"),
        ],
    );
    assert_eq!(r.status, 200);
    let page = r.text();
    let at = page
        .find("<code class=\"password\">")
        .expect("the password is shown")
        + 23;
    let password: String = page[at..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(password.len(), 20);
    Client::sign_in(&o.url(), "nuova@hospital.test", &password);
    // An administrator cannot lock themselves out.
    let me: i64 = o
        .daemon
        .db()
        .query_row(
            "SELECT id FROM users WHERE email = 'admin@hospital.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let r = admin.post(
        "/amministrazione/utenti",
        &format!("/amministrazione/utenti/{me}"),
        &[("ruolo", "viewer"), ("attivo", "1")],
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("Non puoi togliere a te stesso"),
        "{}",
        r.text()
    );

    // The rule test box: every complaint speaks of "pronto soccorso", none of "parcheggio".
    let page = admin
        .get("/amministrazione/regole?prova_campo=body&prova_espressione=pronto%5Cs%2Bsoccorso")
        .text();
    assert!(page.contains("3 reclami su 3 corrispondono"), "{page}");
    let page = admin
        .get("/amministrazione/regole?prova_campo=text&prova_espressione=parcheggio")
        .text();
    assert!(page.contains("0 reclami su 3 corrispondono"));
    let page = admin
        .get("/amministrazione/regole?prova_campo=text&prova_espressione=%28")
        .text();
    assert!(page.contains("Espressione non valida"));
    // A rule that does not compile is refused, in Italian.
    let r = admin.post(
        "/amministrazione/regole",
        "/amministrazione/regole",
        &[
            ("nome", "rotta"),
            ("campo", "text"),
            ("espressione", "(unclosed"),
            ("tipologia", "reclamo"),
            ("attiva", "1"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Espressione regolare non valida"));

    // Quarantine: an unparseable message cannot be retried into a ticket; it can be discarded.
    let q: i64 = o
        .daemon
        .db()
        .query_row("SELECT id FROM quarantine", [], |r| r.get(0))
        .unwrap();
    let r = admin.post(
        "/amministrazione/quarantena",
        &format!("/amministrazione/quarantena/{q}/riprova"),
        &[],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("non può ancora diventare un reclamo"));
    let raw = admin.get(&format!("/amministrazione/quarantena/{q}/originale"));
    assert_eq!(
        raw.body,
        common::fixture("malformed.eml"),
        "the original, byte for byte"
    );
    // Discarding asks first (issue 18), then discards and says so.
    let r = admin.post(
        "/amministrazione/quarantena",
        &format!("/amministrazione/quarantena/{q}/scarta"),
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Sì, scarta il messaggio"));
    let r = admin.post(
        "/amministrazione/quarantena",
        &format!("/amministrazione/quarantena/{q}/scarta"),
        &[("confermato", "1")],
    );
    assert_eq!(r.status, 303);
    let to = r.location.unwrap();
    assert!(to.ends_with("?fatto=scartato#fatto"), "{to}");
    let page = admin.get(&to).text();
    assert!(
        page.contains("role=\"status\"") && page.contains("Messaggio scartato."),
        "the page says what was done: {page}"
    );
    assert!(admin
        .get("/amministrazione/quarantena")
        .text()
        .contains("Nessun messaggio in quarantena"));
    assert!(o.daemon.count("SELECT count(*) FROM audit_log WHERE action LIKE 'quarantine.%' AND actor LIKE 'user:%'") >= 3);
}

#[test]
fn statistics_are_for_every_signed_in_role_and_the_csv_matches_the_page() {
    let o = office(&complaints(4));
    let year = o.tickets[0][4..8].to_string();
    let anonymous = Client::new(&o.url());
    let r = anonymous.get(&format!("/statistiche?periodo=anno&anno={year}"));
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/accedi"));
    assert_eq!(anonymous.get("/statistiche.csv").status, 303);
    for role in ["viewer", "operator", "admin"] {
        let c = o.sign_in(role);
        let page = c.get(&format!("/statistiche?periodo=anno&anno={year}"));
        assert_eq!(page.status, 200, "{role}");
        let html = page.text();
        assert!(
            html.contains("<svg") && html.contains("id=\"tabella-mesi\""),
            "{role}: charts and tables"
        );
        assert_eq!(
            c.get(&format!("/statistiche/relazione?anno={year}")).status,
            200
        );
    }
    let c = o.sign_in("viewer");
    let html = c
        .get(&format!("/statistiche?periodo=anno&anno={year}"))
        .text();
    assert!(
        html.contains("<strong>4</strong> reclami ricevuti"),
        "{html}"
    );
    // The kinds table on the page and in the CSV say the same.
    let csv = c.get(&format!(
        "/statistiche.csv?periodo=anno&anno={year}&tabella=tipologie"
    ));
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    assert!(
        csv.body.starts_with("\u{feff}".as_bytes()),
        "a BOM for Excel"
    );
    let text = csv.text();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Tipologia;Numero;%");
    let table_at = html.find("id=\"tabella-tipologie\"").unwrap();
    let table = &html[table_at..table_at + html[table_at..].find("</table>").unwrap()];
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(';').collect();
        let row = format!(
            "<th scope=\"row\">{}</th><td>{}</td><td>{}</td>",
            cells[0], cells[1], cells[2]
        );
        assert!(table.contains(&row), "{row} is not on the page: {table}");
    }
    let rfc = c
        .get(&format!(
            "/statistiche.csv?periodo=anno&anno={year}&tabella=tipologie&formato=rfc4180"
        ))
        .text();
    assert!(
        rfc.starts_with("Tipologia,Numero,%") && rfc.contains("Reclamo,"),
        "{rfc}"
    );
    // The command line gives the same figures.
    let out = o
        .daemon
        .command()
        .args(["export", "stats", "--year", &year, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["total"], 4);
    // A change the statistics count shows at once (computed reports are kept only while
    // nothing they count changes).
    let closed_now = |c: &Client| -> String {
        let csv = c
            .get(&format!(
                "/statistiche.csv?periodo=anno&anno={year}&tabella=stati"
            ))
            .text();
        csv.lines()
            .find(|l| l.starts_with("Chiuso;"))
            .unwrap()
            .to_string()
    };
    assert_eq!(closed_now(&c), "Chiuso;0;0,0");
    let mut op = o.sign_in("operator");
    let number = &o.tickets[0];
    let r = op.post(
        &format!("/reclami/{number}"),
        &format!("/reclami/{number}/chiusura"),
        &[("esito", "accolto"), ("confermato", "1")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(closed_now(&c), "Chiuso;1;25,0");
    // A bad period is a clear refusal, not a crash.
    assert_eq!(
        c.get("/statistiche?periodo=intervallo&dal=2026-05-01&al=2026-04-01")
            .status,
        422
    );
}

/// Issue 18: an answer whose session ended while it was written is kept as a draft, and put
/// back in the form after signing in again; a form with another session's token keeps nothing.
#[test]
fn an_answer_sent_after_the_session_ended_is_kept_as_a_draft() {
    let o = office(&complaints(1));
    let number = &o.tickets[0];
    let page = format!("/reclami/{number}");
    let mut op = o.sign_in("operator");
    let token = csrf_of(&op.get_mut(&page).text()).unwrap();
    // The operator writes for three hours: the session ends (idle for longer than allowed).
    let db = o.db_rw();
    db.execute(
        "UPDATE sessions SET last_seen_at = '2020-01-01T00:00:00Z'",
        [],
    )
    .unwrap();
    let drafts = || -> i64 {
        db.query_row("SELECT count(*) FROM kept_answers", [], |r| r.get(0))
            .unwrap()
    };

    // Another session's token: refused as before, nothing kept.
    let r = op.post_raw(
        &format!("{page}/risposta"),
        &[
            ("_csrf", "0".repeat(64).as_str()),
            ("testo", "Testo estraneo"),
        ],
    );
    assert_eq!(r.status, 403);
    assert_eq!(drafts(), 0);

    let r = op.post_raw(
        &format!("{page}/risposta"),
        &[
            ("_csrf", token.as_str()),
            ("testo", "Gentile signora, la bozza lunga."),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.location.unwrap();
    assert!(to.starts_with("/accedi?bozza=1&dopo="), "{to}");
    assert_eq!(drafts(), 1);
    assert!(op
        .get(&to)
        .text()
        .contains("il testo che avevi scritto è stato conservato come bozza"));
    assert_eq!(o.state(number), "in_charge", "nothing was sent");

    // Signed in again: the ticket's answer form holds the draft.
    let mut op = o.sign_in("operator");
    let html = op.get_mut(&page).text();
    assert!(html.contains("Bozza recuperata"), "{html}");
    assert!(
        html.contains(">Gentile signora, la bozza lunga.</textarea>"),
        "{html}"
    );
    // Another operator does not see it.
    assert!(!o
        .sign_in("admin")
        .get(&page)
        .text()
        .contains("la bozza lunga"));

    let r = op.post(
        &page,
        &format!("{page}/risposta"),
        &[("testo", "Gentile signora, la bozza lunga.")],
    );
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().ends_with("?fatto=risposta#fatto"));
    assert_eq!(drafts(), 0, "sent: the draft is forgotten");
    assert_eq!(
        o.daemon
            .count("SELECT count(*) FROM audit_log WHERE action = 'ticket.draft_kept'"),
        1
    );
}
