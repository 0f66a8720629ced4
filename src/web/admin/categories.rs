//! The two-level category list (subject codes): macro-categories and their sub-categories.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag, FormAction};
use crate::admin;
use crate::store::backoffice as q;
use crate::web::auth::AdminUser;
use crate::web::ui::csrf;
use crate::web::{App, WebResult};

pub async fn categories(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    axum::extract::Query(done): axum::extract::Query<crate::web::feedback::DoneQuery>,
) -> WebResult<Markup> {
    let cats = app.readers.read(q::categories).await?;
    let body = html! {
        (super::flash(&done))
        p { "Una voce usata da reclami o regole non si elimina: si disattiva, così i reclami passati e le statistiche mantengono il loro codice." }
        div.tablewrap {
            table {
                caption { "Classificazione a due livelli" }
                thead { tr { th scope="col" { "Livello" } th scope="col" { "Codice, descrizione, stato" } th scope="col" { "Elimina" } } }
                tbody {
                    @for c in &cats {
                        tr.sub[c.parent_id.is_some()] {
                            td { @if c.parent_id.is_some() { "sottocategoria" } @else { strong { "macrocategoria" } } }
                            td {
                                form.inline method="post" action={"/amministrazione/categorie/" (c.id)} {
                                    (csrf(&s))
                                    label.visually-hidden for={"cc-" (c.id)} { "Codice" }
                                    input.code id={"cc-" (c.id)} type="text" name="codice" value=(c.code) required;
                                    label.visually-hidden for={"cl-" (c.id)} { "Descrizione" }
                                    input id={"cl-" (c.id)} type="text" name="descrizione" value=(c.label) required;
                                    label { input type="checkbox" name="attivo" value="1" checked[c.active]; " attiva" }
                                    button type="submit" name="azione" value="salva" { "Salva" }
                                }
                            }
                            td {
                                @if !c.used {
                                    form.inline method="post" action={"/amministrazione/categorie/" (c.id)} {
                                        (csrf(&s))
                                        input type="hidden" name="azione" value="elimina";
                                        button type="submit" { "Elimina " (c.code) }
                                    }
                                } @else { span.muted { "in uso" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Nuova voce" }
        form.action.grid method="post" action="/amministrazione/categorie" {
            (csrf(&s))
            p { label for="nc-codice" { "Codice" } input #nc-codice type="text" name="codice" required placeholder="TEM.05"; }
            p { label for="nc-descr" { "Descrizione" } input #nc-descr type="text" name="descrizione" required; }
            p {
                label for="nc-padre" { "Macrocategoria" }
                select #nc-padre name="padre" {
                    option value="" { "(nuova macrocategoria)" }
                    @for c in cats.iter().filter(|c| c.parent_id.is_none()) { option value=(c.id) { (c.code) " – " (c.label) } }
                }
            }
            p.buttons { button type="submit" { "Aggiungi" } }
        }
    };
    Ok(admin_page(&s, "Classificazione", body))
}

#[derive(Deserialize)]
pub struct CategoryAddForm {
    codice: String,
    descrizione: String,
    #[serde(default)]
    padre: String,
}

pub async fn category_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<CategoryAddForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let parent = crate::web::form_id(&f.padre)?;
    change(&app, move |conn| {
        admin::category_add(conn, actor, f.codice.trim(), &f.descrizione, parent)
    })
    .await?;
    Ok(back("/amministrazione/categorie"))
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    codice: String,
    #[serde(default)]
    descrizione: String,
    attivo: Option<String>,
    #[serde(default)]
    azione: FormAction,
}

pub async fn category_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<CategoryForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let active = flag(&f.attivo);
    if f.azione == FormAction::Elimina {
        change(&app, move |conn| admin::category_delete(conn, actor, id)).await?;
    } else {
        change(&app, move |conn| {
            admin::category_update(conn, actor, id, f.codice.trim(), &f.descrizione, active)
        })
        .await?;
    }
    Ok(back("/amministrazione/categorie"))
}
