//! Sign-off on the ticket and the dashboard (issue 19): answers awaiting approval, and the
//! forms a user with the approver right uses to approve (send) or return them.
//!
//! The forms carry the CSRF token; the handlers take [`Staff`] and the workflow checks the
//! approver right (a flag on the account) on the server.

use axum::extract::State as AppState;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::back_to;
use crate::domain::{DraftState, TicketNumber};
use crate::signoff;
use crate::store::drafts::{self as sql, Draft};
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf};
use crate::web::{App, UrlPath, WebResult};
use crate::workflow;

/// A ticket's drafts and whether the reader may approve.
pub fn read(
    conn: &rusqlite::Connection,
    ticket_id: i64,
    user: i64,
) -> anyhow::Result<(Vec<Draft>, bool)> {
    Ok((
        sql::of_ticket(conn, ticket_id)?,
        sql::is_approver(conn, user)?,
    ))
}

/// The ticket's answers awaiting approval (and those decided), with the approver's forms.
pub fn section(s: &Session, number: &TicketNumber, drafts: &[Draft], approver: bool) -> Markup {
    html! {
        @if !drafts.is_empty() {
            section aria-labelledby="bozze" {
                h2 #bozze { "Risposte da approvare" }
                @for d in drafts {
                    article.entry.out {
                        header {
                            strong { (texts::draft_state(d.state)) } " · " (d.author_name)
                            " · " (ui::stored_datetime(&d.created_at))
                        }
                        div.body { (d.body) }
                        @if let Some(c) = &d.comment { p { "Commento: " (c) } }
                        @if approver && s.may_act() && d.state == DraftState::Pending {
                            form.inline method="post" action={"/reclami/" (number) "/bozze/" (d.id) "/approva"} {
                                (csrf(s))
                                button type="submit" { "Approva e invia" }
                            }
                            form.inline method="post" action={"/reclami/" (number) "/bozze/" (d.id) "/restituisci"} {
                                (csrf(s))
                                label for={"commento-" (d.id)} { "Commento" }
                                input id={"commento-" (d.id)} type="text" name="commento" required maxlength="1000";
                                button type="submit" { "Restituisci" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The dashboard's list of answers awaiting approval.
pub fn queue(drafts: &[Draft]) -> Markup {
    html! {
        @if !drafts.is_empty() {
            section aria-labelledby="da-approvare" {
                h2 #da-approvare { "Risposte da approvare" }
                ul {
                    @for d in drafts {
                        li {
                            a href={"/reclami/" (d.number) "#bozze"} { (d.number) }
                            " · " (d.author_name) " · " (ui::stored_datetime(&d.created_at))
                        }
                    }
                }
            }
        }
    }
}

pub async fn approve(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath((number, draft)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let (notifier, actor, n) = (app.notifier.clone(), s.actor.clone(), number.clone());
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                signoff::approve(tx, &notifier, &actor, id, draft)
            }))
        })
        .await??;
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct ReturnForm {
    commento: String,
}

pub async fn send_back(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath((number, draft)): UrlPath<(TicketNumber, i64)>,
    Form(f): Form<ReturnForm>,
) -> WebResult<Response> {
    let (actor, n) = (s.actor.clone(), number.clone());
    app.store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                signoff::send_back(tx, &actor, id, draft, &f.commento)
            }))
        })
        .await??;
    Ok(back_to(&number))
}
