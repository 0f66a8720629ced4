//! The figures of the monthly and annual reports, for the statistics page, its CSV and
//! `ascolto export stats` alike: the web only renders them.
//!
//! A ticket's category, service, kind, state and outcome are the ones it has now. Tickets
//! merged into another are the same complaint counted once, so they are left out.
//!
//! # Layout
//!
//! - [`scope`]: which tickets (a period in Rome time, a service, a category), and the checks
//!   that turn what a person typed into one.
//! - `months`: the tickets of each month read, kept while its generation stays put; the
//!   tickets of a scope taken from them.
//! - `tally`: one pass over those tickets, and the report's lines made from it.
//! - [`tables`]: the tables the page, the CSV and the command line show.
//! - [`deadlines`]: deadlines suspended and extended (timeliness counts the effective one).
//! - [`csv`]: a table as CSV, for Italian Excel or RFC 4180.
//! - [`cache`]: computed reports, kept while nothing they count has changed.
//!
//! The statements (the month scan on the covering index `tickets_stats`, the generations)
//! are in [`crate::store::stats`].

pub mod cache;
pub mod csv;
pub mod deadlines;
mod months;
pub mod requests;
pub mod scope;
pub mod tables;
mod tally;

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use crate::export::Format;
use crate::store;
use crate::store::backoffice::{Category, Service};
use crate::store::stats::stamp;
use months::Selection;
use tally::Tally;

pub use cache::Cache;
pub use months::Months;
pub use scope::{year_asked, Asked, Period, Scope, ScopeError, MAX_DAYS, YEARS};
pub use store::stats::LateTicket;
pub use tables::Table;

/// A labelled count and its share of the period's tickets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Count {
    /// The code as stored ("reclamo", "TEM.02", "PS", "accolto", …); "" when not set.
    pub key: String,
    pub label: String,
    pub n: usize,
    /// Of the period's total, in percent, one decimal.
    pub share: f64,
}

/// A category line: macro-categories carry the sum of their sub-categories.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CategoryCount {
    pub code: String,
    pub label: String,
    /// 1 for a macro-category, 2 for a sub-category; 0 for "not classified".
    pub level: u8,
    pub n: usize,
    pub share: f64,
}

/// Days from receipt to a step, over the tickets that reached it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Times {
    pub n: usize,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthRow {
    pub month: u32,
    pub total: usize,
    /// In the order of [`crate::domain::Kind::ALL`].
    pub by_kind: Vec<usize>,
    pub answered_on_time: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total: usize,
    pub by_kind: Vec<Count>,
    pub by_category: Vec<CategoryCount>,
    pub by_service: Vec<Count>,
    pub by_state: Vec<Count>,
    pub by_outcome: Vec<Count>,
    pub by_channel: Vec<Count>,
    pub to_charge: Times,
    pub to_first_answer: Times,
    pub to_close: Times,
    /// Tickets whose answer was due by now or that were answered: the base of the share.
    pub deadline_base: usize,
    pub answered_on_time: usize,
    pub on_time_share: Option<f64>,
    /// Answered late, or not answered and past the deadline: how many, and the first
    /// [`LATE_LISTED`] in the order they were received.
    pub late_total: usize,
    pub late: Vec<LateTicket>,
    pub reopened: usize,
    pub reopened_share: f64,
    /// Received in the period and not closed at its end.
    pub open_at_end: usize,
    /// For a whole year: month by month, and last year's total and months.
    pub months: Option<Vec<MonthRow>>,
    pub previous_year_total: Option<usize>,
    pub previous_year_months: Option<Vec<usize>>,
    /// The istruttoria: requests for reports sent in the period, per service asked.
    pub requests: Vec<requests::ServiceRequests>,
    /// Deadlines suspended and extended, of the tickets received in the period (issue 19).
    pub deadline_changes: deadlines::DeadlineFigures,
    /// Second-level reviews opened in the period, by body and outcome.
    pub reviews: Vec<deadlines::ReviewCount>,
}

/// The report lists at most this many late tickets (all of them are counted).
pub const LATE_LISTED: usize = 200;

/// Every figure of the period.
pub fn report(conn: &Connection, scope: &Scope, now: DateTime<Utc>) -> Result<Report> {
    report_kept(conn, scope, now, &Months::default())
}

/// [`report`], reading only the months that changed since `months` last read them.
pub fn report_kept(
    conn: &Connection,
    scope: &Scope,
    now: DateTime<Utc>,
    months: &Months,
) -> Result<Report> {
    // One snapshot for every month read, and for the lists below.
    let tx = conn.unchecked_transaction()?;
    let conn: &Connection = &tx;
    let selection = Selection::read(conn, scope, months)?;
    let requests = requests::per_service(conn, scope, now)?;
    let deadline_changes = deadlines::figures(conn, scope)?;
    let reviews = deadlines::reviews(conn, scope)?;
    let now = stamp(now.timestamp());
    let mut tally = Tally::new(scope.whole_year());
    for r in selection.rows() {
        tally.add(r, now, selection.to);
    }
    let mut late_ids = selection.late(now);
    late_ids.truncate(LATE_LISTED);
    let late = store::stats::late_tickets(conn, &late_ids)?;
    let previous_year_months = previous_year(conn, scope, months)?;
    let (categories, services) = (
        store::backoffice::categories(conn)?,
        store::backoffice::services(conn)?,
    );
    let (to_charge, to_first_answer, to_close) = tally.times();
    Ok(Report {
        from: scope.from,
        to: scope.to,
        total: tally.total,
        by_kind: tally.by_kind(),
        by_category: tally.by_category(&categories),
        by_service: tally.by_service(&services),
        by_state: tally.by_state(),
        by_outcome: tally.by_outcome(),
        by_channel: tally.by_channel(),
        to_charge,
        to_first_answer,
        to_close,
        deadline_base: tally.deadline_base,
        answered_on_time: tally.answered_on_time,
        on_time_share: (tally.deadline_base > 0)
            .then(|| tally::percent(tally.answered_on_time, tally.deadline_base)),
        late_total: tally.late_total,
        late,
        reopened: tally.reopened,
        reopened_share: tally::percent(tally.reopened, tally.total),
        open_at_end: tally.open_at_end,
        months: tally.months(),
        previous_year_total: previous_year_months.as_ref().map(|m| m.iter().sum()),
        previous_year_months,
        requests,
        deadline_changes,
        reviews,
    })
}

/// For a whole year, the tickets of each month of the year before, in the same scope.
fn previous_year(conn: &Connection, scope: &Scope, months: &Months) -> Result<Option<Vec<usize>>> {
    let Some(previous) = scope.previous_year() else {
        return Ok(None);
    };
    let rows = Selection::read(conn, &previous, months)?;
    Ok(Some(tally::per_month(previous.from.year(), rows.rows())))
}

/// The tickets answered late or unanswered past their deadline, in the order they were
/// received, at most `limit`.
pub fn late(
    conn: &Connection,
    scope: &Scope,
    now: DateTime<Utc>,
    limit: usize,
    months: &Months,
) -> Result<Vec<LateTicket>> {
    let tx = conn.unchecked_transaction()?;
    let mut ids = Selection::read(&tx, scope, months)?.late(stamp(now.timestamp()));
    ids.truncate(limit);
    store::stats::late_tickets(&tx, &ids)
}

/// What a scope can be narrowed to: every category and service.
pub struct Choices {
    pub categories: Vec<Category>,
    pub services: Vec<Service>,
}

pub fn choices(conn: &Connection) -> Result<Choices> {
    Ok(Choices {
        categories: store::backoffice::categories(conn)?,
        services: store::backoffice::services(conn)?,
    })
}

/// `ascolto export stats`: the figures of a year or of one of its months, as JSON or as every
/// table of the statistics page in RFC 4180 CSV, each under a `# name` line.
pub fn export(
    conn: &Connection,
    year: i32,
    month: Option<u32>,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let scope = match month {
        Some(m) => Scope::month(year, m),
        None => Scope::year(year),
    }
    .ok_or_else(|| anyhow::anyhow!("no such period: year {year}, month {month:?}"))?;
    let report = report(conn, &scope, Utc::now())?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Csv | Format::Table => {
            for (i, t) in tables::tables(&report).iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "# {}", t.name)?;
                out.write_all(&csv::write(t, csv::Dialect::Rfc4180)?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
