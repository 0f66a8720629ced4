//! Riepilogo del mattino (issue 19): which accounts get the morning digest of their tickets due
//! and overdue (`crate::digest`).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::{admin_page, back, change, flag};
use crate::admin::{AdminError, Thing};
use crate::domain::{AuditAction, Role};
use crate::texts;
use crate::web::auth::{AdminUser, Session};
use crate::web::ui::csrf;
use crate::web::{App, WebResult};

const PAGE: &str = "/amministrazione/riepiloghi";

pub async fn digests(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let (users, readers, approvers) = app
        .readers
        .read(|conn| {
            let users = crate::store::users::list(conn)?;
            let mut approvers = Vec::new();
            for u in &users {
                if crate::store::drafts::is_approver(conn, u.id)? {
                    approvers.push(u.id);
                }
            }
            Ok((users, crate::store::digest::readers(conn)?, approvers))
        })
        .await?;
    let body = html! {
        p { "Ogni mattina chi lo riceve ha una mail con le proprie pratiche non ancora risposte scadute o in scadenza; il responsabile dell'URP ("
            code { "[workflow] digest_head" } ") quella di tutto l'ufficio." }
        div.tablewrap {
            table {
                thead { tr { th scope="col" { "Utente" } th scope="col" { "Riepilogo del mattino" } th scope="col" { "Approvazione delle risposte" } } }
                tbody {
                    @for u in users.iter().filter(|u| u.active && u.role != Role::Viewer) {
                        tr {
                            td { (u.name) " <" (u.email) ">" }
                            td {
                                form.inline method="post" action={(PAGE) "/" (u.id)} {
                                    (csrf(&s))
                                    label { input type="checkbox" name="riepilogo" value="1" checked[readers.iter().any(|r| r.id == u.id)]; " riceve il riepilogo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                            td {
                                form.inline method="post" action={(PAGE) "/" (u.id) "/approvatore"} {
                                    (csrf(&s))
                                    label { input type="checkbox" name="approvatore" value="1" checked[approvers.contains(&u.id)]; " approva le risposte" }
                                    button type="submit" { "Salva" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, texts::DIGEST_PAGE, body))
}

#[derive(Deserialize)]
pub struct DigestForm {
    riepilogo: Option<String>,
}

pub async fn digest_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<DigestForm>,
) -> WebResult<Response> {
    let on = flag(&f.riepilogo);
    set_user_flag(&app, &s, id, on, "digest", crate::store::digest::set_flag).await
}

#[derive(Deserialize)]
pub struct ApproverForm {
    approvatore: Option<String>,
}

/// The approver right (sign-off, `[workflow] answers_need_approval`).
pub async fn approver_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<ApproverForm>,
) -> WebResult<Response> {
    let on = flag(&f.approvatore);
    set_user_flag(
        &app,
        &s,
        id,
        on,
        "approver",
        crate::store::drafts::set_approver,
    )
    .await
}

/// Sets one of an account's flags on this page (`set` answers whether the account exists), with
/// its audit entry (`user.updated`, the flag named by `key`).
async fn set_user_flag(
    app: &App,
    s: &Session,
    id: i64,
    on: bool,
    key: &'static str,
    set: fn(&rusqlite::Connection, i64, bool) -> anyhow::Result<bool>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(app, move |conn| {
        if !set(conn, id, on)? {
            return Err(AdminError::NotFound(Thing::User));
        }
        crate::store::audit::record(
            conn,
            actor,
            AuditAction::UserUpdated,
            None,
            json!({ "user": id, key: on }),
        )?;
        Ok(())
    })
    .await?;
    Ok(back(PAGE))
}
