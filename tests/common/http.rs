//! A browser-like HTTP client for the backoffice tests: one cookie jar, no redirects followed
//! (the tests look at them), the Origin header a browser sends with forms. It reaches the
//! backoffice over TCP (a running daemon), or calls its router in-process through
//! `Router::oneshot` (no daemon, no socket: fast).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use tower::ServiceExt;

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

/// How requests reach the backoffice.
#[derive(Clone)]
enum Transport {
    /// Over TCP, to a running daemon.
    Http(ureq::Agent),
    /// The backoffice's router, called in-process on `runtime`.
    InProcess {
        router: axum::Router,
        runtime: Arc<tokio::runtime::Runtime>,
    },
}

/// The address in-process requests come from (the sign-in throttle counts by address).
const IN_PROCESS_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

#[derive(Clone)]
pub struct Client {
    pub base: String,
    transport: Transport,
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
            transport: Transport::Http(
                ureq::AgentBuilder::new()
                    .redirects(0)
                    .timeout(Duration::from_secs(60))
                    .build(),
            ),
            cookies: HashMap::new(),
            origin: Some(base.to_string()),
            headers: Vec::new(),
        }
    }

    /// A client that calls `router` in-process on `runtime`; `base` is the backoffice's
    /// `[web] base_url` (the Origin its forms come from).
    pub fn in_process(
        base: &str,
        router: axum::Router,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Client {
        Client {
            transport: Transport::InProcess { router, runtime },
            ..Client::new(base)
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

    /// One request and its response; the jar is left as it is.
    fn exchange(&self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Response {
        let mut headers = self.headers.clone();
        if !self.cookies.is_empty() {
            headers.push(("Cookie".into(), self.cookie_header()));
        }
        if let (Some(o), Some(_)) = (&self.origin, form) {
            headers.push(("Origin".into(), o.clone()));
        }
        match &self.transport {
            Transport::Http(agent) => {
                let mut req = agent.request(method, &format!("{}{path}", self.base));
                for (k, v) in &headers {
                    req = req.set(k, v);
                }
                let r = match form {
                    Some(fields) => req.send_form(fields),
                    None => req.call(),
                };
                let resp = match r {
                    Ok(r) => r,
                    Err(ureq::Error::Status(_, r)) => r,
                    Err(e) => panic!("request failed: {e}"),
                };
                let mut headers: HashMap<String, Vec<String>> = HashMap::new();
                for name in resp.headers_names() {
                    let values = resp.all(&name).into_iter().map(str::to_string).collect();
                    headers.insert(name.to_ascii_lowercase(), values);
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
            Transport::InProcess { router, runtime } => {
                let host = self.base.split("://").nth(1).unwrap_or_default();
                let mut req = axum::http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("Host", host);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                let body = match form {
                    Some(fields) => {
                        req = req.header("Content-Type", "application/x-www-form-urlencoded");
                        serde_urlencoded::to_string(fields).unwrap()
                    }
                    None => String::new(),
                };
                let mut req = req.body(axum::body::Body::from(body)).unwrap();
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::from(IN_PROCESS_PEER)));
                let (parts, body) = runtime.block_on(async {
                    let resp = router.clone().oneshot(req).await.unwrap();
                    let (parts, body) = resp.into_parts();
                    (parts, axum::body::to_bytes(body, usize::MAX).await.unwrap())
                });
                let mut headers: HashMap<String, Vec<String>> = HashMap::new();
                for (name, value) in &parts.headers {
                    headers
                        .entry(name.as_str().to_ascii_lowercase())
                        .or_default()
                        .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                }
                Response {
                    status: parts.status.as_u16(),
                    location: headers.get("location").and_then(|l| l.first()).cloned(),
                    headers,
                    body: body.to_vec(),
                }
            }
        }
    }

    /// Keeps the cookies `resp` sets, forgets those it clears.
    fn absorb_cookies(&mut self, resp: &Response) {
        for c in resp.headers.get("set-cookie").cloned().unwrap_or_default() {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
    }

    pub fn get(&self, path: &str) -> Response {
        // A GET keeps the jar as it is (pages never set cookies but the sign-in page).
        self.exchange("GET", path, None)
    }

    pub fn get_mut(&mut self, path: &str) -> Response {
        let resp = self.exchange("GET", path, None);
        self.absorb_cookies(&resp);
        resp
    }

    /// Posts a form as written; `_csrf` is not added.
    pub fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let resp = self.exchange("POST", path, Some(fields));
        self.absorb_cookies(&resp);
        resp
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

/// A backoffice for tests, and the tickets it holds: the real daemon ([`office`]), or its router
/// called in-process on the same kind of database ([`office_in_process`]).
pub struct Office {
    /// How the backoffice is reached. Declared first, so that an in-process backoffice (its
    /// database thread, its runtime) is gone before the daemon's directory is removed.
    reach: Reach,
    /// The daemon's directory, config and database (and its process, when it runs).
    pub daemon: Daemon,
    /// Ticket numbers imported, in order.
    pub tickets: Vec<String>,
}

enum Reach {
    /// Over HTTP, to `daemon` running.
    Daemon,
    /// In-process: this client, with no session yet, is cloned for each caller.
    InProcess(Client),
}

impl Office {
    fn new(daemon: Daemon, reach: Reach) -> Office {
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
        Office {
            reach,
            daemon,
            tickets,
        }
    }

    pub fn url(&self) -> String {
        self.daemon.base_url()
    }

    /// A client with no session, reaching the backoffice the way this office is reached.
    pub fn client(&self) -> Client {
        match &self.reach {
            Reach::Daemon => Client::new(&self.url()),
            Reach::InProcess(client) => client.clone(),
        }
    }

    pub fn sign_in(&self, role: &str) -> Client {
        let email = format!("{role}@hospital.test");
        let mut c = self.client();
        let r = c.try_sign_in(&email, PASSWORD);
        assert_eq!(r.status, 303, "sign-in of {email} refused: {}", r.text());
        c
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
    let mut daemon = prepared(messages, web);
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    Office::new(daemon, Reach::Daemon)
}

/// [`office_with`]'s database and config, served in-process: the router the daemon would serve,
/// built as `ascolto serve` builds it, called through `Router::oneshot`. No process, no socket,
/// no mailbox watcher or outbox worker: only the backoffice's handlers.
pub fn office_in_process(messages: &[Vec<u8>], web: &str) -> Office {
    let daemon = prepared(messages, web);
    let config = daemon.config();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let router = runtime.block_on(async {
        let store = ascolto::store::Store::open(&config.database.path).unwrap();
        let app = ascolto::serve::backoffice(&config, store, Default::default()).unwrap();
        ascolto::web::router(app)
    });
    let client = Client::in_process(&config.web.base_url, router, runtime);
    Office::new(daemon, Reach::InProcess(client))
}

/// A daemon's directory with `messages` imported and the three accounts made, through the
/// command line as an administrator would; not started.
fn prepared(messages: &[Vec<u8>], web: &str) -> Daemon {
    let daemon = Daemon::new(|db| {
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
    daemon
}
