//! Nuovo reclamo: an operator records a complaint taken by phone, at the desk or by letter
//! (issue 15), and prints an answer as a letter for a citizen without e-mail.

use axum::body::Bytes;
use axum::extract::State as AppState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::json;

use super::ticket_id;
use crate::domain::{time, AuditAction, Channel, Direction, Kind, TicketNumber};
use crate::intake::{self, NewComplaint, Numbering};
use crate::store::backoffice as q;
use crate::store::intake::CitizenDetails;
use crate::store::{audit, citizens, intake as intake_sql, tickets};
use crate::texts;
use crate::web::auth::{ContentReader, Staff};
use crate::web::ui::{self, csrf, Section};
use crate::web::{form_id, multipart, App, UrlPath, WebError, WebResult};
use crate::workflow;

/// The channels an operator records by hand, first the usual ones.
const RECORDED: &[Channel] = &[
    Channel::Telefono,
    Channel::Sportello,
    Channel::Lettera,
    Channel::Pec,
    Channel::Email,
    Channel::Web,
];

pub async fn new_form(AppState(app): AppState<App>, Staff(s): Staff) -> WebResult<Markup> {
    let (categories, services) = app
        .readers
        .read(|conn| Ok((q::categories(conn)?, q::services(conn)?)))
        .await?;
    let today = time::to_rome(Utc::now()).date_naive();
    let body = html! {
        form.stack method="post" action="/reclami/nuovo" enctype="multipart/form-data" {
            (csrf(&s))
            fieldset {
                legend { "Come e quando è arrivato" }
                p {
                    label for="canale" { "Canale" }
                    select #canale name="canale" required {
                        @for &c in RECORDED {
                            option value=(c) { (texts::channel(c)) }
                        }
                    }
                }
                p {
                    label for="ricevuto" { "Data di ricevimento" }
                    input #ricevuto type="date" name="ricevuto" required value=(today.format("%Y-%m-%d"))
                        max=(today.format("%Y-%m-%d"));
                    span.small.muted { " Il termine di risposta decorre da questa data." }
                }
            }
            fieldset {
                legend { "Cittadino" }
                p { label for="nome" { "Nome e cognome" } input #nome type="text" name="nome" autocomplete="off"; }
                p { label for="email" { "E-mail (facoltativa: senza, nessuna mail viene inviata)" } input #email type="email" name="email" autocomplete="off"; }
                p { label for="telefono" { "Telefono" } input #telefono type="tel" name="telefono" autocomplete="off"; }
                p { label for="indirizzo" { "Indirizzo postale" } textarea #indirizzo name="indirizzo" rows="2" {} }
                p { label for="delegato" { "Chi scrive per conto di altri (delegato)" } input #delegato type="text" name="delegato" autocomplete="off"; }
                p { label for="interessato" { "Persona interessata" } input #interessato type="text" name="interessato" autocomplete="off"; }
            }
            fieldset {
                legend { "Reclamo" }
                p { label for="oggetto" { "Oggetto" } input #oggetto type="text" name="oggetto" maxlength="200"; }
                p { label for="testo" { "Testo" } textarea #testo name="testo" rows="10" required {} }
                p {
                    label for="allegati" { "Allegati (la lettera scansionata, documenti; fino a 10 file, 12 MB in tutto)" }
                    input #allegati type="file" name="allegati" multiple;
                }
                p {
                    label for="tipologia" { "Tipologia" }
                    select #tipologia name="tipologia" {
                        option value="" { "Da indicare" }
                        @for &k in Kind::ALL { option value=(k) { (texts::kind(k)) } }
                    }
                }
                p {
                    label for="categoria" { "Classificazione" }
                    select #categoria name="categoria" {
                        option value="" { "Da classificare" }
                        @for c in categories.iter().filter(|c| c.active && c.parent_id.is_some()) {
                            option value=(c.id) { (c.code) " – " (c.label) }
                        }
                    }
                }
                p {
                    label for="servizio" { "Servizio" }
                    select #servizio name="servizio" {
                        option value="" { "Nessuno" }
                        @for sv in services.iter().filter(|s| s.active) {
                            option value=(sv.id) { (sv.name) }
                        }
                    }
                }
            }
            p.buttons { button type="submit" { "Registra il reclamo" } }
        }
    };
    Ok(ui::page(&s, Section::Tickets, "Nuovo reclamo", body))
}

#[derive(Deserialize)]
pub struct RecordForm {
    canale: String,
    ricevuto: String,
    #[serde(default)]
    nome: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    telefono: String,
    #[serde(default)]
    indirizzo: String,
    #[serde(default)]
    delegato: String,
    #[serde(default)]
    interessato: String,
    #[serde(default)]
    oggetto: String,
    #[serde(default)]
    testo: String,
    #[serde(default)]
    tipologia: String,
    #[serde(default)]
    categoria: String,
    #[serde(default)]
    servizio: String,
}

fn some(v: String) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

pub async fn record(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    let (f, files): (RecordForm, _) = multipart::form(&headers, &body)?;
    let refused = |why: &str| WebError::Refused(why.to_string());
    let channel: Channel = f
        .canale
        .trim()
        .parse()
        .map_err(|_| refused(texts::BAD_CHANNEL))?;
    let day = NaiveDate::parse_from_str(f.ricevuto.trim(), "%Y-%m-%d").map_err(|_| {
        WebError::from(workflow::WorkflowError::Invalid(
            workflow::Invalid::BadReceivedDate,
        ))
    })?;
    let now = Utc::now();
    // Today's complaint counts from now; an earlier day's from that day's start (Europe/Rome).
    let received_at = if day == time::to_rome(now).date_naive() {
        now
    } else {
        time::rome_midnight_utc(day)
    };
    let kind = match f.tipologia.trim() {
        "" => None,
        k => Some(k.parse().map_err(|_| refused(texts::BAD_KIND))?),
    };
    let complaint = NewComplaint {
        channel,
        received_at,
        name: some(f.nome),
        email: some(f.email),
        details: CitizenDetails {
            phone: some(f.telefono),
            postal_address: some(f.indirizzo),
            delegate: some(f.delegato),
            concerned: some(f.interessato),
            email_unconfirmed: false,
        },
        subject: f.oggetto,
        text: f.testo,
        kind,
        category_id: form_id(&f.categoria)?,
        service_id: form_id(&f.servizio)?,
        attachments: files,
    };
    let numbering = Numbering {
        prefix: app.settings.number_prefix.clone(),
        deadline_days: app.settings.deadline_days,
    };
    let (notifier, actor) = (app.notifier.clone(), s.actor.clone());
    let (pipeline, text) = (app.pipeline.clone(), complaint.text.clone());
    let (_, number) = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let recorded =
                    intake::record(tx, &notifier, &numbering, Some(&actor), &complaint, now)?;
                // The routing rules fill what is still empty, as for mail.
                pipeline
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .classify_recorded(tx, recorded.0, &text)?;
                Ok(recorded)
            }))
        })
        .await??;
    Ok(Redirect::to(&format!("/reclami/{number}")).into_response())
}

/// The ticket's answers as a letter, on A4 with the office's letterhead: for a citizen
/// without e-mail, whose answer goes by post.
pub async fn print(
    AppState(app): AppState<App>,
    ContentReader(s): ContentReader,
    UrlPath(number): UrlPath<TicketNumber>,
) -> WebResult<Markup> {
    let id = ticket_id(&app, &number).await?;
    let (t, messages, details) = app
        .readers
        .read(move |conn| {
            Ok((
                tickets::ticket(conn, id)?,
                citizens::messages(conn, id)?,
                intake_sql::details(conn, id)?,
            ))
        })
        .await?;
    let t = t.ok_or(WebError::NotFound)?;
    let answers: Vec<_> = messages
        .iter()
        .filter(|m| m.direction == Direction::Out)
        .collect();
    let answer = answers.last();
    let actor = s.actor.audit();
    app.store
        .call(move |conn| {
            audit::record(
                conn,
                actor,
                AuditAction::TicketAnswerPrinted,
                Some(id),
                json!({}),
            )
        })
        .await?;
    let letterhead = app.settings.letterhead.clone();
    Ok(html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                title { "Risposta " (t.number) }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body.letter {
                header.letterhead {
                    @for line in letterhead.lines() { (line) br; }
                }
                p.recipient {
                    @if let Some(name) = &t.citizen.name { (name) br; }
                    @if let Some(a) = details.as_ref().and_then(|d| d.postal_address.as_deref()) {
                        @for line in a.lines() { (line) br; }
                    }
                }
                @match answer {
                    Some(answer) => {
                        p { "Pratica " strong { (t.number) } " · " (ui::stored_datetime(&answer.at)) }
                        p { "Oggetto: " (t.subject) }
                        @for para in answer.body.split("\n\n") {
                            p.letter-body { @for line in para.lines() { (line) br; } }
                        }
                    }
                    None => { p.notice { (texts::NOTHING_TO_PRINT) } }
                }
                p { (app.settings.office_name) }
            }
        }
    })
}
