//! Modelli di risposta (issue 19): the answer models operators pick on a ticket, each with the
//! kind and category it suits and a text with the mail templates' variables.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag};
use crate::answer_models;
use crate::domain::Kind;
use crate::store::answer_models::{self as sql, AnswerModel, ModelInput};
use crate::store::backoffice::{self as q, Category};
use crate::texts;
use crate::web::auth::{AdminUser, Session};
use crate::web::ui::csrf;
use crate::web::{form_id, App, WebError, WebResult};

const PAGE: &str = "/amministrazione/modelli";

pub async fn answer_models(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let (models, categories) = app
        .readers
        .read(|conn| Ok((sql::all(conn)?, q::categories(conn)?)))
        .await?;
    let body = html! {
        p { "Il testo di un modello usa le stesse variabili dei modelli email, ad esempio "
            code { "{{ citizen_name or \"utente\" }}" } ", " code { "{{ number }}" } ", "
            code { "{{ received_at }}" } ", " code { "{{ due_date }}" } ", " code { "{{ service }}" } ", "
            code { "{{ operator_name }}" } ". L'operatore lo sceglie sulla pratica, lo trova compilato e lo modifica prima dell'invio." }
        @for m in &models {
            (model_form(&s, Some(m), &categories))
        }
        h2 { "Nuovo modello" }
        (model_form(&s, None, &categories))
    };
    Ok(admin_page(&s, "Modelli di risposta", body))
}

fn model_form(s: &Session, m: Option<&AnswerModel>, categories: &[Category]) -> Markup {
    let (action, id) = match m {
        Some(m) => (format!("{PAGE}/{}", m.id), m.id.to_string()),
        None => (PAGE.to_string(), "nuovo".to_string()),
    };
    let kind = m.and_then(|m| m.kind);
    let category = m.and_then(|m| m.category_id);
    html! {
        form.action.grid method="post" action=(action) {
            (csrf(s))
            p { label for={"mr-titolo-" (id)} { "Titolo" }
                input id={"mr-titolo-" (id)} type="text" name="titolo" required maxlength="200" value=(m.map_or("", |m| m.title.as_str())); }
            p { label for={"mr-tipologia-" (id)} { "Tipologia" }
                select id={"mr-tipologia-" (id)} name="tipologia" {
                    option value="" { "Tutte" }
                    @for &k in Kind::ALL { option value=(k) selected[kind == Some(k)] { (texts::kind(k)) } }
                } }
            p { label for={"mr-categoria-" (id)} { "Classificazione" }
                select id={"mr-categoria-" (id)} name="categoria" {
                    option value="" { "Tutte" }
                    @for c in categories {
                        @if c.active || category == Some(c.id) {
                            option value=(c.id) selected[category == Some(c.id)] { (c.code) " – " (c.label) }
                        }
                    }
                } }
            p { label for={"mr-testo-" (id)} { "Testo" }
                textarea id={"mr-testo-" (id)} name="testo" rows="8" required { (m.map_or("", |m| m.body.as_str())) } }
            @if m.is_some() {
                p { label { input type="checkbox" name="attivo" value="1" checked[m.is_some_and(|m| m.active)]; " attivo" } }
            } @else {
                input type="hidden" name="attivo" value="1";
            }
            p.buttons { button type="submit" { @if m.is_some() { "Salva" } @else { "Aggiungi" } } }
        }
    }
}

#[derive(Deserialize)]
pub struct ModelForm {
    titolo: String,
    #[serde(default)]
    tipologia: String,
    #[serde(default)]
    categoria: String,
    testo: String,
    attivo: Option<String>,
}

impl ModelForm {
    fn input(self) -> WebResult<ModelInput> {
        let kind = match self.tipologia.trim() {
            "" => None,
            k => Some(k.parse().map_err(|_| {
                WebError::Refused(texts::workflow_error(
                    &crate::workflow::WorkflowError::Invalid(crate::workflow::Invalid::UnknownKind),
                ))
            })?),
        };
        Ok(ModelInput {
            title: self.titolo.trim().to_string(),
            kind,
            category_id: form_id(&self.categoria)?,
            body: self.testo,
            active: flag(&self.attivo),
        })
    }
}

pub async fn answer_model_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ModelForm>,
) -> WebResult<Response> {
    let (actor, m) = (s.actor.audit(), f.input()?);
    change(&app, move |conn| answer_models::create(conn, actor, &m)).await?;
    Ok(back(PAGE))
}

pub async fn answer_model_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<ModelForm>,
) -> WebResult<Response> {
    let (actor, m) = (s.actor.audit(), f.input()?);
    change(&app, move |conn| answer_models::update(conn, actor, id, &m)).await?;
    Ok(back(PAGE))
}
