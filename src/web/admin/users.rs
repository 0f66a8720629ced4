//! Accounts: roles, the "riceve mail" flag, access, new passwords.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag};
use crate::admin::{self, AdminError, Thing};
use crate::domain::{AuditAction, Role};
use crate::texts;
use crate::web::auth::{AdminUser, Session};
use crate::web::ui::csrf;
use crate::web::{App, WebError, WebResult};

pub async fn users(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    axum::extract::Query(done): axum::extract::Query<crate::web::feedback::DoneQuery>,
) -> WebResult<Markup> {
    let users = app.readers.read(crate::store::users::list).await?;
    let body = html! {
        (super::flash(&done))
        div.tablewrap {
            table {
                caption { "Utenti del backoffice" }
                thead { tr { th scope="col" { "Nome" } th scope="col" { "Email" } th scope="col" { "Ruolo, notifiche, accesso" } th scope="col" { "Password" } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.name) }
                            td { (u.email) }
                            td {
                                form.inline method="post" action={"/amministrazione/utenti/" (u.id)} {
                                    (csrf(&s))
                                    label for={"ruolo-" (u.id)} { "Ruolo" }
                                    select id={"ruolo-" (u.id)} name="ruolo" {
                                        @for &r in Role::ALL { option value=(r) selected[u.role == r] { (texts::role(r)) } }
                                    }
                                    label { input type="checkbox" name="notifica" value="1" checked[u.notify]; " riceve mail" }
                                    label { input type="checkbox" name="attivo" value="1" checked[u.active]; " attivo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                            td {
                                form.inline method="post" action={"/amministrazione/utenti/" (u.id) "/password"} {
                                    (csrf(&s))
                                    button type="submit" { "Nuova password" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.small.muted { (texts::viewer_role_for_admins(app.settings.viewer_sees_content)) }
        h2 { "Nuovo utente" }
        form.action.grid method="post" action="/amministrazione/utenti" {
            (csrf(&s))
            p { label for="n-email" { "Email" } input #n-email type="email" name="email" required; }
            p { label for="n-nome" { "Nome e cognome" } input #n-nome type="text" name="nome" required; }
            p {
                label for="n-ruolo" { "Ruolo" }
                select #n-ruolo name="ruolo" { @for &r in Role::ALL { option value=(r) selected[r == Role::Operator] { (texts::role(r)) } } }
            }
            p { label { input type="checkbox" name="notifica" value="1"; " riceve una mail per ogni nuovo reclamo" } }
            p.buttons { button type="submit" { "Crea utente" } }
        }
    };
    Ok(admin_page(&s, "Utenti", body))
}

fn password_page(s: &Session, email: &str, password: &str) -> Markup {
    admin_page(
        s,
        "Password",
        html! {
            p role="status" { "La password di " strong { (email) } " è:" }
            p { code.password { (password) } }
            p { "Comunicala all'utente in modo sicuro: non verrà mostrata di nuovo." }
            p { a href="/amministrazione/utenti" { "Torna agli utenti" } }
        },
    )
}

#[derive(Deserialize)]
pub struct UserAddForm {
    email: String,
    nome: String,
    ruolo: String,
    notifica: Option<String>,
}

pub async fn user_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<UserAddForm>,
) -> WebResult<Markup> {
    let role: Role = f
        .ruolo
        .parse()
        .map_err(|_| WebError::Refused(texts::BAD_ROLE.into()))?;
    let password = crate::users::generate_password();
    let (actor, email, name, notify, pw) = (
        s.actor.audit(),
        f.email.clone(),
        f.nome,
        flag(&f.notifica),
        password.clone(),
    );
    change(&app, move |conn| {
        crate::users::add(conn, actor, &email, &name, role, notify, &pw)
    })
    .await?;
    Ok(password_page(&s, f.email.trim(), &password))
}

#[derive(Deserialize)]
pub struct UserForm {
    ruolo: String,
    notifica: Option<String>,
    attivo: Option<String>,
}

pub async fn user_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<UserForm>,
) -> WebResult<Response> {
    let role: Role = f
        .ruolo
        .parse()
        .map_err(|_| WebError::Refused(texts::BAD_ROLE.into()))?;
    let (me, notify, active) = (s.actor.id, flag(&f.notifica), flag(&f.attivo));
    change(&app, move |conn| {
        admin::user_update(conn, me, id, role, notify, active)
    })
    .await?;
    Ok(back("/amministrazione/utenti"))
}

pub async fn user_password(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Markup> {
    let password = crate::users::generate_password();
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || crate::users::hash_password(&p))
            .await
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))??
    };
    let actor = s.actor.audit();
    let email = change(&app, move |conn| {
        let user =
            crate::store::users::by_id(conn, id)?.ok_or(AdminError::NotFound(Thing::User))?;
        crate::store::users::set_password_hash(conn, id, &hash)?;
        crate::store::audit::record(
            conn,
            actor,
            AuditAction::UserPasswordReset,
            None,
            serde_json::json!({ "user": id }),
        )?;
        Ok(user.email)
    })
    .await?;
    Ok(password_page(&s, &email, &password))
}
