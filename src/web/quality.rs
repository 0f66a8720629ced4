//! Issue 20's pages: the clinical-risk list (the risk-manager right), improvement actions, the
//! transparency report (public when `[public] transparency = true`), the quality lists and
//! regional codes in Amministrazione, and a service's or category's last five years.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{AdminUser, AnyUser, Current, Refusal, RiskManager, Session};
use super::tickets::{in_writer, RiskManagerOrStaff};
use super::ui::{self, csrf, Section};
use super::{form_flag, form_id, App, UrlPath, WebError, WebResult};
use crate::domain::{time, ActionState, AuditAction, TicketNumber};
use crate::quality::{self, ActionForm, QualityError};
use crate::store::improvement::{self, Action, ActionFilter};
use crate::store::quality::{self as sql, QualityList};
use crate::store::transparency::{self as figures, Subject, YearRow};
use crate::texts;
use crate::transparency::{self as report, Styling};

fn this_year() -> i32 {
    time::rome_year(chrono::Utc::now())
}

fn today() -> String {
    time::to_rome(chrono::Utc::now())
        .format("%Y-%m-%d")
        .to_string()
}

// ---------------------------------------------------------------- clinical risk

#[derive(Deserialize, Default)]
pub struct YearQuery {
    #[serde(default)]
    anno: String,
}

/// Rischio clinico: the tickets flagged as possible adverse events. Codes and dates only; the
/// number opens the ticket (whose own checks apply).
pub async fn risk(
    State(app): State<App>,
    RiskManager(s): RiskManager,
    Query(q): Query<YearQuery>,
) -> WebResult<Markup> {
    let year = q.anno.trim().parse::<i32>().ok();
    let rows = app
        .readers
        .read(move |conn| sql::flagged(conn, year))
        .await?;
    let body = html! {
        p { "Segnalazioni indicate come possibile evento avverso / rischio clinico, con i riferimenti nei registri aziendali. "
            "Esportazione: " code { "ascolto export risk --year AAAA --format csv" } "." }
        form.filters method="get" action="/rischio-clinico" {
            label for="anno" { "Anno" }
            input #anno type="number" name="anno" value=(q.anno) min="2000" max="2100";
            button type="submit" { "Filtra" }
        }
        div.tablewrap { table {
            thead { tr {
                th scope="col" { "Pratica" } th scope="col" { "Ricevuta" } th scope="col" { "Segnalata" }
                th scope="col" { "Stato" } th scope="col" { "Classificazione" } th scope="col" { "Servizio" }
                th scope="col" { "Fragile" } th scope="col" { "Riferimenti" }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href={"/reclami/" (r.number)} { (r.number) } }
                        td { (ui::stored_datetime(&r.received_at)) }
                        td { @if let Some(at) = &r.flagged_at { (ui::stored_datetime(at)) } }
                        td { (ui::state_badge(r.state)) }
                        td { (r.category.as_deref().unwrap_or("—")) }
                        td { (r.service_name.as_deref().unwrap_or("—")) }
                        td { @if r.fragile { "sì" } }
                        td { @for x in &r.risk_refs { (x.register) ": " (x.identifier) br; } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="8" { "Nessuna segnalazione." } } }
            }
        } }
    };
    Ok(ui::page(&s, Section::Tickets, "Rischio clinico", body))
}

// ---------------------------------------------------------------- improvement actions

#[derive(Deserialize, Default)]
pub struct ActionsQuery {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    scadute: Option<String>,
}

fn may_edit_actions(s: &Session) -> bool {
    s.may_act() || s.risk_manager
}

/// Azioni di miglioramento: the list with its filters, and the form for a new one.
pub async fn actions(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    Query(q): Query<ActionsQuery>,
) -> WebResult<Markup> {
    let filter = ActionFilter {
        state: match q.stato.as_str() {
            "" => None,
            w => Some(w.parse::<ActionState>().map_err(|_| WebError::NotFound)?),
        },
        service_id: form_id(&q.servizio)?,
        overdue_on: form_flag(q.scadute.as_deref()).then(today),
        year: None,
    };
    let (list, services, categories) = app
        .readers
        .read(move |conn| {
            Ok((
                improvement::actions(conn, &filter)?,
                crate::store::backoffice::services(conn)?,
                crate::store::backoffice::categories(conn)?,
            ))
        })
        .await?;
    let today = today();
    let body = html! {
        form.filters method="get" action="/azioni" {
            label for="stato" { "Stato" }
            select #stato name="stato" {
                option value="" { "Tutti" }
                @for &st in ActionState::ALL { option value=(st) selected[q.stato == st.as_str()] { (texts::action_state(st)) } }
            }
            label for="servizio" { "Servizio" }
            select #servizio name="servizio" {
                option value="" { "Tutti" }
                @for sv in &services { option value=(sv.id) selected[q.servizio == sv.id.to_string()] { (sv.name) } }
            }
            label { input type="checkbox" name="scadute" value="1" checked[form_flag(q.scadute.as_deref())]; " solo scadute" }
            button type="submit" { "Filtra" }
        }
        (actions_table(&list, &today))
        @if may_edit_actions(&s) {
            h2 { "Nuova azione" }
            (action_form(&s, None, &services, &categories))
        }
    };
    Ok(ui::page(
        &s,
        Section::Tickets,
        "Azioni di miglioramento",
        body,
    ))
}

fn actions_table(list: &[Action], today: &str) -> Markup {
    html! {
        div.tablewrap { table {
            thead { tr {
                th scope="col" { "Azione" } th scope="col" { "Servizio" } th scope="col" { "Responsabile" }
                th scope="col" { "Scadenza" } th scope="col" { "Stato" } th scope="col" { "Motivata da" }
            } }
            tbody {
                @for a in list {
                    tr {
                        td { a href={"/azioni/" (a.id)} { (a.title) } }
                        td { (a.service_name.as_deref().unwrap_or("—")) }
                        td { (a.owner) }
                        td { (a.due_date.as_deref().unwrap_or("—")) @if a.overdue(today) { " " span.overdue { "scaduta" } } }
                        td { (texts::action_state(a.state)) }
                        td {
                            @for t in &a.tickets { a href={"/reclami/" (t)} { (t) } " " }
                            @for c in &a.categories { span.muted { (c.1) } " " }
                        }
                    }
                }
                @if list.is_empty() { tr { td colspan="6" { "Nessuna azione." } } }
            }
        } }
    }
}

fn action_form(
    s: &Session,
    a: Option<&Action>,
    services: &[crate::store::backoffice::Service],
    categories: &[crate::store::backoffice::Category],
) -> Markup {
    let target = match a {
        Some(a) => format!("/azioni/{}", a.id),
        None => "/azioni".to_string(),
    };
    let tickets = a
        .map(|a| {
            a.tickets
                .iter()
                .map(TicketNumber::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    html! {
        form.action.grid method="post" action=(target) {
            (csrf(s))
            p { label for="titolo" { "Titolo" } input #titolo type="text" name="titolo" required value=(a.map(|a| a.title.as_str()).unwrap_or("")); }
            p { label for="descrizione" { "Descrizione" } textarea #descrizione name="descrizione" rows="3" { (a.map(|a| a.description.as_str()).unwrap_or("")) } }
            p {
                label for="a-servizio" { "Servizio" }
                select #a-servizio name="servizio" {
                    option value="" { "—" }
                    @for sv in services { option value=(sv.id) selected[a.is_some_and(|a| a.service_id == Some(sv.id))] { (sv.name) } }
                }
            }
            p { label for="responsabile" { "Responsabile" } input #responsabile type="text" name="responsabile" value=(a.map(|a| a.owner.as_str()).unwrap_or("")); }
            p { label for="scadenza" { "Scadenza" } input #scadenza type="date" name="scadenza" value=(a.and_then(|a| a.due_date.as_deref()).unwrap_or("")); }
            p {
                label for="a-stato" { "Stato" }
                select #a-stato name="stato" {
                    @for &st in ActionState::ALL { option value=(st) selected[a.map(|a| a.state).unwrap_or(ActionState::Proposed) == st] { (texts::action_state(st)) } }
                }
            }
            p { label for="pratiche" { "Pratiche che l'hanno motivata (numeri separati da spazi)" } input #pratiche type="text" name="pratiche" value=(tickets); }
            p {
                label for="categorie" { "Classificazioni" }
                select #categorie name="categoria" multiple size="6" {
                    @for c in categories { option value=(c.id) selected[a.is_some_and(|a| a.categories.iter().any(|x| x.0 == c.id))] { (c.code) " " (c.label) } }
                }
            }
            p { button type="submit" { "Salva" } }
        }
    }
}

fn action_form_of(fields: &[(String, String)]) -> WebResult<ActionForm> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut category_ids = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "categoria") {
        category_ids.extend(form_id(v)?);
    }
    let state = match field("stato").as_str() {
        "" => None,
        w => Some(
            w.parse::<ActionState>()
                .map_err(|_| WebError::Refused("Valore non valido.".into()))?,
        ),
    };
    Ok(ActionForm {
        title: field("titolo"),
        description: field("descrizione"),
        service_id: form_id(&field("servizio"))?,
        owner: field("responsabile"),
        due_date: field("scadenza"),
        state,
        tickets: field("pratiche"),
        category_ids,
    })
}

pub async fn action_add(
    State(app): State<App>,
    RiskManagerOrStaff(s): RiskManagerOrStaff,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let form = action_form_of(&fields)?;
    let (actor, right) = (s.actor.clone(), s.risk_manager);
    let id = in_writer(&app, move |c| {
        quality::create_action(c, &actor, right, &form)
    })
    .await?;
    Ok(Redirect::to(&format!("/azioni/{id}")).into_response())
}

pub async fn action_update(
    State(app): State<App>,
    RiskManagerOrStaff(s): RiskManagerOrStaff,
    UrlPath(id): UrlPath<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let form = action_form_of(&fields)?;
    let (actor, right) = (s.actor.clone(), s.risk_manager);
    in_writer(&app, move |c| {
        quality::update_action(c, &actor, right, id, &form)
    })
    .await?;
    Ok(Redirect::to(&format!("/azioni/{id}")).into_response())
}

pub async fn action(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    UrlPath(id): UrlPath<i64>,
) -> WebResult<Markup> {
    let (a, services, categories) = app
        .readers
        .read(move |conn| {
            Ok((
                improvement::action(conn, id)?,
                crate::store::backoffice::services(conn)?,
                crate::store::backoffice::categories(conn)?,
            ))
        })
        .await?;
    let a = a.ok_or(WebError::NotFound)?;
    let body = html! {
        p { a href="/azioni" { "← Tutte le azioni" } }
        (actions_table(std::slice::from_ref(&a), &today()))
        @if !a.description.is_empty() { p { (a.description) } }
        @if may_edit_actions(&s) {
            h2 { "Modifica" }
            (action_form(&s, Some(&a), &services, &categories))
        }
    };
    Ok(ui::page(&s, Section::Tickets, &a.title, body))
}

// ---------------------------------------------------------------- transparency

/// `/trasparenza/<anno>`: public when `[public] transparency = true`, else for the signed-in.
async fn transparency_report(
    app: &App,
    current: &Current,
    year: i32,
    back: String,
) -> Result<report::Report, Response> {
    if !app.settings.quality.transparency_public && current.0.is_none() {
        return Err(Refusal::SignIn(back).into_response());
    }
    if !(2000..=2100).contains(&year) {
        return Err(WebError::NotFound.into_response());
    }
    let (office, min) = (
        app.settings.office_name.clone(),
        app.settings.quality.transparency_min_count,
    );
    app.readers
        .read(move |conn| report::build(conn, year, &office, min))
        .await
        .map_err(|e| WebError::Internal(e).into_response())
}

pub async fn transparency(
    State(app): State<App>,
    Extension(current): Extension<Current>,
    UrlPath(year): UrlPath<i32>,
) -> Response {
    match transparency_report(&app, &current, year, format!("/trasparenza/{year}")).await {
        Ok(r) => report::html(&r, Styling::Linked).into_response(),
        Err(resp) => resp,
    }
}

pub async fn transparency_csv(
    State(app): State<App>,
    Extension(current): Extension<Current>,
    UrlPath(year): UrlPath<i32>,
) -> Response {
    let r = match transparency_report(&app, &current, year, format!("/trasparenza/{year}")).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match report::csv(&r) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"trasparenza-{year}.csv\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => WebError::Internal(e).into_response(),
    }
}

// ---------------------------------------------------------------- five years

#[derive(Deserialize, Default)]
pub struct CompareQuery {
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    categoria: String,
    #[serde(default)]
    formato: String,
}

/// A service or a category compared with itself over the last five years.
pub async fn compare(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    Query(q): Query<CompareQuery>,
) -> WebResult<Response> {
    let subject = match (form_id(&q.servizio)?, form_id(&q.categoria)?) {
        (Some(id), _) => Some(Subject::Service(id)),
        (None, Some(id)) => Some(Subject::Category(id)),
        (None, None) => None,
    };
    let to = this_year();
    let (rows, services, categories) = app
        .readers
        .read(move |conn| {
            let rows = match subject {
                Some(sub) => figures::yearly(conn, sub, to - 4, to)?,
                None => Vec::new(),
            };
            Ok((
                rows,
                crate::store::backoffice::services(conn)?,
                crate::store::backoffice::categories(conn)?,
            ))
        })
        .await?;
    if q.formato == "csv" {
        return Ok(compare_csv(&rows)?);
    }
    let max = rows.iter().map(|r| r.total).max().unwrap_or(0).max(1);
    let body = html! {
        form.filters method="get" action="/statistiche/confronto" {
            label for="c-servizio" { "Servizio" }
            select #c-servizio name="servizio" {
                option value="" { "—" }
                @for sv in &services { option value=(sv.id) selected[q.servizio == sv.id.to_string()] { (sv.name) } }
            }
            label for="c-categoria" { "oppure classificazione" }
            select #c-categoria name="categoria" {
                option value="" { "—" }
                @for c in &categories { option value=(c.id) selected[q.categoria == c.id.to_string()] { (c.code) " " (c.label) } }
            }
            button type="submit" { "Confronta" }
        }
        @if !rows.is_empty() {
            div.tablewrap { table {
                caption { "Ultimi cinque anni" }
                thead { tr {
                    th scope="col" { "Anno" } th scope="col" { "Segnalazioni" } th scope="col" { "Reclami" }
                    th scope="col" { "Elogi" } th scope="col" { "Risposte nei termini" } th scope="col" { "Risposte oltre i termini" }
                    th scope="col" { "" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.year) } td.num { (r.total) } td.num { (r.reclami) } td.num { (r.elogi) }
                            td.num { (r.on_time) } td.num { (r.late) }
                            td { meter min="0" max=(max) value=(r.total) { (r.total) } }
                        }
                    }
                }
            } }
            p { a href={"/statistiche/confronto?servizio=" (q.servizio) "&categoria=" (q.categoria) "&formato=csv"} { "Scarica CSV" } }
        }
    };
    Ok(ui::page(&s, Section::Stats, "Confronto negli anni", body).into_response())
}

fn compare_csv(rows: &[YearRow]) -> anyhow::Result<Response> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "anno",
        "segnalazioni",
        "reclami",
        "elogi",
        "nei_termini",
        "oltre_i_termini",
    ])?;
    for r in rows {
        w.write_record([
            r.year.to_string(),
            r.total.to_string(),
            r.reclami.to_string(),
            r.elogi.to_string(),
            r.on_time.to_string(),
            r.late.to_string(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"confronto.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

// ---------------------------------------------------------------- administration

/// Amministrazione › Qualità: components, kinds of frailty, regional codes, the risk right.
pub async fn admin(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let (components, fragility, codes, users, managers) = app
        .readers
        .read(|conn| {
            Ok((
                sql::list(conn, QualityList::Components)?,
                sql::list(conn, QualityList::Fragility)?,
                sql::regional_codes(conn)?,
                crate::store::users::list(conn)?,
                sql::risk_managers(conn)?,
            ))
        })
        .await?;
    let list = |title: &str, path: &str, items: &[sql::ListItem]| {
        html! {
            h2 { (title) }
            div.tablewrap { table {
                thead { tr { th scope="col" { "Codice" } th scope="col" { "Descrizione e stato" } } }
                tbody {
                    @for i in items {
                        tr {
                            td { (i.code) }
                            td {
                                form.inline method="post" action={(path) "/" (i.id)} {
                                    (csrf(&s))
                                    input type="text" name="descrizione" value=(i.label) required aria-label="Descrizione";
                                    label { input type="checkbox" name="attivo" value="1" checked[i.active]; " attiva" }
                                    button type="submit" { "Salva" }
                                }
                            }
                        }
                    }
                }
            } }
            form.action.inline method="post" action=(path) {
                (csrf(&s))
                input type="text" name="codice" placeholder="CODICE" required aria-label="Codice";
                input type="text" name="descrizione" placeholder="Descrizione" required aria-label="Descrizione";
                button type="submit" { "Aggiungi" }
            }
        }
    };
    let body = html! {
        (list("Componenti del reclamo", "/amministrazione/qualita/componenti", &components))
        (list("Persona fragile", "/amministrazione/qualita/fragilita", &fragility))
        h2 { "Codici regionali" }
        p.small.muted { "Il codice della classificazione nei flussi regionali; una sottocategoria senza codice prende quello della macrocategoria. Predefiniti: macrocategorie Agenas." }
        div.tablewrap { table {
            thead { tr { th scope="col" { "Classificazione" } th scope="col" { "Codice regionale" } th scope="col" { "Usato" } } }
            tbody {
                @for c in &codes {
                    tr {
                        td { @if c.is_macro { strong { (c.code) " " (c.label) } } @else { (c.code) " " (c.label) } }
                        td {
                            form.inline method="post" action={"/amministrazione/qualita/codici/" (c.category_id)} {
                                (csrf(&s))
                                input type="text" name="codice" value=(c.own.as_deref().unwrap_or("")) aria-label="Codice regionale";
                                button type="submit" { "Salva" }
                            }
                        }
                        td { (c.effective.as_deref().unwrap_or("—")) }
                    }
                }
            }
        } }
        h2 { "Rischio clinico e qualità" }
        p.small.muted { "Chi vede le segnalazioni di possibile evento avverso e gestisce le azioni di miglioramento (gli amministratori sempre)." }
        div.tablewrap { table {
            tbody {
                @for u in &users {
                    tr {
                        td { (u.name) " " span.muted { (texts::role(u.role)) } }
                        td {
                            form.inline method="post" action={"/amministrazione/qualita/rischio/" (u.id)} {
                                (csrf(&s))
                                label { input type="checkbox" name="diritto" value="1" checked[managers.contains(&u.id)]; " rischio clinico e qualità" }
                                button type="submit" { "Salva" }
                            }
                        }
                    }
                }
            }
        } }
    };
    Ok(ui::page(
        &s,
        Section::Admin,
        "Qualità e flussi regionali",
        body,
    ))
}

#[derive(Deserialize)]
pub struct ItemAdd {
    codice: String,
    descrizione: String,
}

#[derive(Deserialize)]
pub struct ItemUpdate {
    descrizione: String,
    #[serde(default)]
    attivo: Option<String>,
}

const ADMIN_PAGE: &str = "/amministrazione/qualita";

async fn add_item(app: &App, s: &Session, which: QualityList, f: ItemAdd) -> WebResult<Response> {
    let actor = s.actor.clone();
    in_writer(app, move |c| {
        quality::add_list_item(c, &actor, which, &f.codice, &f.descrizione)
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE).into_response())
}

async fn update_item(
    app: &App,
    s: &Session,
    which: QualityList,
    id: i64,
    f: ItemUpdate,
) -> WebResult<Response> {
    let actor = s.actor.clone();
    let active = form_flag(f.attivo.as_deref());
    in_writer(app, move |c| {
        quality::update_list_item(c, &actor, which, id, &f.descrizione, active)
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE).into_response())
}

pub async fn component_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ItemAdd>,
) -> WebResult<Response> {
    add_item(&app, &s, QualityList::Components, f).await
}

pub async fn component_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    UrlPath(id): UrlPath<i64>,
    Form(f): Form<ItemUpdate>,
) -> WebResult<Response> {
    update_item(&app, &s, QualityList::Components, id, f).await
}

pub async fn fragility_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ItemAdd>,
) -> WebResult<Response> {
    add_item(&app, &s, QualityList::Fragility, f).await
}

pub async fn fragility_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    UrlPath(id): UrlPath<i64>,
    Form(f): Form<ItemUpdate>,
) -> WebResult<Response> {
    update_item(&app, &s, QualityList::Fragility, id, f).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    codice: String,
}

pub async fn regional_code(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    UrlPath(id): UrlPath<i64>,
    Form(f): Form<CodeForm>,
) -> WebResult<Response> {
    let actor = s.actor.clone();
    in_writer(&app, move |c| {
        quality::set_regional_code(c, &actor, id, &f.codice)
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE).into_response())
}

#[derive(Deserialize)]
pub struct RightForm {
    #[serde(default)]
    diritto: Option<String>,
}

/// Grants or takes away the clinical-risk and quality right (audited as a change of the user).
pub async fn risk_right(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    UrlPath(id): UrlPath<i64>,
    Form(f): Form<RightForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let on = form_flag(f.diritto.as_deref());
    in_writer(&app, move |c| {
        if !sql::set_risk_manager(c, id, on)? {
            return Err(QualityError::NotFound);
        }
        crate::store::audit::record(
            c,
            actor,
            AuditAction::UserUpdated,
            None,
            serde_json::json!({ "user": id, "risk_manager": on }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE).into_response())
}

/// The dashboard's part: open improvement actions past their due date, and the links to the
/// actions, the risk list (with the right) and the transparency report.
pub async fn dashboard_block(app: &App, s: &Session) -> WebResult<Markup> {
    let today = today();
    let overdue = app
        .readers
        .read(move |conn| improvement::overdue_count(conn, &today))
        .await?;
    Ok(html! {
        section aria-labelledby="qualita" {
            h2 #qualita { "Qualità" }
            ul {
                li {
                    a href="/azioni?scadute=1" { "Azioni di miglioramento scadute: " strong { (overdue) } }
                    " · " a href="/azioni" { "tutte le azioni" }
                }
                @if s.risk_manager { li { a href="/rischio-clinico" { "Segnalazioni di possibile evento avverso" } } }
                li { a href={"/trasparenza/" (this_year() - 1)} { "Relazione per la trasparenza " (this_year() - 1) } }
                li { a href="/statistiche/confronto" { "Confronto negli anni" } }
            }
        }
    })
}

/// The statistics page's "Qualità": frail citizens, possible adverse events and the components
/// of the period's tickets, and the link to the comparison over the years.
pub async fn stats_section(app: &App, scope: &crate::stats::scope::Scope) -> WebResult<Markup> {
    let (from, to) = (
        crate::store::time_text(time::rome_midnight_utc(scope.from)),
        crate::store::time_text(time::rome_midnight_utc(
            scope.to.succ_opt().unwrap_or(scope.to),
        )),
    );
    let service = scope.service;
    let q = app
        .readers
        .read(move |conn| figures::period_quality(conn, &from, &to, service))
        .await?;
    let compare = match service {
        Some(id) => format!("/statistiche/confronto?servizio={id}"),
        None => "/statistiche/confronto".to_string(),
    };
    Ok(html! {
        section aria-labelledby="stat-qualita" {
            h2 #stat-qualita { "Qualità" }
            ul {
                li { "Persone fragili: " strong { (ui::number(q.fragile)) } }
                li { "Possibili eventi avversi: " strong { (ui::number(q.risk)) } }
                @for (label, n) in &q.components {
                    li { "Componente " (label) ": " strong { (ui::number(*n)) } }
                }
            }
            p { a href=(compare) { "Confronto negli ultimi cinque anni" } }
        }
    })
}
