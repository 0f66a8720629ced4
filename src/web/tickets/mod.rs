//! Cruscotto, Reclami (the list) and Reclamo (one ticket with its actions and downloads).
//!
//! - [`dashboard`]: counts by state and the queues that need someone now.
//! - [`list`]: the list with its filters, search, sort and pages (also the dashboard's tables).
//! - [`page`]: one ticket: its facts, its thread, its history, and the forms to work it.
//! - [`forms`]: what the forms post: answer, note, classification (and its one-click
//!   confirmation), closing, merging.
//! - [`suggest`]: the ticket page's automatic classification: sources, suggestions, "perché".
//! - [`files`]: the attachments and original messages, as audited downloads.
//! - [`analysis`]: the analysis of a complaint, frail citizen, clinical risk (issue 20).
//! - [`requests`]: the istruttoria: a ticket's requests for reports, asking for one, reading one.

mod analysis;
mod dashboard;
mod files;
mod forms;
mod list;
mod page;
mod requests;
mod suggest;

pub use analysis::{analyse, risk_ref_add, risk_ref_remove};
pub(crate) use analysis::{in_writer, RiskManagerOrStaff};
pub use dashboard::dashboard;
pub use files::{attachment, original};
pub use forms::{answer, classify, close, confirm, merge, note};
pub use list::list;
pub use page::show;
pub use requests::{new_request, report_read, send_request};

use axum::response::{IntoResponse, Redirect, Response};

use super::{ui, App, WebError, WebResult};
use crate::domain::TicketNumber;
use crate::store::backoffice::COUNT_CAP;

/// A count as lists say it: "più di 10.000" past the cap.
fn count_text(n: usize) -> String {
    if n > COUNT_CAP {
        format!("più di {}", ui::number(COUNT_CAP as i64))
    } else {
        ui::number(n as i64)
    }
}

/// The id of the ticket `number`, or a 404.
async fn ticket_id(app: &App, number: &TicketNumber) -> WebResult<i64> {
    let number = number.clone();
    app.readers
        .read(move |conn| crate::store::tickets::id_by_number(conn, &number))
        .await?
        .ok_or(WebError::NotFound)
}

fn back_to(number: &TicketNumber) -> Response {
    Redirect::to(&format!("/reclami/{number}")).into_response()
}
