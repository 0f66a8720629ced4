//! Reclami: the list with its filters, search, sort and pages; and the table the dashboard
//! shares.

use std::fmt::Write as _;

use axum::extract::{Query, State as AppState};
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::count_text;
use axum::response::{IntoResponse, Response};

use crate::domain::{Kind, State, TicketNumber};
use crate::store::backoffice::{self as q, Filters, ListRow, Sort, PAGE_SIZE};
use crate::texts;
use crate::web::auth::AnyUser;
use crate::web::feedback::{self, FormErrors};
use crate::web::ui::{self, Section};
use crate::web::{App, WebResult};
use axum::http::StatusCode;

/// The list's query string; every field is optional and kept as typed so that the form shows
/// it back.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    tipologia: String,
    #[serde(default)]
    categoria: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    operatore: String,
    #[serde(default)]
    attenzione: String,
    #[serde(default)]
    scaduti: String,
    #[serde(default)]
    in_scadenza: String,
    #[serde(default)]
    da_classificare: String,
    /// With a request for a report still open (the istruttoria).
    #[serde(default)]
    istruttoria: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    ordine: String,
    #[serde(default)]
    pagina: String,
}

impl ListQuery {
    fn filters(&self) -> Filters {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let flag = |s: &str| crate::web::form_flag(Some(s));
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        Filters {
            state: self.stato.trim().parse().ok(),
            kind: self.tipologia.trim().parse().ok(),
            category: text(&self.categoria),
            unclassified: flag(&self.da_classificare),
            service: self.servizio.trim().parse().ok(),
            operator: self.operatore.trim().parse().ok(),
            attention: flag(&self.attenzione),
            overdue: flag(&self.scaduti),
            due_soon: flag(&self.in_scadenza),
            istruttoria: flag(&self.istruttoria),
            from: date(&self.dal),
            to: date(&self.al),
            search: text(&self.q),
            sort: Sort::parse(&self.ordine),
        }
    }

    /// A date that is not one, or a period that ends before it starts.
    fn date_errors(&self) -> FormErrors {
        let mut errors = FormErrors::new();
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d");
        let (from, to) = (date(&self.dal), date(&self.al));
        if !self.dal.trim().is_empty() && from.is_err() {
            errors.add("dal", texts::BAD_DATE);
        }
        if !self.al.trim().is_empty() && to.is_err() {
            errors.add("al", texts::BAD_DATE);
        }
        if let (Ok(from), Ok(to)) = (from, to) {
            if to < from {
                errors.add("al", texts::END_BEFORE_START);
            }
        }
        errors
    }

    /// Whether any filter (besides the text search and the order) is set: the filters then
    /// show unfolded.
    fn filtered(&self) -> bool {
        [
            &self.stato,
            &self.tipologia,
            &self.categoria,
            &self.servizio,
            &self.operatore,
            &self.attenzione,
            &self.scaduti,
            &self.in_scadenza,
            &self.da_classificare,
            &self.istruttoria,
            &self.dal,
            &self.al,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    fn page(&self) -> usize {
        crate::web::page_number(&self.pagina)
    }

    /// This query string with `key` replaced (pagination and sorting links).
    fn with(&self, key: &str, value: &str) -> String {
        let pairs = [
            ("stato", &self.stato),
            ("tipologia", &self.tipologia),
            ("categoria", &self.categoria),
            ("servizio", &self.servizio),
            ("operatore", &self.operatore),
            ("attenzione", &self.attenzione),
            ("scaduti", &self.scaduti),
            ("in_scadenza", &self.in_scadenza),
            ("da_classificare", &self.da_classificare),
            ("istruttoria", &self.istruttoria),
            ("dal", &self.dal),
            ("al", &self.al),
            ("q", &self.q),
            ("ordine", &self.ordine),
            ("pagina", &self.pagina),
        ];
        let mut out = String::from("/reclami?");
        for (k, v) in pairs {
            // Any change but the page's own starts again from page 1.
            if k == "pagina" && key != "pagina" {
                continue;
            }
            let v = if k == key { value } else { v.as_str() };
            if !v.is_empty() {
                let _ = write!(out, "{k}={}&", ui::url_encode(v));
            }
        }
        out.pop();
        out
    }
}

/// A list of tickets. Who does not see contents (a viewer, by default) gets each ticket's
/// facts instead of the citizen and the subject: kind, category, service.
pub(super) fn ticket_table(
    rows: &[ListRow],
    sort: Option<(&ListQuery, Sort)>,
    content: bool,
) -> Markup {
    let clip = |s: &str| ui::clip(s, q::LIST_TEXT_CHARS).into_owned();
    // A sortable header links to its order; "Ricevuto" toggles newest/oldest.
    let sort_header = |label: &str, column: &[Sort]| -> Markup {
        let Some((query, current)) = sort else {
            return html! { th scope="col" { (label) } };
        };
        let active = column.contains(&current);
        let next = if active && column.len() > 1 {
            column[usize::from(column[0] == current)]
        } else {
            column[0]
        };
        let aria = match current {
            Sort::Newest => "descending",
            _ => "ascending",
        };
        html! {
            @if active {
                th scope="col" aria-sort=(aria) { a href=(query.with("ordine", next.as_str())) { (label) } }
            } @else {
                th scope="col" { a href=(query.with("ordine", next.as_str())) { (label) } }
            }
        }
    };
    html! {
        div.tablewrap {
            table.tickets {
                thead {
                    tr {
                        th scope="col" { "Numero" }
                        (sort_header("Ricevuto", &[Sort::Newest, Sort::Oldest]))
                        (sort_header("Scadenza", &[Sort::Deadline]))
                        @if content {
                            th scope="col" { "Cittadino" }
                            th scope="col" { "Oggetto" }
                        } @else {
                            th scope="col" { "Tipologia" }
                        }
                        th scope="col" { "Classificazione" }
                        @if !content {
                            th scope="col" { "Servizio" }
                        }
                        th scope="col" { "Stato" }
                    }
                }
                tbody {
                    @for r in rows {
                        @let new_message = r.needs_attention && r.state.shows_new_message();
                        tr.attention[new_message] {
                            td data-label="Numero" { a href={"/reclami/" (r.number)} { (r.number) } (ui::channel_mark(r.channel)) }
                            td data-label="Ricevuto" { (ui::datetime(r.received_at)) }
                            td data-label="Scadenza" { (ui::deadline_cell(r.due_at, r.answered, r.state)) }
                            @if content {
                                td data-label="Cittadino" { (clip(&ui::citizen_label(r.citizen_name.as_deref(), &r.citizen_email))) }
                                td.subject data-label="Oggetto" { (clip(&r.subject)) }
                            } @else {
                                td data-label="Tipologia" { (ui::kind_label(r.kind)) }
                            }
                            td data-label="Classificazione" {
                                @match (&r.category_code, &r.category_label) {
                                    (Some(code), Some(label)) => { abbr title=(label) { (code) } }
                                    _ => {
                                        span.muted { "da classificare" }
                                        @if let Some((code, confidence)) = &r.suggested_category {
                                            br;
                                            span.small.suggested title="Suggerimento del classificatore appreso" {
                                                "suggerito " (code) " · " (crate::texts::percent(*confidence)) " %"
                                            }
                                        }
                                    }
                                }
                            }
                            @if !content {
                                td data-label="Servizio" { (r.service_name.as_deref().unwrap_or("—")) }
                            }
                            td data-label="Stato" {
                                (ui::state_badge(r.state)) @if new_message { " " span.flag { "nuovo messaggio" } }
                                @if r.fragile { " " span.flag { "persona fragile" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn list(
    AppState(app): AppState<App>,
    AnyUser(s): AnyUser,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let mut filters = query.filters();
    if !s.sees_content {
        // Which tickets hold a word tells what they say: no text search without contents.
        filters.search = None;
    }
    // A whole ticket number goes straight to the ticket (issue 15).
    if let Some(number) = filters
        .search
        .as_deref()
        .and_then(|q| q.parse::<TicketNumber>().ok())
    {
        if super::ticket_id(&app, &number).await.is_ok() {
            return Ok(super::back_to(&number));
        }
    }
    let page = query.page();
    let errors = query.date_errors();
    let (found, categories, services, operators) = {
        let filters = filters.clone();
        let valid = errors.is_empty();
        app.readers
            .read(move |conn| {
                // A period that ends before it starts lists nothing: the form says why instead.
                let found = if valid {
                    q::list(conn, &filters, Utc::now(), page - 1, PAGE_SIZE)?
                } else {
                    q::Page {
                        rows: Vec::new(),
                        total: 0,
                        search_capped: false,
                    }
                };
                Ok((
                    found,
                    q::categories(conn)?,
                    q::services(conn)?,
                    q::operators(conn)?,
                ))
            })
            .await?
    };
    let (rows, total) = (found.rows, found.total);
    let selected = |a: &str, b: &str| a == b;
    let e = &errors;
    let open = !errors.is_empty() || query.filtered();
    let body = html! {
        @if s.may_act() {
            p { a.button href="/reclami/nuovo" { "Nuovo reclamo (telefono, sportello, lettera)" } }
        }
        form.filters method="get" action="/reclami" role="search" aria-label="Cerca e filtra i reclami" {
            @if s.sees_content {
                p.wide {
                    label for="q" { "Cerca" }
                    input #q type="search" name="q" value=(query.q) placeholder="parole del testo, numero, nome, e-mail o telefono del cittadino";
                }
            }
            details.filters.wide open[open] {
            summary { "Filtri" @if query.filtered() { " (attivi)" } }
            div.filters {
            p {
                label for="stato" { "Stato" }
                select #stato name="stato" {
                    option value="" { "Tutti" }
                    @for &st in State::ALL {
                        option value=(st) selected[filters.state == Some(st)] { (texts::state(st)) }
                    }
                }
            }
            p {
                label for="tipologia" { "Tipologia" }
                select #tipologia name="tipologia" {
                    option value="" { "Tutte" }
                    @for &k in Kind::ALL {
                        option value=(k) selected[filters.kind == Some(k)] { (texts::kind(k)) }
                    }
                }
            }
            p {
                label for="categoria" { "Classificazione" }
                select #categoria name="categoria" {
                    option value="" { "Tutte" }
                    @for c in &categories {
                        option value=(c.code) selected[selected(&query.categoria, &c.code)] {
                            @if c.parent_id.is_some() { "\u{2003}" } (c.code) " – " (c.label)
                        }
                    }
                }
            }
            p {
                label for="servizio" { "Servizio" }
                select #servizio name="servizio" {
                    option value="" { "Tutti" }
                    @for sv in &services {
                        option value=(sv.id) selected[selected(&query.servizio, &sv.id.to_string())] { (sv.name) }
                    }
                }
            }
            p {
                label for="operatore" { "Operatore" }
                select #operatore name="operatore" {
                    option value="" { "Tutti" }
                    @for (id, name) in &operators {
                        option value=(id) selected[selected(&query.operatore, &id.to_string())] { (name) }
                    }
                }
            }
            p {
                label for="dal" { "Ricevuti dal" }
                (e.message("dal"))
                input #dal type="date" name="dal" value=(query.dal) aria-invalid=[e.invalid("dal")] aria-describedby=[e.described_by("dal")];
            }
            p {
                label for="al" { "al" }
                (e.message("al"))
                input #al type="date" name="al" value=(query.al) aria-invalid=[e.invalid("al")] aria-describedby=[e.described_by("al")];
            }
            fieldset {
                legend { "Solo" }
                label { input type="checkbox" name="attenzione" value="1" checked[filters.attention]; " con nuovi messaggi" }
                label { input type="checkbox" name="scaduti" value="1" checked[filters.overdue]; " scaduti" }
                label { input type="checkbox" name="in_scadenza" value="1" checked[filters.due_soon]; " in scadenza" }
                label { input type="checkbox" name="da_classificare" value="1" checked[filters.unclassified]; " da classificare" }
                label { input type="checkbox" name="istruttoria" value="1" checked[filters.istruttoria]; " " (crate::texts::IN_ISTRUTTORIA) }
            }
            }
            }
            input type="hidden" name="ordine" value=(filters.sort.as_str());
            p.buttons {
                button type="submit" { "Filtra" }
                " "
                a href="/reclami" { "Azzera filtri" }
            }
        }
        @if errors.is_empty() {
        p role="status" { (count_text(total)) (if total == 1 { " reclamo" } else { " reclami" }) @if total > 0 { ", pagina " (page) } }
        @if found.search_capped {
            p.muted {
                "Le parole cercate compaiono in moltissimi messaggi: sono considerati solo i "
                (ui::number(q::SEARCH_CAP as i64)) " messaggi più recenti. Aggiungi parole per restringere la ricerca."
            }
        }
        }
        @if !rows.is_empty() {
            (ticket_table(&rows, Some((&query, filters.sort)), s.sees_content))
        }
        nav.pages aria-label="Pagine" {
            @if page > 1 {
                a rel="prev" href=(query.with("pagina", &(page - 1).to_string())) { "← Precedente" }
            }
            @if page * PAGE_SIZE < total {
                a rel="next" href=(query.with("pagina", &(page + 1).to_string())) { "Successiva →" }
            }
        }
    };
    let page = feedback::page_with_errors(&s, Section::Tickets, "Reclami", &errors, body);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page).into_response())
}
