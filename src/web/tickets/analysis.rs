//! The ticket page's "Analisi e qualità" (issue 20): the complaint's components, whether it was
//! founded, the frail citizen, the clinical-risk flag with its register references, and an
//! internal note. Operators and administrators change them; a risk manager adds references.

use axum::extract::State as AppState;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::{back_to, ticket_id};
use crate::domain::{Founded, TicketNumber};
use crate::quality::{self, QualityError};
use crate::store::quality::{self as sql, Analysis, AnalysisInput, ListItem, QualityList};
use crate::texts;
use crate::web::auth::{RiskManager, Session, Staff};
use crate::web::ui::csrf;
use crate::web::{form_id, App, UrlPath, WebError, WebResult};

/// What the section shows: the ticket's analysis and the lists to choose from.
pub struct Data {
    pub analysis: Analysis,
    pub components: Vec<ListItem>,
    pub fragility: Vec<ListItem>,
}

pub fn read(conn: &rusqlite::Connection, ticket_id: i64) -> anyhow::Result<Data> {
    Ok(Data {
        analysis: sql::analysis(conn, ticket_id)?,
        components: sql::list(conn, QualityList::Components)?,
        fragility: sql::list(conn, QualityList::Fragility)?,
    })
}

/// The section; `may_act`: the form to change it (staff, ticket not merged); `risk_office`: a
/// clinical-risk office is configured, so flagging may mail it.
pub fn section(
    s: &Session,
    number: &TicketNumber,
    d: &Data,
    may_act: bool,
    risk_office: bool,
) -> Markup {
    let a = &d.analysis;
    let base = format!("/reclami/{number}");
    let has = |c: &ListItem| a.components.iter().any(|x| x.id == c.id);
    html! {
        section aria-labelledby="analisi" {
            h2 #analisi { "Analisi e qualità" }
            @if a.fragility.is_some() || a.risk {
                p {
                    @if let Some(f) = &a.fragility { span.flag { "Persona fragile: " (f.label) } " " }
                    @if a.risk { span.flag { "Possibile evento avverso / rischio clinico" } }
                }
            }
            @if may_act {
                form.action method="post" action={(base) "/analisi"} {
                    (csrf(s))
                    fieldset {
                        legend { "Componenti del reclamo" }
                        @for c in d.components.iter().filter(|c| c.active || has(c)) {
                            label { input type="checkbox" name="componente" value=(c.id) checked[has(c)]; " " (c.label) } " "
                        }
                    }
                    p {
                        label for="fondatezza" { "Fondatezza" }
                        select #fondatezza name="fondatezza" {
                            option value="" selected[a.founded.is_none()] { "Non valutata" }
                            @for &f in Founded::ALL { option value=(f) selected[a.founded == Some(f)] { (texts::founded(f)) } }
                        }
                    }
                    p {
                        label for="fragilita" { "Persona fragile" }
                        select #fragilita name="fragilita" {
                            option value="" selected[a.fragility.is_none()] { "No" }
                            @for f in d.fragility.iter().filter(|f| f.active || a.fragility.as_ref().is_some_and(|x| x.id == f.id)) {
                                option value=(f.id) selected[a.fragility.as_ref().is_some_and(|x| x.id == f.id)] { (f.label) }
                            }
                        }
                    }
                    p { label { input type="checkbox" name="rischio" value="1" checked[a.risk]; " Possibile evento avverso / rischio clinico" } }
                    @if risk_office && !a.risk {
                        p {
                            label { input type="checkbox" name="avvisa" value="1" checked; " Avvisa l'ufficio rischio clinico (un link alla pratica, senza i dati del cittadino)" }
                        }
                        p {
                            label for="nota-rischio" { "Nota per l'ufficio rischio clinico (facoltativa: ciò che scrivi qui è inviato)" }
                            textarea #nota-rischio name="nota_rischio" rows="2" {}
                        }
                    }
                    p {
                        label for="analisi-nota" { "Analisi (interna, mai inviata al cittadino)" }
                        textarea #analisi-nota name="nota" rows="3" { (a.note) }
                    }
                    p { button type="submit" { "Salva l'analisi" } }
                }
            } @else {
                dl {
                    dt { "Componenti" }
                    dd { @if a.components.is_empty() { "—" } @else { (a.components.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(", ")) } }
                    dt { "Fondatezza" }
                    dd { (a.founded.map(texts::founded).unwrap_or("Non valutata")) }
                }
            }
            @if a.risk || !a.risk_refs.is_empty() {
                h3 { "Riferimenti nei registri aziendali" }
                @if a.risk_refs.is_empty() {
                    p.muted { "Nessun riferimento (segnalazione di incidente, sinistro, contenzioso)." }
                } @else {
                    ul {
                        @for r in &a.risk_refs {
                            li {
                                (r.register) ": " strong { (r.identifier) }
                                @if may_act || s.risk_manager {
                                    " "
                                    form.inline method="post" action={(base) "/rischio/" (r.id) "/rimuovi"} {
                                        (csrf(s))
                                        button.link type="submit" { "Rimuovi" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if may_act || s.risk_manager {
                    form.action.inline method="post" action={(base) "/rischio"} {
                        (csrf(s))
                        label for="registro" { "Registro" }
                        input #registro type="text" name="registro" placeholder="Incident reporting" required;
                        label for="identificativo" { "Identificativo" }
                        input #identificativo type="text" name="identificativo" required;
                        button type="submit" { "Aggiungi riferimento" }
                    }
                }
            }
        }
    }
}

impl From<QualityError> for WebError {
    fn from(e: QualityError) -> Self {
        match e {
            QualityError::NotFound => WebError::NotFound,
            QualityError::Forbidden => WebError::Forbidden,
            QualityError::Other(e) => WebError::Internal(e),
            other => WebError::Refused(texts::quality_error(&other)),
        }
    }
}

/// Runs a quality step in a transaction on the writer thread.
pub(crate) async fn in_writer<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, QualityError> + Send + 'static,
) -> WebResult<T> {
    let out = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let out = f(&tx);
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })
        .await?;
    Ok(out?)
}

/// The analysis form: `componente` repeated, so read as a list of pairs.
pub async fn analyse(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let id = ticket_id(&app, &number).await?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut component_ids = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "componente") {
        component_ids.extend(form_id(v)?);
    }
    let founded = match field("fondatezza").unwrap_or("") {
        "" => None,
        w => Some(
            w.parse::<Founded>()
                .map_err(|_| WebError::Refused("Valore non valido.".into()))?,
        ),
    };
    let input = AnalysisInput {
        component_ids,
        founded,
        note: field("nota").unwrap_or("").to_string(),
        fragility_id: form_id(field("fragilita").unwrap_or(""))?,
        risk: crate::web::form_flag(field("rischio")),
    };
    let actor = s.actor.clone();
    let alert_to = app
        .settings
        .quality
        .risk_office
        .clone()
        .filter(|_| crate::web::form_flag(field("avvisa")));
    let note = field("nota_rischio").map(str::to_string);
    let notifier = app.notifier.clone();
    let flagged_now = in_writer(&app, move |c| {
        let alert = alert_to.as_deref().map(|to| quality::RiskAlert {
            notifier: &notifier,
            to,
            note: note.as_deref(),
        });
        quality::analyse(c, &actor, id, &input, alert)
    })
    .await?;
    if flagged_now {
        tracing::info!(ticket = %number, "flagged as a possible adverse event");
    }
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct RiskRefForm {
    registro: String,
    identificativo: String,
}

/// Adds a register reference: staff, or a risk manager of any role.
pub async fn risk_ref_add(
    AppState(app): AppState<App>,
    RiskManagerOrStaff(s): RiskManagerOrStaff,
    UrlPath(number): UrlPath<TicketNumber>,
    axum::Form(form): axum::Form<RiskRefForm>,
) -> WebResult<Response> {
    let id = ticket_id(&app, &number).await?;
    let actor = s.actor.clone();
    in_writer(&app, move |c| {
        quality::add_risk_ref(c, &actor, id, &form.registro, &form.identificativo)
    })
    .await?;
    Ok(back_to(&number))
}

pub async fn risk_ref_remove(
    AppState(app): AppState<App>,
    RiskManagerOrStaff(s): RiskManagerOrStaff,
    UrlPath((number, ref_id)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let id = ticket_id(&app, &number).await?;
    let actor = s.actor.clone();
    in_writer(&app, move |c| {
        quality::remove_risk_ref(c, &actor, id, ref_id)
    })
    .await?;
    Ok(back_to(&number))
}

/// Staff, or anyone with the risk-manager right.
pub struct RiskManagerOrStaff(pub Session);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RiskManagerOrStaff {
    type Rejection = crate::web::auth::Refusal;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Staff::from_request_parts(parts, state).await {
            Ok(Staff(s)) => Ok(RiskManagerOrStaff(s)),
            Err(_) => RiskManager::from_request_parts(parts, state)
                .await
                .map(|RiskManager(s)| RiskManagerOrStaff(s)),
        }
    }
}
