//! Feedback on the backoffice's forms, for every page to use (WCAG 3.3.1, 3.3.3, 4.1.3):
//!
//! - [`FormErrors`]: a form that comes back with errors is shown again, with what was typed,
//!   "Errore: …" in the title ([`page_with_errors`]), an error summary that takes the focus
//!   and is announced ([`error_summary`]), and each field marked (`aria-invalid`) and
//!   described by its own message ([`FormErrors::invalid`], [`FormErrors::described_by`],
//!   [`FormErrors::message`]).
//! - [`done`]: after an action, the redirect carries `?fatto=<word>#fatto` ([`Done`]); the page
//!   it lands on shows [`flash`], a status message that takes the focus.
//! - [`confirm_page`]: the step before an action that cannot be undone (closing, merging,
//!   deleting, discarding): the same form again, with its fields hidden and `confermato=1`;
//!   handlers act only when the form says [`confirmed`].

use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Session;
use super::ui::{self, csrf, Section};
use crate::domain::Done;
use crate::texts;

/// The errors of one submitted form: each names the id of its field and says what is wrong.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    errors: Vec<(String, String)>,
}

impl FormErrors {
    pub fn new() -> FormErrors {
        FormErrors::default()
    }

    /// One error on the field whose id is `field`.
    pub fn with(field: &str, message: impl Into<String>) -> FormErrors {
        let mut e = FormErrors::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push((field.to_string(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    fn get(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// `aria-invalid` of the field: `Some("true")` when it has an error.
    pub fn invalid(&self, field: &str) -> Option<&'static str> {
        self.get(field).map(|_| "true")
    }

    /// `aria-describedby` of the field: its message's id, when it has an error.
    pub fn described_by(&self, field: &str) -> Option<String> {
        self.get(field).map(|_| format!("{field}-errore"))
    }

    /// The field's message, to put beside it (nothing when the field is right).
    pub fn message(&self, field: &str) -> Markup {
        html! {
            @if let Some(m) = self.get(field) {
                p.field-error id={(field) "-errore"} { span.visually-hidden { (texts::ERROR_TITLE) ": " } (m) }
            }
        }
    }
}

/// The list of a form's errors, each a link to its field; it takes the focus when the page
/// loads and is announced (`role="alert"`).
pub fn error_summary(errors: &FormErrors) -> Markup {
    html! {
        @if !errors.is_empty() {
            div #errori .error-summary role="alert" tabindex="-1" autofocus aria-labelledby="errori-t" {
                h2 #errori-t { (texts::error_summary_title(errors.len())) }
                ul {
                    @for (field, message) in &errors.errors {
                        li { a href={"#" (field)} { (message) } }
                    }
                }
            }
        }
    }
}

/// A page whose form came back with `errors`: "Errore: " before its title, the summary first.
pub fn page_with_errors(
    session: &Session,
    section: Section,
    title: &str,
    errors: &FormErrors,
    body: Markup,
) -> Markup {
    if errors.is_empty() {
        return ui::page(session, section, title, body);
    }
    ui::frame(
        session,
        section,
        &format!("{}: {title}", texts::ERROR_TITLE),
        title,
        html! { (error_summary(errors)) (body) },
    )
}

/// The redirect after an action: back to `path`, saying what was done (and `detail`, a value
/// the page checks before showing it, such as the ticket merged in).
pub fn done(path: &str, what: Done, detail: Option<&str>) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut to = format!("{path}{sep}fatto={what}");
    if let Some(d) = detail {
        to.push_str("&da=");
        to.push_str(&ui::url_encode(d));
    }
    to.push_str("#fatto");
    Redirect::to(&to).into_response()
}

/// The `?fatto=…&da=…` a page reads after [`done`]; an unknown word shows nothing.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    fatto: String,
    #[serde(default)]
    da: String,
}

impl DoneQuery {
    pub fn done(&self) -> Option<Done> {
        self.fatto.parse().ok()
    }

    /// The detail the redirect carried (unchecked: the page parses it into what it expects).
    pub fn detail(&self) -> &str {
        &self.da
    }
}

/// The confirmation of what was just done; it takes the focus, so that it is read out.
pub fn flash(message: &str) -> Markup {
    html! {
        div #fatto .flash role="status" tabindex="-1" autofocus {
            p { (message) }
        }
    }
}

/// Whether a form was sent from its confirmation step.
pub fn confirmed(v: Option<&str>) -> bool {
    super::form_flag(v)
}

/// The confirmation step of an action that cannot be undone.
pub struct Confirm<'a> {
    /// The page's title, a question ("Chiudere il reclamo URP-2026-000042?").
    pub title: &'a str,
    /// What will happen, in a few sentences.
    pub consequences: Markup,
    /// Where the form posts (the action's own route).
    pub action: &'a str,
    /// The form's fields as they were sent, kept hidden.
    pub fields: &'a [(&'a str, &'a str)],
    /// Extra fields to fill in on this step (a checkbox that a harder case asks for).
    pub extra: Markup,
    /// The button that acts ("Sì, chiudi il reclamo").
    pub button: &'a str,
    /// Where "Annulla" goes.
    pub cancel: &'a str,
}

pub fn confirm_page(session: &Session, section: Section, c: Confirm<'_>) -> Markup {
    let body = html! {
        div.confirm {
            (c.consequences)
            form.action method="post" action=(c.action) {
                (csrf(session))
                @for (name, value) in c.fields {
                    input type="hidden" name=(name) value=(value);
                }
                input type="hidden" name="confermato" value="1";
                (c.extra)
                p.buttons {
                    button type="submit" autofocus { (c.button) }
                    " "
                    a href=(c.cancel) { (texts::CONFIRM_CANCEL) }
                }
            }
        }
    };
    ui::page(session, section, c.title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_with_an_error_is_marked_and_described() {
        let e = FormErrors::with("al", texts::END_BEFORE_START);
        assert_eq!(e.invalid("al"), Some("true"));
        assert_eq!(e.invalid("dal"), None);
        assert_eq!(e.described_by("al").as_deref(), Some("al-errore"));
        let message = e.message("al").into_string();
        assert!(message.contains("id=\"al-errore\"") && message.contains("precede"));
        let summary = error_summary(&e).into_string();
        assert!(summary.contains("role=\"alert\"") && summary.contains("href=\"#al\""));
        assert!(error_summary(&FormErrors::new()).into_string().is_empty());
    }

    #[test]
    fn the_redirect_after_an_action_names_it() {
        let r = done("/reclami/URP-2026-000001", Done::Answered, None);
        assert_eq!(
            r.headers()["location"],
            "/reclami/URP-2026-000001?fatto=risposta#fatto"
        );
        let r = done("/x?a=1", Done::Merged, Some("URP-2026-000002"));
        assert_eq!(
            r.headers()["location"],
            "/x?a=1&fatto=unione&da=URP-2026-000002#fatto"
        );
        let q: DoneQuery = serde_urlencoded::from_str("fatto=chiusura").unwrap();
        assert_eq!(q.done(), Some(Done::Closed));
        let q: DoneQuery = serde_urlencoded::from_str("fatto=boh").unwrap();
        assert_eq!(q.done(), None);
    }
}
