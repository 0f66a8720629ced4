//! Registro attività: the audit log, newest first, by family of actions, user and ticket.

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde::Deserialize;

use super::admin_page;
use crate::domain::{AuditGroup, TicketNumber};
use crate::store::backoffice as q;
use crate::texts;
use crate::web::auth::AdminUser;
use crate::web::ui;
use crate::web::{App, WebResult};

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    azione: String,
    #[serde(default)]
    utente: String,
    #[serde(default)]
    reclamo: String,
    #[serde(default)]
    pagina: String,
}

const AUDIT_PAGE: usize = 100;

pub async fn audit(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Query(f): Query<AuditQuery>,
) -> WebResult<Markup> {
    let page = crate::web::page_number(&f.pagina);
    let group: Option<AuditGroup> = f.azione.trim().parse().ok();
    let user = f.utente.trim().parse::<i64>().ok();
    let ticket: Option<TicketNumber> = f.reclamo.trim().parse().ok();
    let (rows, users) = app
        .readers
        .read(move |conn| {
            Ok((
                q::audit_log(conn, group, user, ticket.as_ref(), page - 1, AUDIT_PAGE)?,
                crate::store::users::list(conn)?,
            ))
        })
        .await?;
    let link = |p: usize| {
        format!(
            "/amministrazione/registro?azione={}&utente={}&reclamo={}&pagina={p}",
            ui::url_encode(&f.azione),
            ui::url_encode(&f.utente),
            ui::url_encode(&f.reclamo)
        )
    };
    let body = html! {
        form.filters method="get" action="/amministrazione/registro" {
            p {
                label for="ra" { "Azione" }
                select #ra name="azione" {
                    option value="" { "Tutte" }
                    @for &g in AuditGroup::ALL {
                        option value=(g) selected[group == Some(g)] { (texts::audit_group(g)) }
                    }
                }
            }
            p {
                label for="ru" { "Utente" }
                select #ru name="utente" {
                    option value="" { "Tutti" }
                    @for u in &users { option value=(u.id) selected[f.utente == u.id.to_string()] { (u.name) } }
                }
            }
            p { label for="rr" { "Reclamo" } input #rr type="text" name="reclamo" value=(f.reclamo) placeholder="URP-2026-000042"; }
            p.buttons { button type="submit" { "Filtra" } }
        }
        div.tablewrap {
            table {
                caption { "Registro attività (dal più recente)" }
                thead { tr { th scope="col" { "Quando" } th scope="col" { "Chi" } th scope="col" { "Cosa" } th scope="col" { "Reclamo" } th scope="col" { "Dettagli" } } }
                tbody {
                    @for (h, number) in &rows {
                        tr {
                            td { (ui::stored_datetime(&h.at)) }
                            td { (h.actor) }
                            td { (texts::audit_action(h.action)) }
                            td { @if let Some(n) = number { a href={"/reclami/" (n)} { (n) } } }
                            td { code { (h.detail) } }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pagine" {
            @if page > 1 { a rel="prev" href=(link(page - 1)) { "← Più recenti" } }
            @if rows.len() == AUDIT_PAGE { a rel="next" href=(link(page + 1)) { "Meno recenti →" } }
        }
    };
    Ok(admin_page(&s, "Registro attività", body))
}
