//! Time in the hospital's procedure: the legal deadline, where a ticket stands against it, and
//! Europe/Rome's calendar (tickets are numbered and counted by Rome days and years).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// The legal answer deadline: `deadline_days` after receipt (DPCM 27/1/1994: 30 days).
/// Saturates at the last instant chrono knows rather than panicking.
pub fn due_at(received_at: DateTime<Utc>, deadline_days: u32) -> DateTime<Utc> {
    received_at
        .checked_add_signed(Duration::days(i64::from(deadline_days)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Where a ticket stands against its deadline: derived from `due_at`, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    Overdue {
        days: i64,
    },
    /// Due within [`NEAR_DUE_DAYS`].
    DueSoon {
        days: i64,
    },
    OnTime {
        days: i64,
    },
}

/// "Near due" is within this many days (the dashboard's "in scadenza entro 7 giorni").
pub const NEAR_DUE_DAYS: i64 = 7;

pub fn deadline(due_at: DateTime<Utc>, now: DateTime<Utc>) -> Deadline {
    let left = due_at - now;
    if left < Duration::zero() {
        Deadline::Overdue {
            days: (-left).num_days(),
        }
    } else if left <= Duration::days(NEAR_DUE_DAYS) {
        Deadline::DueSoon {
            days: left.num_days(),
        }
    } else {
        Deadline::OnTime {
            days: left.num_days(),
        }
    }
}

/// The UTC offset of Europe/Rome at `t`, in hours: +2 from 01:00 UTC on the last Sunday of
/// March to 01:00 UTC on the last Sunday of October (the EU rule since 1996), else +1.
///
/// Total over chrono's whole range: the years at its edges (reachable from a request's query
/// string, never from a stored ticket) are simply winter time.
pub fn rome_offset_hours(t: DateTime<Utc>) -> i64 {
    let year = t.year();
    let change = |month| {
        last_sunday(year, month)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .map(|d| d.and_utc())
    };
    match (change(3), change(10)) {
        (Some(start), Some(end)) if t >= start && t < end => 2,
        _ => 1,
    }
}

/// The last Sunday of `month` (1..=11), if chrono's calendar reaches it.
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1)?.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    last.checked_sub_signed(Duration::days(i64::from(back)))
}

/// `t` as wall-clock time in Europe/Rome.
pub fn to_rome(t: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    let offset = chrono::FixedOffset::east_opt((rome_offset_hours(t) * 3600) as i32).unwrap();
    offset.from_utc_datetime(&t.naive_utc())
}

/// "31/03/2026 23:30", Europe/Rome: how people read a time, in the backoffice and in exports.
pub fn rome_datetime(t: DateTime<Utc>) -> String {
    to_rome(t).format("%d/%m/%Y %H:%M").to_string()
}

/// A stored RFC 3339 time as [`rome_datetime`] writes it; unreadable text is kept as it is.
pub fn stored_rome_datetime(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .map(|t| rome_datetime(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| s.to_string())
}

/// The instant a day begins in Europe/Rome. Clocks change at 01:00 UTC, never at midnight, so
/// the offset an hour before local midnight is the day's.
///
/// The first day chrono knows begins before its first instant: that day saturates to
/// [`DateTime::MIN_UTC`] instead of panicking (a query string can name it).
pub fn rome_midnight_utc(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let offset = local
        .checked_sub_signed(Duration::hours(1))
        .map_or(1, rome_offset_hours);
    local
        .checked_sub_signed(Duration::hours(offset))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The year a ticket received at `t` is numbered and counted in.
pub fn rome_year(t: DateTime<Utc>) -> i32 {
    to_rome(t).year()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rome_time_follows_daylight_saving() {
        // 2026: DST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(rome_offset_hours(utc("2026-03-29T00:59:59Z")), 1);
        assert_eq!(rome_offset_hours(utc("2026-03-29T01:00:00Z")), 2);
        assert_eq!(rome_offset_hours(utc("2026-10-25T00:59:59Z")), 2);
        assert_eq!(rome_offset_hours(utc("2026-10-25T01:00:00Z")), 1);
        assert_eq!(rome_offset_hours(utc("2026-01-15T12:00:00Z")), 1);
    }

    #[test]
    fn a_rome_day_starts_at_the_right_utc_instant() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            rome_midnight_utc(d("2026-01-15")),
            utc("2026-01-14T23:00:00Z")
        );
        assert_eq!(
            rome_midnight_utc(d("2026-07-15")),
            utc("2026-07-14T22:00:00Z")
        );
        // The day of the spring change begins in winter time, the day after in summer time.
        assert_eq!(
            rome_midnight_utc(d("2026-03-29")),
            utc("2026-03-28T23:00:00Z")
        );
        assert_eq!(
            rome_midnight_utc(d("2026-03-30")),
            utc("2026-03-29T22:00:00Z")
        );
        assert_eq!(
            rome_midnight_utc(d("2026-10-26")),
            utc("2026-10-25T23:00:00Z")
        );
    }

    #[test]
    fn new_year_in_rome_comes_before_new_year_in_utc() {
        assert_eq!(rome_year(utc("2026-12-31T22:59:59Z")), 2026);
        assert_eq!(rome_year(utc("2026-12-31T23:00:00Z")), 2027);
    }

    #[test]
    fn overdue_and_near_due_are_derived() {
        let due = utc("2026-02-09T09:00:00Z");
        assert_eq!(
            deadline(due, utc("2026-01-10T09:00:00Z")),
            Deadline::OnTime { days: 30 }
        );
        assert_eq!(
            deadline(due, utc("2026-02-03T09:00:00Z")),
            Deadline::DueSoon { days: 6 }
        );
        assert_eq!(
            deadline(due, utc("2026-02-12T10:00:00Z")),
            Deadline::Overdue { days: 3 }
        );
    }

    #[test]
    fn the_edges_of_the_calendar_do_not_panic() {
        // GET /statistiche?periodo=anno&anno=-262143 reached these (issue 11, finding 3).
        for day in [NaiveDate::MIN, NaiveDate::MAX] {
            let t = rome_midnight_utc(day);
            let _ = rome_offset_hours(t);
            let _ = to_rome(t);
            let _ = due_at(t, 30);
        }
        assert_eq!(rome_midnight_utc(NaiveDate::MIN), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            due_at(DateTime::<Utc>::MAX_UTC, 30),
            DateTime::<Utc>::MAX_UTC
        );
        let first = NaiveDate::from_ymd_opt(-262143, 1, 1).unwrap();
        assert!(rome_midnight_utc(first) <= first.and_time(chrono::NaiveTime::MIN).and_utc());
    }

    #[test]
    fn the_deadline_is_thirty_days_by_default() {
        assert_eq!(
            due_at(utc("2026-01-10T09:00:00Z"), 30),
            utc("2026-02-09T09:00:00Z")
        );
    }
}
