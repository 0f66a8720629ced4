//! Signing in to the mailbox with OAuth2 (SASL XOAUTH2 / OAUTHBEARER) against the local Dovecot
//! configured with its `oauth2` passdb, which asks a small token server started here whether
//! each token is valid (RFC 7662 introspection). The same server is the token endpoint.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::Client;
use common::{Daemon, MailServers, PATIENCE};

const URP: &str = "urp@hospital.test";
const REFRESH_TOKEN: &str = "refresh-ok";
const COMMAND_TOKEN: &str = "tok-command";
const CLIENT_SECRET: &str = "secret-ok";

#[derive(Default)]
struct Tokens {
    /// Access tokens issued by /token, with when.
    issued: Vec<(String, Instant)>,
    lifetime: Duration,
    /// /token refuses every refresh (a revoked refresh token).
    revoked: bool,
    /// Tokens Dovecot asked about, and whether they were valid.
    introspected: Vec<(String, bool)>,
}

struct TokenServer {
    url: String,
    tokens: Arc<Mutex<Tokens>>,
}

fn form(body: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

impl TokenServer {
    fn start(lifetime: Duration) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tokens = Arc::new(Mutex::new(Tokens {
            lifetime,
            ..Tokens::default()
        }));
        let state = tokens.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let fields = form(&String::from_utf8_lossy(&body));
                let path = request_line.split_whitespace().nth(1).unwrap_or("");
                let mut t = state.lock().unwrap();
                let (status, json) = if path.starts_with("/token") {
                    let field = |k: &str| fields.get(k).map(String::as_str);
                    let granted = match field("grant_type") {
                        Some("refresh_token") => field("refresh_token") == Some(REFRESH_TOKEN),
                        Some("client_credentials") => field("client_secret") == Some(CLIENT_SECRET),
                        _ => false,
                    };
                    if t.revoked || !granted {
                        (
                            "400 Bad Request",
                            r#"{"error":"invalid_grant","error_description":"AADSTS70008: the refresh token has expired"}"#.to_string(),
                        )
                    } else {
                        let token = format!("tok-{}", t.issued.len() + 1);
                        t.issued.push((token.clone(), Instant::now()));
                        (
                            "200 OK",
                            format!(
                                r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{}}}"#,
                                t.lifetime.as_secs()
                            ),
                        )
                    }
                } else {
                    let token = fields.get("token").cloned().unwrap_or_default();
                    let lifetime = t.lifetime;
                    let valid = token == COMMAND_TOKEN
                        || t.issued
                            .iter()
                            .any(|(issued, at)| *issued == token && at.elapsed() < lifetime);
                    t.introspected.push((token, valid));
                    (
                        "200 OK",
                        if valid {
                            format!(r#"{{"active":true,"username":"{URP}"}}"#)
                        } else {
                            r#"{"active":false}"#.to_string()
                        },
                    )
                };
                drop(t);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        TokenServer { url, tokens }
    }

    /// Dovecot and Postfix whose OAuth2 tokens this server vouches for.
    fn mail_servers(&self, more: &[(&str, &str)]) -> MailServers {
        let introspection = format!("{}/introspect", self.url);
        let mut env = vec![("OAUTH2_INTROSPECTION_URL", introspection.as_str())];
        env.extend_from_slice(more);
        MailServers::start_with(&env)
    }
}

fn oauth_config(servers: &MailServers, db: &std::path::Path, oauth2: &str) -> String {
    servers
        .config(db, &format!("\n[mailbox.oauth2]\n{oauth2}\n"))
        .replace("password = \"secret\"\n", "")
        + "\n[web]\nhealth_mailbox_grace_secs = 2\n"
}

/// Stops Dovecot until the daemon has seen its connection go, then starts it again.
fn drop_connection(servers: &MailServers, daemon: &Daemon) {
    let seen = daemon.log().matches("mailbox unavailable").count();
    servers.stop_imap();
    let start = Instant::now();
    while daemon.log().matches("mailbox unavailable").count() == seen {
        assert!(
            start.elapsed() < PATIENCE,
            "{}",
            common::tail(&daemon.log())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    servers.start_imap();
}

fn wait_health(web: &Client, want: u16) {
    let start = Instant::now();
    while web.get("/healthz").status != want {
        assert!(start.elapsed() < PATIENCE, "/healthz never answered {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn xoauth2_with_a_token_refreshed_after_it_expired_and_a_clear_failure_when_refresh_fails() {
    let tokens = TokenServer::start(Duration::from_secs(3));
    let servers = tokens.mail_servers(&[]);
    let mut daemon = Daemon::new(|db| {
        oauth_config(
            &servers,
            db,
            &format!(
                "token_url = \"{}/token\"\nclient_id = \"ascolto\"\nrefresh_token = \"{REFRESH_TOKEN}\"\nscope = \"https://outlook.office365.com/.default\"",
                tokens.url
            ),
        )
    });
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    let web = Client::new(&daemon.base_url());
    servers.send_complaint("a@example.test", "Prima", "Attesa.");
    daemon.wait_for_count("SELECT count(*) FROM tickets", 1);
    wait_health(&web, 200);
    assert_eq!(tokens.tokens.lock().unwrap().issued.len(), 1);

    // The first token expires while the daemon sits in IDLE; the server then drops the
    // connection: the daemon signs in again with a new token, not the expired one.
    std::thread::sleep(Duration::from_millis(3500));
    drop_connection(&servers, &daemon);
    servers.send_complaint("b@example.test", "Seconda", "Attesa.");
    daemon.wait_for_count("SELECT count(*) FROM tickets", 2);
    {
        let t = tokens.tokens.lock().unwrap();
        assert!(
            t.issued.len() >= 2,
            "refreshed: {:?}\n{}",
            t.issued,
            common::tail(&daemon.log())
        );
        assert!(
            t.introspected.iter().all(|(_, valid)| *valid),
            "ascolto never offered an expired token: {:?}",
            t.introspected
        );
        assert!(t.introspected.iter().any(|(tok, _)| tok == "tok-2"));
    }
    wait_health(&web, 200);

    // The refresh token is revoked: the log says why, /healthz turns unhealthy.
    tokens.tokens.lock().unwrap().revoked = true;
    std::thread::sleep(Duration::from_millis(3500));
    drop_connection(&servers, &daemon);
    wait_health(&web, 503);
    let log = daemon.log();
    assert!(
        log.contains("cannot get an OAuth2 access token from")
            && log.contains("invalid_grant: AADSTS70008: the refresh token has expired"),
        "{}",
        common::tail(&log)
    );

    // A new refresh token (here: the endpoint accepts it again) and all is well, with the mail
    // that came meanwhile.
    servers.send_complaint("c@example.test", "Terza", "Attesa.");
    tokens.tokens.lock().unwrap().revoked = false;
    wait_health(&web, 200);
    daemon.wait_for_count("SELECT count(*) FROM tickets", 3);
    assert!(daemon.terminate() < Duration::from_secs(10));
}

#[test]
fn oauthbearer_with_a_token_from_a_command() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    let servers = tokens.mail_servers(&[]);
    let mut daemon = Daemon::new(|db| {
        oauth_config(
            &servers,
            db,
            &format!(
                "mechanism = \"oauthbearer\"\ntoken_command = \"printf '%s\\\\n' {COMMAND_TOKEN}\""
            ),
        )
    });
    daemon.start();
    servers.send_complaint("a@example.test", "Con token", "Attesa.");
    daemon.wait_for_count("SELECT count(*) FROM tickets", 1);
    let t = tokens.tokens.lock().unwrap();
    assert!(t
        .introspected
        .iter()
        .any(|(tok, valid)| tok == COMMAND_TOKEN && *valid));
    assert!(t.issued.is_empty(), "the command, not the endpoint");
    drop(t);
    assert!(daemon.terminate() < Duration::from_secs(10));
}

#[test]
fn smtp_submission_signs_in_with_xoauth2_and_health_shows_a_token_that_cannot_be_had() {
    // The client-credentials grant this time (no refresh token), tokens living 2 s.
    let tokens = TokenServer::start(Duration::from_secs(2));
    let auth_port = common::spare_port().to_string();
    let servers = tokens.mail_servers(&[("AUTH_PORT", &auth_port)]);
    let mut daemon = Daemon::new(|db| {
        servers
            .config(db, "")
            .replace(
                "[smtp]\nbackend = \"smtp\"",
                "[smtp]\nusername = \"urp@hospital.test\"\nbackend = \"smtp\"",
            )
            .replace(
                "[log]",
                &format!(
                    "[smtp.oauth2]\ntoken_url = \"{}/token\"\nclient_id = \"ascolto\"\nclient_secret = \"{CLIENT_SECRET}\"\n\n[web]\nhealth_mailbox_grace_secs = 2\n\n[log]",
                    tokens.url
                ),
            )
    });
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    let web = Client::new(&daemon.base_url());
    servers.send_complaint("citizen@example.test", "Invio con token", "Attesa.");
    daemon.wait_for_count("SELECT count(*) FROM outbox WHERE state = 'sent'", 1);
    let acks = servers.wait_for_mail("citizen@example.test", 1);
    assert!(String::from_utf8_lossy(&acks[0]).contains("Invio con token"));
    let postfix_log =
        std::fs::read_to_string(servers.dir.path().join("postfix/postfix.log")).unwrap_or_default();
    assert!(
        postfix_log.contains("sasl_method=XOAUTH2, sasl_username=urp@hospital.test"),
        "Postfix did not see an XOAUTH2 sign-in:\n{postfix_log}"
    );
    assert!(tokens
        .tokens
        .lock()
        .unwrap()
        .introspected
        .iter()
        .any(|(tok, valid)| tok == "tok-1" && *valid));
    wait_health(&web, 200);

    // The client secret is revoked: the next notification cannot be sent, the log says why,
    // /healthz says so; it waits in the outbox and goes once a token can be had again.
    tokens.tokens.lock().unwrap().revoked = true;
    std::thread::sleep(Duration::from_millis(1500));
    servers.send_complaint("citizen@example.test", "Secondo invio", "Attesa.");
    wait_health(&web, 503);
    let health = web.get("/healthz").text();
    assert!(health.contains("\"smtp_sign_in\": \"failing\""), "{health}");
    assert!(
        daemon.log().contains("invalid_grant"),
        "{}",
        common::tail(&daemon.log())
    );
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbox WHERE state = 'pending' AND kind = 'ack'"),
        1
    );
    tokens.tokens.lock().unwrap().revoked = false;
    daemon.wait_for_count(
        "SELECT count(*) FROM outbox WHERE state = 'sent' AND kind = 'ack'",
        2,
    );
    wait_health(&web, 200);
    servers.wait_for_mail("citizen@example.test", 2);
    assert!(daemon.terminate() < Duration::from_secs(10));
}
