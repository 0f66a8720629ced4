//! The tickets of each UTC month read so far, kept while the month's generation stays put, and
//! the tickets of a scope taken from them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use chrono::{DateTime, Datelike};
use rusqlite::Connection;

use super::Scope;
use crate::store;
use crate::store::stats::{small_id, stamp, StatsRow as Row};

/// The tickets of the UTC months read so far, each kept while its generation in
/// `stats_months` stays where it was (triggers move it on every change to one of its
/// tickets). A year view after one new complaint then reads one month again, not twelve.
///
/// A request that panics cannot leave the map half-changed (each change is one map call), so
/// a poisoned lock is taken as it is: one bad request must not stop the statistics for all.
#[derive(Default)]
pub struct Months {
    pub(super) kept: Mutex<HashMap<(i32, u32), Kept>>,
    clock: AtomicU64,
}

pub(super) struct Kept {
    generation: i64,
    pub(super) rows: Arc<Vec<Row>>,
    used: u64,
}

/// Four years of a large hospital, about 40 MB; the least recently used month goes first.
const MONTHS_KEPT: usize = 48;

impl Months {
    /// The month's tickets. Call inside a read transaction, so that the generation and the
    /// rows come from the same snapshot.
    fn rows(&self, conn: &Connection, month: (i32, u32)) -> Result<Arc<Vec<Row>>> {
        let generation = store::stats::month_generation(conn, month)?;
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
        let rows = Arc::new(store::stats::month(conn, month)?);
        self.keep(month, generation, rows.clone(), used);
        Ok(rows)
    }

    fn keep(&self, month: (i32, u32), generation: i64, rows: Arc<Vec<Row>>, used: u64) {
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
                rows,
                used,
            },
        );
    }

    /// How many months are kept and how many tickets they hold.
    pub fn kept(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        (kept.len(), kept.values().map(|k| k.rows.len()).sum())
    }
}

/// The tickets of a scope: the months it spans, and what it keeps of them.
pub(super) struct Selection {
    months: Vec<Arc<Vec<Row>>>,
    from: u32,
    /// The end of the period, as the rows' times.
    pub(super) to: u32,
    service: Option<NonZeroU32>,
    /// None: any; empty: an unknown category, so no ticket.
    categories: Option<Vec<NonZeroU32>>,
}

impl Selection {
    pub(super) fn read(conn: &Connection, scope: &Scope, months: &Months) -> Result<Selection> {
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

    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
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
    pub(super) fn late(&self, now: u32) -> Vec<i64> {
        let mut late: Vec<(u32, i64)> = self
            .rows()
            .filter(|r| r.late(now))
            .map(|r| (r.received, r.id))
            .collect();
        late.sort_unstable();
        late.into_iter().map(|(_, id)| id).collect()
    }
}

/// What a ticket's times say about its deadline and its steps.
pub(super) trait Timing {
    /// Answered by the deadline (None: not answered, or no deadline).
    fn on_time(&self) -> Option<bool>;
    /// Not answered and past the deadline at `now`.
    fn overdue(&self, now: u32) -> bool;
    fn late(&self, now: u32) -> bool {
        self.on_time() == Some(false) || self.overdue(now)
    }
    /// Seconds from receipt to `t` (a year's worth are held at once: 4 bytes each).
    fn seconds_to(&self, t: Option<NonZeroU32>) -> Option<i32>;
}

impl Timing for Row {
    fn on_time(&self) -> Option<bool> {
        Some(self.answered? <= self.due?)
    }

    fn overdue(&self, now: u32) -> bool {
        self.answered.is_none() && self.due.is_some_and(|d| d.get() < now)
    }

    fn seconds_to(&self, t: Option<NonZeroU32>) -> Option<i32> {
        t.map(|t| {
            let s = i64::from(t.get()) - i64::from(self.received);
            s.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        })
    }
}
