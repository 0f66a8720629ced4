//! Answering (issue 19): with a model — the ticket page offers the active answer models that
//! suit the ticket's kind and category; the one picked is filled in on the server (no
//! JavaScript) with the ticket's facts and shown in the answer form, to be edited before
//! sending — and with files, sent with the answer's mail and kept with the ticket.

use axum::body::Bytes;
use axum::extract::{Query, State as AppState};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::ticket_id;
use crate::answer_files::{answer_with_files, clean_filename};
use crate::domain::{AuditAction, Done, OutgoingFile, TicketNumber};
use crate::store::answer_files::AnswerFile;
use crate::store::answer_models::{self as sql, AnswerModel};
use crate::store::tickets;
use crate::texts;
use crate::web::auth::{ContentReader, Session, Staff};
use crate::web::feedback::FormErrors;
use crate::web::ui::{self, csrf, Section};
use crate::web::{downloads, multipart, App, UrlPath, WebError, WebResult};
use crate::workflow;

/// The models that suit ticket `id` (its kind and category).
pub fn suitable(conn: &rusqlite::Connection, id: i64) -> anyhow::Result<Vec<AnswerModel>> {
    let t = tickets::ticket(conn, id)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))?;
    sql::suitable(conn, t.kind, t.category.map(|c| c.id))
}

/// The ticket page's choice of a model (nothing when none suits the ticket).
pub fn picker(number: &TicketNumber, models: &[AnswerModel]) -> Markup {
    html! {
        @if !models.is_empty() {
            form.action method="get" action={"/reclami/" (number) "/risposta/modello"} {
                label for="modello" { "Rispondi con un modello" }
                select #modello name="modello" required {
                    @for m in models { option value=(m.id) { (m.title) } }
                }
                button type="submit" { "Compila la risposta" }
            }
        }
    }
}

/// The answer form (with its files), filled with `text`; `errors` on its field when it came
/// back, and when `draft_saved_at`, the notice that the text is a draft kept from an ended
/// session (issue 18).
pub fn answer_form(
    s: &Session,
    number: &TicketNumber,
    text: &str,
    errors: &FormErrors,
    draft_saved_at: Option<&str>,
) -> Markup {
    html! {
        form.action method="post" enctype="multipart/form-data" action={"/reclami/" (number) "/risposta/allegati"} {
            (csrf(s))
            label for="risposta" { "Risposta al cittadino (inviata per email)" }
            @if let Some(at) = draft_saved_at {
                p.notice #bozza role="status" { (texts::DRAFT_RESTORED) " (" (ui::stored_datetime(at)) ")" }
            }
            (errors.message("risposta"))
            textarea #risposta name="testo" rows="12" required aria-invalid=[errors.invalid("risposta")] aria-describedby=[errors.described_by("risposta")] { (text) }
            label for="allegati" { "Allegati (facoltativi)" }
            input #allegati type="file" name="allegati" multiple;
            button type="submit" { "Invia risposta" }
        }
    }
}

/// POST `/reclami/{number}/risposta/allegati`: the answer with its files (a multipart form;
/// an ordinary form is an answer without files).
pub async fn with_files(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    // Either encoding: a form without files may come urlencoded.
    let bad = || WebError::Refused(texts::BAD_UPLOAD.into());
    let (fields, uploads) = if multipart::is_multipart(&headers) {
        multipart::parse(&headers, &body).ok_or_else(bad)?
    } else {
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| bad())?;
        (fields, Vec::new())
    };
    let text = fields
        .into_iter()
        .find(|(k, _)| k == "testo")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let files: Vec<OutgoingFile> = uploads
        .into_iter()
        .map(|u| OutgoingFile {
            filename: clean_filename(&u.filename),
            content_type: u.content_type.to_ascii_lowercase(),
            bytes: u.bytes,
        })
        .collect();
    let (notifier, actor, n) = (app.notifier.clone(), s.actor.clone(), number.clone());
    let limits = app.settings.workflow.clone();
    let typed_text = text.clone();
    let sent = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let id = workflow::ticket_id(tx, &n)?;
                if limits.answers_need_approval {
                    // Sign-off: kept as a draft; nothing reaches the citizen yet.
                    crate::signoff::submit(tx, &actor, id, &text, &files, &limits)?;
                } else {
                    answer_with_files(tx, &notifier, &actor, id, &text, &files, &limits)?;
                }
                // A text kept from an ended session (issue 18) is done with once it is sent.
                crate::store::kept_answers::forget(tx, actor.id, id)
                    .map_err(workflow::WorkflowError::Other)?;
                Ok(())
            }))
        })
        .await?
        .map_err(WebError::from);
    match sent {
        Ok(()) if app.settings.workflow.answers_need_approval => {
            Ok(super::forms::done(&number, Done::AnswerDrafted))
        }
        Ok(()) => Ok(super::forms::done(&number, Done::Answered)),
        // Refused (an empty answer, a file too large…): the page again with the text kept.
        Err(WebError::Refused(why)) => {
            let typed = super::page::Typed {
                answer: Some(typed_text),
                ..Default::default()
            };
            super::forms::sent_back(&app, &s, &number, FormErrors::with("risposta", why), typed)
                .await
        }
        Err(e) => Err(e),
    }
}

/// The files sent with the ticket's answers, as the thread lists them.
pub fn files_list(number: &TicketNumber, files: &[AnswerFile]) -> Markup {
    html! {
        @if !files.is_empty() {
            ul.attachments aria-label="Allegati inviati con le risposte" {
                @for f in files {
                    li {
                        "Inviato con la risposta del " (ui::stored_datetime(&f.at)) ": "
                        a href={"/reclami/" (number) "/risposte/allegati/" (f.id)} download { (f.filename) }
                        " (" (f.content_type) ", " (ui::size(f.size)) ")"
                    }
                }
            }
        }
    }
}

/// GET `/reclami/{number}/risposte/allegati/{id}`: a file sent with an answer, as an audited
/// download (refused to viewers who do not read contents).
pub async fn file(
    AppState(app): AppState<App>,
    ContentReader(s): ContentReader,
    UrlPath((number, file)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let ticket = ticket_id(&app, &number).await?;
    let (name, bytes) = app
        .readers
        .read(move |conn| crate::store::answer_files::bytes_of(conn, ticket, file))
        .await?
        .ok_or(WebError::NotFound)?;
    let share = app.downloads.admit(bytes.len()).await?;
    let actor = s.actor.audit();
    app.store
        .call(move |conn| {
            crate::store::audit::record(
                conn,
                actor,
                AuditAction::TicketAttachmentDownloaded,
                Some(ticket),
                serde_json::json!({ "answer_file": file }),
            )
        })
        .await?;
    Ok(downloads::response(&name, bytes, Some(share)))
}

#[derive(Deserialize)]
pub struct ModelQuery {
    #[serde(default)]
    modello: String,
}

/// GET `/reclami/{number}/risposta/modello?modello=ID`: the model filled in for this ticket.
pub async fn with_model(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Query(q): Query<ModelQuery>,
) -> WebResult<Markup> {
    let id = ticket_id(&app, &number).await?;
    let model_id: i64 = q.modello.trim().parse().map_err(|_| WebError::NotFound)?;
    let (notifier, operator) = (app.notifier.clone(), s.actor.name.clone());
    let filled = app
        .readers
        .read(move |conn| {
            let Some(m) = sql::get(conn, model_id)?.filter(|m| m.active) else {
                return Ok(None);
            };
            let text = notifier.fill_model(conn, id, &m.body, &operator)?;
            Ok(Some((m.title, text)))
        })
        .await?;
    let Some((title, text)) = filled else {
        return Err(WebError::NotFound);
    };
    let body = html! {
        p { "Modello: " strong { (title) } ". Rivedi e modifica il testo prima di inviarlo." }
        (answer_form(&s, &number, &text, &FormErrors::default(), None))
        p { a href={"/reclami/" (number)} { "Torna al reclamo" } }
    };
    Ok(ui::page(
        &s,
        Section::Tickets,
        &format!("Risposta al reclamo {number}"),
        body,
    ))
}
