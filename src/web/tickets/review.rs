//! The second level on a ticket (riesame, issue 19): the phase it is in, the form to open a
//! review once the ticket was answered, and the form to record its outcome.
//!
//! The forms carry the CSRF token and their handlers take [`Staff`]; a viewer sees the body,
//! the dates and the outcome, and the notes only when they read contents.

use axum::extract::State as AppState;
use axum::response::Response;
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::back_to;
use crate::config::WorkflowConfig;
use crate::domain::{Outcome, TicketNumber};
use crate::reviews;
use crate::store::reviews::Review;
use crate::store::tickets::Ticket;
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf};
use crate::web::{App, UrlPath, WebError, WebResult};
use crate::workflow;

pub fn read(conn: &rusqlite::Connection, ticket_id: i64) -> anyhow::Result<Option<Review>> {
    crate::store::reviews::of_ticket(conn, ticket_id)
}

/// The review's phase and, for staff (`contents`), the forms.
pub fn section(
    s: &Session,
    t: &Ticket,
    review: Option<&Review>,
    contents: bool,
    workflow: &WorkflowConfig,
) -> Markup {
    let base = format!("/reclami/{}/riesame", t.number);
    let forms = contents && s.may_act() && t.merged_into.is_none();
    let bodies: Vec<&str> = workflow
        .review_bodies
        .iter()
        .filter(|b| !t.category.as_ref().is_some_and(|c| b.excludes(&c.code)))
        .map(|b| b.name.as_str())
        .collect();
    html! {
        @if let Some(r) = review {
            section aria-labelledby="riesame" {
                h2 #riesame { "Riesame (secondo livello)" }
                dl.summary {
                    dt { "Fase" }
                    dd { @if r.closed_at.is_some() { "riesame concluso" } @else { span.flag { "in riesame" } } }
                    dt { "Organismo" } dd { (r.body) }
                    dt { "Aperto" } dd { (ui::stored_datetime(&r.opened_at)) }
                    @if let Some(at) = &r.closed_at {
                        dt { "Concluso" }
                        dd { (ui::stored_datetime(at)) @if let Some(o) = r.outcome { " · esito: " (texts::outcome(o)) } }
                    }
                    @if contents && !r.notes.is_empty() {
                        dt { "Documenti e note" } dd { div.body { (r.notes) } }
                    }
                }
                @if forms && r.closed_at.is_none() {
                    form.action method="post" action={(base) "/esito"} {
                        (csrf(s))
                        label for="r-esito" { "Esito del riesame" }
                        select #r-esito name="esito" required {
                            option value="" { "Scegli l'esito" }
                            @for &o in Outcome::ALL { option value=(o) { (texts::outcome(o)) } }
                        }
                        label for="r-note-esito" { "Note (verbale, decisione)" }
                        textarea #r-note-esito name="note" rows="2" {}
                        button type="submit" { "Registra l'esito" }
                    }
                }
            }
        } @else if forms && t.first_answered_at.is_some() && !bodies.is_empty() {
            section aria-labelledby="riesame" {
                h2 #riesame { "Riesame (secondo livello)" }
                form.action method="post" action=(base) {
                    (csrf(s))
                    p.small { "Il cittadino resta insoddisfatto dopo la risposta: apri una richiesta di riesame." }
                    label for="r-organismo" { "Organismo" }
                    select #r-organismo name="organismo" required {
                        @for b in &bodies { option value=(b) { (b) } }
                    }
                    label for="r-note" { "Documenti e note (istanza del cittadino, documenti trasmessi)" }
                    textarea #r-note name="note" rows="2" {}
                    button type="submit" { "Apri la richiesta di riesame" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct OpenForm {
    organismo: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
pub struct CloseForm {
    esito: String,
    #[serde(default)]
    note: String,
}

pub async fn open(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(f): Form<OpenForm>,
) -> WebResult<Response> {
    let (actor, n, wf) = (
        s.actor.clone(),
        number.clone(),
        app.settings.workflow.clone(),
    );
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                reviews::open(tx, &wf, &actor, id, &f.organismo, &f.note, Utc::now())
            }))
        })
        .await??;
    Ok(back_to(&number))
}

pub async fn close(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(f): Form<CloseForm>,
) -> WebResult<Response> {
    let outcome: Outcome = f
        .esito
        .parse()
        .map_err(|_| WebError::Refused(texts::REVIEW_CHOOSE_OUTCOME.into()))?;
    let (actor, n) = (s.actor.clone(), number.clone());
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                reviews::close(tx, &actor, id, outcome, &f.note, Utc::now())
            }))
        })
        .await??;
    Ok(back_to(&number))
}
