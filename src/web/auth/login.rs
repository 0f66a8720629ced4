//! The sign-in page, signing in and signing out.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use anyhow::Result;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::domain::{AuditAction, AuditActor};
use crate::store::{self, audit, sessions};
use crate::web::{ui, App, Settings, WebError};

use super::*;

#[derive(Deserialize)]
pub struct LoginQuery {
    dopo: Option<String>,
    /// "1": sent here after an answer was kept as a draft (its session had ended).
    bozza: Option<String>,
}

/// The longest path kept to go back to after signing in.
pub(super) const MAX_TARGET: usize = 2048;

/// Only a path on this site is a place to go back to after signing in; anything else is "/".
pub(super) fn safe_target(dopo: Option<&str>) -> String {
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
pub(super) fn is_local_path(p: &str) -> bool {
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
    let notice =
        crate::web::form_flag(q.bozza.as_deref()).then_some(crate::texts::DRAFT_SAVED_SIGN_IN);
    login_form_with(
        &app.settings,
        q.dopo.as_deref(),
        None,
        notice,
        StatusCode::OK,
    )
}

pub(super) fn login_form(
    settings: &Settings,
    dopo: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    login_form_with(settings, dopo, error, None, status)
}

/// The sign-in form, with a `notice` above it (an answer kept as a draft).
fn login_form_with(
    settings: &Settings,
    dopo: Option<&str>,
    error: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = random_hex(32);
    let mut resp = (
        status,
        ui::login_page(
            &settings.office_name,
            &token,
            &safe_target(dopo),
            error,
            notice,
        ),
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
    // Sessions that ended lately are kept a while, for an answer that arrives late.
    let idle_since = store::time_text(now - app.settings.idle - ended_sessions_kept());
    let ended_before = store::time_text(now - ended_sessions_kept());
    app.store
        .call(move |conn| {
            let now = store::time_text(now);
            sessions::purge(conn, &ended_before, &idle_since)?;
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
