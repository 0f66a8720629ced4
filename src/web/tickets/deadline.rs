//! A ticket's deadline that moves (issue 19): the original and the effective deadline, every
//! change on the record, and the forms to suspend, resume and extend it.
//!
//! The forms carry the CSRF token and their handlers take [`Staff`]: viewers see the dates
//! (never the reasons, which may name the citizen, unless they read contents), and change
//! nothing.

use axum::extract::State as AppState;
use axum::response::Response;
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::back_to;
use crate::deadlines::{self, Move};
use crate::domain::TicketNumber;
use crate::store::deadlines::DeadlineFacts;
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf};
use crate::web::{App, UrlPath, WebError, WebResult};
use crate::workflow;

/// Reads what the section shows.
pub fn read(conn: &rusqlite::Connection, ticket_id: i64) -> anyhow::Result<Option<DeadlineFacts>> {
    crate::store::deadlines::facts(conn, ticket_id)
}

/// The deadline's record; with `contents`, the reasons; with `forms`, what an operator may do.
pub fn section(
    s: &Session,
    number: &TicketNumber,
    facts: &DeadlineFacts,
    contents: bool,
    forms: bool,
    extend_to: &[u32],
) -> Markup {
    let effective = facts.effective();
    let base = format!("/reclami/{number}/termine");
    let moves = forms && !facts.first_answered;
    html! {
        section aria-labelledby="termine" {
            h2 #termine { "Termine per la risposta" }
            dl.summary {
                dt { "Termine originale" }
                dd { (ui::datetime(facts.original_due)) }
                dt { "Termine effettivo" }
                dd {
                    (ui::stored_datetime(&facts.due_at))
                    @if let Some(days) = effective.extended_to { " · prorogato a " (days) " giorni" }
                    @if effective.suspended_days > 0 { " · " (effective.suspended_days) " giorni di sospensione" }
                }
                @if let Some(since) = effective.suspended_since {
                    dt { "Sospeso dal" }
                    dd { span.flag { (ui::datetime(since)) } " (il termine non decorre fino alla ripresa)" }
                }
            }
            @if !facts.changes.is_empty() {
                div.tablewrap {
                    table {
                        thead { tr {
                            th scope="col" { "Quando" } th scope="col" { "Modifica" }
                            @if contents { th scope="col" { "Motivo" } th scope="col" { "Chi" } }
                            th scope="col" { "Nuovo termine" }
                        } }
                        tbody {
                            @for c in &facts.changes {
                                tr {
                                    td { (ui::stored_datetime(&c.at)) }
                                    td { (texts::deadline_change(c.kind)) @if let Some(d) = c.to_days { " (" (d) " giorni)" } }
                                    @if contents {
                                        td { (c.reason) }
                                        td { (c.author.as_deref().unwrap_or("—")) }
                                    }
                                    td { (ui::stored_datetime(&c.due_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if moves {
                @if effective.suspended_since.is_some() {
                    form.action method="post" action={(base) "/ripresa"} {
                        (csrf(s))
                        label for="t-ripresa" { "Riprendi il termine (es. documento ricevuto)" }
                        input #t-ripresa type="text" name="motivo" required maxlength="500";
                        button type="submit" { "Riprendi" }
                    }
                } @else {
                    form.action method="post" action={(base) "/sospensione"} {
                        (csrf(s))
                        label for="t-sospendi" { "Sospendi il termine in attesa di (documento, delega dal cittadino)" }
                        input #t-sospendi type="text" name="motivo" required maxlength="500";
                        button type="submit" { "Sospendi" }
                    }
                }
                @if !extend_to.is_empty() {
                    form.action method="post" action={(base) "/proroga"} {
                        (csrf(s))
                        label for="t-giorni" { "Proroga (caso complesso) a" }
                        select #t-giorni name="giorni" required {
                            @for d in extend_to { option value=(d) { (d) " giorni dal ricevimento" } }
                        }
                        label for="t-proroga" { "Motivo della proroga (comunicato al cittadino)" }
                        input #t-proroga type="text" name="motivo" required maxlength="500";
                        button type="submit" { "Proroga" }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ReasonForm {
    motivo: String,
}

#[derive(Deserialize)]
pub struct ExtendForm {
    giorni: String,
    motivo: String,
}

async fn act(
    app: &App,
    s: &Session,
    number: &TicketNumber,
    what: Move,
    reason: String,
) -> WebResult<Response> {
    let (notifier, actor, n) = (app.notifier.clone(), s.actor.clone(), number.clone());
    let extend_to = app.settings.workflow.extend_to_days.clone();
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                deadlines::move_deadline(
                    tx,
                    &notifier,
                    &actor,
                    id,
                    &what,
                    &reason,
                    &extend_to,
                    Utc::now(),
                )
            }))
        })
        .await??;
    Ok(back_to(number))
}

pub async fn suspend(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<ReasonForm>,
) -> WebResult<Response> {
    act(&app, &s, &number, Move::Suspend, form.motivo).await
}

pub async fn resume(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<ReasonForm>,
) -> WebResult<Response> {
    act(&app, &s, &number, Move::Resume, form.motivo).await
}

pub async fn extend(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<ExtendForm>,
) -> WebResult<Response> {
    let to_days = form.giorni.trim().parse().map_err(|_| {
        WebError::Refused(texts::workflow_error(&workflow::WorkflowError::Invalid(
            workflow::Invalid::BadExtension,
        )))
    })?;
    act(&app, &s, &number, Move::Extend { to_days }, form.motivo).await
}
