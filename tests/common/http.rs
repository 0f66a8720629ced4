//! A browser-like HTTP client for the backoffice tests: one cookie jar, no redirects followed
//! (the tests look at them), the Origin header a browser sends with forms.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Daemon;

pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub headers: HashMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
    /// The Origin header sent with POSTs (None: send none).
    pub origin: Option<String>,
    /// More headers sent with every request (e.g. X-Forwarded-For).
    pub headers: Vec<(String, String)>,
}

/// The value of the first `name="_csrf"` hidden field in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            cookies: HashMap::new(),
            origin: Some(base.to_string()),
            headers: Vec::new(),
        }
    }

    /// Waits until the daemon's backoffice answers.
    pub fn wait_ready(base: &str) {
        let deadline = Instant::now() + super::PATIENCE;
        let addr = base.trim_start_matches("http://").to_string();
        loop {
            if std::net::TcpStream::connect(&addr).is_ok() {
                assert_eq!(Client::new(base).get("/accedi").status, 200);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the backoffice did not start at {base}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn finish(&mut self, result: Result<ureq::Response, ureq::Error>) -> Response {
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let mut headers: HashMap<String, Vec<String>> = HashMap::new();
        for name in resp.headers_names() {
            let values = resp.all(&name).into_iter().map(str::to_string).collect();
            headers.insert(name.to_ascii_lowercase(), values);
        }
        for c in headers.get("set-cookie").cloned().unwrap_or_default() {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = resp.status();
        let location = resp.header("location").map(str::to_string);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
        Response {
            status,
            location,
            headers,
            body,
        }
    }

    fn get_inner(&mut self, path: &str) -> Response {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        for (k, v) in &self.headers {
            req = req.set(k, v);
        }
        if !self.cookies.is_empty() {
            req = req.set("Cookie", &self.cookie_header());
        }
        let r = req.call();
        self.finish(r)
    }

    pub fn get(&self, path: &str) -> Response {
        // A GET keeps the jar as it is (pages never set cookies but the sign-in page).
        let mut me = Client {
            base: self.base.clone(),
            agent: self.agent.clone(),
            cookies: self.cookies.clone(),
            origin: self.origin.clone(),
            headers: self.headers.clone(),
        };
        me.get_inner(path)
    }

    pub fn get_mut(&mut self, path: &str) -> Response {
        self.get_inner(path)
    }

    /// Posts a form as written; `_csrf` is not added.
    pub fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        for (k, v) in &self.headers {
            req = req.set(k, v);
        }
        if !self.cookies.is_empty() {
            req = req.set("Cookie", &self.cookie_header());
        }
        if let Some(o) = &self.origin {
            req = req.set("Origin", o);
        }
        let r = req.send_form(fields);
        self.finish(r)
    }

    /// Posts a form the way the page would: with the CSRF token of the page at `form_page`.
    pub fn post(&mut self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let page = self.get_mut(form_page).text();
        let token = csrf_of(&page).unwrap_or_else(|| panic!("no form token on {form_page}"));
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all)
    }

    /// Signs in; panics unless the backoffice accepted the password.
    pub fn sign_in(base: &str, email: &str, password: &str) -> Client {
        let mut c = Client::new(base);
        let r = c.try_sign_in(email, password);
        assert_eq!(r.status, 303, "sign-in of {email} refused: {}", r.text());
        c
    }

    pub fn try_sign_in(&mut self, email: &str, password: &str) -> Response {
        self.post(
            "/accedi",
            "/accedi",
            &[("email", email), ("password", password)],
        )
    }
}

/// The password of every account [`office`] makes.
pub const PASSWORD: &str = "una-password-lunga";

/// A running daemon for backoffice tests, and the tickets it holds.
pub struct Office {
    pub daemon: Daemon,
    /// Ticket numbers imported, in order.
    pub tickets: Vec<String>,
}

impl Office {
    pub fn url(&self) -> String {
        self.daemon.base_url()
    }

    pub fn sign_in(&self, role: &str) -> Client {
        Client::sign_in(&self.url(), &format!("{role}@hospital.test"), PASSWORD)
    }

    pub fn state(&self, number: &str) -> String {
        self.daemon
            .db()
            .query_row(
                "SELECT state FROM tickets WHERE number = ?1",
                [number],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// A writable connection to the daemon's database, for setting up what mail cannot.
    pub fn db_rw(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.daemon.db_path()).unwrap();
        c.busy_timeout(Duration::from_secs(30)).unwrap();
        c
    }
}

/// A daemon with no mailbox (the backoffice needs none), `messages` imported as tickets, and
/// one account per role: admin@, operator@, viewer@hospital.test.
pub fn office(messages: &[Vec<u8>]) -> Office {
    office_with(messages, "")
}

/// [`office`] with more lines for the `[web]` table of its config.
pub fn office_with(messages: &[Vec<u8>], web: &str) -> Office {
    let mut daemon = Daemon::new(|db| {
        let dir = db.parent().unwrap();
        format!(
            "[database]\npath = \"{}\"\n\n[smtp]\nbackend = \"file\"\nfile_dir = \"{}\"\nfrom_address = \"urp@hospital.test\"\n\n[web]\n{web}\n",
            db.display(),
            dir.join("sent").display()
        )
    });
    let inbox = daemon.dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(inbox.join(format!("{i:04}.eml")), m).unwrap();
    }
    let out = daemon.command().arg("import").arg(&inbox).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for role in ["admin", "operator", "viewer"] {
        daemon.add_user_with_password(&format!("{role}@hospital.test"), role, PASSWORD);
    }
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    let tickets = {
        let db = daemon.db();
        let mut st = db
            .prepare("SELECT number FROM tickets ORDER BY id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    Office { daemon, tickets }
}
