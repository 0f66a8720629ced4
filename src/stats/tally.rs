//! Counting: one pass over the tickets of a scope into a [`Tally`], then the lines of the report
//! (kinds, states, outcomes, channels, categories, services, times, months) made from it.
//!
//! Percentiles use the nearest-rank method (the smallest value with at least p% of the values at
//! or below it), so that every figure can be counted by hand; the median is the 50th.

use std::collections::HashMap;
use std::num::NonZeroU32;

use chrono::NaiveDate;

use super::months::Timing;
use super::{CategoryCount, Count, MonthRow, Times};
use crate::domain::time::rome_midnight_utc;
use crate::domain::{Channel, Kind, Outcome, State};
use crate::store::backoffice::{Category, Service};
use crate::store::stats::{small_id, stamp, StatsRow as Row};
use crate::texts;

/// Everything one pass over a scope's tickets counts.
pub(super) struct Tally {
    pub(super) total: usize,
    kinds: Counter,
    states: Counter,
    outcomes: Counter,
    channels: Counter,
    per_category: HashMap<Option<NonZeroU32>, usize>,
    per_service: HashMap<Option<NonZeroU32>, usize>,
    to_charge: Vec<i32>,
    to_answer: Vec<i32>,
    to_close: Vec<i32>,
    pub(super) deadline_base: usize,
    pub(super) answered_on_time: usize,
    pub(super) late_total: usize,
    pub(super) reopened: usize,
    pub(super) open_at_end: usize,
    /// For a whole year: month by month.
    months: Option<YearMonths>,
}

impl Tally {
    /// An empty tally; `year` when the scope is that whole year, for the months.
    pub(super) fn new(year: Option<i32>) -> Tally {
        Tally {
            total: 0,
            kinds: Counter::new(Kind::ALL.len()),
            states: Counter::new(State::ALL.len()),
            outcomes: Counter::new(Outcome::ALL.len()),
            channels: Counter::new(Channel::ALL.len()),
            per_category: HashMap::new(),
            per_service: HashMap::new(),
            to_charge: Vec::new(),
            to_answer: Vec::new(),
            to_close: Vec::new(),
            deadline_base: 0,
            answered_on_time: 0,
            late_total: 0,
            reopened: 0,
            open_at_end: 0,
            months: year.map(YearMonths::new),
        }
    }

    /// Counts one ticket, at `now`, of a period that ends at `end` (both as the rows' times).
    pub(super) fn add(&mut self, r: &Row, now: u32, end: u32) {
        self.total += 1;
        self.kinds.add(r.kind.map(|k| k as usize));
        self.states.add(r.state.map(|s| s as usize));
        if r.state == Some(State::Closed) {
            self.outcomes.add(r.outcome.map(|o| o as usize));
            self.to_close.extend(r.seconds_to(r.closed));
        }
        self.channels.add(r.channel.map(|c| c as usize));
        *self.per_category.entry(r.category).or_default() += 1;
        *self.per_service.entry(r.service).or_default() += 1;
        self.to_charge.extend(r.seconds_to(r.taken));
        self.to_answer.extend(r.seconds_to(r.answered));
        let on_time = r.on_time();
        let overdue = r.overdue(now);
        self.deadline_base += usize::from(on_time.is_some() || overdue);
        self.answered_on_time += usize::from(on_time == Some(true));
        self.late_total += usize::from(on_time == Some(false) || overdue);
        self.reopened += usize::from(r.reopened);
        self.open_at_end += usize::from(r.closed.is_none_or(|c| c.get() >= end));
        if let Some(months) = self.months.as_mut() {
            months.add(r, on_time == Some(true));
        }
    }

    pub(super) fn by_kind(&self) -> Vec<Count> {
        self.kinds
            .counts(Kind::ALL, Kind::as_str, texts::kind, self.total)
    }

    pub(super) fn by_state(&self) -> Vec<Count> {
        self.states
            .counts(State::ALL, State::as_str, texts::state, self.total)
    }

    /// Of the closed tickets only (an outcome is given when closing).
    pub(super) fn by_outcome(&self) -> Vec<Count> {
        self.outcomes
            .counts(Outcome::ALL, Outcome::as_str, texts::outcome, self.total)
    }

    pub(super) fn by_channel(&self) -> Vec<Count> {
        self.channels
            .counts(Channel::ALL, Channel::as_str, texts::channel, self.total)
    }

    /// Every active or used category, macro-categories carrying the sum of their subs, in the
    /// order of `cats`; then the tickets not classified, if any.
    pub(super) fn by_category(&self, cats: &[Category]) -> Vec<CategoryCount> {
        let of = |id: i64| -> usize {
            small_id(Some(id))
                .ok()
                .and_then(|id| self.per_category.get(&id).copied())
                .unwrap_or(0)
        };
        let line = |c: &Category, level: u8, n: usize| CategoryCount {
            code: c.code.clone(),
            label: c.label.clone(),
            level,
            n,
            share: percent(n, self.total),
        };
        let mut out = Vec::new();
        for c in cats.iter().filter(|c| c.parent_id.is_none()) {
            let subs: Vec<_> = cats.iter().filter(|s| s.parent_id == Some(c.id)).collect();
            let n = of(c.id) + subs.iter().map(|s| of(s.id)).sum::<usize>();
            if n == 0 && !c.active {
                continue;
            }
            out.push(line(c, 1, n));
            for s in subs {
                let n = of(s.id);
                if n > 0 || s.active {
                    out.push(line(s, 2, n));
                }
            }
        }
        if let Some(&n) = self.per_category.get(&None) {
            out.push(CategoryCount {
                code: String::new(),
                label: texts::STATS_UNCLASSIFIED.into(),
                level: 0,
                n,
                share: percent(n, self.total),
            });
        }
        out
    }

    /// Every active or used service, the most tickets first; then the tickets without one.
    pub(super) fn by_service(&self, services: &[Service]) -> Vec<Count> {
        let mut out: Vec<Count> = services
            .iter()
            .filter_map(|s| {
                let n = small_id(Some(s.id))
                    .ok()
                    .and_then(|id| self.per_service.get(&id).copied())
                    .unwrap_or(0);
                (n > 0 || s.active).then(|| Count {
                    key: s.code.clone(),
                    label: s.name.clone(),
                    n,
                    share: percent(n, self.total),
                })
            })
            .collect();
        out.sort_by(|a, b| b.n.cmp(&a.n).then(a.label.cmp(&b.label)));
        if let Some(&n) = self.per_service.get(&None) {
            out.push(Count {
                key: String::new(),
                label: texts::STATS_NO_SERVICE.into(),
                n,
                share: percent(n, self.total),
            });
        }
        out
    }

    /// Days to taking in charge, to the first answer and to closing (closed tickets only).
    /// Takes the durations: their percentiles reorder them.
    pub(super) fn times(&mut self) -> (Times, Times, Times) {
        (
            times(std::mem::take(&mut self.to_charge)),
            times(std::mem::take(&mut self.to_answer)),
            times(std::mem::take(&mut self.to_close)),
        )
    }

    pub(super) fn months(&mut self) -> Option<Vec<MonthRow>> {
        self.months.take().map(|m| m.rows)
    }
}

/// Counts by word of a vocabulary and of tickets without one. A word's index is its place in
/// the vocabulary's `ALL`, which is its declaration order, so `word as usize`.
struct Counter {
    n: Vec<usize>,
    unset: usize,
}

impl Counter {
    fn new(words: usize) -> Counter {
        Counter {
            n: vec![0; words],
            unset: 0,
        }
    }

    fn add(&mut self, i: Option<usize>) {
        match i {
            Some(i) => self.n[i] += 1,
            None => self.unset += 1,
        }
    }

    /// A line per word of `all` (keyed by its stored word, labelled in Italian), then one for
    /// the tickets without a word, if any.
    fn counts<T: Copy>(
        &self,
        all: &[T],
        word: impl Fn(T) -> &'static str,
        label: impl Fn(T) -> &'static str,
        total: usize,
    ) -> Vec<Count> {
        let mut out: Vec<Count> = all
            .iter()
            .zip(&self.n)
            .map(|(&w, &n)| Count {
                key: word(w).to_string(),
                label: label(w).to_string(),
                n,
                share: percent(n, total),
            })
            .collect();
        if self.unset > 0 {
            out.push(Count {
                key: String::new(),
                label: texts::STATS_UNSET.into(),
                n: self.unset,
                share: percent(self.unset, total),
            });
        }
        out
    }
}

/// The months of a whole year: where each begins (as the rows' times) and what it counts.
pub(super) struct YearMonths {
    starts: Vec<u32>,
    rows: Vec<MonthRow>,
}

impl YearMonths {
    fn new(year: i32) -> YearMonths {
        YearMonths {
            starts: month_starts(year),
            rows: (1..=12)
                .map(|m| MonthRow {
                    month: m,
                    total: 0,
                    by_kind: vec![0; Kind::ALL.len()],
                    answered_on_time: 0,
                })
                .collect(),
        }
    }

    fn add(&mut self, r: &Row, answered_on_time: bool) {
        let m = &mut self.rows[month_of(&self.starts, r)];
        m.total += 1;
        if let Some(k) = r.kind {
            m.by_kind[k as usize] += 1;
        }
        m.answered_on_time += usize::from(answered_on_time);
    }
}

/// Where each month of `year` begins in Rome, as the rows' times.
fn month_starts(year: i32) -> Vec<u32> {
    (1..=12)
        .map(|m| {
            let first = NaiveDate::from_ymd_opt(year, m, 1).expect("a valid month");
            stamp(rome_midnight_utc(first).timestamp())
        })
        .collect()
}

/// The month (0 to 11) of `starts`' year a ticket was received in.
fn month_of(starts: &[u32], r: &Row) -> usize {
    starts.partition_point(|s| *s <= r.received).max(1) - 1
}

/// How many of `rows` were received in each month of `year`.
pub(super) fn per_month<'a>(year: i32, rows: impl Iterator<Item = &'a Row>) -> Vec<usize> {
    let starts = month_starts(year);
    let mut per_month = vec![0; 12];
    for r in rows {
        per_month[month_of(&starts, r)] += 1;
    }
    per_month
}

/// `n` of `total` in percent, one decimal.
pub(super) fn percent(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

/// Nearest-rank percentile of durations in seconds, in days with one decimal (the values are
/// reordered, not sorted).
pub(super) fn percentile(values: &mut [i32], p: f64) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters index words by `as usize`: that must be their place in `ALL`.
    #[test]
    fn a_words_index_is_its_place_in_its_vocabulary() {
        assert!(Kind::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
        assert!(State::ALL.iter().enumerate().all(|(i, &s)| s as usize == i));
        assert!(Outcome::ALL
            .iter()
            .enumerate()
            .all(|(i, &o)| o as usize == i));
        assert!(Channel::ALL
            .iter()
            .enumerate()
            .all(|(i, &c)| c as usize == i));
    }
}
