//! The hospital's services (units) a ticket may concern.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag};
use crate::admin;
use crate::store::backoffice as q;
use crate::web::auth::AdminUser;
use crate::web::ui::csrf;
use crate::web::{App, WebResult};

pub async fn services(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    axum::extract::Query(done): axum::extract::Query<crate::web::feedback::DoneQuery>,
) -> WebResult<Markup> {
    let services = app.readers.read(q::services).await?;
    let body = html! {
        (super::flash(&done))
        div.tablewrap {
            table {
                caption { "Servizi e unità operative" }
                thead { tr { th scope="col" { "Codice" } th scope="col" { "Nome e stato" } } }
                tbody {
                    @for sv in &services {
                        tr {
                            td { (sv.code) }
                            td {
                                form.inline method="post" action={"/amministrazione/servizi/" (sv.id)} {
                                    (csrf(&s))
                                    label.visually-hidden for={"sv-" (sv.id)} { "Nome" }
                                    input id={"sv-" (sv.id)} type="text" name="nome" value=(sv.name) required;
                                    label { input type="checkbox" name="attivo" value="1" checked[sv.active]; " attivo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Nuovo servizio" }
        form.action.grid method="post" action="/amministrazione/servizi" {
            (csrf(&s))
            p { label for="sv-codice" { "Codice" } input #sv-codice type="text" name="codice" required pattern="[A-Z0-9._\\-]{1,20}"; }
            p { label for="sv-nome" { "Nome" } input #sv-nome type="text" name="nome" required; }
            p.buttons { button type="submit" { "Aggiungi" } }
        }
    };
    Ok(admin_page(&s, "Servizi", body))
}

#[derive(Deserialize)]
pub struct ServiceAddForm {
    codice: String,
    nome: String,
}

pub async fn service_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ServiceAddForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(&app, move |conn| {
        admin::service_add(conn, actor, f.codice.trim(), &f.nome)
    })
    .await?;
    Ok(back("/amministrazione/servizi"))
}

#[derive(Deserialize)]
pub struct ServiceForm {
    nome: String,
    attivo: Option<String>,
}

pub async fn service_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<ServiceForm>,
) -> WebResult<Response> {
    let (actor, active) = (s.actor.audit(), flag(&f.attivo));
    change(&app, move |conn| {
        admin::service_update(conn, actor, id, &f.nome, active)
    })
    .await?;
    Ok(back("/amministrazione/servizi"))
}
