//! Answering with a model (issue 19): the ticket page offers the active answer models that suit
//! the ticket's kind and category; the one picked is filled in on the server (no JavaScript)
//! with the ticket's facts and shown in the answer form, to be edited before sending.

use axum::extract::{Query, State as AppState};
use maud::{html, Markup};
use serde::Deserialize;

use super::ticket_id;
use crate::domain::TicketNumber;
use crate::store::answer_models::{self as sql, AnswerModel};
use crate::store::tickets;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf, Section};
use crate::web::{App, UrlPath, WebError, WebResult};

/// The models that suit ticket `id` (its kind and category).
pub fn suitable(conn: &rusqlite::Connection, id: i64) -> anyhow::Result<Vec<AnswerModel>> {
    let t = tickets::ticket(conn, id)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))?;
    sql::suitable(conn, t.kind, t.category.map(|c| c.id))
}

/// The ticket page's choice of a model (nothing when none suits the ticket).
pub fn picker(number: &TicketNumber, models: &[AnswerModel]) -> Markup {
    html! {
        @if !models.is_empty() {
            form.action method="get" action={"/reclami/" (number) "/risposta/modello"} {
                label for="modello" { "Rispondi con un modello" }
                select #modello name="modello" required {
                    @for m in models { option value=(m.id) { (m.title) } }
                }
                button type="submit" { "Compila la risposta" }
            }
        }
    }
}

/// The answer form with `text` in it.
pub fn answer_form(s: &Session, number: &TicketNumber, text: &str) -> Markup {
    html! {
        form.action method="post" action={"/reclami/" (number) "/risposta"} {
            (csrf(s))
            label for="risposta" { "Risposta al cittadino (inviata per email)" }
            textarea #risposta name="testo" rows="16" required { (text) }
            button type="submit" { "Invia risposta" }
        }
    }
}

#[derive(Deserialize)]
pub struct ModelQuery {
    #[serde(default)]
    modello: String,
}

/// GET `/reclami/{number}/risposta/modello?modello=ID`: the model filled in for this ticket.
pub async fn with_model(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Query(q): Query<ModelQuery>,
) -> WebResult<Markup> {
    let id = ticket_id(&app, &number).await?;
    let model_id: i64 = q.modello.trim().parse().map_err(|_| WebError::NotFound)?;
    let (notifier, operator) = (app.notifier.clone(), s.actor.name.clone());
    let filled = app
        .readers
        .read(move |conn| {
            let Some(m) = sql::get(conn, model_id)?.filter(|m| m.active) else {
                return Ok(None);
            };
            let text = notifier.fill_model(conn, id, &m.body, &operator)?;
            Ok(Some((m.title, text)))
        })
        .await?;
    let Some((title, text)) = filled else {
        return Err(WebError::NotFound);
    };
    let body = html! {
        p { "Modello: " strong { (title) } ". Rivedi e modifica il testo prima di inviarlo." }
        (answer_form(&s, &number, &text))
        p { a href={"/reclami/" (number)} { "Torna al reclamo" } }
    };
    Ok(ui::page(
        &s,
        Section::Tickets,
        &format!("Risposta al reclamo {number}"),
        body,
    ))
}
