//! Sign-in, sessions, roles and the login throttle.
//!
//! A session is a random 256-bit secret in an HttpOnly, SameSite=Strict cookie (Secure when
//! `base_url` is https); the database keeps only its SHA-256, the user, the CSRF token of the
//! session's forms, and its idle and absolute expiry. Signing in always makes a new session.
//!
//! Roles are enforced by extractor type: a handler taking [`Staff`] is never entered by a
//! viewer or a stranger, whatever the page shows.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ui, App, Settings, WebError};
use crate::store::{self, audit, sessions};
use crate::workflow::{Actor, Role};

pub const SESSION_COOKIE: &str = "ascolto_sessione";
const LOGIN_CSRF_COOKIE: &str = "ascolto_accesso";
/// A session's last use is written at most this often (not on every request).
const TOUCH_EVERY_SECS: i64 = 60;

/// The signed-in user of this request, if any; put in the request by the guard.
#[derive(Clone, Debug)]
pub struct Current(pub Option<Session>);

#[derive(Clone, Debug)]
pub struct Session {
    pub id_hash: String,
    pub csrf: String,
    pub actor: Actor,
    pub email: String,
}

impl Session {
    pub fn may_act(&self) -> bool {
        self.actor.role != Role::Viewer
    }
    pub fn is_admin(&self) -> bool {
        self.actor.role == Role::Admin
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    hex::encode(b)
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn login_csrf_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, LOGIN_CSRF_COOKIE).map(str::to_string)
}

fn set_cookie(settings: &Settings, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if settings.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

/// A POST must come from the backoffice's own pages: its Origin (or, failing that, its
/// Referer) must be `base_url`'s origin.
pub fn origin_allowed(settings: &Settings, headers: &HeaderMap) -> bool {
    let value = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(origin) = value(header::ORIGIN) {
        return origin.eq_ignore_ascii_case(&settings.origin);
    }
    match value(header::REFERER) {
        Some(referer) => {
            let r = referer.to_ascii_lowercase();
            r == settings.origin || r.starts_with(&format!("{}/", settings.origin))
        }
        None => false,
    }
}

/// The session the request's cookie names, if live; its last use is refreshed now and then.
pub async fn session_of(app: &App, headers: &HeaderMap) -> Result<Option<Session>> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id_hash = hash(secret);
    let now = Utc::now();
    let (now_text, idle_since) = (
        store::time_text(now),
        store::time_text(now - app.settings.idle),
    );
    let row = {
        let (id_hash, now_text) = (id_hash.clone(), now_text.clone());
        app.readers
            .read(move |conn| sessions::get(conn, &id_hash, &now_text, &idle_since))
            .await?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let stale = chrono::DateTime::parse_from_rfc3339(&row.last_seen_at)
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds() >= TOUCH_EVERY_SECS)
        .unwrap_or(true);
    if stale {
        app.store
            .call(move |conn| sessions::touch(conn, &id_hash, &now_text))
            .await?;
    }
    let role = row.role.parse().map_err(anyhow::Error::msg)?;
    Ok(Some(Session {
        id_hash: row.id_hash,
        csrf: row.csrf,
        email: row.user_email,
        actor: Actor {
            id: row.user_id,
            name: row.user_name,
            role,
        },
    }))
}

/// Why an extractor refused: strangers are sent to sign in, the signed-in to a 403 page.
pub enum Refusal {
    SignIn(String),
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn(back) => {
                let target = if back == "/" || back.is_empty() {
                    "/accedi".to_string()
                } else {
                    format!("/accedi?dopo={}", ui::url_encode(&back))
                };
                Redirect::to(&target).into_response()
            }
            Refusal::Forbidden => WebError::Forbidden.into_response(),
        }
    }
}

fn signed_in(parts: &Parts, allowed: &[Role]) -> Result<Session, Refusal> {
    let current = parts.extensions.get::<Current>().and_then(|c| c.0.clone());
    match current {
        None => {
            // Only a page view comes back after signing in; a form post is lost anyway.
            let back = if parts.method == axum::http::Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Err(Refusal::SignIn(back))
        }
        Some(s) if allowed.contains(&s.actor.role) => Ok(s),
        Some(_) => Err(Refusal::Forbidden),
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $($role:expr),+) => {
        $(#[$doc])*
        pub struct $name(pub Session);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = Refusal;
            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
                signed_in(parts, &[$($role),+]).map($name)
            }
        }
    };
}

role_extractor!(
    /// Any signed-in user: viewer, operator or administrator.
    AnyUser, Role::Viewer, Role::Operator, Role::Admin
);
role_extractor!(
    /// Who works tickets: operators and administrators.
    Staff, Role::Operator, Role::Admin
);
role_extractor!(
    /// Administrators only.
    AdminUser, Role::Admin
);

/// Failed sign-ins, counted per account and per client address, in memory.
///
/// An account gets 5 free failures in 15 minutes; then each further attempt waits twice as
/// long as the one before (30 s, 1 min, 2 min…), never more than 5 minutes, so an attacker
/// cannot keep a real operator out for long. An address gets 30 failures in 15 minutes across
/// all accounts, then waits out the window. A success clears the account's count.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

const WINDOW: Duration = Duration::from_secs(15 * 60);
const FREE_PER_ACCOUNT: usize = 5;
const MAX_ACCOUNT_WAIT: Duration = Duration::from_secs(5 * 60);
const MAX_PER_ADDRESS: usize = 30;

impl Throttle {
    fn keys(account: &str, ip: IpAddr) -> [String; 2] {
        [
            format!("account:{}", account.trim().to_lowercase()),
            format!("ip:{ip}"),
        ]
    }

    /// How long this sign-in must wait, if at all.
    pub fn wait(&self, account: &str, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap();
        let [acc, addr] = Self::keys(account, ip);
        let mut longest = None::<Duration>;
        let mut consider = |until: Instant| {
            if until > now {
                let w = until - now;
                longest = Some(longest.map_or(w, |l| l.max(w)));
            }
        };
        if let Some(f) = map.get_mut(&acc) {
            f.retain(|t| now.duration_since(*t) < WINDOW);
            if f.len() >= FREE_PER_ACCOUNT {
                let extra = (f.len() - FREE_PER_ACCOUNT) as u32;
                let wait = Duration::from_secs(30)
                    .saturating_mul(1 << extra.min(10))
                    .min(MAX_ACCOUNT_WAIT);
                consider(*f.last().unwrap() + wait);
            }
        }
        if let Some(f) = map.get_mut(&addr) {
            f.retain(|t| now.duration_since(*t) < WINDOW);
            if f.len() >= MAX_PER_ADDRESS {
                consider(f[f.len() - MAX_PER_ADDRESS] + WINDOW);
            }
        }
        longest
    }

    pub fn failed(&self, account: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap();
        for k in Self::keys(account, ip) {
            map.entry(k).or_default().push(Instant::now());
        }
        // Keep memory bounded under a spray of invented accounts.
        if map.len() > 100_000 {
            let now = Instant::now();
            map.retain(|_, f| f.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
    }

    pub fn succeeded(&self, account: &str, ip: IpAddr) {
        let [acc, _] = Self::keys(account, ip);
        self.failures.lock().unwrap().remove(&acc);
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    dopo: Option<String>,
}

/// Only a path on this site is a place to go back to after signing in.
fn safe_target(dopo: Option<&str>) -> String {
    match dopo {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

pub async fn login_page(
    State(app): State<App>,
    axum::Extension(current): axum::Extension<Current>,
    Query(q): Query<LoginQuery>,
) -> Response {
    if current.0.is_some() {
        return Redirect::to(&safe_target(q.dopo.as_deref())).into_response();
    }
    login_form(&app.settings, q.dopo.as_deref(), None, StatusCode::OK)
}

fn login_form(
    settings: &Settings,
    dopo: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = random_hex(32);
    let mut resp = (
        status,
        ui::login_page(&settings.office_name, &token, &safe_target(dopo), error),
    )
        .into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(settings, LOGIN_CSRF_COOKIE, &token, Some(3600)),
    );
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    dopo: Option<String>,
}

pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let ip = peer.ip();
    let email = form.email.trim().to_string();
    if let Some(wait) = app.throttle.wait(&email, ip) {
        tracing::warn!(%ip, "sign-in throttled");
        let minutes = wait.as_secs().div_ceil(60);
        let msg = format!(
            "Troppi tentativi non riusciti. Riprova tra {minutes} minut{}.",
            if minutes == 1 { "o" } else { "i" }
        );
        return Ok(login_form(
            &app.settings,
            form.dopo.as_deref(),
            Some(&msg),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let creds = {
        let email = email.clone();
        app.readers
            .read(move |conn| sessions::credentials(conn, &email))
            .await?
    };
    // Verify even for an unknown account, so that timing does not tell which accounts exist.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
    let (user_id, stored_hash) = creds.clone().unwrap_or((0, DUMMY.to_string()));
    let password = form.password;
    let ok =
        tokio::task::spawn_blocking(move || crate::users::verify_password(&password, &stored_hash))
            .await
            .map_err(|e| anyhow::anyhow!("password check: {e}"))?
            && creds.is_some();
    if !ok {
        app.throttle.failed(&email, ip);
        tracing::warn!(%ip, "sign-in failed");
        app.store
            .call(move |conn| {
                audit::record(
                    conn,
                    "web:anonymous",
                    "user.login_failed",
                    None,
                    json!({ "user": (user_id != 0).then_some(user_id) }),
                )
            })
            .await?;
        return Ok(login_form(
            &app.settings,
            form.dopo.as_deref(),
            Some("Email o password non corretti."),
            StatusCode::UNAUTHORIZED,
        ));
    }
    app.throttle.succeeded(&email, ip);
    let secret = random_hex(32);
    let (id_hash, csrf) = (hash(&secret), random_hex(32));
    let now = Utc::now();
    let expires = store::time_text(now + app.settings.max_age);
    let idle_since = store::time_text(now - app.settings.idle);
    app.store
        .call(move |conn| {
            let now = store::time_text(now);
            sessions::purge(conn, &now, &idle_since)?;
            sessions::insert(conn, &id_hash, user_id, &csrf, &now, &expires)?;
            audit::record(
                conn,
                &format!("user:{user_id}"),
                "user.login",
                None,
                json!({}),
            )
        })
        .await?;
    tracing::info!(user = user_id, %ip, "signed in");
    let mut resp = Redirect::to(&safe_target(form.dopo.as_deref())).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&app.settings, SESSION_COOKIE, &secret, None),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&app.settings, LOGIN_CSRF_COOKIE, "", Some(0)),
    );
    Ok(resp)
}

pub async fn logout(State(app): State<App>, AnyUser(s): AnyUser) -> Result<Response, WebError> {
    let actor = s.actor.audit_name();
    app.store
        .call(move |conn| {
            sessions::delete(conn, &s.id_hash)?;
            audit::record(conn, &actor, "user.logout", None, json!({}))
        })
        .await?;
    let mut resp = Redirect::to("/accedi").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app.settings, SESSION_COOKIE, "", Some(0)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_slowed_not_locked_out() {
        let t = Throttle::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..FREE_PER_ACCOUNT {
            assert_eq!(t.wait("op@h.test", ip), None);
            t.failed("OP@h.test ", ip);
        }
        let wait = t.wait("op@h.test", ip).expect("the sixth attempt waits");
        assert!(wait <= Duration::from_secs(30), "{wait:?}");
        for _ in 0..20 {
            t.failed("op@h.test", ip);
        }
        let wait = t.wait("op@h.test", ip).unwrap();
        assert!(
            wait <= MAX_ACCOUNT_WAIT && wait > Duration::from_secs(200),
            "{wait:?}"
        );
        // Another account from another address is not affected.
        assert_eq!(t.wait("other@h.test", [10, 0, 0, 1].into()), None);
        t.succeeded("op@h.test", ip);
        assert_eq!(t.wait("op@h.test", [10, 0, 0, 2].into()), None);
    }

    #[test]
    fn an_address_spraying_accounts_is_stopped() {
        let t = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 7].into();
        for i in 0..MAX_PER_ADDRESS {
            assert_eq!(t.wait(&format!("u{i}@h.test"), ip), None);
            t.failed(&format!("u{i}@h.test"), ip);
        }
        assert!(t.wait("new@h.test", ip).is_some());
        assert_eq!(t.wait("new@h.test", [192, 0, 2, 8].into()), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_target(Some("/reclami?stato=pending")),
            "/reclami?stato=pending"
        );
        assert_eq!(safe_target(Some("//evil.test/x")), "/");
        assert_eq!(safe_target(Some("https://evil.test")), "/");
        assert_eq!(safe_target(Some("/\\evil.test")), "/");
        assert_eq!(safe_target(None), "/");
    }

    #[test]
    fn origin_check() {
        let s = Settings {
            origin: "https://urp.example.test".into(),
            secure_cookies: true,
            idle: chrono::Duration::minutes(1),
            max_age: chrono::Duration::hours(1),
            office_name: String::new(),
            number_prefix: "URP".into(),
            mailboxes: Vec::new(),
            mailbox_grace: chrono::Duration::minutes(5),
        };
        let mut h = HeaderMap::new();
        assert!(!origin_allowed(&s, &h), "no Origin and no Referer");
        h.insert(
            header::REFERER,
            "https://urp.example.test/reclami".parse().unwrap(),
        );
        assert!(origin_allowed(&s, &h));
        h.insert(
            header::REFERER,
            "https://urp.example.test.evil.test/".parse().unwrap(),
        );
        assert!(!origin_allowed(&s, &h));
        h.insert(header::ORIGIN, "https://evil.test".parse().unwrap());
        assert!(!origin_allowed(&s, &h));
        h.insert(header::ORIGIN, "https://urp.example.test".parse().unwrap());
        assert!(origin_allowed(&s, &h));
    }
}
