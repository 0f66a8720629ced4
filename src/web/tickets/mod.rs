//! Cruscotto, Reclami (the list) and Reclamo (one ticket with its actions and downloads).
//!
//! - [`dashboard`]: counts by state and the queues that need someone now.
//! - [`list`]: the list with its filters, search, sort and pages (also the dashboard's tables).
//! - [`page`]: one ticket: its facts, its thread, its history, and the forms to work it.
//! - [`forms`]: what the forms post: answer, note, classification (and its one-click
//!   confirmation), closing, merging.
//! - [`suggest`]: the ticket page's automatic classification: sources, suggestions, "perché".
//! - [`files`]: the attachments and original messages, as audited downloads.
//! - [`record`]: a complaint taken by phone, at the desk or by letter (issue 15); an answer
//!   printed as a letter.
//! - [`answers`]: answering with an administrator's model, filled in on the server.
//! - [`drafts`]: sign-off: answers awaiting approval, approving and returning them.
//! - [`deadline`]: the answer deadline's record and the forms that move it (issue 19).
//! - [`review`]: the second level (riesame): its phase on the ticket, opening it, its outcome.
//! - [`analysis`]: the analysis of a complaint, frail citizen, clinical risk (issue 20).
//! - [`requests`]: the istruttoria: a ticket's requests for reports, asking for one, reading one.

mod analysis;
mod answers;
mod dashboard;
mod deadline;
mod drafts;
mod files;
mod forms;
mod list;
mod other;
mod page;
mod record;
mod requests;
mod review;
mod suggest;

pub use analysis::{analyse, risk_ref_add, risk_ref_remove};
pub(crate) use analysis::{in_writer, RiskManagerOrStaff};
pub use answers::{
    file as answer_file, with_files as answer_with_files, with_model as answer_with_model,
};
pub use dashboard::dashboard;
pub use deadline::{
    extend as deadline_extend, resume as deadline_resume, suspend as deadline_suspend,
};
pub use drafts::{approve as draft_approve, send_back as draft_return};
pub use files::{attachment, original};
pub use forms::{answer, classify, close, confirm, merge, note};
pub use list::list;
pub use page::show;
pub use record::{new_form as new_complaint, print as print_answer, record as record_complaint};
pub use requests::{new_request, report_read, send_request};
pub use review::{close as review_close, open as review_open};

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
