//! What the ticket page's forms post: answer, note, classification, closing, merging. Each runs
//! one workflow step in a transaction on the writer thread and goes back to the ticket.

use axum::extract::State as AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{Feedback, Typed};
use crate::domain::{Actor, Done, Outcome, TicketNumber};
use crate::texts;
use crate::web::auth::{Session, Staff};
use crate::web::feedback::{self, FormErrors};
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

/// The ticket page again, with `errors` on its forms and what was `typed` in them (422).
pub(super) async fn sent_back(
    app: &App,
    s: &Session,
    number: &TicketNumber,
    errors: FormErrors,
    typed: Typed,
) -> WebResult<Response> {
    let id = super::ticket_id(app, number).await?;
    let fb = Feedback {
        errors,
        typed,
        ..Feedback::default()
    };
    let page = super::page::render(app, s.clone(), id, fb).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// Where the ticket page says what was just done.
pub(super) fn done(number: &TicketNumber, what: Done) -> Response {
    feedback::done(&format!("/reclami/{number}"), what, None)
}

pub async fn answer(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<TextForm>,
) -> WebResult<Response> {
    let text = form.testo.clone();
    let limits = app.settings.workflow.clone();
    let sent = act(&app, &s, &number, move |c, n, a, id| {
        if limits.answers_need_approval {
            // Sign-off (issue 19): kept as a draft; nothing reaches the citizen yet.
            crate::signoff::submit(c, a, id, &form.testo, &[], &limits)?;
        } else {
            workflow::answer(c, n, a, id, &form.testo)?;
        }
        // A text kept from an ended session (issue 18) is done with once it is sent.
        crate::store::kept_answers::forget(c, a.id, id).map_err(workflow::WorkflowError::Other)?;
        Ok(())
    })
    .await;
    match sent {
        Ok(()) if app.settings.workflow.answers_need_approval => {
            Ok(done(&number, Done::AnswerDrafted))
        }
        Ok(()) => Ok(done(&number, Done::Answered)),
        Err(WebError::Refused(why)) => {
            let typed = Typed {
                answer: Some(text),
                ..Typed::default()
            };
            sent_back(&app, &s, &number, FormErrors::with("risposta", why), typed).await
        }
        Err(e) => Err(e),
    }
}

pub async fn note(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<TextForm>,
) -> WebResult<Response> {
    let text = form.testo.clone();
    let added = act(&app, &s, &number, move |c, _, a, id| {
        workflow::add_note(c, a, id, &form.testo)
    })
    .await;
    match added {
        Ok(_) => Ok(done(&number, Done::Noted)),
        Err(WebError::Refused(why)) => {
            let typed = Typed {
                note: Some(text),
                ..Typed::default()
            };
            sent_back(&app, &s, &number, FormErrors::with("nota", why), typed).await
        }
        Err(e) => Err(e),
    }
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
    Ok(done(&number, Done::Classified))
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
    Ok(done(&number, Done::Confirmed))
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    esito: String,
    /// "1" from the confirmation step: closing mails the citizen, so it is asked first.
    #[serde(default)]
    confermato: Option<String>,
}

pub async fn close(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<CloseForm>,
) -> WebResult<Response> {
    let Ok(outcome) = form.esito.parse::<Outcome>() else {
        let errors = FormErrors::with("esito", texts::CHOOSE_OUTCOME);
        return sent_back(&app, &s, &number, errors, Typed::default()).await;
    };
    if !feedback::confirmed(form.confermato.as_deref()) {
        let path = format!("/reclami/{number}");
        let page = feedback::confirm_page(
            &s,
            Section::Tickets,
            feedback::Confirm {
                title: &format!("Chiudere il reclamo {number}?"),
                consequences: html! {
                    p { "Esito: " strong { (texts::outcome(outcome)) } "." }
                    p { (texts::CLOSE_CONSEQUENCES) }
                },
                action: &format!("{path}/chiusura"),
                fields: &[("esito", outcome.as_str())],
                extra: html! {},
                button: "Sì, chiudi il reclamo",
                cancel: &path,
            },
        );
        return Ok(page.into_response());
    }
    act(&app, &s, &number, move |c, n, a, id| {
        workflow::close(c, n, a, id, outcome)
    })
    .await?;
    Ok(done(&number, Done::Closed))
}

#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    destinazione: String,
    /// Ticked on the confirmation step when two citizens wrote the tickets: they are one case
    /// although two citizens wrote them.
    #[serde(default)]
    conferma: Option<String>,
    /// "1" from the confirmation step: a merge moves the messages for good.
    #[serde(default)]
    confermato: Option<String>,
}

pub async fn merge(
    AppState(app): AppState<App>,
    Staff(s): Staff,
    UrlPath(number): UrlPath<TicketNumber>,
    Form(form): Form<MergeForm>,
) -> WebResult<Response> {
    let written = form.destinazione.trim().to_string();
    let sent_back_with = |why: String| {
        let typed = Typed {
            merge: Some(written.clone()),
            ..Typed::default()
        };
        sent_back(&app, &s, &number, FormErrors::with("unisci", why), typed)
    };
    let missing = texts::merge_target_missing(&written);
    let Ok(target) = written.parse::<TicketNumber>() else {
        return sent_back_with(missing).await;
    };
    let citizens = {
        let (t, n) = (target.clone(), number.clone());
        app.readers
            .read(move |conn| {
                let Some(into) = crate::store::tickets::id_by_number(conn, &t)? else {
                    return Ok(None);
                };
                let email = |id| -> anyhow::Result<String> {
                    Ok(crate::store::tickets::ticket(conn, id)?
                        .map(|t| t.citizen.email)
                        .unwrap_or_default())
                };
                let from = crate::store::tickets::id_by_number(conn, &n)?;
                Ok(Some((into, email(into)?, from.map(email).transpose()?)))
            })
            .await?
    };
    let Some((into, into_citizen, from_citizen)) = citizens else {
        return sent_back_with(missing).await;
    };
    if !feedback::confirmed(form.confermato.as_deref()) {
        let different = from_citizen.is_some_and(|c| !c.eq_ignore_ascii_case(&into_citizen));
        return Ok(confirm_merge(&s, &number, &target, different).into_response());
    }
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
    .await;
    match refused {
        Ok(None) => Ok(feedback::done(
            &format!("/reclami/{target}"),
            Done::Merged,
            Some(&number.to_string()),
        )),
        Ok(Some(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ui::page(
                &s,
                Section::Tickets,
                &format!("Unire {number} a {target}?"),
                html! {
                    p.error role="alert" { (texts::workflow_error(&e)) }
                    (confirm_merge_form(&s, &number, &target, true))
                },
            ),
        )
            .into_response()),
        Err(WebError::Refused(why)) => sent_back_with(why).await,
        Err(e) => Err(e),
    }
}

/// The confirmation step of a merge; when two citizens wrote the tickets, a checkbox more.
fn confirm_merge(
    s: &Session,
    number: &TicketNumber,
    target: &TicketNumber,
    different: bool,
) -> Markup {
    let body = html! {
        p { (texts::merge_consequences(number, target)) }
        @if different {
            p.notice { (texts::MERGE_DIFFERENT_CITIZENS) }
        }
        (confirm_merge_form(s, number, target, different))
    };
    ui::page(
        s,
        Section::Tickets,
        &format!("Unire {number} a {target}?"),
        body,
    )
}

fn confirm_merge_form(
    s: &Session,
    number: &TicketNumber,
    target: &TicketNumber,
    different: bool,
) -> Markup {
    html! {
        form.action method="post" action={"/reclami/" (number) "/unione"} {
            (csrf(s))
            input type="hidden" name="destinazione" value=(target);
            input type="hidden" name="confermato" value="1";
            @if different {
                p {
                    input #conferma type="checkbox" name="conferma" value="1" required;
                    " "
                    label for="conferma" { "Confermo: " (number) " e " (target) " sono lo stesso caso, scritto da cittadini diversi." }
                }
            }
            p.buttons {
                button type="submit" autofocus { "Sì, unisci" }
                " "
                a href={"/reclami/" (number)} { (texts::CONFIRM_CANCEL) }
            }
        }
    }
}
