//! Amministrazione: accounts, services and their referenti, categories, routing rules, answer
//! models, the
//! learned classifier, quarantine, the outbox and the audit log. Every handler takes
//! [`AdminUser`].
//!
//! A change runs through [`change`]: one transaction on the writer thread, its refusal (an
//! [`AdminError`]) shown in Italian as a 422, a failure of the database a logged 500.

mod answer_models;
mod audit;
mod categories;
mod classifier;
mod digest;
mod outbox;
mod quarantine;
mod referenti;
mod rules;
mod services;
mod users;

pub use answer_models::{answer_model_add, answer_model_update, answer_models};
pub use audit::audit;
pub use categories::{categories, category_add, category_update};
pub use classifier::classifier;
pub use digest::{approver_update, digest_update, digests};
pub use outbox::{outbox, outbox_retry};
pub use quarantine::{quarantine, quarantine_discard, quarantine_raw, quarantine_retry};
pub use referenti::{referente_add, referente_update, referenti};
pub use rules::{rule_add, rule_move, rule_update, rules};
pub use services::{service_add, service_update, services};
pub use users::{user_add, user_password, user_update, users};

use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

use super::auth::{AdminUser, Session};
use super::ui::{self, Section};
use super::{App, WebError, WebResult};
use crate::admin::AdminError;

/// What a form's submit button asks for, where one form saves or deletes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum FormAction {
    #[default]
    Salva,
    Elimina,
}

fn flag(v: &Option<String>) -> bool {
    super::form_flag(v.as_deref())
}

/// Runs an administrator's change in a transaction: committed if it succeeds; a refusal is
/// shown in Italian, a failure of the database is logged and answered with a 500.
async fn change<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, AdminError> + Send + 'static,
) -> WebResult<T> {
    let out = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            match f(&tx) {
                Ok(v) => {
                    tx.commit()?;
                    Ok(Ok(v))
                }
                Err(e) => Ok(Err(e)),
            }
        })
        .await?;
    out.map_err(|e| match e {
        AdminError::Database(e) => WebError::Internal(e),
        refused => WebError::Refused(crate::texts::admin_error(&refused)),
    })
}

/// Back to the page the change was made on, which says it was saved.
fn back(path: &str) -> Response {
    super::feedback::done(path, crate::domain::Done::Saved, None)
}

/// The confirmation of the change just made, on the page a redirect of [`back`] lands on.
fn flash(done: &super::feedback::DoneQuery) -> Markup {
    html! {
        @if let Some(d) = done.done() { (super::feedback::flash(&crate::texts::done(d, ""))) }
    }
}

fn admin_page(s: &Session, title: &str, body: Markup) -> Markup {
    let body = html! {
        nav.subnav aria-label="Amministrazione" {
            ul {
                li { a href="/amministrazione/utenti" { "Utenti" } }
                li { a href="/amministrazione/servizi" { "Servizi" } }
                li { a href="/amministrazione/referenti" { "Referenti" } }
                li { a href="/amministrazione/categorie" { "Classificazione" } }
                li { a href="/amministrazione/regole" { "Regole di smistamento" } }
                li { a href="/amministrazione/modelli" { "Modelli di risposta" } }
                li { a href="/amministrazione/riepiloghi" { "Riepilogo del mattino" } }
                li { a href="/amministrazione/classificatore" { "Classificatore appreso" } }
                li { a href="/amministrazione/quarantena" { "Quarantena" } }
                li { a href="/amministrazione/posta" { "Posta in uscita" } }
                li { a href="/amministrazione/registro" { "Registro attività" } }
            }
        }
        (body)
    };
    ui::page(s, Section::Admin, title, body)
}

pub async fn index(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let w = app.readers.read(crate::store::admin::pending_work).await?;
    let body = html! {
        ul.counts {
            li { a href="/amministrazione/quarantena" { span.n { (ui::number(w.quarantined)) } span { "messaggi in quarantena" } } }
            li { a href="/amministrazione/posta" { span.n { (ui::number(w.failed)) } span { "email non consegnate" } } }
            li { a href="/amministrazione/posta" { span.n { (ui::number(w.pending)) } span { "email in attesa di invio" } } }
        }
    };
    Ok(admin_page(&s, "Amministrazione", body))
}
