//! Cruscotto: counts by state and the queues that need someone now.

use axum::extract::State as AppState;
use chrono::Utc;
use maud::{html, Markup};

use super::count_text;
use super::list::ticket_table;
use crate::domain::{Role, State};
use crate::store::backoffice::{self as q, Queue};
use crate::texts;
use crate::web::auth::AnyUser;
use crate::web::ui::{self, Section};
use crate::web::{App, WebResult};

/// How many rows of each queue the dashboard shows.
const DASHBOARD_ROWS: usize = 8;

fn queue_title(q: Queue) -> &'static str {
    match q {
        Queue::Attention => "Il cittadino ha scritto",
        Queue::Overdue => "Scaduti senza risposta",
        Queue::DueSoon => "In scadenza entro 7 giorni",
        Queue::Unclassified => "Da classificare",
        Queue::New => "Nuovi, da prendere in carico",
    }
}

fn queue_link(q: Queue) -> &'static str {
    match q {
        Queue::Attention => "/reclami?attenzione=1",
        Queue::Overdue => "/reclami?scaduti=1&ordine=scadenza",
        Queue::DueSoon => "/reclami?in_scadenza=1&ordine=scadenza",
        Queue::Unclassified => "/reclami?da_classificare=1",
        Queue::New => "/reclami?stato=pending&ordine=meno_recenti",
    }
}

pub async fn dashboard(AppState(app): AppState<App>, AnyUser(s): AnyUser) -> WebResult<Markup> {
    let d = app
        .readers
        .read(|conn| q::dashboard(conn, Utc::now(), DASHBOARD_ROWS))
        .await?;
    let istruttoria = app
        .readers
        .read(|conn| super::requests::queues_of(conn, DASHBOARD_ROWS))
        .await?;
    let drafts = app
        .readers
        .read(|conn| crate::store::drafts::pending(conn, DASHBOARD_ROWS))
        .await?;
    let count = |state: State| {
        d.by_state
            .iter()
            .find(|(st, _)| *st == state)
            .map_or(0, |(_, n)| *n)
    };
    let body = html! {
        @if s.actor.role == Role::Viewer {
            p.notice { (texts::viewer_scope(s.sees_content)) }
        }
        section aria-labelledby="per-stato" {
            h2 #per-stato { "Reclami per stato" }
            ul.counts {
                @for &state in State::ALL {
                    li {
                        a href={"/reclami?stato=" (state)} {
                            span.n { (ui::number(count(state))) }
                            span { (texts::state(state)) }
                        }
                    }
                }
            }
        }
        @for (queue, rows, total) in &d.queues {
            @let id = format!("coda-{}", *queue as u8);
            section aria-labelledby=(id) {
                h2 #(id) { (queue_title(*queue)) " " span.count { "(" (count_text(*total)) ")" } }
                @if rows.is_empty() {
                    p.muted { "Nessun reclamo." }
                } @else {
                    (ticket_table(rows, None, s.sees_content))
                    @if *total > rows.len() {
                        p { a href=(queue_link(*queue)) { "Vedi tutti (" (count_text(*total)) ")" } }
                    }
                }
            }
        }
        (super::requests::queues(&istruttoria))
        (crate::web::quality::dashboard_block(&app, &s).await?)
        @if s.may_act() { (super::drafts::queue(&drafts)) }
    };
    Ok(ui::page(&s, Section::Dashboard, "Cruscotto", body))
}
