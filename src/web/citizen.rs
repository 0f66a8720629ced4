//! The citizen's own page, `/pratica/<link>` (issue 15): no account, no session; the link
//! mailed to them is the key. It shows the number, state, dates, deadline and the messages
//! exchanged (never internal notes, services' reports or operators' names), and lets the
//! citizen write and say whether the answer satisfied them.
//!
//! A link that opens nothing is a 404 like any unknown page, after the same work (the hash is
//! looked up whatever the shape of the text); requests per address are limited ([`Limits`]).
//! The forms' CSRF token is derived from the link (`citizen_link::page_csrf`), checked by
//! `web::guard` like every other form's.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State as AppState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use crate::citizen_link;
use crate::domain::{time, Direction, State};
use crate::intake;
use crate::store::{intake as sql, tickets};
use crate::texts;
use crate::web::auth::client_address;
use crate::web::ui::Robots;
use crate::web::{ui, App, UrlPath, WebError, WebResult};
use crate::workflow;

/// Requests to citizens' pages one address may make per window: a citizen reads and writes a
/// few times; a guesser wants millions.
const PER_ADDRESS: u32 = 30;
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond, the oldest windows are forgotten first.
const REMEMBERED: usize = 10_000;

/// Counts requests to citizens' pages per client address, in fixed windows.
#[derive(Default)]
pub struct Limits {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limits {
    /// Counts one request from `ip`; false when it is over the limit.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= REMEMBERED {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= PER_ADDRESS
    }
}

/// The ticket the link opens, after the address's limit: 404 for anything else.
async fn opened(app: &App, peer: SocketAddr, headers: &HeaderMap, secret: &str) -> WebResult<i64> {
    let ip = client_address(peer.ip(), headers, &app.settings.trusted_proxies);
    if !app.citizen_limits.admit(ip, Instant::now()) {
        return Err(WebError::Busy(texts::CITIZEN_TOO_MANY.into()));
    }
    let secret = secret.to_string();
    app.readers
        .read(move |conn| citizen_link::open(conn, &secret))
        .await?
        .ok_or(WebError::NotFound)
}

/// The path of a citizen's page form and its CSRF token, for `web::guard`: the token is
/// derived from the link in the path.
pub fn csrf_of_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/pratica/")?;
    let secret = rest.split('/').next()?;
    citizen_link::looks_like_secret(secret).then(|| citizen_link::page_csrf(secret))
}

pub async fn page(
    AppState(app): AppState<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    UrlPath(secret): UrlPath<String>,
) -> WebResult<Markup> {
    let id = opened(&app, peer, &headers, &secret).await?;
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                intake::page_viewed(tx, id)
            }))
        })
        .await??;
    let (t, messages, feedback) = app
        .readers
        .read(move |conn| {
            Ok((
                tickets::ticket(conn, id)?,
                sql::page_messages(conn, id)?,
                sql::last_feedback(conn, id)?,
            ))
        })
        .await?;
    let t = t.ok_or(WebError::NotFound)?;
    let token = citizen_link::page_csrf(&secret);
    let base = format!("/pratica/{secret}");
    let answered = t.first_answered_at.is_some();
    let body = html! {
        dl.summary {
            dt { "Numero" } dd { (t.number) }
            dt { "Stato" } dd { (texts::citizen_state(t.state)) }
            dt { "Ricevuta il" } dd { (ui::stored_datetime(&t.received_at)) }
            dt { "Risposta entro il" } dd { (time::stored_rome_datetime(&t.due_at)) }
            @if let Some(at) = &t.first_answered_at {
                dt { "Risposta del" } dd { (ui::stored_datetime(at)) }
            }
            @if let Some(at) = &t.closed_at {
                dt { "Chiusa il" } dd { (ui::stored_datetime(at)) }
            }
        }
        h2 { "Messaggi" }
        @for m in &messages {
            article.message {
                h3 {
                    @match m.direction {
                        Direction::In => { "Lei ha scritto" }
                        Direction::Out => { "Risposta dell'ufficio" }
                    }
                    " · " (ui::stored_datetime(&m.at))
                }
                @for line in m.body.lines() { (line) br; }
            }
        }
        @if let Some((satisfied, _, at)) = &feedback {
            p role="status" {
                @if *satisfied { "Il " (ui::stored_datetime(at)) " ha indicato di essere soddisfatto della risposta." }
                @else { "Il " (ui::stored_datetime(at)) " ha indicato di non essere soddisfatto della risposta." }
            }
        }
        @if answered && t.state != State::Pending {
            h2 { "La risposta La soddisfa?" }
            form method="post" action={(base) "/soddisfatto"} {
                input type="hidden" name="_csrf" value=(token);
                button type="submit" { "Sono soddisfatto" }
            }
            form.stack method="post" action={(base) "/non-soddisfatto"} {
                input type="hidden" name="_csrf" value=(token);
                p {
                    label for="motivo" { "Non sono soddisfatto: perché?" }
                    textarea #motivo name="motivo" rows="4" required {}
                }
                button type="submit" { "Non sono soddisfatto" }
            }
        }
        h2 { "Scrivere all'ufficio" }
        form.stack method="post" action={(base) "/messaggio"} {
            input type="hidden" name="_csrf" value=(token);
            p {
                label for="testo" { "Il Suo messaggio" }
                textarea #testo name="testo" rows="6" required {}
            }
            button type="submit" { "Invia" }
        }
    };
    Ok(ui::public_frame(
        &app.settings.office_name,
        &format!("Pratica {}", t.number),
        body,
        Robots::NoIndex,
    ))
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    testo: String,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    motivo: String,
}

/// Runs what the citizen asked on ticket `id` in a transaction, then shows the page again.
async fn act(
    app: &App,
    secret: &str,
    id: i64,
    f: impl FnOnce(
            &rusqlite::Connection,
            &crate::notify::Notifier,
            i64,
        ) -> Result<(), workflow::WorkflowError>
        + Send
        + 'static,
) -> WebResult<Response> {
    let notifier = app.notifier.clone();
    app.store
        .call(move |conn| Ok(workflow::in_transaction(conn, |tx| f(tx, &notifier, id))))
        .await??;
    Ok(Redirect::to(&format!("/pratica/{secret}")).into_response())
}

pub async fn message(
    AppState(app): AppState<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    UrlPath(secret): UrlPath<String>,
    Form(f): Form<MessageForm>,
) -> WebResult<Response> {
    let id = opened(&app, peer, &headers, &secret).await?;
    act(&app, &secret, id, move |c, n, id| {
        intake::page_message(c, n, id, &f.testo).map(|_| ())
    })
    .await
}

pub async fn satisfied(
    AppState(app): AppState<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    UrlPath(secret): UrlPath<String>,
) -> WebResult<Response> {
    let id = opened(&app, peer, &headers, &secret).await?;
    act(&app, &secret, id, |c, _, id| intake::satisfied(c, id)).await
}

pub async fn unsatisfied(
    AppState(app): AppState<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    UrlPath(secret): UrlPath<String>,
    Form(f): Form<ReasonForm>,
) -> WebResult<Response> {
    let id = opened(&app, peer, &headers, &secret).await?;
    act(&app, &secret, id, move |c, n, id| {
        intake::unsatisfied(c, n, id, &f.motivo)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_limit_waits_for_the_next_window() {
        let limits = Limits::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..PER_ADDRESS {
            assert!(limits.admit(ip, t0));
        }
        assert!(!limits.admit(ip, t0));
        assert!(limits.admit("192.0.2.2".parse().unwrap(), t0));
        assert!(limits.admit(ip, t0 + WINDOW));
    }

    #[test]
    fn only_a_link_shaped_path_has_a_form_token() {
        let secret = "a".repeat(64);
        assert_eq!(
            csrf_of_path(&format!("/pratica/{secret}/messaggio")),
            Some(citizen_link::page_csrf(&secret))
        );
        assert_eq!(csrf_of_path("/pratica/abc/messaggio"), None);
        assert_eq!(csrf_of_path("/reclami/x"), None);
    }
}
