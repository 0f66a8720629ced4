//! The figures of the monthly and annual reports, from one set of queries.
//!
//! A period is a range of days in Europe/Rome time: a ticket belongs to it when it was received
//! (for PEC: at the certified time, which ingest stores as `received_at`) from the first day's
//! midnight in Rome to the midnight after the last day. Tickets merged into another are the same
//! complaint counted once, so they are left out. A ticket's category, service, kind, state and
//! outcome are the ones it has now.
//!
//! Percentiles use the nearest-rank method (the smallest value with at least p% of the values at
//! or below it), so that every figure can be counted by hand; the median is the 50th.

use anyhow::Result;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use crate::store;
use crate::tickets::rome_midnight_utc;

/// Which tickets: received on the days `from..=to` (Rome), optionally of one service or one
/// category (a macro-category includes its sub-categories).
#[derive(Clone, Debug)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub service: Option<i64>,
    pub category: Option<String>,
}

impl Scope {
    pub fn month(year: i32, month: u32) -> Option<Scope> {
        let from = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        Some(Scope {
            from,
            to: next.pred_opt()?,
            service: None,
            category: None,
        })
    }

    pub fn year(year: i32) -> Option<Scope> {
        Some(Scope {
            from: NaiveDate::from_ymd_opt(year, 1, 1)?,
            to: NaiveDate::from_ymd_opt(year, 12, 31)?,
            service: None,
            category: None,
        })
    }

    fn bounds(&self) -> (String, String) {
        let end = self.to.succ_opt().unwrap_or(self.to);
        (
            store::time_text(rome_midnight_utc(self.from)),
            store::time_text(rome_midnight_utc(end)),
        )
    }

    /// The whole calendar year this scope lies in, if it is exactly one.
    pub fn whole_year(&self) -> Option<i32> {
        (self.from.month() == 1
            && self.from.day() == 1
            && self.to.month() == 12
            && self.to.day() == 31
            && self.from.year() == self.to.year())
        .then_some(self.from.year())
    }
}

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
pub struct LateTicket {
    pub number: String,
    pub received_at: String,
    pub due_at: String,
    /// None: still not answered.
    pub answered_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthRow {
    pub month: u32,
    pub total: usize,
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
    /// For a whole year: month by month (kinds in [`KINDS`] order), and last year's total
    /// and months.
    pub months: Option<Vec<MonthRow>>,
    pub previous_year_total: Option<usize>,
    pub previous_year_months: Option<Vec<usize>>,
}

pub const KINDS: [&str; 4] = ["reclamo", "segnalazione", "elogio", "suggerimento"];
const STATES: [&str; 4] = ["pending", "in_charge", "answered", "closed"];
/// `STATES`' index of "closed".
const CLOSED: Option<usize> = Some(3);
/// The report lists at most this many late tickets (all of them are counted).
pub const LATE_LISTED: usize = 200;
const OUTCOMES: [&str; 5] = [
    "accolto",
    "parzialmente_accolto",
    "non_accolto",
    "non_di_competenza",
    "altro",
];

/// One ticket as the figures need it: codes as indexes, no text (a year can hold 200,000).
struct Row {
    kind: Option<usize>,
    category_id: Option<i64>,
    service_id: Option<i64>,
    state: Option<usize>,
    outcome: Option<usize>,
    pec: bool,
    to_charge: Option<f64>,
    to_answer: Option<f64>,
    to_close: Option<f64>,
    on_time: Option<bool>,
    overdue: bool,
    reopened: bool,
    closed_by_end: bool,
    /// 0-based month in Rome time, for a whole-year scope.
    month: Option<usize>,
}

fn percent(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some((sorted[rank - 1] * 10.0).round() / 10.0)
}

fn times(mut values: Vec<f64>) -> Times {
    values.sort_by(f64::total_cmp);
    Times {
        n: values.len(),
        median_days: percentile(&values, 50.0),
        p90_days: percentile(&values, 90.0),
    }
}

/// The scope's condition on `tickets t` (`?1`, `?2`: the period's bounds), or None when it
/// can hold no ticket (an unknown category).
fn condition(conn: &Connection, scope: &Scope) -> Result<Option<String>> {
    let mut cond =
        String::from("t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL");
    if let Some(s) = scope.service {
        cond.push_str(&format!(" AND t.service_id = {s}"));
    }
    if let Some(code) = &scope.category {
        let ids: Vec<String> = store::backoffice::category_ids(conn, code)?
            .iter()
            .map(i64::to_string)
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        cond.push_str(&format!(" AND t.category_id IN ({})", ids.join(",")));
    }
    Ok(Some(cond))
}

fn rows(conn: &Connection, scope: &Scope, now: DateTime<Utc>) -> Result<Vec<Row>> {
    let (from, to) = scope.bounds();
    let Some(cond) = condition(conn, scope)? else {
        return Ok(Vec::new());
    };
    // Month boundaries as stored text: a ticket's month is found by comparing strings.
    let month_starts: Option<Vec<String>> = scope.whole_year().map(|y| {
        (1..=12)
            .map(|m| {
                store::time_text(rome_midnight_utc(
                    NaiveDate::from_ymd_opt(y, m, 1).expect("a valid month"),
                ))
            })
            .collect()
    });
    // Every column is in the covering index `tickets_stats`: the scan never reads the table.
    // Durations are computed here from the stored texts (SQLite's julianday() on a year's
    // tickets cost more than the rest of the scan together).
    let sql = format!(
        "SELECT t.kind, t.category_id, t.service_id, t.state, t.outcome, t.channel = 'pec',
                t.taken_in_charge_at, t.first_answered_at, t.closed_at,
                t.first_answered_at <= t.due_at,
                t.first_answered_at IS NULL AND t.due_at < ?3,
                t.reopen_count > 0,
                t.closed_at IS NOT NULL AND t.closed_at < ?2,
                t.received_at
         FROM tickets t INDEXED BY tickets_stats WHERE {cond}"
    );
    let now = store::time_text(now);
    let index_of =
        |list: &[&str], v: Option<&str>| v.and_then(|v| list.iter().position(|k| *k == v));
    let mut st = conn.prepare_cached(&sql)?;
    let mut q = st.query([&from, &to, &now])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let received = r.get_ref(13)?.as_str().unwrap_or_default();
        let since = |i: usize| -> rusqlite::Result<Option<f64>> {
            Ok(r.get_ref(i)?
                .as_str_or_null()?
                .and_then(|t| days_between(received, t)))
        };
        out.push(Row {
            kind: index_of(&KINDS, r.get_ref(0)?.as_str_or_null()?),
            category_id: r.get(1)?,
            service_id: r.get(2)?,
            state: index_of(&STATES, r.get_ref(3)?.as_str_or_null()?),
            outcome: index_of(&OUTCOMES, r.get_ref(4)?.as_str_or_null()?),
            pec: r.get(5)?,
            to_charge: since(6)?,
            to_answer: since(7)?,
            to_close: since(8)?,
            on_time: r.get(9)?,
            overdue: r.get(10)?,
            reopened: r.get(11)?,
            closed_by_end: r.get(12)?,
            month: month_starts
                .as_ref()
                .map(|starts| starts.partition_point(|s| s.as_str() <= received).max(1) - 1),
        });
    }
    Ok(out)
}

/// Seconds since the epoch of a stored time. The database's own shape
/// (`2026-03-31T23:30:00Z`, [`store::time_text`]) is read digit by digit; anything else through
/// chrono.
fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let fixed = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !fixed {
        return DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp());
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)? as u32, num(8, 10)? as u32)?;
    let days = date
        .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?)
        .num_days();
    Some(days * 86_400 + num(11, 13)? * 3600 + num(14, 16)? * 60 + num(17, 19)?)
}

/// Days (fractional) from `from` to `to`, both stored times.
fn days_between(from: &str, to: &str) -> Option<f64> {
    Some((epoch_seconds(to)? - epoch_seconds(from)?) as f64 / 86_400.0)
}

/// The tickets answered late or unanswered past their deadline, in the order they were
/// received, at most `limit` (the covering index gives that order, so the first ones come
/// without sorting a year's worth).
pub fn late(
    conn: &Connection,
    scope: &Scope,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<LateTicket>> {
    let (from, to) = scope.bounds();
    let Some(cond) = condition(conn, scope)? else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT t.number, t.received_at, t.due_at, t.first_answered_at
         FROM tickets t INDEXED BY tickets_stats
         WHERE {cond} AND (t.first_answered_at > t.due_at
                           OR (t.first_answered_at IS NULL AND t.due_at < ?3))
         ORDER BY t.received_at, t.id LIMIT {limit}"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([&from, &to, &store::time_text(now)], |r| {
            Ok(LateTicket {
                number: r.get(0)?,
                received_at: r.get(1)?,
                due_at: r.get(2)?,
                answered_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn counted(
    keys: &[&str],
    label: impl Fn(&str) -> String,
    values: impl Iterator<Item = Option<usize>>,
    total: usize,
) -> Vec<Count> {
    let mut n = vec![0usize; keys.len()];
    let mut unset = 0;
    for v in values {
        match v {
            Some(i) => n[i] += 1,
            None => unset += 1,
        }
    }
    let mut out: Vec<Count> = keys
        .iter()
        .zip(n)
        .map(|(k, n)| Count {
            key: k.to_string(),
            label: label(k),
            n,
            share: percent(n, total),
        })
        .collect();
    if unset > 0 {
        out.push(Count {
            key: String::new(),
            label: "Non indicato".into(),
            n: unset,
            share: percent(unset, total),
        });
    }
    out
}

/// Every figure of the period.
pub fn report(conn: &Connection, scope: &Scope, now: DateTime<Utc>) -> Result<Report> {
    let rows = rows(conn, scope, now)?;
    let total = rows.len();
    let label_of = |f: fn(&str) -> &'static str| move |k: &str| f(k).to_string();

    let by_kind = counted(
        &KINDS,
        label_of(|k| crate::texts::kind(k.parse().unwrap())),
        rows.iter().map(|r| r.kind),
        total,
    );
    let by_state = counted(
        &STATES,
        label_of(|s| crate::texts::state(s.parse().unwrap())),
        rows.iter().map(|r| r.state),
        total,
    );
    let by_outcome = counted(
        &OUTCOMES,
        label_of(|o| crate::texts::outcome(o.parse().unwrap())),
        rows.iter().filter(|r| r.state == CLOSED).map(|r| r.outcome),
        total,
    );
    let by_channel = counted(
        &["email", "pec"],
        |k| {
            if k == "pec" {
                "PEC".into()
            } else {
                "Email".into()
            }
        },
        rows.iter().map(|r| Some(usize::from(r.pec))),
        total,
    );

    // Categories: every active or used code, macro lines summing their subs.
    let cats = store::backoffice::categories(conn)?;
    let mut per_cat = std::collections::HashMap::<i64, usize>::new();
    let mut unclassified = 0;
    for r in &rows {
        match r.category_id {
            Some(id) => *per_cat.entry(id).or_default() += 1,
            None => unclassified += 1,
        }
    }
    let mut by_category = Vec::new();
    for c in cats.iter().filter(|c| c.parent_id.is_none()) {
        let subs: Vec<_> = cats.iter().filter(|s| s.parent_id == Some(c.id)).collect();
        let n = per_cat.get(&c.id).copied().unwrap_or(0)
            + subs
                .iter()
                .map(|s| per_cat.get(&s.id).copied().unwrap_or(0))
                .sum::<usize>();
        if n == 0 && !c.active {
            continue;
        }
        by_category.push(CategoryCount {
            code: c.code.clone(),
            label: c.label.clone(),
            level: 1,
            n,
            share: percent(n, total),
        });
        for s in subs {
            let n = per_cat.get(&s.id).copied().unwrap_or(0);
            if n == 0 && !s.active {
                continue;
            }
            by_category.push(CategoryCount {
                code: s.code.clone(),
                label: s.label.clone(),
                level: 2,
                n,
                share: percent(n, total),
            });
        }
    }
    if unclassified > 0 {
        by_category.push(CategoryCount {
            code: String::new(),
            label: "Da classificare".into(),
            level: 0,
            n: unclassified,
            share: percent(unclassified, total),
        });
    }

    let services = store::backoffice::services(conn)?;
    let mut per_service = std::collections::HashMap::<Option<i64>, usize>::new();
    for r in &rows {
        *per_service.entry(r.service_id).or_default() += 1;
    }
    let mut by_service: Vec<Count> = services
        .iter()
        .filter_map(|s| {
            let n = per_service.get(&Some(s.id)).copied().unwrap_or(0);
            (n > 0 || s.active).then(|| Count {
                key: s.code.clone(),
                label: s.name.clone(),
                n,
                share: percent(n, total),
            })
        })
        .collect();
    by_service.sort_by(|a, b| b.n.cmp(&a.n).then(a.label.cmp(&b.label)));
    if let Some(n) = per_service.get(&None) {
        by_service.push(Count {
            key: String::new(),
            label: "Nessun servizio indicato".into(),
            n: *n,
            share: percent(*n, total),
        });
    }

    let deadline_base = rows
        .iter()
        .filter(|r| r.on_time.is_some() || r.overdue)
        .count();
    let answered_on_time = rows.iter().filter(|r| r.on_time == Some(true)).count();
    let late_total = rows
        .iter()
        .filter(|r| r.on_time == Some(false) || r.overdue)
        .count();
    let late = late(conn, scope, now, LATE_LISTED)?;
    let reopened = rows.iter().filter(|r| r.reopened).count();

    let months = scope.whole_year().map(|_| {
        let mut months: Vec<MonthRow> = (1..=12)
            .map(|m| MonthRow {
                month: m,
                total: 0,
                by_kind: vec![0; KINDS.len()],
                answered_on_time: 0,
            })
            .collect();
        for r in &rows {
            let Some(m) = r.month.map(|i| &mut months[i]) else {
                continue;
            };
            m.total += 1;
            if let Some(i) = r.kind {
                m.by_kind[i] += 1;
            }
            if r.on_time == Some(true) {
                m.answered_on_time += 1;
            }
        }
        months
    });
    let previous_year_months = match scope.whole_year() {
        Some(y) => {
            // The scope's condition once; only the bounds change from month to month.
            let cond = condition(conn, scope)?;
            let mut per_month = Vec::with_capacity(12);
            for m in 1..=12 {
                let (from, to) = Scope::month(y - 1, m).expect("a valid month").bounds();
                per_month.push(match &cond {
                    Some(cond) => count_where(conn, cond, &from, &to)?,
                    None => 0,
                });
            }
            Some(per_month)
        }
        None => None,
    };
    let previous_year_total = previous_year_months.as_ref().map(|m| m.iter().sum());

    Ok(Report {
        from: scope.from,
        to: scope.to,
        total,
        by_kind,
        by_category,
        by_service,
        by_state,
        by_outcome,
        by_channel,
        to_charge: times(rows.iter().filter_map(|r| r.to_charge).collect()),
        to_first_answer: times(rows.iter().filter_map(|r| r.to_answer).collect()),
        to_close: times(
            rows.iter()
                .filter(|r| r.state == CLOSED)
                .filter_map(|r| r.to_close)
                .collect(),
        ),
        deadline_base,
        answered_on_time,
        on_time_share: (deadline_base > 0).then(|| percent(answered_on_time, deadline_base)),
        late_total,
        late,
        reopened,
        reopened_share: percent(reopened, total),
        open_at_end: rows.iter().filter(|r| !r.closed_by_end).count(),
        months,
        previous_year_total,
        previous_year_months,
    })
}

/// How many tickets the scope holds.
pub fn count(conn: &Connection, scope: &Scope) -> Result<usize> {
    match condition(conn, scope)? {
        Some(cond) => {
            let (from, to) = scope.bounds();
            count_where(conn, &cond, &from, &to)
        }
        None => Ok(0),
    }
}

/// How many tickets meet `cond` (from [`condition`]) between the bounds `from` and `to`.
fn count_where(conn: &Connection, cond: &str, from: &str, to: &str) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM tickets t WHERE {cond}"))?
        .query_row([from, to], |r| r.get(0))?;
    Ok(n as usize)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
