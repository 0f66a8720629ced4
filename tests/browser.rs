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

    let b = Browser::start();
    b.go(&format!("{}/reclami", d.base_url()));
    assert!(b.url().contains("/accedi"), "a stranger is sent to sign in");
    b.type_into("#email", "operatrice@hospital.test");
    b.type_into("#password", "password-della-operatrice");
    b.click("main form button[type=submit]");
    wait_until("the list after signing in", || {
        b.url().ends_with("/reclami")
    });

    b.go(&format!("{}/", d.base_url()));
    assert_eq!(b.text("main h1"), "Cruscotto");
    let shot = b.screenshot("backoffice-cruscotto.png");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    // Find it by a word of its body.
    b.go(&format!("{}/reclami", d.base_url()));
    b.type_into("#q", "padiglione");
    b.click("form.filters button[type=submit]");
    wait_until("the search results", || b.url().contains("q=padiglione"));
    let rows = b.text("table.tickets tbody");
    assert!(rows.contains(&number) && !rows.contains("Mensa"), "{rows}");
    b.screenshot("backoffice-reclami.png");

    b.click(&format!("table.tickets a[href=\"/reclami/{number}\"]"));
    wait_until("the ticket page", || b.url().ends_with(&number));
    assert!(
        b.text("main").contains("Presa in carico"),
        "opening it took it in charge"
    );
    b.screenshot("backoffice-reclamo.png");

    b.type_into(
        "#risposta",
        "Gentile signora, l'ascensore è stato riparato e verificato. Ci scusiamo.",
    );
    // The answer form is multipart (it takes files, issue 19): Chromium's own encoding of it
    // goes through the guard's CSRF check and the server's reader.
    b.click("form[action$=\"/risposta/allegati\"] button");
    wait_until("the answered state", || {
        b.try_text("p.subject-line")
            .is_some_and(|t| t.contains("In attesa di risposta"))
    });
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

    b.click("#esito option[value=\"accolto\"]");
    b.click("form[action$=\"/chiusura\"] button");
    wait_until("the closed state", || {
        b.try_text("p.subject-line")
            .is_some_and(|t| t.contains("Chiuso"))
    });
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
    b.screenshot("relazione-annuale.png");
}
