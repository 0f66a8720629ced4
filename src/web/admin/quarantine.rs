//! Quarantine: messages that did not become part of a ticket, with their reason; download,
//! retry, discard.

use std::panic::AssertUnwindSafe;
use std::sync::PoisonError;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};

use super::{admin_page, change};
use crate::admin;
use crate::domain::{AuditAction, Done};
use crate::texts;
use crate::web::auth::AdminUser;
use crate::web::feedback::{self, DoneQuery};
use crate::web::ui::{self, csrf, Section};
use crate::web::{App, WebError, WebResult};

pub async fn quarantine(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Query(done): Query<DoneQuery>,
) -> WebResult<Markup> {
    let rows = app
        .readers
        .read(|conn| {
            let mut rows = Vec::new();
            crate::store::quarantine::each(conn, |r| {
                if !r.resolved {
                    rows.push(r);
                }
                Ok(())
            })?;
            Ok(rows)
        })
        .await?;
    let body = html! {
        @if let Some(d) = done.done() { (feedback::flash(&texts::done(d, ""))) }
        p { "Messaggi che non sono diventati reclami, con il motivo. L'originale è conservato: si può scaricare, rielaborare (dopo aver corretto una regola, o se il reclamo a cui si riferiva ora esiste) o scartare." }
        @if rows.is_empty() {
            p.muted { "Nessun messaggio in quarantena." }
        } @else {
            div.tablewrap {
                table {
                    caption { "Quarantena" }
                    thead { tr { th scope="col" { "N." } th scope="col" { "Ricevuto" } th scope="col" { "Tipo" } th scope="col" { "Motivo" } th scope="col" { "Dimensione" } th scope="col" { "Azioni" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.id) }
                                td { (ui::stored_datetime(&r.received_at)) }
                                td { (texts::quarantine_kind(r.kind)) }
                                td { (texts::quarantine_reason(&r.reason)) }
                                td { (ui::size(r.size)) }
                                td {
                                    a href={"/amministrazione/quarantena/" (r.id) "/originale"} download { "Scarica" }
                                    form.inline method="post" action={"/amministrazione/quarantena/" (r.id) "/riprova"} {
                                        (csrf(&s)) button type="submit" { "Rielabora" span.visually-hidden { " il messaggio " (r.id) } }
                                    }
                                    form.inline method="post" action={"/amministrazione/quarantena/" (r.id) "/scarta"} {
                                        (csrf(&s)) button type="submit" { "Scarta…" span.visually-hidden { " il messaggio " (r.id) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, "Quarantena", body))
}

pub async fn quarantine_raw(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let raw = app
        .readers
        .read(move |conn| crate::store::quarantine::raw_bytes(conn, id))
        .await?;
    let raw = raw.ok_or(WebError::NotFound)?;
    let actor = s.actor.audit();
    app.store
        .call(move |conn| {
            crate::store::audit::record(
                conn,
                actor,
                AuditAction::QuarantineDownloaded,
                None,
                serde_json::json!({ "quarantine": id }),
            )
        })
        .await?;
    Ok(crate::web::downloads::response(
        &format!("quarantena-{id}.eml"),
        raw,
        None,
    ))
}

pub async fn quarantine_retry(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let (pipeline, actor) = (app.pipeline.clone(), s.actor.audit());
    let outcome = app
        .store
        .call(move |conn| {
            let mut pipeline = pipeline.lock().unwrap_or_else(PoisonError::into_inner);
            // A quarantined message is hostile by definition: should parsing it panic, the
            // panic is caught while the lock is held, so the lock is not poisoned for ingest.
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                pipeline.retry_quarantined(conn, id, actor)
            }))
            .map_err(|_| anyhow::anyhow!("retrying quarantine entry {id} panicked"))?
        })
        .await?;
    match outcome {
        Ok(_) => Ok(feedback::done(
            "/amministrazione/quarantena",
            Done::QuarantineRetried,
            None,
        )),
        Err(reason) => Err(WebError::Refused(texts::quarantine_still_failing(&reason))),
    }
}

pub async fn quarantine_discard(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> WebResult<Response> {
    if !feedback::confirmed(f.confermato.as_deref()) {
        let page = feedback::confirm_page(
            &s,
            Section::Admin,
            feedback::Confirm {
                title: &format!("Scartare il messaggio n. {id} della quarantena?"),
                consequences: html! { p { (texts::QUARANTINE_DISCARD_CONSEQUENCES) } },
                action: &format!("/amministrazione/quarantena/{id}/scarta"),
                fields: &[],
                extra: html! {},
                button: "Sì, scarta il messaggio",
                cancel: "/amministrazione/quarantena",
            },
        );
        return Ok(page.into_response());
    }
    let actor = s.actor.audit();
    change(&app, move |conn| admin::quarantine_discard(conn, actor, id)).await?;
    Ok(feedback::done(
        "/amministrazione/quarantena",
        Done::QuarantineDiscarded,
        None,
    ))
}

/// A form whose only field is the confirmation step's.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confermato: Option<String>,
}
