//! Posta in uscita: notifications waiting, failed or held back, and the retry of a failed one.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};

use super::{admin_page, change};
use crate::admin;
use crate::domain::OutboxState;
use crate::store::backoffice as q;
use crate::texts;
use crate::web::auth::AdminUser;
use crate::web::ui::{self, csrf};
use crate::web::{App, WebResult};

pub async fn outbox(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    axum::extract::Query(done): axum::extract::Query<crate::web::feedback::DoneQuery>,
) -> WebResult<Markup> {
    let rows = app
        .readers
        .read(|conn| crate::store::outbox::attention(conn, 300))
        .await?;
    let body = html! {
        (super::flash(&done))
        p { "Le email in attesa vengono ritentate automaticamente. Quelle non consegnate dopo tutti i tentativi si possono rimettere in coda; quelle non inviate per scelta (limite ai messaggi automatici, indirizzo che rimbalza) riportano il motivo." }
        @if rows.is_empty() {
            p.muted { "Nessuna email in attesa o non consegnata." }
        } @else {
            div.tablewrap {
                table {
                    caption { "Posta in uscita da seguire" }
                    thead { tr { th scope="col" { "Creata" } th scope="col" { "Reclamo" } th scope="col" { "Destinatario" } th scope="col" { "Oggetto" } th scope="col" { "Stato" } th scope="col" { "Tentativi" } th scope="col" { "Ultimo errore o motivo" } th scope="col" { "Azioni" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (ui::stored_datetime(&r.created_at)) }
                                td { @if let Some(n) = &r.ticket { a href={"/reclami/" (n)} { (n) } } }
                                td { (ui::clip(&r.to, q::LIST_TEXT_CHARS)) }
                                td { (ui::clip(&r.subject, q::LIST_TEXT_CHARS)) }
                                td { (texts::outbox_state(r.state)) }
                                td { (r.attempts) }
                                td { (r.last_error.as_deref().unwrap_or("")) }
                                td {
                                    @if r.state == OutboxState::Failed {
                                        form.inline method="post" action={"/amministrazione/posta/" (r.id) "/riprova"} {
                                            (csrf(&s)) button type="submit" { "Rimetti in coda" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, "Posta in uscita", body))
}

pub async fn outbox_retry(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(&app, move |conn| admin::outbox_retry(conn, actor, id)).await?;
    Ok(crate::web::feedback::done(
        "/amministrazione/posta",
        crate::domain::Done::MailRequeued,
        None,
    ))
}
