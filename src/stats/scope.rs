//! Which tickets a report counts: a range of days in Europe/Rome time, optionally one service or
//! one category, and the checks that turn what a person typed into one.
//!
//! A ticket belongs to a period when it was received (for PEC: at the certified time, which
//! ingest stores as `received_at`) from the first day's midnight in Rome to the midnight after
//! the last day.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::domain::time::rome_midnight_utc;

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
        Some(Scope::of_days(from, next.pred_opt()?))
    }

    pub fn year(year: i32) -> Option<Scope> {
        if !YEARS.contains(&year) {
            return None;
        }
        Some(Scope::of_days(
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year, 12, 31)?,
        ))
    }

    /// The days `from..=to`: both within [`YEARS`], in order, at most [`MAX_DAYS`] apart.
    pub fn days(from: NaiveDate, to: NaiveDate) -> Option<Scope> {
        let ok = YEARS.contains(&from.year())
            && YEARS.contains(&to.year())
            && from <= to
            && (to - from).num_days() <= MAX_DAYS;
        ok.then(|| Scope::of_days(from, to))
    }

    fn of_days(from: NaiveDate, to: NaiveDate) -> Scope {
        Scope {
            from,
            to,
            service: None,
            category: None,
        }
    }

    /// The same days, for one service and one category as a form names them (an id, a code);
    /// empty or unreadable is "all".
    pub fn narrowed(self, service: &str, category: &str) -> Scope {
        let category = category.trim();
        Scope {
            service: service.trim().parse().ok(),
            category: (!category.is_empty()).then(|| category.to_string()),
            ..self
        }
    }

    /// From the first day's midnight in Rome to the midnight after the last day.
    pub(super) fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
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

    /// The same scope a year earlier, if this one is a whole year.
    pub(super) fn previous_year(&self) -> Option<Scope> {
        let y = self.whole_year()?;
        Some(Scope {
            from: NaiveDate::from_ymd_opt(y - 1, 1, 1)?,
            to: NaiveDate::from_ymd_opt(y - 1, 12, 31)?,
            ..self.clone()
        })
    }

    /// The period a person asked for (a query string's words), refused unless every part of
    /// it is a date the statistics can count: years from [`YEARS`]' first to next year, real
    /// months, ranges in order and at most [`MAX_DAYS`] long. The year is checked first,
    /// whatever the period.
    pub fn asked(asked: &Asked<'_>, today: NaiveDate) -> Result<Scope, ScopeError> {
        let year = year_asked(asked.year, today)?;
        match asked.period {
            Period::Year => Scope::year(year).ok_or_else(|| bad_year(today)),
            Period::Month => {
                let month = match asked.month.trim() {
                    "" => today.month(),
                    m => m
                        .parse()
                        .ok()
                        .filter(|m| (1..=12).contains(m))
                        .ok_or(ScopeError::Month)?,
                };
                Scope::month(year, month).ok_or_else(|| bad_year(today))
            }
            Period::Days => {
                let day = |s: &str| {
                    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .ok()
                        .filter(|d| year_allowed(d.year(), today))
                        .ok_or(ScopeError::Date)
                };
                let (from, to) = (day(asked.from)?, day(asked.to)?);
                Scope::days(from, to).ok_or(ScopeError::Range)
            }
        }
    }
}

/// What kind of period a person asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// A month of a year (empty: this month).
    Month,
    /// A whole year.
    Year,
    /// Any range of days, `from` and `to` as `yyyy-mm-dd`.
    Days,
}

/// A period in the words a person typed (empty: this year, this month).
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    pub period: Period,
    pub year: &'a str,
    pub month: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// Why what a person asked for is not a period the statistics can count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("not a year from {first} to {last}")]
    Year { first: i32, last: i32 },
    #[error("not a month from 1 to 12")]
    Month,
    #[error("not a date yyyy-mm-dd in the years that can be asked for")]
    Date,
    #[error("the first day is after the last, or the range is longer than ten years")]
    Range,
}

/// The last year a person may ask for: next year (a report prepared ahead), within what the
/// statistics can count.
fn last_year(today: NaiveDate) -> i32 {
    (today.year() + 1).min(*YEARS.end())
}

fn year_allowed(year: i32, today: NaiveDate) -> bool {
    (*YEARS.start()..=last_year(today)).contains(&year)
}

fn bad_year(today: NaiveDate) -> ScopeError {
    ScopeError::Year {
        first: *YEARS.start(),
        last: last_year(today),
    }
}

/// A year typed by a person: empty is this year; anything but a year from [`YEARS`]' first to
/// next year is refused here, before any date arithmetic.
pub fn year_asked(text: &str, today: NaiveDate) -> Result<i32, ScopeError> {
    match text.trim() {
        "" => Ok(today.year()),
        y => y
            .parse()
            .ok()
            .filter(|y| year_allowed(*y, today))
            .ok_or_else(|| bad_year(today)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_person_asks_for_is_checked_before_any_arithmetic() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
        let asked = |period, year, month, from, to| {
            Scope::asked(
                &Asked {
                    period,
                    year,
                    month,
                    from,
                    to,
                },
                today,
            )
        };
        let bad_year = Err(ScopeError::Year {
            first: 1970,
            last: 2027,
        });
        assert_eq!(
            asked(Period::Year, "2028", "", "", "").map(|_| ()),
            bad_year
        );
        assert_eq!(
            asked(Period::Days, "2028", "", "2026-01-01", "2026-01-02").map(|_| ()),
            bad_year,
            "the year first, whatever the period"
        );
        let this_year = asked(Period::Year, "", "", "", "").unwrap();
        assert_eq!(this_year.whole_year(), Some(2026));
        let this_month = asked(Period::Month, "", "", "", "").unwrap();
        assert_eq!(
            this_month.from,
            NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
        );
        let refused = |period, month, from, to| asked(period, "", month, from, to).unwrap_err();
        assert_eq!(refused(Period::Month, "0", "", ""), ScopeError::Month);
        assert_eq!(
            refused(Period::Days, "", "2026-01-01", "2028-01-01"),
            ScopeError::Date
        );
        assert_eq!(
            refused(Period::Days, "", "2026-02-01", "2026-01-01"),
            ScopeError::Range
        );
        let narrowed = Scope::year(2026).unwrap().narrowed(" 7 ", " TEM ");
        assert_eq!(narrowed.service, Some(7));
        assert_eq!(narrowed.category.as_deref(), Some("TEM"));
        let all = Scope::year(2026).unwrap().narrowed("x", "  ");
        assert_eq!((all.service, all.category), (None, None));
    }
}
