//! The istruttoria on a ticket: its requests for reports, each with its thread (the request,
//! reminders, the escalation, out-of-office replies, bounces, the reports), the form to send
//! one, and "read" for a report.
//!
//! Everything a referente or a citizen wrote goes through maud's escaping; the forms carry the
//! CSRF token and their handlers take [`Staff`] (viewers see the requests, never send them).

use axum::extract::{RawQuery, State as AppState};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};

use super::{back_to, ticket_id};
use crate::domain::{AutoKind, MailKind, RequestState, TicketNumber};
use crate::istruttoria::{self, Send};
use crate::store::requests::{self as sql, Referente, Request, RequestEntry, RequestEntryKind};
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf, Section};
use crate::web::{App, UrlPath, WebError, WebResult};
use crate::workflow::{self, WorkflowError};

/// A ticket's requests, each with its thread.
pub type Requests = Vec<(Request, Vec<RequestEntry>)>;

/// Reads a ticket's requests and their threads.
pub fn read(conn: &rusqlite::Connection, ticket_id: i64) -> anyhow::Result<Requests> {
    sql::requests_of_ticket(conn, ticket_id)?
        .into_iter()
        .map(|r| {
            let thread = sql::request_thread(conn, r.id)?;
            Ok((r, thread))
        })
        .collect()
}

fn state_cell(r: &Request) -> Markup {
    let overdue =
        r.state == RequestState::Open && r.due_at.as_str() < crate::store::now_text().as_str();
    html! {
        (texts::request_state(r.state))
        @if overdue { " " span.overdue { "scaduta" } }
        @if r.report_unread { " " span.flag { "relazione da leggere" } }
        @if r.bounced_at.is_some() { " " span.flag { "non consegnata: indirizzo errato?" } }
        @if r.auto_reply_at.is_some() { " " span.muted { "(risposta automatica ricevuta)" } }
    }
}

/// The requests' facts, for a viewer who does not read contents: who was asked, when, where it
/// stands.
pub fn facts(requests: &Requests) -> Markup {
    html! {
        @if !requests.is_empty() {
            section aria-labelledby="istruttoria" {
                h2 #istruttoria { "Istruttoria" }
                (facts_table(requests))
            }
        }
    }
}

fn facts_table(requests: &Requests) -> Markup {
    html! {
        div.tablewrap {
            table {
                thead { tr {
                    th scope="col" { "Richiesta" } th scope="col" { "Servizio" } th scope="col" { "Referente" }
                    th scope="col" { "Inviata" } th scope="col" { "Scadenza" } th scope="col" { "Relazione" } th scope="col" { "Stato" }
                } }
                tbody {
                    @for (r, _) in requests {
                        tr {
                            td { (r.tag) }
                            td { (r.service_name.as_deref().unwrap_or("—")) }
                            td { (r.to_name) }
                            td { (ui::stored_datetime(&r.sent_at)) }
                            td { (ui::stored_datetime(&r.due_at)) }
                            td { @match &r.answered_at { Some(at) => (ui::stored_datetime(at)), None => "—" } }
                            td { (state_cell(r)) }
                        }
                    }
                }
            }
        }
    }
}

/// The ticket page's "Istruttoria": each request with its thread; for staff, "read" on an
/// unread report and the link to ask for a report.
pub fn section(s: &Session, number: &TicketNumber, requests: &Requests, may_ask: bool) -> Markup {
    let base = format!("/reclami/{number}");
    html! {
        section aria-labelledby="istruttoria" {
            h2 #istruttoria { "Istruttoria" }
            @if requests.is_empty() {
                p.muted { "Nessuna richiesta di relazione ai servizi." }
            } @else {
                (facts_table(requests))
            }
            @for (r, thread) in requests {
                details.request open[r.report_unread] {
                    summary { strong { (r.tag) } " · " (r.to_name) " <" (r.to_address) "> · " (state_cell(r)) }
                    @for e in thread {
                        (entry(number, r, e))
                    }
                    @if s.may_act() && r.report_unread {
                        form.action method="post" action={(base) "/relazioni/" (r.id) "/letta"} {
                            (csrf(s))
                            button type="submit" { "Segna la relazione come letta" }
                        }
                    }
                }
            }
            @if may_ask {
                p { a.button href={(base) "/relazioni/nuova"} { "Richiedi relazione" } }
            }
        }
    }
}

fn entry(number: &TicketNumber, r: &Request, e: &RequestEntry) -> Markup {
    let (class, heading) = match e.kind {
        RequestEntryKind::Sent(MailKind::Request) => ("out", "Richiesta di relazione"),
        RequestEntryKind::Sent(MailKind::RequestReminder) => ("out", "Sollecito"),
        RequestEntryKind::Sent(MailKind::RequestEscalation) => {
            ("out", "Segnalazione al responsabile")
        }
        RequestEntryKind::Sent(_) => ("out", "Email"),
        RequestEntryKind::Report => ("report", texts::REPORT),
        RequestEntryKind::Automatic(AutoKind::Bounce) => ("auto", "Mancata consegna"),
        RequestEntryKind::Automatic(_) => ("auto", "Risposta automatica"),
    };
    let other_sender = e.kind == RequestEntryKind::Report
        && e.from_email
            .as_deref()
            .is_some_and(|f| !f.eq_ignore_ascii_case(&r.to_address));
    let content = html! {
        p.msg-subject { "Oggetto: " (e.subject) }
        div.body { (e.body) }
        @if !e.attachments.is_empty() {
            ul.attachments aria-label="Allegati" {
                @for a in &e.attachments {
                    li {
                        a href={"/reclami/" (number) "/allegati/" (a.id)} download {
                            (a.filename.as_deref().unwrap_or("allegato senza nome"))
                        }
                        " (" (a.content_type) ", " (ui::size(a.size)) ")"
                    }
                }
            }
        }
        @if let Some(id) = e.message_id {
            p.small { a href={"/reclami/" (number) "/messaggi/" (id) "/originale"} download { "Scarica il messaggio originale (.eml)" } }
        }
    };
    html! {
        article class={"entry " (class)} {
            header {
                strong { (heading) }
                @if other_sender { " " span.flag { (texts::REPORT_OTHER_SENDER) } }
                " · "
                @if let Some(n) = &e.from_name { (n) " " }
                @if let Some(m) = &e.from_email { "<" (m) "> " }
                @if let Some(to) = &e.to { "a <" (to) "> " }
                @if let Some(st) = e.outbox_state { "(" (texts::outbox_state(st)) ") " }
                " · " time datetime=(e.at) { (ui::stored_datetime(&e.at)) }
            }
            @if e.kind == RequestEntryKind::Report {
                p.notice { "Documento interno: non è stato inviato al cittadino." }
                (content)
            } @else {
                details { summary { "Mostra" } (content) }
            }
        }
    }
}

// ---- the dashboard's queues ----

/// "Relazioni attese" (open requests, overdue first) and "Relazioni arrivate da leggere", with
/// how many of each.
pub struct Queues {
    awaited: (Vec<Request>, usize),
    unread: (Vec<Request>, usize),
}

pub fn queues_of(conn: &rusqlite::Connection, rows: usize) -> anyhow::Result<Queues> {
    Ok(Queues {
        awaited: sql::awaited(conn, rows)?,
        unread: sql::unread_reports(conn, rows)?,
    })
}

pub fn queues(q: &Queues) -> Markup {
    let now = crate::store::now_text();
    let table = |rows: &[Request], when: &str| {
        html! {
            div.tablewrap {
                table {
                    thead { tr {
                        th scope="col" { "Reclamo" } th scope="col" { "Richiesta" } th scope="col" { "Servizio" }
                        th scope="col" { "Referente" } th scope="col" { (when) }
                    } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { a href={"/reclami/" (r.ticket_number) "#istruttoria"} { (r.ticket_number) } }
                                td { (r.tag) }
                                td { (r.service_name.as_deref().unwrap_or("—")) }
                                td { (r.to_name) }
                                @if r.state == RequestState::Open {
                                    td {
                                        (ui::stored_datetime(&r.due_at))
                                        @if r.due_at < now { " " span.overdue { "scaduta" } }
                                        @if r.bounced_at.is_some() { " " span.flag { "non consegnata" } }
                                    }
                                } @else {
                                    td { (r.answered_at.as_deref().map(ui::stored_datetime).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let section = |id: &str, title: &str, (rows, total): &(Vec<Request>, usize), when: &str| {
        html! {
            section aria-labelledby=(id) {
                h2 #(id) { (title) " " span.count { "(" (ui::number(*total as i64)) ")" } }
                @if rows.is_empty() {
                    p.muted { "Nessuna richiesta." }
                } @else {
                    (table(rows, when))
                    @if *total > rows.len() {
                        p { a href="/reclami?istruttoria=1" { "Vedi i reclami in istruttoria" } }
                    }
                }
            }
        }
    };
    html! {
        (section("relazioni-attese", "Relazioni attese", &q.awaited, "Scadenza"))
        (section("relazioni-arrivate", "Relazioni arrivate da leggere", &q.unread, "Arrivata"))
    }
}

// ---- asking for a report ----

/// The request form's choices, from the query string (step 1) or the form (step 2):
/// `referente` (repeated), `scadenza` (aaaa-mm-gg), `dati` (keep the citizen's data).
struct Choices {
    referenti: Vec<i64>,
    due: Option<NaiveDate>,
    keep_citizen: bool,
    /// Step 2's fields.
    subject: Option<String>,
    body: Option<String>,
}

fn choices(fields: &[(String, String)]) -> WebResult<Choices> {
    let mut c = Choices {
        referenti: Vec::new(),
        due: None,
        keep_citizen: false,
        subject: None,
        body: None,
    };
    let bad = || WebError::Refused("Valore non valido.".into());
    for (k, v) in fields {
        match k.as_str() {
            "referente" => c.referenti.push(v.trim().parse().map_err(|_| bad())?),
            "scadenza" if !v.trim().is_empty() => {
                c.due = Some(
                    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
                        WebError::Refused(texts::workflow_error(&WorkflowError::Invalid(
                            crate::domain::refusal::Invalid::BadRequestDue,
                        )))
                    })?,
                )
            }
            "dati" => c.keep_citizen = crate::web::form_flag(Some(v)),
            "oggetto" => c.subject = Some(v.clone()),
            "testo" => c.body = Some(v.clone()),
            _ => {}
        }
    }
    Ok(c)
}

/// "Richiedi relazione": choose the referenti, the due date and whether the citizen's data go
/// (step 1); with referenti chosen, the proposed text to edit and send (step 2).
pub async fn new_request(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    RawQuery(query): RawQuery,
) -> WebResult<Response> {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let c = choices(&fields)?;
    let id = ticket_id(&app, &number).await?;
    let due = c
        .due
        .unwrap_or_else(|| app.settings.istruttoria.default_due(Utc::now()));
    let (ticket, referenti) = app
        .readers
        .read(move |conn| {
            Ok((
                crate::store::tickets::ticket(conn, id)?
                    .ok_or_else(|| anyhow::anyhow!("ticket vanished"))?,
                sql::referenti(conn)?,
            ))
        })
        .await?;
    let service_id = ticket.service.as_ref().map(|sv| sv.id);
    let chosen: Vec<i64> = if c.referenti.is_empty() {
        referenti
            .iter()
            .filter(|r| r.active && Some(r.service_id) == service_id)
            .map(|r| r.id)
            .collect()
    } else {
        c.referenti.clone()
    };
    let mut error = None;
    let mut draft = None;
    if !c.referenti.is_empty() {
        let (notifier, actor, ids, keep) = (
            app.notifier.clone(),
            s.actor.clone(),
            c.referenti.clone(),
            c.keep_citizen,
        );
        let made = app
            .readers
            .read(move |conn| {
                Ok(istruttoria::draft(
                    conn, &notifier, &actor, id, &ids, due, keep,
                ))
            })
            .await?;
        match made {
            Ok(d) => draft = Some(d),
            Err(WorkflowError::Other(e)) => return Err(WebError::Internal(e)),
            Err(WorkflowError::Forbidden { .. }) => return Err(WebError::Forbidden),
            Err(e) => error = Some(texts::workflow_error(&e)),
        }
    }
    let body = form_page(
        &s,
        &number,
        &referenti,
        &chosen,
        due,
        c.keep_citizen,
        draft,
        error,
    );
    Ok(ui::page(
        &s,
        Section::Tickets,
        &format!("Richiedi relazione · {number}"),
        body,
    )
    .into_response())
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    s: &Session,
    number: &TicketNumber,
    referenti: &[Referente],
    chosen: &[i64],
    due: NaiveDate,
    keep_citizen: bool,
    draft: Option<(String, String)>,
    error: Option<String>,
) -> Markup {
    let base = format!("/reclami/{number}/relazioni");
    let due_text = due.format("%Y-%m-%d").to_string();
    html! {
        p { a href={"/reclami/" (number)} { "Torna al reclamo " (number) } }
        @if let Some(e) = &error { p.error role="alert" { (e) } }
        form.action method="get" action={(base) "/nuova"} {
            fieldset {
                legend { "A chi chiedere la relazione (sono proposti i referenti del servizio del reclamo)" }
                @if referenti.iter().all(|r| !r.active) {
                    p.muted { "Nessun referente: un amministratore li inserisce in Amministrazione › Referenti." }
                }
                @for r in referenti.iter().filter(|r| r.active) {
                    label {
                        input type="checkbox" name="referente" value=(r.id) checked[chosen.contains(&r.id)];
                        " " (r.service_name) ": " (r.name)
                        @if !r.role.is_empty() { " (" (r.role) ")" }
                        " <" (r.email) ">"
                        @if r.bouncing_since.is_some() { " " span.flag { "indirizzo non raggiungibile" } }
                    }
                }
            }
            p {
                label for="scadenza" { "Scadenza della relazione" }
                input #scadenza type="date" name="scadenza" value=(due_text) required;
            }
            p {
                label {
                    input type="checkbox" name="dati" value="1" checked[keep_citizen];
                    " Includi nome e recapiti del cittadino (di norma no: il servizio riceve solo il testo della segnalazione)"
                }
            }
            button type="submit" { "Prepara il testo della richiesta" }
        }
        @if let Some((subject, text)) = draft {
            form.action method="post" action=(base) {
                (csrf(s))
                @for id in chosen { input type="hidden" name="referente" value=(id); }
                input type="hidden" name="scadenza" value=(due_text);
                p {
                    label for="oggetto" { "Oggetto (ascolto aggiunge il numero della richiesta, es. [" (number) " R1])" }
                    input #oggetto type="text" name="oggetto" value=(subject) required;
                }
                p {
                    label for="testo" { "Testo della richiesta (modificabile: controlla che non contenga dati del cittadino non necessari)" }
                    textarea #testo name="testo" rows="20" required { (text) }
                }
                button type="submit" { "Invia la richiesta" }
            }
        }
    }
}

/// Sends the request (step 2): one request per referente chosen.
pub async fn send_request(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(fields): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    let c = choices(&fields)?;
    let send = Send {
        referente_ids: c.referenti,
        due: c.due.ok_or_else(|| {
            WebError::Refused(texts::workflow_error(&WorkflowError::Invalid(
                crate::domain::refusal::Invalid::BadRequestDue,
            )))
        })?,
        subject: c.subject.unwrap_or_default(),
        body: c.body.unwrap_or_default(),
    };
    let (notifier, actor, n) = (app.notifier.clone(), s.actor.clone(), number.clone());
    let out = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                istruttoria::send(tx, &notifier, &actor, id, &send, Utc::now())
            }))
        })
        .await?;
    out?;
    Ok(crate::web::feedback::done(
        &format!("/reclami/{number}"),
        crate::domain::Done::RequestSent,
        None,
    ))
}

/// An operator read a request's report.
pub async fn report_read(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath((number, request)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let (actor, n) = (s.actor.clone(), number.clone());
    let out = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                istruttoria::mark_read(tx, &actor, id, request)
            }))
        })
        .await?;
    out?;
    Ok(back_to(&number))
}
