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
use crate::web::auth::AdminUser;
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
    let (actor, on) = (s.actor.audit(), flag(&f.riepilogo));
    change(&app, move |conn| {
        if !crate::store::digest::set_flag(conn, id, on)? {
            return Err(AdminError::NotFound(Thing::User));
        }
        crate::store::audit::record(
            conn,
            actor,
            AuditAction::UserUpdated,
            None,
            json!({ "user": id, "digest": on }),
        )?;
        Ok(())
    })
    .await?;
    Ok(back(PAGE))
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
    let (actor, on) = (s.actor.audit(), flag(&f.approvatore));
    change(&app, move |conn| {
        if !crate::store::drafts::set_approver(conn, id, on)? {
            return Err(AdminError::NotFound(Thing::User));
        }
        crate::store::audit::record(
            conn,
            actor,
            AuditAction::UserUpdated,
            None,
            json!({ "user": id, "approver": on }),
        )?;
        Ok(())
    })
    .await?;
    Ok(back(PAGE))
}
