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

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::time::rome_midnight_utc;
use crate::store;

/// Which tickets: received on the days `from..=to` (Rome), optionally of one service or one
/// category (a macro-category includes its sub-categories).
#[derive(Clone, Debug)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub service: Option<i64>,
    pub category: Option<String>,
}

/// The years a scope may span: the rows keep times as `u32` seconds since 1970 (until 2106).
/// Anything else is refused where a scope is made, so no date arithmetic below ever meets the
/// edges of chrono's calendar.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2105;

/// The longest range of days a report covers (ten years).
pub const MAX_DAYS: i64 = 3660;

impl Scope {
    pub fn month(year: i32, month: u32) -> Option<Scope> {
        if !YEARS.contains(&year) {
            return None;
        }
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
        if !YEARS.contains(&year) {
            return None;
        }
        Some(Scope {
            from: NaiveDate::from_ymd_opt(year, 1, 1)?,
            to: NaiveDate::from_ymd_opt(year, 12, 31)?,
            service: None,
            category: None,
        })
    }

    /// The days `from..=to`: both within [`YEARS`], in order, at most [`MAX_DAYS`] apart.
    pub fn days(from: NaiveDate, to: NaiveDate) -> Option<Scope> {
        let ok = YEARS.contains(&from.year())
            && YEARS.contains(&to.year())
            && from <= to
            && (to - from).num_days() <= MAX_DAYS;
        ok.then_some(Scope {
            from,
            to,
            service: None,
            category: None,
        })
    }

    /// From the first day's midnight in Rome to the midnight after the last day.
    fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self.to.succ_opt().unwrap_or(self.to);
        (rome_midnight_utc(self.from), rome_midnight_utc(end))
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
const CLOSED: Option<u8> = Some(3);
/// The report lists at most this many late tickets (all of them are counted).
pub const LATE_LISTED: usize = 200;
const OUTCOMES: [&str; 5] = [
    "accolto",
    "parzialmente_accolto",
    "non_accolto",
    "non_di_competenza",
    "altro",
];

/// One ticket as the figures need it, whatever the period and the moment of asking: codes as
/// indexes, times as seconds since the epoch (`u32`: until 2106). A large hospital's year holds
/// 200,000 of them, 48 bytes each.
#[derive(Clone, Copy, Debug)]
struct Row {
    id: i64,
    /// 0 when the stored time cannot be read (never for a time ascolto wrote): not counted.
    received: u32,
    due: Option<NonZeroU32>,
    taken: Option<NonZeroU32>,
    answered: Option<NonZeroU32>,
    closed: Option<NonZeroU32>,
    category: Option<NonZeroU32>,
    service: Option<NonZeroU32>,
    kind: Option<u8>,
    state: Option<u8>,
    outcome: Option<u8>,
    pec: bool,
    reopened: bool,
}

impl Row {
    /// Answered by the deadline (None: not answered, or no deadline).
    fn on_time(&self) -> Option<bool> {
        Some(self.answered? <= self.due?)
    }

    /// Not answered and past the deadline at `now`.
    fn overdue(&self, now: u32) -> bool {
        self.answered.is_none() && self.due.is_some_and(|d| d.get() < now)
    }

    fn late(&self, now: u32) -> bool {
        self.on_time() == Some(false) || self.overdue(now)
    }

    /// Seconds from receipt to `t` (a year's worth are held at once: 4 bytes each).
    fn seconds_to(&self, t: Option<NonZeroU32>) -> Option<i32> {
        t.map(|t| {
            let s = i64::from(t.get()) - i64::from(self.received);
            s.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        })
    }
}

/// A time as the rows hold it: seconds since the epoch, clamped to `u32`.
fn stamp(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

fn stored_stamp(t: Option<&[u8]>) -> Option<NonZeroU32> {
    NonZeroU32::new(stamp(epoch_seconds(t?)?))
}

fn small_id(id: Option<i64>) -> Result<Option<NonZeroU32>> {
    id.map(|id| {
        u32::try_from(id)
            .ok()
            .and_then(NonZeroU32::new)
            .with_context(|| format!("id {id} out of the statistics' range"))
    })
    .transpose()
}

/// Every ticket (not merged) received in one UTC month, in the order received.
fn read_month(conn: &Connection, (year, month): (i32, u32)) -> Result<Vec<Row>> {
    let next = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let from = format!("{year:04}-{month:02}-01T00:00:00Z");
    let to = format!("{:04}-{:02}-01T00:00:00Z", next.0, next.1);
    // Every column is in the covering index `tickets_stats` (the id too, as its rowid): the
    // scan never reads the table.
    let mut st = conn.prepare_cached(
        "SELECT t.id, t.received_at, t.due_at, t.taken_in_charge_at, t.first_answered_at,
                t.closed_at, t.category_id, t.service_id, t.kind, t.state, t.outcome,
                t.channel = 'pec', t.reopen_count > 0
         FROM tickets t INDEXED BY tickets_stats
         WHERE t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL",
    )?;
    let mut q = st.query([&from, &to])?;
    let index_of = |list: &[&str], v: Option<&[u8]>| {
        v.and_then(|v| list.iter().position(|k| k.as_bytes() == v))
            .map(|i| i as u8)
    };
    let mut rows = Vec::new();
    while let Some(r) = q.next()? {
        let time = |i: usize| -> rusqlite::Result<Option<NonZeroU32>> {
            Ok(stored_stamp(r.get_ref(i)?.as_bytes_or_null()?))
        };
        rows.push(Row {
            id: r.get(0)?,
            received: time(1)?.map_or(0, NonZeroU32::get),
            due: time(2)?,
            taken: time(3)?,
            answered: time(4)?,
            closed: time(5)?,
            category: small_id(r.get(6)?)?,
            service: small_id(r.get(7)?)?,
            kind: index_of(&KINDS, r.get_ref(8)?.as_bytes_or_null()?),
            state: index_of(&STATES, r.get_ref(9)?.as_bytes_or_null()?),
            outcome: index_of(&OUTCOMES, r.get_ref(10)?.as_bytes_or_null()?),
            pec: r.get(11)?,
            reopened: r.get(12)?,
        });
    }
    // Kept for as long as the month does not change: without the room left by growing.
    rows.shrink_to_fit();
    Ok(rows)
}

/// The tickets of the UTC months read so far, each kept while its generation in
/// `stats_months` stays where it was (triggers move it on every change to one of its
/// tickets). A year view after one new complaint then reads one month again, not twelve.
///
/// A request that panics cannot leave the map half-changed (each change is one map call), so
/// a poisoned lock is taken as it is: one bad request must not stop the statistics for all.
#[derive(Default)]
pub struct Months {
    kept: Mutex<HashMap<(i32, u32), Kept>>,
    clock: AtomicU64,
}

struct Kept {
    generation: i64,
    rows: Arc<Vec<Row>>,
    used: u64,
}

/// Four years of a large hospital, about 40 MB; the least recently used month goes first.
const MONTHS_KEPT: usize = 48;

impl Months {
    /// The month's tickets. Call inside a read transaction, so that the generation and the
    /// rows come from the same snapshot.
    fn rows(&self, conn: &Connection, month: (i32, u32)) -> Result<Arc<Vec<Row>>> {
        let generation: i64 = conn
            .prepare_cached("SELECT generation FROM stats_months WHERE month = ?1")?
            .query_row([format!("{:04}-{:02}", month.0, month.1)], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let used = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(k) = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&month)
        {
            if k.generation == generation {
                k.used = used;
                return Ok(k.rows.clone());
            }
        }
        let rows = Arc::new(read_month(conn, month)?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MONTHS_KEPT && !kept.contains_key(&month) {
            if let Some(oldest) = kept.iter().min_by_key(|(_, k)| k.used).map(|(m, _)| *m) {
                kept.remove(&oldest);
            }
        }
        kept.insert(
            month,
            Kept {
                generation,
                rows: rows.clone(),
                used,
            },
        );
        Ok(rows)
    }

    /// How many months are kept and how many tickets they hold.
    pub fn kept(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        (kept.len(), kept.values().map(|k| k.rows.len()).sum())
    }
}

/// The tickets of a scope: the months it spans, and what it keeps of them.
struct Selection {
    months: Vec<Arc<Vec<Row>>>,
    from: u32,
    to: u32,
    service: Option<NonZeroU32>,
    /// None: any; empty: an unknown category, so no ticket.
    categories: Option<Vec<NonZeroU32>>,
}

impl Selection {
    fn read(conn: &Connection, scope: &Scope, months: &Months) -> Result<Selection> {
        let (from, to) = scope.bounds();
        let categories = match &scope.category {
            Some(code) => Some(
                store::backoffice::category_ids(conn, code)?
                    .into_iter()
                    .map(|id| small_id(Some(id)).map(Option::unwrap))
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let mut spanned = Vec::new();
        if to > from {
            let first = DateTime::from_timestamp(from.timestamp(), 0).unwrap_or(from);
            let last = DateTime::from_timestamp(to.timestamp() - 1, 0).unwrap_or(to);
            let (mut y, mut m) = (first.year(), first.month());
            while (y, m) <= (last.year(), last.month()) {
                spanned.push(months.rows(conn, (y, m))?);
                (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            }
        }
        Ok(Selection {
            months: spanned,
            from: stamp(from.timestamp()),
            to: stamp(to.timestamp()),
            service: small_id(scope.service)?,
            categories,
        })
    }

    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.months.iter().flat_map(|m| m.iter()).filter(|r| {
            r.received >= self.from
                && r.received < self.to
                && (self.service.is_none() || r.service == self.service)
                && self
                    .categories
                    .as_ref()
                    .is_none_or(|ids| r.category.is_some_and(|c| ids.contains(&c)))
        })
    }

    /// The late tickets' ids, in the order they were received.
    fn late(&self, now: u32) -> Vec<i64> {
        let mut late: Vec<(u32, i64)> = self
            .rows()
            .filter(|r| r.late(now))
            .map(|r| (r.received, r.id))
            .collect();
        late.sort_unstable();
        late.into_iter().map(|(_, id)| id).collect()
    }
}

fn percent(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

/// Nearest-rank percentile of durations in seconds, in days with one decimal (the values are
/// reordered, not sorted).
fn percentile(values: &mut [i32], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    let (_, v, _) = values.select_nth_unstable(rank - 1);
    Some((f64::from(*v) / 86_400.0 * 10.0).round() / 10.0)
}

fn times(mut values: Vec<i32>) -> Times {
    Times {
        n: values.len(),
        median_days: percentile(&mut values, 50.0),
        p90_days: percentile(&mut values, 90.0),
    }
}

/// Seconds since the epoch of a stored time. The database's own shape
/// (`2026-03-31T23:30:00Z`, [`store::time_text`]) is read digit by digit; anything else through
/// chrono.
fn epoch_seconds(b: &[u8]) -> Option<i64> {
    let fixed = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !fixed {
        let t = std::str::from_utf8(b).ok()?;
        return DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp());
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m)
        || d < 1
        || d > month_days[m as usize - 1]
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`): the
/// statistics read a few hundred thousand times at once, where chrono's checked calendar cost
/// more than the rest of the reading.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The late tickets as listed, in the order of `ids`.
fn late_tickets(conn: &Connection, ids: &[i64]) -> Result<Vec<LateTicket>> {
    let mut st = conn.prepare_cached(
        "SELECT number, received_at, due_at, first_answered_at FROM tickets WHERE id = ?1",
    )?;
    ids.iter()
        .map(|id| {
            Ok(st.query_row([id], |r| {
                Ok(LateTicket {
                    number: r.get(0)?,
                    received_at: r.get(1)?,
                    due_at: r.get(2)?,
                    answered_at: r.get(3)?,
                })
            })?)
        })
        .collect()
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
    late_tickets(&tx, &ids)
}

/// Counts by code (in the order of a code list) and of tickets without one.
struct Counter {
    n: Vec<usize>,
    unset: usize,
}

impl Counter {
    fn new(codes: usize) -> Counter {
        Counter {
            n: vec![0; codes],
            unset: 0,
        }
    }

    fn add(&mut self, i: Option<u8>) {
        match i {
            Some(i) => self.n[usize::from(i)] += 1,
            None => self.unset += 1,
        }
    }

    fn counts(&self, keys: &[&str], label: impl Fn(&str) -> String, total: usize) -> Vec<Count> {
        let mut out: Vec<Count> = keys
            .iter()
            .zip(&self.n)
            .map(|(k, &n)| Count {
                key: k.to_string(),
                label: label(k),
                n,
                share: percent(n, total),
            })
            .collect();
        if self.unset > 0 {
            out.push(Count {
                key: String::new(),
                label: "Non indicato".into(),
                n: self.unset,
                share: percent(self.unset, total),
            });
        }
        out
    }
}

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
    let now = stamp(now.timestamp());

    // The months of a whole year, as the rows' times.
    let month_starts = |y: i32| -> Vec<u32> {
        (1..=12)
            .map(|m| {
                let first = NaiveDate::from_ymd_opt(y, m, 1).expect("a valid month");
                stamp(rome_midnight_utc(first).timestamp())
            })
            .collect()
    };
    let month_of =
        |starts: &[u32], r: &Row| starts.partition_point(|s| *s <= r.received).max(1) - 1;
    let year_starts = scope.whole_year().map(month_starts);
    let mut months_rows: Option<Vec<MonthRow>> = year_starts.as_ref().map(|_| {
        (1..=12)
            .map(|m| MonthRow {
                month: m,
                total: 0,
                by_kind: vec![0; KINDS.len()],
                answered_on_time: 0,
            })
            .collect()
    });

    let mut total = 0;
    let (mut kinds, mut states) = (Counter::new(KINDS.len()), Counter::new(STATES.len()));
    let mut outcomes = Counter::new(OUTCOMES.len());
    let mut pec = 0;
    let mut per_cat = HashMap::<Option<NonZeroU32>, usize>::new();
    let mut per_service = HashMap::<Option<NonZeroU32>, usize>::new();
    let (mut to_charge, mut to_answer, mut to_close) = (Vec::new(), Vec::new(), Vec::new());
    let (mut deadline_base, mut answered_on_time, mut late_total) = (0, 0, 0);
    let (mut reopened, mut open_at_end) = (0, 0);
    for r in selection.rows() {
        total += 1;
        kinds.add(r.kind);
        states.add(r.state);
        let closed = r.state == CLOSED;
        if closed {
            outcomes.add(r.outcome);
            to_close.extend(r.seconds_to(r.closed));
        }
        pec += usize::from(r.pec);
        *per_cat.entry(r.category).or_default() += 1;
        *per_service.entry(r.service).or_default() += 1;
        to_charge.extend(r.seconds_to(r.taken));
        to_answer.extend(r.seconds_to(r.answered));
        let on_time = r.on_time();
        let overdue = r.overdue(now);
        deadline_base += usize::from(on_time.is_some() || overdue);
        answered_on_time += usize::from(on_time == Some(true));
        late_total += usize::from(on_time == Some(false) || overdue);
        reopened += usize::from(r.reopened);
        open_at_end += usize::from(r.closed.is_none_or(|c| c.get() >= selection.to));
        if let (Some(rows), Some(starts)) = (months_rows.as_mut(), year_starts.as_ref()) {
            let m = &mut rows[month_of(starts, r)];
            m.total += 1;
            if let Some(k) = r.kind {
                m.by_kind[usize::from(k)] += 1;
            }
            m.answered_on_time += usize::from(on_time == Some(true));
        }
    }

    let label_of = |f: fn(&str) -> &'static str| move |k: &str| f(k).to_string();
    let by_kind = kinds.counts(
        &KINDS,
        label_of(|k| crate::texts::kind(k.parse().unwrap())),
        total,
    );
    let by_state = states.counts(
        &STATES,
        label_of(|s| crate::texts::state(s.parse().unwrap())),
        total,
    );
    let by_outcome = outcomes.counts(
        &OUTCOMES,
        label_of(|o| crate::texts::outcome(o.parse().unwrap())),
        total,
    );
    let by_channel = vec![
        Count {
            key: "email".into(),
            label: "Email".into(),
            n: total - pec,
            share: percent(total - pec, total),
        },
        Count {
            key: "pec".into(),
            label: "PEC".into(),
            n: pec,
            share: percent(pec, total),
        },
    ];

    // Categories: every active or used code, macro lines summing their subs.
    let cats = store::backoffice::categories(conn)?;
    let of_cat = |id: i64| -> usize {
        small_id(Some(id))
            .ok()
            .and_then(|id| per_cat.get(&id).copied())
            .unwrap_or(0)
    };
    let mut by_category = Vec::new();
    for c in cats.iter().filter(|c| c.parent_id.is_none()) {
        let subs: Vec<_> = cats.iter().filter(|s| s.parent_id == Some(c.id)).collect();
        let n = of_cat(c.id) + subs.iter().map(|s| of_cat(s.id)).sum::<usize>();
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
            let n = of_cat(s.id);
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
    if let Some(&unclassified) = per_cat.get(&None) {
        by_category.push(CategoryCount {
            code: String::new(),
            label: "Da classificare".into(),
            level: 0,
            n: unclassified,
            share: percent(unclassified, total),
        });
    }

    let services = store::backoffice::services(conn)?;
    let mut by_service: Vec<Count> = services
        .iter()
        .filter_map(|s| {
            let n = small_id(Some(s.id))
                .ok()
                .and_then(|id| per_service.get(&id).copied())
                .unwrap_or(0);
            (n > 0 || s.active).then(|| Count {
                key: s.code.clone(),
                label: s.name.clone(),
                n,
                share: percent(n, total),
            })
        })
        .collect();
    by_service.sort_by(|a, b| b.n.cmp(&a.n).then(a.label.cmp(&b.label)));
    if let Some(&n) = per_service.get(&None) {
        by_service.push(Count {
            key: String::new(),
            label: "Nessun servizio indicato".into(),
            n,
            share: percent(n, total),
        });
    }

    let mut late_ids = selection.late(now);
    late_ids.truncate(LATE_LISTED);
    let late = late_tickets(conn, &late_ids)?;

    let previous_year_months = match scope.whole_year() {
        Some(y) => {
            let previous = Scope {
                from: NaiveDate::from_ymd_opt(y - 1, 1, 1).context("year out of range")?,
                to: NaiveDate::from_ymd_opt(y - 1, 12, 31).context("year out of range")?,
                ..scope.clone()
            };
            let starts = month_starts(y - 1);
            let mut per_month = vec![0; 12];
            for r in Selection::read(conn, &previous, months)?.rows() {
                per_month[month_of(&starts, r)] += 1;
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
        to_charge: times(to_charge),
        to_first_answer: times(to_answer),
        to_close: times(to_close),
        deadline_base,
        answered_on_time,
        on_time_share: (deadline_base > 0).then(|| percent(answered_on_time, deadline_base)),
        late_total,
        late,
        reopened,
        reopened_share: percent(reopened, total),
        open_at_end,
        months: months_rows,
        previous_year_total,
        previous_year_months,
    })
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
