//! Sign-in, sessions, roles and the login throttle.
//!
//! A session is a random 256-bit secret in an HttpOnly, SameSite=Strict cookie (Secure when
//! `base_url` is https); the database keeps only its SHA-256, the user, the CSRF token of the
//! session's forms, and its idle and absolute expiry. Signing in always makes a new session.
//!
//! Roles are enforced by extractor type: a handler taking [`Staff`] is never entered by a
//! viewer or a stranger, whatever the page shows.

mod drafts;
mod login;
mod throttle;

pub use drafts::{ended_sessions_kept, keep_answer};
pub use login::*;
pub use throttle::*;

use anyhow::Result;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ui, App, Settings, WebError};
use crate::domain::AuditAction;
use crate::domain::{Actor, Role};
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
    /// The account's clinical-risk and quality right (issue 20): the flagged tickets, and
    /// improvement actions for a viewer. Administrators have it anyway.
    pub risk_manager: bool,
    /// When the session ends unless used again (`[web] session_idle_minutes` from this
    /// request); the page header says it.
    pub idle_until: chrono::DateTime<Utc>,
    pub idle_minutes: i64,
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
        risk_manager: row.risk_manager || role == Role::Admin,
        idle_until: now + app.settings.idle,
        idle_minutes: app.settings.idle.num_minutes(),
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

/// Issue 20: who holds the clinical-risk and quality right (a flag on the account, and every
/// administrator). Anyone else signed in gets 403.
pub struct RiskManager(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for RiskManager {
    type Rejection = Refusal;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        let s = signed_in(parts, &[Role::Viewer, Role::Operator, Role::Admin])?;
        if s.risk_manager {
            Ok(RiskManager(s))
        } else {
            Err(Refusal::Forbidden)
        }
    }
}

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
