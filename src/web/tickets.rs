//! Cruscotto, Reclami (the list) and Reclamo (one ticket with its actions and downloads).

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::auth::{AnyUser, ContentReader, Session, Staff};
use super::ui::{self, csrf, Section};
use super::{downloads, App, WebError, WebResult};
use crate::domain::AuditAction;
use crate::domain::Kind;
use crate::domain::{Actor, Outcome, Role};
use crate::mail::pec::Signature;
use crate::store::audit;
use crate::store::backoffice::{
    self as q, Entry, EntryKind, Filters, ListRow, Queue, Sort, TicketDetail, COUNT_CAP, PAGE_SIZE,
};
use crate::workflow::{self, Classification};

const DASHBOARD_ROWS: usize = 8;

fn queue_title(q: Queue) -> &'static str {
    match q {
        Queue::Attention => "Il cittadino ha scritto",
        Queue::Overdue => "Scaduti senza risposta",
        Queue::DueSoon => "In scadenza entro 7 giorni",
        Queue::Unclassified => "Da classificare",
        Queue::New => "Nuovi, da prendere in carico",
    }
}

fn queue_link(q: Queue) -> &'static str {
    match q {
        Queue::Attention => "/reclami?attenzione=1",
        Queue::Overdue => "/reclami?scaduti=1&ordine=scadenza",
        Queue::DueSoon => "/reclami?in_scadenza=1&ordine=scadenza",
        Queue::Unclassified => "/reclami?da_classificare=1",
        Queue::New => "/reclami?stato=pending&ordine=meno_recenti",
    }
}

fn count_text(n: usize) -> String {
    if n > COUNT_CAP {
        format!("più di {}", ui::number(COUNT_CAP as i64))
    } else {
        ui::number(n as i64)
    }
}

pub async fn dashboard(State(app): State<App>, AnyUser(s): AnyUser) -> WebResult<Markup> {
    let d = app
        .readers
        .read(|conn| q::dashboard(conn, Utc::now(), DASHBOARD_ROWS))
        .await?;
    let count = |state: &str| {
        d.by_state
            .iter()
            .find(|(st, _)| st == state)
            .map_or(0, |(_, n)| *n)
    };
    let body = html! {
        @if s.actor.role == Role::Viewer {
            p.notice { (crate::texts::viewer_scope(s.sees_content)) }
        }
        section aria-labelledby="per-stato" {
            h2 #per-stato { "Reclami per stato" }
            ul.counts {
                @for state in ["pending", "in_charge", "answered", "closed"] {
                    li {
                        a href={"/reclami?stato=" (state)} {
                            span.n { (ui::number(count(state))) }
                            span { (ui::state_label(state)) }
                        }
                    }
                }
            }
        }
        @for (queue, rows, total) in &d.queues {
            @let id = format!("coda-{}", *queue as u8);
            section aria-labelledby=(id) {
                h2 #(id) { (queue_title(*queue)) " " span.count { "(" (count_text(*total)) ")" } }
                @if rows.is_empty() {
                    p.muted { "Nessun reclamo." }
                } @else {
                    (ticket_table(rows, None, s.sees_content))
                    @if *total > rows.len() {
                        p { a href=(queue_link(*queue)) { "Vedi tutti (" (count_text(*total)) ")" } }
                    }
                }
            }
        }
    };
    Ok(ui::page(&s, Section::Dashboard, "Cruscotto", body))
}

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
        let flag = |s: &str| super::form_flag(Some(s));
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        Filters {
            state: text(&self.stato).filter(|s| s.parse::<crate::domain::State>().is_ok()),
            kind: text(&self.tipologia).filter(|k| k.parse::<Kind>().is_ok()),
            category: text(&self.categoria),
            unclassified: flag(&self.da_classificare),
            service: self.servizio.trim().parse().ok(),
            operator: self.operatore.trim().parse().ok(),
            attention: flag(&self.attenzione),
            overdue: flag(&self.scaduti),
            due_soon: flag(&self.in_scadenza),
            from: date(&self.dal),
            to: date(&self.al),
            search: text(&self.q),
            sort: Sort::parse(&self.ordine),
        }
    }

    fn page(&self) -> usize {
        super::page_number(&self.pagina)
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
fn ticket_table(rows: &[ListRow], sort: Option<(&ListQuery, Sort)>, content: bool) -> Markup {
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
                        tr.attention[r.needs_attention && r.state != "closed" && r.state != "pending"] {
                            td { a href={"/reclami/" (r.number)} { (r.number) } @if r.pec { " " abbr.pec title="Posta elettronica certificata" { "PEC" } } }
                            td { (ui::datetime(r.received_at)) }
                            td { (ui::deadline_cell(r.due_at, r.answered, &r.state)) }
                            @if content {
                                td { (clip(r.citizen_name.as_deref().unwrap_or(&r.citizen_email))) }
                                td.subject { (clip(&r.subject)) }
                            } @else {
                                td { (ui::kind_label(r.kind.as_deref())) }
                            }
                            td {
                                @match (&r.category_code, &r.category_label) {
                                    (Some(code), Some(label)) => { abbr title=(label) { (code) } }
                                    _ => { span.muted { "da classificare" } }
                                }
                            }
                            @if !content {
                                td { (r.service_name.as_deref().unwrap_or("—")) }
                            }
                            td { (ui::state_badge(&r.state)) @if r.needs_attention && r.state != "closed" && r.state != "pending" { " " span.flag { "nuovo messaggio" } } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn list(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    Query(query): Query<ListQuery>,
) -> WebResult<Markup> {
    let mut filters = query.filters();
    if !s.sees_content {
        // Which tickets hold a word tells what they say: no text search without contents.
        filters.search = None;
    }
    let page = query.page();
    let (found, categories, services, operators) = {
        let filters = filters.clone();
        app.readers
            .read(move |conn| {
                let found = q::list(conn, &filters, Utc::now(), page - 1, PAGE_SIZE)?;
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
    let body = html! {
        form.filters method="get" action="/reclami" role="search" {
            @if s.sees_content {
                p.wide {
                    label for="q" { "Cerca nel testo" }
                    input #q type="search" name="q" value=(query.q) placeholder="parole nell'oggetto o nel messaggio";
                }
            }
            p {
                label for="stato" { "Stato" }
                select #stato name="stato" {
                    option value="" { "Tutti" }
                    @for st in ["pending", "in_charge", "answered", "closed"] {
                        option value=(st) selected[selected(&query.stato, st)] { (ui::state_label(st)) }
                    }
                }
            }
            p {
                label for="tipologia" { "Tipologia" }
                select #tipologia name="tipologia" {
                    option value="" { "Tutte" }
                    @for k in ["reclamo", "segnalazione", "elogio", "suggerimento"] {
                        option value=(k) selected[selected(&query.tipologia, k)] { (ui::kind_label(Some(k))) }
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
                input #dal type="date" name="dal" value=(query.dal);
            }
            p {
                label for="al" { "al" }
                input #al type="date" name="al" value=(query.al);
            }
            fieldset {
                legend { "Solo" }
                label { input type="checkbox" name="attenzione" value="1" checked[filters.attention]; " con nuovi messaggi" }
                label { input type="checkbox" name="scaduti" value="1" checked[filters.overdue]; " scaduti" }
                label { input type="checkbox" name="in_scadenza" value="1" checked[filters.due_soon]; " in scadenza" }
                label { input type="checkbox" name="da_classificare" value="1" checked[filters.unclassified]; " da classificare" }
            }
            input type="hidden" name="ordine" value=(filters.sort.as_str());
            p.buttons {
                button type="submit" { "Filtra" }
                " "
                a href="/reclami" { "Azzera filtri" }
            }
        }
        p role="status" { (count_text(total)) (if total == 1 { " reclamo" } else { " reclami" }) @if total > 0 { ", pagina " (page) } }
        @if found.search_capped {
            p.muted {
                "Le parole cercate compaiono in moltissimi messaggi: sono considerati solo i "
                (ui::number(q::SEARCH_CAP as i64)) " messaggi più recenti. Aggiungi parole per restringere la ricerca."
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
    Ok(ui::page(&s, Section::Tickets, "Reclami", body))
}

async fn ticket_id(app: &App, number: &str) -> WebResult<i64> {
    let number = number.to_string();
    app.readers
        .read(move |conn| Ok(workflow::ticket_id(conn, &number).ok()))
        .await?
        .ok_or(WebError::NotFound)
}

pub async fn show(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    Path(number): Path<String>,
) -> WebResult<Markup> {
    let id = ticket_id(&app, &number).await?;
    // Every opening is audited; an operator's first takes the ticket in charge.
    {
        let (notifier, actor) = (app.notifier.clone(), s.actor.clone());
        app.store
            .call(move |conn| {
                workflow::in_transaction(conn, |tx| workflow::view(tx, &notifier, &actor, id))
                    .map_err(anyhow::Error::from)
            })
            .await?;
    }
    if !s.sees_content {
        return facts_page(&app, &s, number).await;
    }
    let (t, entries, history, categories, services, operators) = app
        .readers
        .read(move |conn| {
            let t = q::ticket(conn, &number)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))?;
            Ok((
                t,
                q::thread(conn, id)?,
                q::history(conn, id)?,
                q::categories(conn)?,
                q::services(conn)?,
                q::operators(conn)?,
            ))
        })
        .await?;
    let title = format!("Reclamo {}", t.number);
    let body = html! {
        @if s.actor.role == Role::Viewer {
            p.notice { (crate::texts::viewer_scope(true)) }
        }
        p.subject-line { (ui::state_badge(&t.state)) " " strong { (ui::clip(&t.subject, SUBJECT_LINE_CHARS)) } }
        (summary(&t, true))
        section aria-labelledby="conversazione" {
            h2 #conversazione { "Conversazione" }
            @for e in &entries {
                (entry(&t, e))
            }
        }
        @if s.may_act() && t.merged_into.is_none() {
            (actions(&s, &t, &categories, &services, &operators))
        }
        section aria-labelledby="storia" {
            h2 #storia { "Storia della pratica" }
            details {
                summary { (history.len()) " eventi dal registro" }
                div.tablewrap {
                    table {
                        thead { tr { th scope="col" { "Quando" } th scope="col" { "Chi" } th scope="col" { "Cosa" } th scope="col" { "Dettagli" } } }
                        tbody {
                            @for h in &history {
                                tr {
                                    td { (ui::stored_datetime(&h.at)) }
                                    td { (h.actor) }
                                    td { (crate::texts::audit_action(&h.action)) }
                                    td { code { (h.detail) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ui::page(&s, Section::Tickets, &title, body))
}

/// How much of a subject the ticket's heading shows (each message shows its own in full).
const SUBJECT_LINE_CHARS: usize = 500;

/// A ticket as a viewer without contents sees it: its number, dates, state, kind, category,
/// service and outcome; no citizen, subject, message, note, attachment, history or original.
async fn facts_page(app: &App, s: &Session, number: String) -> WebResult<Markup> {
    let t = app
        .readers
        .read(move |conn| {
            q::ticket(conn, &number)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))
        })
        .await?;
    let body = html! {
        p.notice { (crate::texts::viewer_scope(false)) }
        (summary(&t, false))
    };
    Ok(ui::page(
        s,
        Section::Tickets,
        &format!("Reclamo {}", t.number),
        body,
    ))
}

/// The ticket's facts; with `contents`, also who wrote, who works it and which tickets it
/// relates to (a viewer without contents sees only the facts).
fn summary(t: &TicketDetail, contents: bool) -> Markup {
    let due: DateTime<Utc> = t.due_at.parse().unwrap_or_else(|_| Utc::now());
    html! {
        dl.summary {
            @if contents {
                dt { "Cittadino" }
                dd {
                    @if let Some(n) = &t.citizen_name { (n) " " }
                    "<" (t.citizen_email) ">"
                    @if t.citizen_bouncing { " " span.flag { "indirizzo non raggiungibile" } }
                }
            } @else {
                dt { "Stato" }
                dd { (ui::state_badge(&t.state)) }
            }
            dt { "Ricevuto" }
            dd { (ui::stored_datetime(&t.received_at)) @if t.channel == "pec" { " " abbr.pec title="Posta elettronica certificata" { "PEC" } } }
            dt { "Scadenza" }
            dd { (ui::stored_datetime(&t.due_at)) " · " (ui::deadline_cell(due, t.first_answered_at.is_some(), &t.state)) }
            dt { "Tipologia" }
            dd { (ui::kind_label(t.kind.as_deref())) }
            dt { "Classificazione" }
            dd {
                @match (&t.category_code, &t.category_label) {
                    (Some(c), Some(l)) => { (c) " – " (l) }
                    _ => { span.muted { "da classificare" } }
                }
            }
            dt { "Servizio" }
            dd { (t.service_name.as_deref().unwrap_or("—")) }
            @if contents {
                dt { "Operatore" }
                dd { (t.assigned_name.as_deref().unwrap_or("—")) }
            }
            @if let Some(at) = &t.taken_in_charge_at {
                dt { "Presa in carico" }
                dd { (ui::stored_datetime(at)) }
            }
            @if let Some(at) = &t.first_answered_at {
                dt { "Prima risposta" }
                dd { (ui::stored_datetime(at)) }
            }
            @if let Some(at) = &t.closed_at {
                dt { "Chiuso" }
                dd { (ui::stored_datetime(at)) @if let Some(o) = &t.outcome { " · esito: " (ui::outcome_label(o)) } }
            }
            @if contents && t.reopen_count > 0 {
                dt { "Riaperture" }
                dd { (t.reopen_count) }
            }
            @if let (true, Some(n)) = (contents, &t.linked_to) {
                dt { "Collegato a" }
                dd { a href={"/reclami/" (n)} { (n) } }
            }
            @if let (true, Some(n)) = (contents, &t.merged_into) {
                dt { "Unito in" }
                dd { a href={"/reclami/" (n)} { (n) } " (i messaggi sono stati spostati lì)" }
            }
            @if contents && !t.related.is_empty() {
                dt { "Pratiche collegate" }
                dd {
                    @for (n, how) in &t.related {
                        a href={"/reclami/" (n)} { (n) } " (" (if *how == "merged" { "unita" } else { "collegata" }) ") "
                    }
                }
            }
        }
    }
}

fn pec_details(json: &str) -> Markup {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    // Older records have neither: their certified time was always used, nothing was checked.
    let used = v
        .get("certified_at_used")
        .and_then(|x| x.as_bool())
        .unwrap_or(true);
    let signature = v
        .get("signature")
        .and_then(|s| serde_json::from_value::<Signature>(s.clone()).ok())
        .unwrap_or(Signature::NotChecked);
    html! {
        dl.pec {
            dt { "Busta" } dd { (field("envelope").unwrap_or_default()) }
            dt { "Firma del gestore" } dd {
                (crate::texts::pec_signature(signature))
                @if let Some(e) = field("signature_error") { ": " (e) }
            }
            @if let Some(id) = field("identificativo") { dt { "Identificativo" } dd { (id) } }
            @if let Some(at) = field("certified_at") {
                @if used {
                    dt { "Data certificata" } dd { (ui::stored_datetime(&at)) }
                } @else {
                    dt { "Data dichiarata" }
                    dd { (ui::stored_datetime(&at)) " (troppo lontana dalla ricezione nella casella: non usata come data di ricevimento)" }
                }
            }
            @if let Some(m) = field("original_msgid") { dt { "Message-ID originale" } dd { (m) } }
        }
    }
}

fn entry(t: &TicketDetail, e: &Entry) -> Markup {
    let (class, heading) = match e.kind {
        EntryKind::Inbound => ("in", "Dal cittadino"),
        EntryKind::Outbound => ("out", "Risposta dell'ufficio"),
        EntryKind::Automatic => ("auto", "Messaggio automatico"),
        EntryKind::Note => ("note", "Nota interna"),
    };
    let content = html! {
        @if let Some(reason) = &e.sender_unverified {
            p.error role="note" {
                strong { "Mittente non verificato" }
                ": il server di posta dell'ospedale non ha potuto autenticare il mittente ("
                (reason) "). Il messaggio è stato registrato come nuova pratica e non modifica le pratiche esistenti."
            }
        }
        @if let Some(subject) = &e.subject { p.msg-subject { "Oggetto: " (subject) } }
        div.body { (e.body) }
        @if !e.attachments.is_empty() {
            ul.attachments aria-label="Allegati" {
                @for a in &e.attachments {
                    li {
                        a href={"/reclami/" (t.number) "/allegati/" (a.id)} download {
                            (a.filename.as_deref().unwrap_or("allegato senza nome"))
                        }
                        " (" (a.content_type) ", " (ui::size(a.size)) ")"
                    }
                }
            }
        }
        @if let Some(pec) = &e.pec { (pec_details(pec)) }
        @if let Some(id) = e.raw_message {
            p.small { a href={"/reclami/" (t.number) "/messaggi/" (id) "/originale"} download { "Scarica il messaggio originale (.eml)" } }
        }
    };
    html! {
        article class={"entry " (class)} {
            header {
                strong { (heading) }
                " · "
                @if let Some(a) = &e.author { (a) " " }
                @if let Some(m) = &e.author_email { "<" (m) "> " }
                " · " time datetime=(e.at) { (ui::stored_datetime(&e.at)) }
            }
            @if e.kind == EntryKind::Automatic {
                details { summary { "Mostra" } (content) }
            } @else {
                (content)
            }
        }
    }
}

fn actions(
    s: &Session,
    t: &TicketDetail,
    categories: &[q::Category],
    services: &[q::Service],
    operators: &[(i64, String)],
) -> Markup {
    let base = format!("/reclami/{}", t.number);
    let closed = t.state == "closed";
    html! {
        section aria-labelledby="azioni" {
            h2 #azioni { "Lavorazione" }
            @if !closed {
                form.action method="post" action={(base) "/risposta"} {
                    (csrf(s))
                    label for="risposta" { "Risposta al cittadino (inviata per email)" }
                    textarea #risposta name="testo" rows="8" required {}
                    button type="submit" { "Invia risposta" }
                }
            }
            form.action method="post" action={(base) "/nota"} {
                (csrf(s))
                label for="nota" { "Nota interna (non inviata al cittadino)" }
                textarea #nota name="testo" rows="3" required {}
                button type="submit" { "Aggiungi nota" }
            }
            form.action.grid method="post" action={(base) "/classificazione"} {
                (csrf(s))
                p {
                    label for="c-tipologia" { "Tipologia" }
                    select #c-tipologia name="tipologia" {
                        option value="" { "Non indicata" }
                        @for k in ["reclamo", "segnalazione", "elogio", "suggerimento"] {
                            option value=(k) selected[t.kind.as_deref() == Some(k)] { (ui::kind_label(Some(k))) }
                        }
                    }
                }
                p {
                    label for="c-categoria" { "Classificazione" }
                    select #c-categoria name="categoria" {
                        option value="" { "Da classificare" }
                        @for macro_cat in categories.iter().filter(|c| c.parent_id.is_none()) {
                            optgroup label={(macro_cat.code) " – " (macro_cat.label)} {
                                @for c in categories.iter().filter(|c| c.parent_id == Some(macro_cat.id)) {
                                    @if c.active || t.category_id == Some(c.id) {
                                        option value=(c.id) selected[t.category_id == Some(c.id)] { (c.code) " – " (c.label) }
                                    }
                                }
                            }
                        }
                    }
                }
                p {
                    label for="c-servizio" { "Servizio" }
                    select #c-servizio name="servizio" {
                        option value="" { "Nessuno" }
                        @for sv in services {
                            @if sv.active || t.service_id == Some(sv.id) {
                                option value=(sv.id) selected[t.service_id == Some(sv.id)] { (sv.name) }
                            }
                        }
                    }
                }
                p {
                    label for="c-operatore" { "Operatore" }
                    select #c-operatore name="operatore" {
                        option value="" { "Nessuno" }
                        @for (id, name) in operators {
                            option value=(id) selected[t.assigned_to == Some(*id)] { (name) }
                        }
                    }
                }
                p.buttons { button type="submit" { "Salva classificazione" } }
            }
            @if !closed {
                form.action method="post" action={(base) "/chiusura"} {
                    (csrf(s))
                    label for="esito" { "Esito" }
                    select #esito name="esito" required {
                        option value="" { "Scegli l'esito" }
                        @for o in ["accolto", "parzialmente_accolto", "non_accolto", "non_di_competenza", "altro"] {
                            option value=(o) { (ui::outcome_label(o)) }
                        }
                    }
                    button type="submit" { "Chiudi il reclamo" }
                }
                form.action method="post" action={(base) "/unione"} {
                    (csrf(s))
                    label for="unisci" { "Unisci in un altro reclamo (stesso caso scritto due volte)" }
                    input #unisci type="text" name="destinazione" placeholder="URP-2026-000123" required pattern="[A-Z0-9]{1,10}-[0-9]{4}-[0-9]{6}";
                    button type="submit" { "Unisci" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct TextForm {
    testo: String,
}

fn back_to(number: &str) -> Response {
    Redirect::to(&format!("/reclami/{number}")).into_response()
}

/// Runs one workflow step for `s` on ticket `number` in a transaction on the writer thread.
async fn act<T: Send + 'static>(
    app: &App,
    s: &Session,
    number: &str,
    f: impl FnOnce(
            &rusqlite::Connection,
            &crate::notify::Notifier,
            &Actor,
            i64,
        ) -> Result<T, workflow::WorkflowError>
        + Send
        + 'static,
) -> WebResult<T> {
    let (notifier, actor, number) = (app.notifier.clone(), s.actor.clone(), number.to_string());
    let out = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &number)?;
                f(tx, &notifier, &actor, id)
            }))
        })
        .await?;
    Ok(out?)
}

pub async fn answer(
    State(app): State<App>,
    Staff(s): Staff,
    Path(number): Path<String>,
    Form(form): Form<TextForm>,
) -> WebResult<Response> {
    act(&app, &s, &number, move |c, n, a, id| {
        workflow::answer(c, n, a, id, &form.testo)
    })
    .await?;
    Ok(back_to(&number))
}

pub async fn note(
    State(app): State<App>,
    Staff(s): Staff,
    Path(number): Path<String>,
    Form(form): Form<TextForm>,
) -> WebResult<Response> {
    act(&app, &s, &number, move |c, _, a, id| {
        workflow::add_note(c, a, id, &form.testo)
    })
    .await?;
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct ClassifyForm {
    #[serde(default)]
    tipologia: String,
    #[serde(default)]
    categoria: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    operatore: String,
}

pub async fn classify(
    State(app): State<App>,
    Staff(s): Staff,
    Path(number): Path<String>,
    Form(form): Form<ClassifyForm>,
) -> WebResult<Response> {
    let id = super::form_id;
    let c = Classification {
        kind: match form.tipologia.trim() {
            "" => None,
            k => Some(
                k.parse()
                    .map_err(|_| WebError::Refused("Tipologia non valida.".into()))?,
            ),
        },
        category_id: id(&form.categoria)?,
        service_id: id(&form.servizio)?,
        assigned_to: id(&form.operatore)?,
    };
    act(&app, &s, &number, move |conn, _, a, tid| {
        workflow::classify(conn, a, tid, &c)
    })
    .await?;
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct CloseForm {
    esito: String,
}

pub async fn close(
    State(app): State<App>,
    Staff(s): Staff,
    Path(number): Path<String>,
    Form(form): Form<CloseForm>,
) -> WebResult<Response> {
    let outcome: Outcome = form
        .esito
        .parse()
        .map_err(|_| WebError::Refused("Scegli l'esito della chiusura.".into()))?;
    act(&app, &s, &number, move |c, n, a, id| {
        workflow::close(c, n, a, id, outcome)
    })
    .await?;
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct MergeForm {
    destinazione: String,
    /// Ticked on the confirmation form: the two tickets are one case although two citizens
    /// wrote them.
    #[serde(default)]
    conferma: Option<String>,
}

pub async fn merge(
    State(app): State<App>,
    Staff(s): Staff,
    Path(number): Path<String>,
    Form(form): Form<MergeForm>,
) -> WebResult<Response> {
    let target = form.destinazione.trim().to_ascii_uppercase();
    let into = {
        let t = target.clone();
        app.readers
            .read(move |conn| Ok(workflow::ticket_id(conn, &t).ok()))
            .await?
            .ok_or_else(|| WebError::Refused(format!("Il reclamo {target} non esiste.")))?
    };
    let consent = if super::form_flag(form.conferma.as_deref()) {
        workflow::MergeConsent::DifferentCitizens
    } else {
        workflow::MergeConsent::SameCitizen
    };
    // The refusal to merge two citizens' tickets unconfirmed comes back as a value, so that
    // this page can offer the confirmation (nothing was changed).
    let refused = act(
        &app,
        &s,
        &number,
        move |c, _, a, id| match workflow::merge_with(c, a, id, into, consent) {
            Ok(()) => Ok(None),
            Err(e @ workflow::WorkflowError::DifferentCitizens { .. }) => Ok(Some(e)),
            Err(e) => Err(e),
        },
    )
    .await?;
    match refused {
        None => Ok(back_to(&target)),
        Some(e) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            confirm_merge(&s, &number, &target, &crate::texts::workflow_error(&e)),
        )
            .into_response()),
    }
}

/// The merge of two citizens' tickets, refused until confirmed: why, and the form to confirm.
fn confirm_merge(s: &Session, number: &str, target: &str, why: &str) -> Markup {
    let body = html! {
        p.error role="alert" { (why) }
        form.action method="post" action={"/reclami/" (number) "/unione"} {
            (csrf(s))
            input type="hidden" name="destinazione" value=(target);
            p {
                input #conferma type="checkbox" name="conferma" value="1" required;
                " "
                label for="conferma" { "Confermo: " (number) " e " (target) " sono lo stesso caso, scritto da cittadini diversi." }
            }
            button type="submit" { "Unisci comunque" }
            " "
            a href={"/reclami/" (number)} { "Annulla" }
        }
    };
    ui::page(
        s,
        Section::Tickets,
        &format!("Unire {number} a {target}?"),
        body,
    )
}

async fn audit_download(
    app: &App,
    s: &Session,
    ticket: i64,
    what: AuditAction,
    id: i64,
) -> WebResult<()> {
    let actor = s.actor.audit();
    app.store
        .call(move |conn| audit::record(conn, actor, what, Some(ticket), json!({ "id": id })))
        .await?;
    Ok(())
}

pub async fn original(
    State(app): State<App>,
    ContentReader(s): ContentReader,
    Path((number, message)): Path<(String, i64)>,
) -> WebResult<Response> {
    let ticket = ticket_id(&app, &number).await?;
    let size = app
        .readers
        .read(move |conn| q::raw_size_of_message(conn, ticket, message))
        .await?
        .ok_or(WebError::NotFound)?;
    // SQLite's copy and ours while it is read; ours alone while it is sent.
    let mut share = app.downloads.admit(size.saturating_mul(2)).await?;
    let raw = app
        .readers
        .read(move |conn| q::raw_of_message(conn, ticket, message))
        .await?
        .ok_or(WebError::NotFound)?;
    share.shrink_to(raw.len());
    audit_download(
        &app,
        &s,
        ticket,
        AuditAction::TicketOriginalDownloaded,
        message,
    )
    .await?;
    Ok(downloads::response(
        &format!("{number}-{message}.eml"),
        raw,
        Some(share),
    ))
}

pub async fn attachment(
    State(app): State<App>,
    ContentReader(s): ContentReader,
    Path((number, attachment)): Path<(String, i64)>,
) -> WebResult<Response> {
    let ticket = ticket_id(&app, &number).await?;
    let size = app
        .readers
        .read(move |conn| q::raw_size_of_attachment(conn, ticket, attachment))
        .await?
        .ok_or(WebError::NotFound)?;
    let mut share = app.downloads.admit_extraction(size).await?;
    let source = app
        .readers
        .read(move |conn| q::attachment_source(conn, ticket, attachment))
        .await?
        .ok_or(WebError::NotFound)?;
    let filename = source.filename.clone();
    // The raw message is dropped inside the closure: only the attachment's bytes come back.
    let bytes = tokio::task::spawn_blocking(move || {
        crate::mail::parse::attachment_bytes(
            &source.raw,
            source.position as usize,
            source.unwrapped_pec,
        )
    })
    .await
    .map_err(|e| anyhow::anyhow!("extracting an attachment: {e}"))?
    .ok_or(WebError::NotFound)?;
    share.shrink_to(bytes.len());
    audit_download(
        &app,
        &s,
        ticket,
        AuditAction::TicketAttachmentDownloaded,
        attachment,
    )
    .await?;
    Ok(downloads::response(
        filename.as_deref().unwrap_or("allegato"),
        bytes,
        Some(share),
    ))
}
