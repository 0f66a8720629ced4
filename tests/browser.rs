//! An operator's day in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver), against the real daemon, Dovecot and Postfix. Screenshots of the dashboard,
//! the list and the ticket are saved under `target/test-artifacts/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::Client;
use common::{Daemon, MailServers, PATIENCE};
use serde_json::{json, Value};

const CITIZEN: &str = "citizen@example.test";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver's keys.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// axe-core, installed from npm by deploy/test.sh into `target/test-deps` (or `AXE_CORE_JS`).
fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            common::repo().join("target/test-deps/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: install axe-core as deploy/test.sh does \
             (npm install --prefix target/test-deps axe-core@4)",
            path.display()
        )
    })
}

/// A chromedriver process and one browser session; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    fn start() -> Browser {
        // chromedriver binds the port itself: see `spare_ports` for how the choice is made safe.
        let port = common::spare_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed by deploy/test.sh");
        let base = format!("http://127.0.0.1:{port}");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build();
        let deadline = Instant::now() + PATIENCE;
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1100", "--lang=it-IT"]
            }
        }}});
        let resp: Value = agent
            .post(&format!("{base}/session"))
            .send_json(caps)
            .expect("a Chromium session")
            .into_json()
            .unwrap();
        let session = resp["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            base,
            session,
            agent,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.agent.request(method, &url);
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match resp {
            Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(code, r)) => panic!(
                "WebDriver {method} {path}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The text of an element, or None while the page is changing under it (a form just
    /// submitted: the element found may belong to the page being left).
    fn try_text(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}", self.base, self.session);
        let found: Value = self
            .agent
            .post(&format!("{url}/element"))
            .send_json(json!({ "using": "css selector", "value": css }))
            .ok()?
            .into_json()
            .ok()?;
        let e = found["value"][ELEMENT].as_str()?.to_string();
        let v: Value = self
            .agent
            .get(&format!("{url}/element/{e}/text"))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        v["value"].as_str().map(str::to_string)
    }

    /// Runs `script` in the page and returns what it returns.
    fn exec(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Presses keys on whatever has the focus, as a person at the keyboard would ([`TAB`],
    /// [`ENTER`], or text).
    fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({ "type": "keyDown", "value": c }),
                    json!({ "type": "keyUp", "value": c }),
                ]
            })
            .collect();
        self.call(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "tastiera", "actions": actions }] })),
        );
    }

    /// What has the focus: its id, or its tag and text when it has none.
    fn focused(&self) -> String {
        self.exec(
            "const e = document.activeElement; if (!e) return ''; \
             return e.id || (e.tagName.toLowerCase() + ':' + (e.textContent || '').trim());",
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Tab until `wanted(focused)` holds; how many presses it took.
    fn tab_to(&self, what: &str, wanted: impl Fn(&str) -> bool) -> usize {
        for n in 1..=80 {
            self.keys(TAB);
            if wanted(&self.focused()) {
                return n;
            }
        }
        panic!("80 Tab presses did not reach {what}");
    }

    fn title(&self) -> String {
        self.call("GET", "/title", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The page as a phone shows it: `width` × `height` CSS pixels, a mobile viewport.
    fn viewport(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": true
                }}),
            ),
        );
    }

    fn desktop(&self) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": "Emulation.clearDeviceMetricsOverride", "params": {} })),
        );
    }

    /// Whether the page is wider than the window (it would scroll sideways): scroll width and
    /// inner width.
    fn widths(&self) -> (i64, i64) {
        let v = self.exec("return [document.documentElement.scrollWidth, window.innerWidth];");
        (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
    }

    /// axe-core's WCAG 2.1 A and AA violations on this page, one line each.
    fn axe(&self, source: &str) -> Vec<String> {
        self.exec(&format!("{source}\n;return true;"));
        self.call("POST", "/timeouts", Some(json!({ "script": 120_000 })));
        let found = self.call(
            "POST",
            "/execute/async",
            Some(json!({ "script": "const done = arguments[arguments.length - 1];
                axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                  .then(r => done({ passes: r.passes.length, violations: r.violations.map(v => v.id + ' (' + v.impact + '): ' +
                      v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')) }))
                  .catch(e => done({ passes: 0, violations: ['axe failed: ' + e] }));", "args": [] })),
        );
        // A run that checked nothing would find nothing: axe must have passed some rules.
        assert!(
            found["passes"].as_u64().unwrap_or(0) > 5,
            "axe-core ran: {found}"
        );
        found["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = common::repo().join("target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = s.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | d << (18 - 6 * i));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ok() {
        assert!(Instant::now() < deadline, "waited for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_operator_finds_answers_and_closes_a_complaint_in_chromium() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    Client::wait_ready(&d.base_url());
    // Other complaints around it, so that the search has something to leave out.
    servers.send_complaint("altro@example.test", "Mensa", "Il pasto era freddo.");
    servers.send_complaint(
        CITIZEN,
        "Ascensore fermo",
        "L'ascensore del padiglione B è rimasto guasto per tre giorni: mia madre non poteva scendere.",
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    let number: String = d
        .db()
        .query_row(
            "SELECT number FROM tickets WHERE subject = 'Ascensore fermo'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    d.add_user_with_password(
        "operatrice@hospital.test",
        "operator",
        "password-della-operatrice",
    );

    // The whole path at the keyboard: sign in, search, open, answer, close (issue 18).
    let b = Browser::start();
    b.go(&format!("{}/reclami", d.base_url()));
    assert!(b.url().contains("/accedi"), "a stranger is sent to sign in");
    assert_eq!(
        b.focused(),
        "email",
        "the sign-in page starts on its first field"
    );
    b.keys("operatrice@hospital.test");
    b.keys(TAB);
    assert_eq!(b.focused(), "password");
    b.keys("password-della-operatrice");
    b.keys(ENTER);
    wait_until("the list after signing in", || {
        b.url().ends_with("/reclami")
    });

    b.go(&format!("{}/", d.base_url()));
    assert_eq!(b.text("main h1"), "Cruscotto");
    let shot = b.screenshot("backoffice-cruscotto.png");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    // Find it by a word of its body: the search field comes a few Tab presses after the
    // page's start, the filters are folded behind «Filtri».
    b.go(&format!("{}/reclami", d.base_url()));
    let presses = b.tab_to("the search field", |f| f == "q");
    println!("Tab presses from the top of Reclami to the search field: {presses}");
    assert!(presses <= 8, "{presses} Tab presses to the search field");
    b.keys("padiglione");
    b.keys(ENTER);
    wait_until("the search results", || b.url().contains("q=padiglione"));
    assert!(b.text("main p[role=status]").starts_with("1 reclamo"));
    let rows = b.text("table.tickets tbody");
    assert!(rows.contains(&number) && !rows.contains("Mensa"), "{rows}");
    b.screenshot("backoffice-reclami.png");
    let presses = b.tab_to("the result", |f| f.starts_with("a:") && f.contains(&number));
    println!("Tab presses from the top of the results to the first result: {presses}");
    assert!(presses <= 14, "{presses} Tab presses to the result");
    b.keys(ENTER);
    wait_until("the ticket page", || b.url().ends_with(&number));
    assert!(
        b.text("main").contains("Presa in carico"),
        "opening it took it in charge"
    );
    assert!(
        b.text("header.top").contains("Sessione attiva fino alle"),
        "the page says when the session ends"
    );
    b.screenshot("backoffice-reclamo.png");

    b.tab_to("the answer", |f| f == "risposta");
    b.keys("Gentile signora, l'ascensore è stato riparato e verificato. Ci scusiamo.");
    // Past the answer's file field (issue 19) to its button.
    b.tab_to("the send button", |f| f == "button:Invia risposta");
    b.keys(ENTER);
    wait_until("the confirmation of the answer", || {
        b.url().contains("fatto=risposta")
    });
    // The confirmation has the focus, so a screen reader reads it out, and is a status.
    assert_eq!(b.focused(), "fatto", "the focus moves to the confirmation");
    assert_eq!(b.text("#fatto"), format!("Risposta inviata a {CITIZEN}."));
    assert_eq!(
        b.exec("return document.getElementById('fatto').getAttribute('role')"),
        "status"
    );
    assert!(b.text("p.subject-line").contains("In attesa di risposta"));
    let state = |d: &Daemon| -> String {
        d.db()
            .query_row(
                "SELECT state FROM tickets WHERE number = ?1",
                [&number],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(state(&d), "answered");
    assert!(
        b.text("main").contains("l'ascensore è stato riparato"),
        "the answer is in the thread"
    );

    // The answer reached the citizen's mailbox (after the acknowledgement and the in-charge notice).
    let mails = servers.wait_for_mail(CITIZEN, 3);
    assert!(
        mails
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("riparato")
                || mail_parser::MessageParser::default()
                    .parse(m)
                    .and_then(|p| p.body_text(0).map(|t| t.contains("riparato")))
                    .unwrap_or(false)),
        "the citizen got the answer"
    );

    // Closing mails the citizen: it asks first.
    b.tab_to("the outcome", |f| f == "esito");
    b.keys("\u{E015}"); // ArrowDown: the first outcome, «Accolto»
    b.keys(TAB);
    assert_eq!(b.focused(), "button:Chiudi il reclamo…");
    b.keys(ENTER);
    wait_until("the confirmation step", || {
        b.title().starts_with("Chiudere il reclamo")
    });
    let asked = b.text("main");
    assert!(asked.contains("Esito: accolto"), "{asked}");
    assert_eq!(state(&d), "answered", "nothing closed before confirming");
    assert_eq!(
        b.focused(),
        "button:Sì, chiudi il reclamo",
        "the confirmation step starts on its button"
    );
    b.keys(ENTER);
    wait_until("the closed state", || b.url().contains("fatto=chiusura"));
    assert_eq!(b.focused(), "fatto");
    assert!(b.text("#fatto").starts_with("Reclamo chiuso"));
    assert!(b.text("p.subject-line").contains("Chiuso"));
    assert_eq!(state(&d), "closed");
    let outcome: String = d
        .db()
        .query_row(
            "SELECT outcome FROM tickets WHERE number = ?1",
            [&number],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "accolto");
    b.screenshot("backoffice-reclamo-chiuso.png");
}

#[test]
fn the_statistics_render_with_charts_in_chromium() {
    let mut d = Daemon::new(|db| {
        format!(
            "[database]\npath = \"{}\"\n\n[smtp]\nfrom_address = \"urp@hospital.test\"\nfile_dir = \"{}\"\n",
            db.display(),
            db.parent().unwrap().join("sent").display()
        )
    });
    let out = d
        .command()
        .args(["generate-demo", "--tickets", "3000", "--years", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.add_user_with_password("asl@hospital.test", "viewer", "password-della-asl");
    d.start();
    Client::wait_ready(&d.base_url());
    let year = chrono::Utc::now().format("%Y").to_string();

    let b = Browser::start();
    b.go(&format!("{}/accedi", d.base_url()));
    b.type_into("#email", "asl@hospital.test");
    b.type_into("#password", "password-della-asl");
    b.click("main form button[type=submit]");
    wait_until("signed in", || !b.url().contains("/accedi"));

    b.go(&format!(
        "{}/statistiche?periodo=mese&anno={year}&mese=1",
        d.base_url()
    ));
    assert!(b.text("main h1").starts_with("Statistiche"));
    b.find("svg#grafico-categorie, svg[aria-labelledby=\"grafico-categorie-t\"]");
    assert!(
        b.text("#tabella-categorie").contains("TEM"),
        "the categories table"
    );
    b.screenshot("statistiche-mese.png");

    b.go(&format!(
        "{}/statistiche?periodo=anno&anno={year}",
        d.base_url()
    ));
    b.find("svg[aria-labelledby=\"grafico-mesi-t\"]");
    b.find("svg[aria-labelledby=\"grafico-esiti-t\"]");
    // Each chart is described by its table, under its own heading; last year's line and its
    // legend are dashed, not only another colour.
    assert_eq!(
        b.exec("return document.querySelector('svg[aria-labelledby=\"grafico-mesi-t\"]').getAttribute('aria-describedby')"),
        "tabella-mesi"
    );
    assert_eq!(
        b.exec("return document.querySelector('#tabella-mesi').closest('section').querySelector('h2').textContent"),
        "Andamento mese per mese"
    );
    assert_eq!(
        b.exec("const s = document.querySelectorAll('svg[aria-labelledby=\"grafico-mesi-t\"] line.swatch'); \
                return [s[0].getAttribute('stroke-dasharray'), s[1].getAttribute('stroke-dasharray')];"),
        json!(["none", "6 4"])
    );
    let months = b.text("#tabella-mesi");
    assert!(
        months.contains("gennaio") && months.contains("Totale anno"),
        "{months}"
    );
    let shot = b.screenshot("statistiche-anno.png");
    assert!(std::fs::metadata(shot).unwrap().len() > 20_000);

    b.go(&format!(
        "{}/statistiche/relazione?anno={year}",
        d.base_url()
    ));
    assert!(b
        .text("main h1")
        .contains(&format!("Relazione annuale sui reclami – {year}")));
    let sections = b.exec("return document.querySelectorAll('main section > h2').length");
    assert!(
        sections.as_u64().unwrap() >= 7,
        "a heading per section: {sections}"
    );
    b.screenshot("relazione-annuale.png");
}

/// Issue 15: the public form (`/segnala`) in Chromium, with no JavaScript: filled, sent, the
/// acknowledgement read over IMAP, its link opened (which confirms the address).
#[test]
fn a_citizen_sends_the_public_form_and_confirms_by_the_link_in_chromium() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| {
        format!(
            "{}\n[public]\nform = true\nmin_fill_secs = 2\n",
            servers.config(db, "")
        )
    });
    d.start();
    Client::wait_ready(&d.base_url());
    let b = Browser::start();
    b.go(&format!("{}/segnala", d.base_url()));
    assert_eq!(b.text("main h1"), "Segnalazione all'URP");
    b.type_into("#nome", "Anna Neri");
    b.type_into("#email", CITIZEN);
    b.type_into("#telefono", "333 9876543");
    b.click("#tipologia option[value=\"segnalazione\"]");
    b.type_into("#oggetto", "Parcheggio");
    b.type_into(
        "#testo",
        "Il parcheggio dei disabili davanti al padiglione C è sempre occupato.",
    );
    // A scanned document, chosen in the file field.
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("referto è.pdf");
    let pdf = b"%PDF-1.4\n\x00\x01\xff scansione\n".to_vec();
    std::fs::write(&scan, &pdf).unwrap();
    b.type_into("#allegati", scan.to_str().unwrap());
    b.click("#consenso");
    b.screenshot("segnala-compilato.png");
    // A person takes longer than the form's minimum fill time.
    std::thread::sleep(Duration::from_millis(2200));
    b.click("main form button[type=submit]");
    wait_until("the acknowledgement page", || {
        b.try_text("main h1")
            .is_some_and(|t| t == "Segnalazione ricevuta")
    });
    let shown = b.text("main [role=status]");
    let number: String = d
        .db()
        .query_row("SELECT number FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert!(shown.contains(&number), "{shown}");
    b.screenshot("segnala-ricevuta.png");
    let (channel, kind, unconfirmed): (String, String, i64) = d
        .db()
        .query_row(
            "SELECT t.channel, t.kind, c.email_unconfirmed FROM tickets t
             JOIN ticket_citizens c ON c.ticket_id = t.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (channel.as_str(), kind.as_str(), unconfirmed),
        ("web", "segnalazione", 1)
    );

    // The file is kept whole and listed like a mail's attachment.
    let (filename, size, raw, position): (String, i64, Vec<u8>, i64) = d
        .db()
        .query_row(
            "SELECT a.filename, a.size, r.bytes, a.position FROM attachments a
             JOIN messages m ON m.id = a.message_id JOIN raw_mail r ON r.id = m.raw_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (filename.as_str(), size),
        ("referto è.pdf", pdf.len() as i64)
    );
    assert_eq!(
        ascolto::mail::parse::attachment_bytes(&raw, position as usize, false).unwrap(),
        pdf
    );

    // The acknowledgement, read over IMAP, carries the link; opening it confirms the address.
    let ack = servers.wait_for_mail(CITIZEN, 1).remove(0);
    let text = mail_parser::MessageParser::default()
        .parse(&ack)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(text.contains(&number), "{text}");
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/pratica/"))
        .expect("the link to the citizen's page")
        .to_string();
    b.go(&link);
    wait_until("the citizen's page", || {
        b.try_text("main h1").is_some_and(|t| t.contains(&number))
    });
    assert!(b.text("main").contains("padiglione C"));
    b.screenshot("pratica-cittadino.png");
    assert_eq!(
        d.count("SELECT email_unconfirmed FROM ticket_citizens"),
        0,
        "opening the link confirmed the address"
    );
}
/// A daemon over the 3,000-ticket demo database, with a viewer, an operator and an
/// administrator who sign in with `password-<role>`.
fn demo_office() -> Daemon {
    let mut d = Daemon::new(|db| {
        format!(
            "[database]\npath = \"{}\"\n\n[smtp]\nfrom_address = \"urp@hospital.test\"\nfile_dir = \"{}\"\n",
            db.display(),
            db.parent().unwrap().join("sent").display()
        )
    });
    let out = d
        .command()
        .args(["generate-demo", "--tickets", "3000", "--years", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for role in ["viewer", "operator", "admin"] {
        d.add_user_with_password(
            &format!("{role}@hospital.test"),
            role,
            &format!("password-{role}"),
        );
    }
    d.start();
    Client::wait_ready(&d.base_url());
    d
}

fn sign_in(b: &Browser, d: &Daemon, role: &str) {
    b.go(&format!("{}/accedi", d.base_url()));
    b.type_into("#email", &format!("{role}@hospital.test"));
    b.type_into("#password", &format!("password-{role}"));
    b.click("main form button[type=submit]");
    wait_until("signed in", || !b.url().contains("/accedi"));
}

/// An open ticket of the demo database that no one has answered.
fn open_ticket(d: &Daemon) -> String {
    d.db()
        .query_row(
            "SELECT number FROM tickets WHERE state IN ('pending', 'in_charge') AND merged_into IS NULL
             ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn every_page_fits_a_phone_and_axe_finds_no_wcag_violation_for_any_role() {
    let d = demo_office();
    let axe = axe_source();
    let number = open_ticket(&d);
    let year = chrono::Utc::now().format("%Y").to_string();
    let base = d.base_url();
    let common_pages = vec![
        "/".to_string(),
        "/reclami".to_string(),
        "/reclami?stato=pending&da_classificare=1".to_string(),
        format!("/reclami/{number}"),
        "/statistiche".to_string(),
        format!("/statistiche?periodo=anno&anno={year}"),
        format!("/statistiche/relazione?anno={year}"),
        // Forms sent back with their errors.
        "/reclami?dal=2026-05-01&al=2026-04-01".to_string(),
        "/statistiche?periodo=intervallo&dal=2026-05-01&al=2026-04-01".to_string(),
    ];
    let admin_pages = [
        "/amministrazione",
        "/amministrazione/utenti",
        "/amministrazione/servizi",
        "/amministrazione/referenti",
        "/amministrazione/categorie",
        "/amministrazione/regole",
        "/amministrazione/classificatore",
        "/amministrazione/quarantena",
        "/amministrazione/posta",
        "/amministrazione/registro",
    ];
    let mut violations = Vec::new();
    let mut checked = 0;
    for role in ["viewer", "operator", "admin"] {
        let b = Browser::start();
        sign_in(&b, &d, role);
        let mut pages = common_pages.clone();
        if role == "admin" {
            pages.extend(admin_pages.iter().map(|p| p.to_string()));
        }
        for page in &pages {
            b.go(&format!("{base}{page}"));
            for v in b.axe(&axe) {
                violations.push(format!("{role} {page}: {v}"));
            }
            checked += 1;
        }
        if role != "viewer" {
            // The confirmation step and a form sent back, as they are shown.
            b.go(&format!("{base}/reclami/{number}"));
            b.click("#esito option[value=\"accolto\"]");
            b.click("form[action$=\"/chiusura\"] button");
            wait_until("the confirmation step", || {
                b.title().starts_with("Chiudere")
            });
            for v in b.axe(&axe) {
                violations.push(format!("{role} closing's confirmation: {v}"));
            }
            b.go(&format!("{base}/reclami/{number}"));
            b.type_into("#risposta", "   ");
            b.click("form[action$=\"/risposta/allegati\"] button");
            wait_until("the form sent back", || b.title().starts_with("Errore"));
            for v in b.axe(&axe) {
                violations.push(format!("{role} an empty answer: {v}"));
            }
            checked += 2;
        }
        // On a phone nothing scrolls sideways.
        for (w, h) in [(390, 844), (320, 640)] {
            b.viewport(w, h);
            for (name, page) in [
                ("cruscotto", "/".to_string()),
                ("reclami", "/reclami".to_string()),
                ("reclamo", format!("/reclami/{number}")),
                (
                    "statistiche",
                    format!("/statistiche?periodo=anno&anno={year}"),
                ),
            ] {
                b.go(&format!("{base}{page}"));
                let (scroll, inner) = b.widths();
                assert_eq!(inner, w as i64, "the emulated viewport");
                assert!(
                    scroll <= inner,
                    "{role} {page} at {w}×{h}: the page is {scroll} px wide in {inner} px"
                );
                if role == "operator" {
                    b.screenshot(&format!("telefono-{w}-{name}.png"));
                }
            }
        }
        b.desktop();
    }
    println!("axe-core: {checked} page × role combinations checked");
    assert!(
        violations.is_empty(),
        "WCAG 2.1 A/AA violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn errors_are_shown_on_the_form_with_what_was_typed() {
    let d = demo_office();
    let number = open_ticket(&d);
    let base = d.base_url();
    let b = Browser::start();
    sign_in(&b, &d, "operator");
    let attr = |css: &str, name: &str| -> Value {
        b.exec(&format!(
            "const e = document.querySelector('{css}'); return e ? e.getAttribute('{name}') : null;"
        ))
    };
    let value =
        |css: &str| -> Value { b.exec(&format!("return document.querySelector('{css}').value;")) };

    // An end before the start, on the list: the form says so instead of "0 reclami".
    b.go(&format!("{base}/reclami?dal=2026-05-01&al=2026-04-01"));
    assert_eq!(b.title(), "Errore: Reclami · ascolto");
    assert_eq!(b.focused(), "errori", "the error summary has the focus");
    assert_eq!(attr("#errori", "role"), "alert");
    assert_eq!(attr("#al", "aria-invalid"), "true");
    assert_eq!(attr("#al", "aria-describedby"), "al-errore");
    assert!(b
        .text("#al-errore")
        .contains("La data finale precede quella iniziale"));
    assert_eq!(value("#dal"), "2026-05-01");
    assert_eq!(value("#al"), "2026-04-01");
    assert!(!b.text("main").contains("0 reclami"));
    // The summary's link leads to the field.
    b.click("#errori a");
    assert_eq!(b.focused(), "al");

    // The same on Statistiche: the form, not a bare error page.
    b.go(&format!(
        "{base}/statistiche?periodo=intervallo&dal=2026-05-01&al=2026-04-01"
    ));
    assert_eq!(b.title(), "Errore: Statistiche · ascolto");
    assert_eq!(b.focused(), "errori");
    assert_eq!(attr("#s-al", "aria-invalid"), "true");
    assert!(b
        .text("#s-al-errore")
        .contains("La data finale precede quella iniziale"));
    assert_eq!(value("#s-dal"), "2026-05-01");
    assert_eq!(value("#s-al"), "2026-04-01");
    b.find("form.filters button[type=submit]");

    // An answer of only spaces: the ticket page again, the field marked.
    b.go(&format!("{base}/reclami/{number}"));
    b.type_into("#risposta", "   ");
    b.click("form[action$=\"/risposta/allegati\"] button");
    wait_until("the form sent back", || b.title().starts_with("Errore"));
    assert_eq!(b.title(), format!("Errore: Reclamo {number} · ascolto"));
    assert_eq!(b.focused(), "errori");
    assert_eq!(attr("#risposta", "aria-invalid"), "true");
    assert!(b.text("#risposta-errore").contains("La risposta è vuota"));
    assert_eq!(value("#risposta"), "   ");

    // A merge into a ticket that does not exist: said on the form, the number kept.
    b.type_into("#unisci", "URP-2099-999999");
    b.click("form[action$=\"/unione\"] button");
    wait_until("the form sent back", || b.title().starts_with("Errore"));
    assert!(b
        .text("#unisci-errore")
        .contains("URP-2099-999999 non esiste"));
    assert_eq!(value("#unisci"), "URP-2099-999999");
    assert_eq!(
        attr("#unisci", "aria-describedby"),
        "unisci-formato unisci-errore"
    );
    b.screenshot("errore-nel-modulo.png");
}
