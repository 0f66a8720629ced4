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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::extract::{ConnectInfo, FromRequestParts, Query, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ui, App, Settings, WebError};
use crate::domain::{Actor, Role};
use crate::domain::{AuditAction, AuditActor};
use crate::store::{self, audit, sessions};

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
    /// Whether this user reads what citizens wrote (their identity, messages, notes,
    /// attachments, original mail): staff always; viewers when `[web] viewer_sees_content`.
    pub sees_content: bool,
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
    let role: Role = row.role.parse().map_err(anyhow::Error::msg)?;
    Ok(Some(Session {
        id_hash: row.id_hash,
        csrf: row.csrf,
        email: row.user_email,
        sees_content: role != Role::Viewer || app.settings.viewer_sees_content,
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

/// Who may read what citizens wrote: staff, and viewers when `[web] viewer_sees_content`.
/// A viewer refused here gets 403, and the attempt is written to the audit log
/// (`ticket.view_refused`, with the ticket the path names): the procedure gives the ASL account
/// "solo le statistiche e gli elenchi dei reclami non modificabili".
pub struct ContentReader(pub Session);

impl FromRequestParts<App> for ContentReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let s = signed_in(parts, &[Role::Viewer, Role::Operator, Role::Admin])
            .map_err(IntoResponse::into_response)?;
        if s.sees_content {
            return Ok(ContentReader(s));
        }
        let number = RawPathParams::from_request_parts(parts, app)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "number")
                    .and_then(|(_, v)| v.parse::<crate::domain::TicketNumber>().ok())
            });
        let path = parts.uri.path().to_string();
        let (actor, user) = (s.actor.audit(), s.actor.id);
        let refused = async {
            let ticket = match number {
                Some(n) => {
                    app.readers
                        .read(move |conn| crate::store::tickets::id_by_number(conn, &n))
                        .await?
                }
                None => None,
            };
            app.store
                .call(move |conn| {
                    audit::record(
                        conn,
                        actor,
                        AuditAction::TicketViewRefused,
                        ticket,
                        json!({ "path": path }),
                    )
                })
                .await
        };
        if let Err(e) = refused.await {
            return Err(WebError::Internal(e).into_response());
        }
        tracing::warn!(user, "a viewer was refused a ticket's contents");
        Err(WebError::Forbidden.into_response())
    }
}

/// Sign-in attempts, counted per account and per client address, in memory.
///
/// An attempt is *reserved* — counted as a failure — in the same critical section that checks
/// the limits, before its password is verified; a correct password gives the reservation back.
/// Checking first and counting after let 150 parallel wrong passwords through to verification
/// when 5 were allowed (issue 11, finding 5): now no more attempts are ever verified than the
/// limits allow, however many arrive at once.
///
/// - An account gets 5 free failures in 15 minutes; then each further attempt waits twice as
///   long as the one before (30 s, 1 min, 2 min…), never more than 5 minutes, so an attacker
///   cannot keep a real operator out for long. A success clears the account's count.
/// - An address gets 30 failures in 15 minutes across all accounts. Past that it is *flooded*,
///   and it is not simply refused, because an address is not a person: behind a reverse proxy
///   (one not in `[web] trusted_proxies`) the whole hospital shares one, and refusing it would
///   let one attacker lock every operator out. From a flooded address:
///   - an account that does not exist is never verified (no password can be right for it); it
///     answers "wrong email or password" after as long as a check takes, so neither the answer
///     nor its timing tells it from an existing account;
///   - an existing account is verified while it has fewer than [`FLOODED_TRIES`] failures from
///     flooded addresses in the window; its correct password then signs in. Past that the
///     account itself is under attack and waits like any other throttled account.
///
///   So a correct password of an account that is not itself under attack is never refused
///   because of the address it comes from, a person's typo included; and a sprayer gets 2
///   guesses per existing account per window instead of 5, and no password checks at all on
///   invented accounts.
/// - At most [`password_check_slots`] passwords are verified at once (argon2 takes a core and
///   19 MiB each); the others queue, holding only their form.
pub struct Throttle {
    attempts: Mutex<Attempts>,
    checks: tokio::sync::Semaphore,
    /// The working memory of the checks, one per slot, kept between checks (see [`verify`]).
    memory: Mutex<Vec<Vec<argon2::Block>>>,
    /// How long a password check takes, in microseconds (a moving average): the pause of an
    /// attempt that is not verified.
    typical_check_us: AtomicU64,
}

const WINDOW: Duration = Duration::from_secs(15 * 60);
const FREE_PER_ACCOUNT: usize = 5;
const MAX_ACCOUNT_WAIT: Duration = Duration::from_secs(5 * 60);
const MAX_PER_ADDRESS: usize = 30;
/// Failures an account may have from flooded addresses in the window before it counts as under
/// attack: two lets a person behind a shared address mistype once.
const FLOODED_TRIES: usize = 2;
/// Attempts remembered per account or address (older ones change no decision).
const KEPT_PER_KEY: usize = 4 * MAX_PER_ADDRESS;
/// Accounts and addresses remembered; past this, those idle longest are forgotten first.
const MAX_KEYS: usize = 100_000;

/// Passwords verified at once: one per core the daemon may use.
pub fn password_check_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[derive(Default)]
struct Attempts {
    by_account: HashMap<String, Vec<Attempt>>,
    by_address: HashMap<IpAddr, Vec<Attempt>>,
    next_id: u64,
}

#[derive(Clone, Copy)]
struct Attempt {
    at: Instant,
    id: u64,
    /// Made while its address was flooded.
    flooded: bool,
}

/// What to do with a sign-in attempt.
#[must_use]
pub enum Decision {
    /// Refuse without checking the password; the person may try again after this long.
    Wait(Duration),
    /// Check the password; the attempt is already counted as a failure.
    Check(Reservation),
    /// Answer as a wrong password without checking (an unknown account from a flooded address).
    Pretend(Reservation),
}

/// An attempt counted in advance, given back by [`Throttle::succeeded`].
pub struct Reservation {
    account: String,
    address: IpAddr,
    id: u64,
}

impl Attempts {
    fn prune(list: &mut Vec<Attempt>, now: Instant) {
        list.retain(|a| now.duration_since(a.at) < WINDOW);
        if list.len() > KEPT_PER_KEY {
            list.drain(..list.len() - KEPT_PER_KEY);
        }
    }

    /// Keeps the maps bounded under a spray of invented accounts or addresses.
    fn bound<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Vec<Attempt>>, now: Instant) {
        if map.len() <= MAX_KEYS {
            return;
        }
        map.retain(|_, f| f.last().is_some_and(|a| now.duration_since(a.at) < WINDOW));
        // Down to half at least, so that the next clean-up is tens of thousands of attempts
        // away (each scans the whole map, under the lock).
        let mut last: Vec<Instant> = map
            .values()
            .filter_map(|f| f.last())
            .map(|a| a.at)
            .collect();
        if last.len() > MAX_KEYS / 2 {
            let cut = last.len() - MAX_KEYS / 2;
            let (_, cutoff, _) = last.select_nth_unstable(cut);
            let cutoff = *cutoff;
            map.retain(|_, f| f.last().is_some_and(|a| a.at > cutoff));
        }
    }
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

impl Throttle {
    /// A throttle verifying at most `slots` passwords at once.
    pub fn new(slots: usize) -> Throttle {
        Throttle {
            attempts: Mutex::default(),
            checks: tokio::sync::Semaphore::new(slots.max(1)),
            memory: Mutex::default(),
            typical_check_us: AtomicU64::new(50_000),
        }
    }

    /// Decides an attempt on `account` (which `exists` or not) from `address`, and counts it.
    pub fn reserve(&self, account: &str, address: IpAddr, exists: bool) -> Decision {
        let now = Instant::now();
        let key = account_key(account);
        // Nothing below can leave the maps half-changed, so a poisoned lock is taken as it is.
        let mut guard = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let a = &mut *guard;
        let account_list = a.by_account.entry(key.clone()).or_default();
        Attempts::prune(account_list, now);
        if account_list.len() >= FREE_PER_ACCOUNT {
            let extra = (account_list.len() - FREE_PER_ACCOUNT) as u32;
            let wait = Duration::from_secs(30)
                .saturating_mul(1 << extra.min(10))
                .min(MAX_ACCOUNT_WAIT);
            let until = account_list.last().map_or(now, |l| l.at) + wait;
            if until > now {
                return Decision::Wait(until - now);
            }
        }
        let flooded_tries: Vec<Instant> = account_list
            .iter()
            .filter(|t| t.flooded)
            .map(|t| t.at)
            .collect();
        let address_list = a.by_address.entry(address).or_default();
        Attempts::prune(address_list, now);
        let flooded = address_list.len() >= MAX_PER_ADDRESS;
        if flooded && flooded_tries.len() >= FLOODED_TRIES {
            let until = flooded_tries[flooded_tries.len() - FLOODED_TRIES] + WINDOW;
            return Decision::Wait(
                until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)),
            );
        }
        let id = a.next_id;
        a.next_id += 1;
        let attempt = Attempt {
            at: now,
            id,
            flooded,
        };
        a.by_address.entry(address).or_default().push(attempt);
        a.by_account.entry(key.clone()).or_default().push(attempt);
        Attempts::bound(&mut a.by_account, now);
        Attempts::bound(&mut a.by_address, now);
        let reservation = Reservation {
            account: key,
            address,
            id,
        };
        if flooded && !exists {
            Decision::Pretend(reservation)
        } else {
            Decision::Check(reservation)
        }
    }

    /// The password was right: the account's failures are forgotten, and the address's
    /// reservation is given back.
    pub fn succeeded(&self, r: Reservation) {
        let mut a = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        a.by_account.remove(&r.account);
        if let Some(list) = a.by_address.get_mut(&r.address) {
            list.retain(|t| t.id != r.id);
        }
    }

    /// Verifies `password` against `hash`, waiting for a free slot (see [`Throttle`]).
    pub async fn check(&self, password: String, hash: String) -> Result<bool> {
        let _slot = self
            .checks
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("password check slots: {e}"))?;
        let started = Instant::now();
        // A slot is held, so a memory is free or one more may be made.
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let (ok, memory) = tokio::task::spawn_blocking(move || {
            let ok = verify(&password, &hash, &mut memory);
            (ok, memory)
        })
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let old = self.typical_check_us.load(Ordering::Relaxed);
        self.typical_check_us
            .store(old - old / 8 + took / 8, Ordering::Relaxed);
        Ok(ok)
    }

    /// Waits as long as a password check usually takes, using no CPU and no memory.
    pub async fn pretend_check(&self) {
        let us = self.typical_check_us.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// Whether `password` matches the PHC `hash` (as [`crate::users::verify_password`]), computed in
/// `memory`, which is grown to the hash's cost once and then reused.
///
/// argon2 needs 19 MiB per check. Allocated afresh each time on the blocking pool's threads,
/// that memory stayed in each thread's malloc arena: 200 parallel sign-ins, only 2 checked at
/// a time, still took the daemon to 415 MiB. Kept per slot, it is 19 MiB per core, once.
fn verify(password: &str, hash: &str, memory: &mut Vec<argon2::Block>) -> bool {
    use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(h.algorithm);
    let version = h.version.map(Version::try_from).transpose();
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&h))
    else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), argon2::Block::default());
    }
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let computed = argon2::password_hash::Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Password)
    });
    // What the password filled it with does not stay there until the next check.
    memory.fill(argon2::Block::default());
    // `Output`'s equality takes the same time wherever the outputs differ.
    computed.is_ok_and(|c| c == expected)
}

/// The address the sign-in limits count: the peer's, or — when the peer is one of `trusted`
/// proxies — the rightmost address in `X-Forwarded-For` that is not itself a trusted proxy
/// (the one our proxy saw: addresses to its left are whatever the client wrote). A header
/// that cannot be read leaves the peer's address.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[crate::config::IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(client) {
                    break;
                }
            }
            Err(_) => return peer,
        }
    }
    client
}

#[derive(Deserialize)]
pub struct LoginQuery {
    dopo: Option<String>,
}

/// The longest path kept to go back to after signing in.
const MAX_TARGET: usize = 2048;

/// Only a path on this site is a place to go back to after signing in; anything else is "/".
fn safe_target(dopo: Option<&str>) -> String {
    match dopo {
        Some(p) if is_local_path(p) => p.to_string(),
        _ => "/".to_string(),
    }
}

/// Whether a browser can only resolve `p` to a page of this origin (issue 11, finding 4:
/// `/%09/evil.test` arrived as `/\t/evil.test`, which browsers read as `//evil.test`, another
/// host). Rather than list what is dangerous, this accepts what the backoffice's own links look
/// like: one leading `/`; printable ASCII only (browsers drop tabs and newlines and read `\`
/// as `/`; a non-ASCII character may be mapped to one); in the path, no empty, `.` or `..`
/// segment (so no `//` anywhere before the query) and no percent-encoded `/`, `\`, `.`, `%` or
/// control character, which a proxy or a second decoding could turn back into one. The query
/// cannot change the origin and may hold anything printable.
fn is_local_path(p: &str) -> bool {
    if p.len() > MAX_TARGET || !p.starts_with('/') {
        return false;
    }
    if !p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return false;
    }
    let path = p.split(['?', '#']).next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    let encoded_danger = lower.match_indices('%').any(|(i, _)| {
        let code = lower.get(i + 1..i + 3).unwrap_or("");
        matches!(code, "2f" | "5c" | "2e" | "25" | "7f") || code.starts_with(['0', '1'])
    });
    !encoded_danger
        && (path == "/"
            || path[1..]
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != ".."))
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
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let ip = client_address(peer.ip(), &headers, &app.settings.trusted_proxies);
    let email = form.email.trim().to_string();
    let creds = {
        let email = email.clone();
        app.readers
            .read(move |conn| sessions::credentials(conn, &email))
            .await?
    };
    // Verify even for an unknown account, so that timing does not tell which accounts exist.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
    let (user_id, stored_hash) = creds.clone().unwrap_or((0, DUMMY.to_string()));
    // Counted before the password is checked: see [`Throttle`].
    let (reservation, ok) = match app.throttle.reserve(&email, ip, creds.is_some()) {
        Decision::Wait(wait) => {
            tracing::warn!(%ip, "sign-in throttled");
            app.metrics
                .sign_ins_throttled
                .fetch_add(1, Ordering::Relaxed);
            let msg = crate::texts::sign_in_throttled(wait.as_secs().div_ceil(60).max(1));
            return Ok(login_form(
                &app.settings,
                form.dopo.as_deref(),
                Some(&msg),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
        Decision::Pretend(r) => {
            app.throttle.pretend_check().await;
            (r, false)
        }
        Decision::Check(r) => {
            let ok = app.throttle.check(form.password, stored_hash).await?;
            app.metrics.password_checks.fetch_add(1, Ordering::Relaxed);
            (r, ok && creds.is_some())
        }
    };
    if !ok {
        tracing::warn!(%ip, "sign-in failed");
        app.store
            .call(move |conn| {
                audit::record(
                    conn,
                    AuditActor::Anonymous,
                    AuditAction::UserLoginFailed,
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
    app.throttle.succeeded(reservation);
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
                AuditActor::User(user_id),
                AuditAction::UserLogin,
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
    let actor = s.actor.audit();
    app.store
        .call(move |conn| {
            sessions::delete(conn, &s.id_hash)?;
            audit::record(conn, actor, AuditAction::UserLogout, None, json!({}))
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

    fn waits(d: &Decision) -> bool {
        matches!(d, Decision::Wait(_))
    }

    /// A wrong password: the reservation simply stays counted.
    fn fail(t: &Throttle, account: &str, ip: IpAddr) -> Decision {
        t.reserve(account, ip, true)
    }

    #[test]
    fn an_account_is_slowed_not_locked_out() {
        let t = Throttle::new(1);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..FREE_PER_ACCOUNT {
            assert!(!waits(&fail(&t, "OP@h.test ", ip)));
        }
        let Decision::Wait(wait) = t.reserve("op@h.test", ip, true) else {
            panic!("the sixth attempt waits");
        };
        assert!(wait <= Duration::from_secs(30), "{wait:?}");
        // Waiting attempts are not counted: the wait does not grow while one is refused.
        for _ in 0..20 {
            assert!(waits(&t.reserve("op@h.test", ip, true)));
        }
        let Decision::Wait(again) = t.reserve("op@h.test", ip, true) else {
            panic!()
        };
        assert!(again <= wait, "{again:?}");
        // Another account from another address is not affected.
        assert!(!waits(&t.reserve(
            "other@h.test",
            [10, 0, 0, 1].into(),
            true
        )));
    }

    #[test]
    fn a_success_gives_its_reservation_back() {
        let t = Throttle::new(1);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..FREE_PER_ACCOUNT - 1 {
            let _ = fail(&t, "op@h.test", ip);
        }
        let Decision::Check(r) = t.reserve("op@h.test", ip, true) else {
            panic!()
        };
        t.succeeded(r);
        // The account starts again; the address counts the four failures only.
        for _ in 0..FREE_PER_ACCOUNT {
            assert!(!waits(&fail(&t, "op@h.test", [10, 0, 0, 9].into())));
        }
        let a = t.attempts.lock().unwrap();
        assert_eq!(a.by_address[&ip].len(), FREE_PER_ACCOUNT - 1);
    }

    #[test]
    fn parallel_attempts_are_counted_before_any_is_verified() {
        // Issue 11, finding 5: 150 parallel wrong passwords for one account verified 39.
        let t = std::sync::Arc::new(Throttle::new(1));
        let ip: IpAddr = [192, 0, 2, 1].into();
        let checked = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..150 {
                s.spawn(|| {
                    if let Decision::Check(_) = t.reserve("op@h.test", ip, true) {
                        checked.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(checked.into_inner(), FREE_PER_ACCOUNT);
    }

    #[test]
    fn a_flooded_address_still_lets_a_person_in() {
        let t = Throttle::new(1);
        let proxy: IpAddr = [10, 0, 0, 1].into();
        // An attacker behind the hospital's proxy sprays invented accounts.
        let mut verified = 0;
        for i in 0..200 {
            match t.reserve(&format!("nobody{i}@h.test"), proxy, false) {
                Decision::Check(_) => verified += 1,
                Decision::Pretend(_) => {}
                Decision::Wait(_) => panic!("an unknown account is answered like a known one"),
            }
        }
        assert_eq!(
            verified, MAX_PER_ADDRESS,
            "no check past the address's limit"
        );
        // An operator behind the same proxy mistypes once, then gets in.
        assert!(matches!(fail(&t, "op@h.test", proxy), Decision::Check(_)));
        let Decision::Check(r) = t.reserve("op@h.test", proxy, true) else {
            panic!("a typo does not lock a person out");
        };
        t.succeeded(r);
        // An account the flood keeps guessing is under attack: it waits.
        let _ = fail(&t, "admin@h.test", proxy);
        let _ = fail(&t, "admin@h.test", proxy);
        assert!(waits(&t.reserve("admin@h.test", proxy, true)));
        // …and an invented account the same, so the answer tells nothing.
        let _ = t.reserve("ghost@h.test", proxy, false);
        let _ = t.reserve("ghost@h.test", proxy, false);
        assert!(waits(&t.reserve("ghost@h.test", proxy, false)));
        // Elsewhere the same account is only under its own rule.
        assert!(!waits(&t.reserve(
            "admin@h.test",
            [10, 9, 9, 9].into(),
            true
        )));
    }

    #[test]
    fn the_throttle_forgets_idle_keys_past_its_bound() {
        let t = Throttle::new(1);
        for i in 0..(MAX_KEYS as u32 + 10) {
            let _ = t.reserve(
                &format!("u{i}@h.test"),
                IpAddr::from(i.to_be_bytes()),
                false,
            );
        }
        let a = t.attempts.lock().unwrap();
        assert!(a.by_account.len() <= MAX_KEYS && a.by_address.len() <= MAX_KEYS);
    }

    #[test]
    fn checks_in_kept_memory_agree_with_the_library() {
        let hash = crate::users::hash_password("una-password-lunga").unwrap();
        let mut memory = Vec::new();
        assert!(verify("una-password-lunga", &hash, &mut memory));
        let kept = memory.len();
        assert!(kept > 0);
        assert!(!verify("una-password-lunga ", &hash, &mut memory));
        assert!(!verify("", &hash, &mut memory));
        assert_eq!(memory.len(), kept, "the memory is reused, not grown");
        assert!(
            verify("una-password-lunga", &hash, &mut memory),
            "and works again"
        );
        // Other costs, algorithms and versions, as the library writes them.
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = |m, t, p, out| argon2::Params::new(m, t, p, out).unwrap();
        for (alg, version, params) in [
            (
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                params(64, 1, 1, None),
            ),
            (
                argon2::Algorithm::Argon2i,
                argon2::Version::V0x10,
                params(32, 2, 2, Some(16)),
            ),
            (
                argon2::Algorithm::Argon2d,
                argon2::Version::V0x13,
                params(8, 3, 1, Some(64)),
            ),
        ] {
            let h = argon2::Argon2::new(alg, version, params)
                .hash_password(b"segreta", &salt)
                .unwrap()
                .to_string();
            assert!(verify("segreta", &h, &mut memory), "{h}");
            assert!(!verify("Segreta", &h, &mut memory), "{h}");
            assert!(crate::users::verify_password("segreta", &h), "{h}");
            assert!(!crate::users::verify_password("Segreta", &h), "{h}");
        }
        for bad in [
            "",
            "plain",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            "$md5$x$y",
        ] {
            assert!(!verify("x", bad, &mut memory), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<crate::config::IpNet> =
            vec!["10.0.0.1".parse().unwrap(), "10.0.1.0/24".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From a stranger the header is whatever it wrote.
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        // From the proxy: the address the proxy appended, not what the client put before it.
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        // Through two trusted proxies.
        h.append("x-forwarded-for", "10.0.1.5".parse().unwrap());
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        // A header that cannot be read leaves the peer.
        let mut bad = HeaderMap::new();
        bad.insert("x-forwarded-for", "unknown".parse().unwrap());
        assert_eq!(
            client_address(ip("10.0.0.1"), &bad, &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }

    /// Targets known to send browsers elsewhere (OWASP, PortSwigger and bug-bounty lists), as
    /// the handler receives them (the query string already decoded once).
    const BYPASSES: &[&str] = &[
        "/\t/evil.test",
        "/\n/evil.test",
        "/\r/evil.test",
        "/\r\n/evil.test",
        "/\x0b/evil.test",
        "/\x0c/evil.test",
        "/\0/evil.test",
        "/\x7f/evil.test",
        "/ /evil.test",
        "//evil.test",
        "///evil.test",
        "////evil.test/",
        "/\\evil.test",
        "\\/evil.test",
        "\\\\evil.test",
        "/\\/evil.test",
        "/%5cevil.test",
        "/%5Cevil.test",
        "/%2f/evil.test",
        "/%2F%2Fevil.test",
        "/%252f%252fevil.test",
        "/%09/evil.test",
        "/%0a/evil.test",
        "/%00/evil.test",
        "/.//evil.test",
        "/./evil.test",
        "/../evil.test",
        "/x/..//evil.test",
        "/.%2e/evil.test",
        "/%2e%2e/evil.test",
        "https://evil.test",
        "http:evil.test",
        "http:/evil.test",
        "javascript:alert(1)",
        "data:text/html,x",
        "evil.test",
        "@evil.test",
        "//evil.test@urp.test",
        "/\u{3000}/evil.test",
        "/\u{ff0f}evil.test",
        "/\u{2215}evil.test",
        "/\u{ff3c}evil.test",
        "/\u{200b}/evil.test",
        "\u{ff0f}\u{ff0f}evil.test",
        "",
    ];

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for p in BYPASSES {
            assert_eq!(safe_target(Some(p)), "/", "{p:?} was accepted");
        }
        assert!(BYPASSES.len() >= 20);
        assert_eq!(safe_target(None), "/");
        assert_eq!(
            safe_target(Some(&format!("/{}", "a".repeat(MAX_TARGET)))),
            "/"
        );
        for own in [
            "/",
            "/reclami?stato=pending",
            "/reclami/URP-2026-000042",
            "/reclami?q=pronto%20soccorso&ordine=scadenza",
            "/reclami?q=http://x//y",
            "/statistiche?periodo=anno&anno=2026",
            "/amministrazione/registro?azione=ticket.&pagina=2",
        ] {
            assert_eq!(safe_target(Some(own)), own);
        }
    }

    #[test]
    fn every_target_followed_stays_on_this_origin() {
        // Whatever passes, a WHATWG URL parser (as browsers have) resolves it on this site.
        let base = url::Url::parse("https://urp.example.test/accedi").unwrap();
        let mut candidates: Vec<String> = BYPASSES.iter().map(|s| s.to_string()).collect();
        // Every printable character and every pair of them after the leading slash.
        let chars: Vec<char> = (0x20u8..0x7f).map(char::from).chain(['\t', '\n']).collect();
        for a in &chars {
            candidates.push(format!("/{a}evil.test"));
            for b in &chars {
                candidates.push(format!("/{a}{b}evil.test"));
                candidates.push(format!("{a}{b}/evil.test"));
            }
        }
        for c in candidates {
            let target = safe_target(Some(&c));
            let resolved = base.join(&target).unwrap();
            assert_eq!(
                resolved.origin(),
                base.origin(),
                "{c:?} → {target:?} → {resolved}"
            );
        }
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
            trusted_proxies: Vec::new(),
            viewer_sees_content: false,
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
