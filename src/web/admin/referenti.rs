//! The services' referenti: who receives the requests for reports (the istruttoria). They never
//! sign in. A referente whose address bounced is marked here: correct the address.

use axum::extract::State;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag};
use crate::istruttoria::{self, ReferenteInput};
use crate::store::backoffice as q;
use crate::store::requests as sql;
use crate::texts;
use crate::web::auth::AdminUser;
use crate::web::ui::{self, csrf};
use crate::web::{App, UrlPath, WebError, WebResult};

const PAGE: &str = "/amministrazione/referenti";

pub async fn referenti(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    axum::extract::Query(done): axum::extract::Query<crate::web::feedback::DoneQuery>,
) -> WebResult<Markup> {
    let (referenti, services) = app
        .readers
        .read(|conn| Ok((sql::referenti(conn)?, q::services(conn)?)))
        .await?;
    let body = html! {
        (super::flash(&done))
        p { "I referenti ricevono per email le richieste di relazione (istruttoria) e rispondono con un semplice «Rispondi». Non accedono al backoffice." }
        div.tablewrap {
            table {
                caption { "Referenti dei servizi" }
                thead { tr { th scope="col" { "Servizio" } th scope="col" { "Referente" } } }
                tbody {
                    @for r in &referenti {
                        tr {
                            td { (r.service_name) }
                            td {
                                @if let Some(since) = &r.bouncing_since {
                                    p.error role="note" { strong { (texts::REFERENTE_BOUNCING) } " (dal " (ui::stored_datetime(since)) ")" }
                                }
                                form.inline method="post" action={(PAGE) "/" (r.id)} {
                                    (csrf(&s))
                                    label { "Nome " input type="text" name="nome" value=(r.name) required; }
                                    label { " Email " input type="email" name="email" value=(r.email) required; }
                                    label { " Ruolo " input type="text" name="ruolo" value=(r.role) placeholder="Direttore UO"; }
                                    label { input type="checkbox" name="attivo" value="1" checked[r.active]; " attivo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Nuovo referente" }
        form.action.grid method="post" action=(PAGE) {
            (csrf(&s))
            p {
                label for="rf-servizio" { "Servizio" }
                select #rf-servizio name="servizio" required {
                    option value="" { "Scegli il servizio" }
                    @for sv in services.iter().filter(|sv| sv.active) {
                        option value=(sv.id) { (sv.name) }
                    }
                }
            }
            p { label for="rf-nome" { "Nome" } input #rf-nome type="text" name="nome" required; }
            p { label for="rf-email" { "Email" } input #rf-email type="email" name="email" required; }
            p { label for="rf-ruolo" { "Ruolo" } input #rf-ruolo type="text" name="ruolo" placeholder="Coordinatore infermieristico"; }
            p.buttons { button type="submit" { "Aggiungi" } }
        }
    };
    Ok(admin_page(&s, "Referenti dei servizi", body))
}

#[derive(Deserialize)]
pub struct ReferenteAddForm {
    servizio: String,
    nome: String,
    email: String,
    #[serde(default)]
    ruolo: String,
}

pub async fn referente_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ReferenteAddForm>,
) -> WebResult<Response> {
    let service_id = crate::web::form_id(&f.servizio)?
        .ok_or_else(|| WebError::Refused(texts::invalid_service().into()))?;
    let actor = s.actor.audit();
    let input = ReferenteInput {
        service_id,
        name: f.nome,
        email: f.email,
        role: f.ruolo,
        active: true,
    };
    change(&app, move |conn| {
        istruttoria::referente_add(conn, actor, &input)
    })
    .await?;
    Ok(back(PAGE))
}

#[derive(Deserialize)]
pub struct ReferenteForm {
    nome: String,
    email: String,
    #[serde(default)]
    ruolo: String,
    attivo: Option<String>,
}

pub async fn referente_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    UrlPath(id): UrlPath<i64>,
    Form(f): Form<ReferenteForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let input = ReferenteInput {
        service_id: 0, // kept: a referente stays with its service
        active: flag(&f.attivo),
        name: f.nome,
        email: f.email,
        role: f.ruolo,
    };
    change(&app, move |conn| {
        istruttoria::referente_update(conn, actor, id, &input)
    })
    .await?;
    Ok(back(PAGE))
}
