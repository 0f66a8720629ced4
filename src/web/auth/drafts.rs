//! An answer whose form arrives after its session ended (idle for `[web] session_idle_minutes`,
//! or past `session_max_hours`) is not lost (issue 18): when the form carries the CSRF token of
//! the session its cookie names, the text is kept as that user's draft for the ticket, and the
//! browser is sent to sign in and back to the ticket, whose answer form shows the draft again.
//!
//! Nothing is done with the ended session but this: the draft is text for its own author, who
//! still has to sign in, read it and send it.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde_json::json;

use super::{constant_time_eq, cookie, hash, SESSION_COOKIE};
use crate::domain::{AuditAction, AuditActor, TicketNumber};
use crate::store::{self, audit, kept_answers, sessions};
use crate::web::{ui, App};

/// How long a session that ended stays stored so that a late answer can still be kept: the
/// purge at each sign-in spares sessions idle for less than the idle limit and this.
pub fn ended_sessions_kept() -> chrono::Duration {
    chrono::Duration::hours(24)
}

/// For a POST refused because no session is live: the answer it carries kept as a draft, and
/// the redirect to sign in; `None` when it is not an answer or the form is not that session's.
pub async fn keep_answer(
    app: &App,
    headers: &HeaderMap,
    path: &str,
    fields: &[(String, String)],
) -> Option<Response> {
    // The answer's form posts to `/risposta/allegati` (with its files; the files of a late
    // post are not kept, only its text) or, without files, to `/risposta`.
    let rest = path.strip_prefix("/reclami/")?;
    let number: TicketNumber = rest
        .strip_suffix("/risposta/allegati")
        .or_else(|| rest.strip_suffix("/risposta"))?
        .parse()
        .ok()?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (sent_csrf, text) = (field("_csrf")?, field("testo")?);
    if text.trim().is_empty() {
        return None;
    }
    let secret = cookie(headers, SESSION_COOKIE)?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id_hash = hash(secret);
    let kept = app
        .store
        .call(move |conn| {
            let Some((user_id, csrf)) = sessions::ended(conn, &id_hash)? else {
                return Ok(false);
            };
            if !constant_time_eq(&sent_csrf, &csrf) {
                return Ok(false);
            }
            let Some(ticket) = store::tickets::id_by_number(conn, &number)? else {
                return Ok(false);
            };
            let tx = conn.transaction()?;
            kept_answers::keep(&tx, user_id, ticket, &text, &store::time_text(Utc::now()))?;
            audit::record(
                &tx,
                AuditActor::User(user_id),
                AuditAction::TicketDraftKept,
                Some(ticket),
                json!({ "chars": text.chars().count() }),
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await;
    match kept {
        Ok(true) => {
            let back = format!("/reclami/{}", path_number(path));
            tracing::info!(
                path,
                "an answer arrived after its session ended: kept as a draft"
            );
            Some(
                Redirect::to(&format!("/accedi?bozza=1&dopo={}", ui::url_encode(&back)))
                    .into_response(),
            )
        }
        Ok(false) => None,
        Err(e) => {
            tracing::error!("keeping a late answer as a draft failed: {e:#}");
            None
        }
    }
}

fn path_number(path: &str) -> &str {
    path.trim_start_matches("/reclami/")
        .trim_end_matches("/risposta")
}
