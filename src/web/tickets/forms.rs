//! What the ticket page's forms post: answer, note, classification, closing, merging. Each runs
//! one workflow step in a transaction on the writer thread and goes back to the ticket.

use axum::extract::State as AppState;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::back_to;
use crate::domain::{Actor, Outcome, TicketNumber};
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::ui::{self, csrf, Section};
use crate::web::{App, UrlPath, WebError, WebResult};
use crate::workflow::{self, Classification};

#[derive(Deserialize)]
pub struct TextForm {
    testo: String,
}

/// Runs one workflow step for `s` on ticket `number` in a transaction on the writer thread.
async fn act<T: Send + 'static>(
    app: &App,
    s: &Session,
    number: &TicketNumber,
    f: impl FnOnce(
            &rusqlite::Connection,
            &crate::notify::Notifier,
            &Actor,
            i64,
        ) -> Result<T, workflow::WorkflowError>
        + Send
        + 'static,
) -> WebResult<T> {
    let (notifier, actor, number) = (app.notifier.clone(), s.actor.clone(), number.clone());
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
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<TextForm>,
) -> WebResult<Response> {
    let limits = app.settings.workflow.clone();
    act(&app, &s, &number, move |c, n, a, id| {
        if limits.answers_need_approval {
            // Sign-off (issue 19): kept as a draft; nothing reaches the citizen yet.
            crate::signoff::submit(c, a, id, &form.testo, &[], &limits).map(|_| ())
        } else {
            workflow::answer(c, n, a, id, &form.testo).map(|_| ())
        }
    })
    .await?;
    Ok(back_to(&number))
}

pub async fn note(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
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
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<ClassifyForm>,
) -> WebResult<Response> {
    let id = crate::web::form_id;
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
pub struct ConfirmForm {
    /// `kind`, `category`, `service`, or `tutto` (the classification as it is now).
    campo: String,
    #[serde(default)]
    valore: String,
}

/// One click: an operator confirms one suggestion, or the classification as it is.
pub async fn confirm(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<ConfirmForm>,
) -> WebResult<Response> {
    let what = match form.campo.as_str() {
        "tutto" => workflow::Confirmation::Current,
        field => workflow::Confirmation::Suggestion {
            field: field
                .parse()
                .map_err(|_| WebError::Refused(texts::BAD_FIELD.into()))?,
            value: form.valore.trim().to_string(),
        },
    };
    act(&app, &s, &number, move |conn, _, a, tid| {
        workflow::confirm(conn, a, tid, &what)
    })
    .await?;
    Ok(back_to(&number))
}

#[derive(Deserialize)]
pub struct CloseForm {
    esito: String,
}

pub async fn close(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
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
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<MergeForm>,
) -> WebResult<Response> {
    let written = form.destinazione.trim();
    let missing = || WebError::Refused(format!("Il reclamo {written} non esiste."));
    let target: TicketNumber = written.parse().map_err(|_| missing())?;
    let into = {
        let t = target.clone();
        app.readers
            .read(move |conn| crate::store::tickets::id_by_number(conn, &t))
            .await?
            .ok_or_else(missing)?
    };
    let consent = if crate::web::form_flag(form.conferma.as_deref()) {
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
            Err(e @ workflow::WorkflowError::DifferentCitizens(_)) => Ok(Some(e)),
            Err(e) => Err(e),
        },
    )
    .await?;
    match refused {
        None => Ok(back_to(&target)),
        Some(e) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            confirm_merge(&s, &number, &target, &texts::workflow_error(&e)),
        )
            .into_response()),
    }
}

/// The merge of two citizens' tickets, refused until confirmed: why, and the form to confirm.
fn confirm_merge(s: &Session, number: &TicketNumber, target: &TicketNumber, why: &str) -> Markup {
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
