//! Computed reports, kept while nothing they count has changed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::{Months, Report, Scope, Table};
use crate::store;

/// Computed reports, kept while nothing they count has changed (the generations the triggers
/// move: of every month's tickets, and `stats_generation` for categories and services) and for
/// at most [`CACHE_SECONDS`] (deadlines pass without any write). Beneath them the tickets of
/// each month read are kept ([`Months`]): after a change, a year is counted again from memory
/// with only the changed month read again.
///
/// Every lock here is taken even when poisoned: a request that panics while holding one leaves
/// nothing half-done (the list is changed by single calls; `computing` guards no data), and
/// one bad request must not turn every statistics page into an error until a restart.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<Vec<CacheEntry>>,
    months: Months,
    /// Held while a report is computed: views arriving meanwhile wait for it instead of
    /// counting the same year again side by side (and holding its rows in memory each).
    computing: Mutex<()>,
}

type CacheEntry = (String, i64, Instant, Arc<Report>);

const CACHE_SECONDS: u64 = 60;
const CACHE_ENTRIES: usize = 32;

impl Cache {
    /// The scope's report at `now`: kept, or counted from the kept months. Call on a reader.
    pub fn report_of(
        &self,
        conn: &Connection,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Arc<Report>> {
        let generation = store::stats::generation(conn)?;
        self.report(format!("{scope:?}"), generation, || {
            super::report_kept(conn, scope, now, &self.months)
        })
    }

    /// The table called `name` of the scope's report, for a CSV: with every late ticket, where
    /// the page lists the first ones. None: no such table.
    pub fn table(
        &self,
        conn: &Connection,
        scope: &Scope,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Table>> {
        let report = self.report_of(conn, scope, now)?;
        if name != "ritardi" {
            return Ok(super::tables::table(&report, name));
        }
        let mut report = (*report).clone();
        report.late = super::late(conn, scope, now, usize::MAX, &self.months)?;
        Ok(super::tables::table(&report, name))
    }

    /// How many months are kept and how many tickets they hold.
    pub fn months_kept(&self) -> (usize, usize) {
        self.months.kept()
    }

    fn get(&self, key: &str, generation: i64) -> Option<Arc<Report>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, g, at, _)| {
                k == key && *g == generation && at.elapsed().as_secs() < CACHE_SECONDS
            })
            .map(|(_, _, _, r)| r.clone())
    }

    fn put(&self, key: String, generation: i64, report: Arc<Report>) {
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        e.retain(|(k, _, at, _)| *k != key && at.elapsed().as_secs() < CACHE_SECONDS);
        if e.len() >= CACHE_ENTRIES {
            e.remove(0);
        }
        e.push((key, generation, Instant::now(), report));
    }

    /// The report kept under `key` at `generation`, or the one `compute` makes (one at a time).
    fn report(
        &self,
        key: String,
        generation: i64,
        compute: impl FnOnce() -> Result<Report>,
    ) -> Result<Arc<Report>> {
        if let Some(r) = self.get(&key, generation) {
            return Ok(r);
        }
        let _one_at_a_time = self
            .computing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = self.get(&key, generation) {
            return Ok(r);
        }
        let r = Arc::new(compute()?);
        self.put(key, generation, r.clone());
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats;

    #[test]
    fn a_panic_while_computing_leaves_the_statistics_working() {
        // Issue 11, finding 3: a panic in date arithmetic poisoned `computing`, and every
        // statistics page answered 500 until a restart.
        let conn = crate::store::open_in_memory().unwrap();
        let cache = Cache::default();
        let scope = Scope::year(2026).unwrap();
        let key = format!("{scope:?}");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = cache.report(key.clone(), 1, || panic!("date arithmetic overflowed"));
        }));
        assert!(panicked.is_err());
        assert!(cache.computing.is_poisoned());
        let r = cache
            .report(key.clone(), 1, || stats::report(&conn, &scope, Utc::now()))
            .unwrap();
        assert_eq!(r.total, 0);
        let kept = cache.report(key, 1, || unreachable!("kept, not computed again"));
        assert!(Arc::ptr_eq(&kept.unwrap(), &r));
    }
}
