//! Time in the hospital's procedure: the legal deadline, where a ticket stands against it, and
//! Europe/Rome's calendar (tickets are numbered and counted by Rome days and years).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// The legal answer deadline: `deadline_days` Europe/Rome calendar days after receipt, at the
/// same wall-clock time (DPCM 27/1/1994: 30 days). Saturates at the last instant chrono knows
/// rather than panicking.
pub fn due_at(received_at: DateTime<Utc>, deadline_days: u32) -> DateTime<Utc> {
    add_rome_days(received_at, i64::from(deadline_days))
}

/// `t` moved by `days` Europe/Rome calendar days, keeping its wall-clock time: across a change
/// of summer time a day is 23 or 25 hours. A wall-clock time that does not exist on the day
/// reached (02:30 on the spring change) is read in winter time, an hour later in summer time.
pub fn add_rome_days(t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let Some(local) = t
        .naive_utc()
        .checked_add_signed(Duration::hours(rome_offset_hours(t)))
        .and_then(|local| local.checked_add_signed(Duration::days(days)))
    else {
        return if days < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        };
    };
    rome_local_to_utc(local)
}

/// The instant a Europe/Rome wall-clock time names (the first, when the autumn change names two).
fn rome_local_to_utc(local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let at = |hours: i64| {
        local
            .checked_sub_signed(Duration::hours(hours))
            .map(|t| t.and_utc())
    };
    match at(2) {
        Some(summer) if rome_offset_hours(summer) == 2 => summer,
        _ => at(1).unwrap_or(DateTime::<Utc>::MIN_UTC),
    }
}

/// Europe/Rome calendar days from `from`'s day to `to`'s (0 on the same day).
pub fn rome_days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to_rome(to).date_naive() - to_rome(from).date_naive()).num_days()
}

/// One change of a ticket's deadline, as [`effective_due_at`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineEvent {
    /// The clock stopped (waiting for the citizen's document or delegation).
    Suspended { at: DateTime<Utc> },
    /// The clock runs again: the days since the suspension are added.
    Resumed { at: DateTime<Utc> },
    /// The deadline becomes `to_days` days from receipt (complex cases: 60 or 90).
    Extended { to_days: u32 },
}

/// Where a ticket's deadline stands after its changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The deadline in force: the original (or the extended one), plus every suspended day.
    /// While a suspension is open its days are not counted yet (they are when it ends).
    pub due_at: DateTime<Utc>,
    /// The suspension still open, if any.
    pub suspended_since: Option<DateTime<Utc>>,
    /// Rome days suspended so far (closed suspensions only).
    pub suspended_days: i64,
    /// The days from receipt in force before suspensions: None for the original deadline.
    pub extended_to: Option<u32>,
}

/// The one deadline function: the ticket received at `received_at`, first due at
/// `original_due`, after `events` (in the order they happened). A suspension adds the Europe/Rome
/// calendar days from the day it began to the day it ended (suspended and resumed the same day:
/// none); an extension sets the deadline to that many Rome days from receipt; suspended days
/// are added after, whichever came first. A resumption without a suspension, or a second
/// suspension while one is open, changes nothing.
pub fn effective_due_at(
    received_at: DateTime<Utc>,
    original_due: DateTime<Utc>,
    events: &[DeadlineEvent],
) -> Effective {
    let mut open = None;
    let mut suspended_days = 0;
    let mut extended_to = None;
    for e in events {
        match *e {
            DeadlineEvent::Suspended { at } => {
                open.get_or_insert(at);
            }
            DeadlineEvent::Resumed { at } => {
                if let Some(since) = open.take() {
                    suspended_days += rome_days_between(since, at).max(0);
                }
            }
            DeadlineEvent::Extended { to_days } => extended_to = Some(to_days),
        }
    }
    let base = match extended_to {
        Some(days) => due_at(received_at, days),
        None => original_due,
    };
    Effective {
        due_at: add_rome_days(base, suspended_days),
        suspended_since: open,
        suspended_days,
        extended_to,
    }
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

    /// The deadline's arithmetic, counted by hand on a calendar (2026: summer time from 29 March
    /// 01:00 UTC to 25 October 01:00 UTC). Each row: received, events, expected effective due.
    #[test]
    fn effective_deadlines_match_the_hand_written_table() {
        use DeadlineEvent::*;
        let t = utc;
        let table: Vec<(&str, &str, Vec<DeadlineEvent>, &str)> = vec![
            // Winter to winter: 30 days, same hour.
            (
                "2026-01-10T09:00:00Z",
                "2026-02-09T09:00:00Z",
                vec![],
                "2026-02-09T09:00:00Z",
            ),
            // 10 March 10:00 Rome (winter) + 30 days = 9 April 10:00 Rome (summer) = 08:00 UTC.
            (
                "2026-03-10T09:00:00Z",
                "2026-04-09T08:00:00Z",
                vec![],
                "2026-04-09T08:00:00Z",
            ),
            // 1 October 12:00 Rome (summer) + 30 = 31 October 12:00 Rome (winter) = 11:00 UTC.
            (
                "2026-10-01T10:00:00Z",
                "2026-10-31T11:00:00Z",
                vec![],
                "2026-10-31T11:00:00Z",
            ),
            // Suspended 5 March 15:00 Rome, resumed 12 March 09:00 Rome: 7 days.
            (
                "2026-03-02T09:00:00Z",
                "2026-04-01T08:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-03-05T14:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-03-12T08:00:00Z"),
                    },
                ],
                "2026-04-08T08:00:00Z",
            ),
            // Suspended and resumed the same Rome day: nothing added.
            (
                "2026-03-02T09:00:00Z",
                "2026-04-01T08:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-03-05T08:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-03-05T16:00:00Z"),
                    },
                ],
                "2026-04-01T08:00:00Z",
            ),
            // The Rome day, not the UTC one: 23:30 UTC on 5 March is 6 March in Rome.
            (
                "2026-03-02T09:00:00Z",
                "2026-04-01T08:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-03-05T23:30:00Z"),
                    },
                    Resumed {
                        at: t("2026-03-06T10:00:00Z"),
                    },
                ],
                "2026-04-01T08:00:00Z",
            ),
            // Still suspended: no days added yet, the suspension is open.
            (
                "2026-03-02T09:00:00Z",
                "2026-04-01T08:00:00Z",
                vec![Suspended {
                    at: t("2026-03-05T14:00:00Z"),
                }],
                "2026-04-01T08:00:00Z",
            ),
            // Two suspensions (3 + 2 days) across the spring change.
            (
                "2026-03-20T09:00:00Z",
                "2026-04-19T08:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-03-21T09:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-03-24T08:00:00Z"),
                    },
                    Suspended {
                        at: t("2026-04-01T08:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-04-03T08:00:00Z"),
                    },
                ],
                "2026-04-24T08:00:00Z",
            ),
            // Extended to 60 days: 2 Feb 10:00 Rome + 60 = 3 April 10:00 Rome (summer) = 08:00 UTC.
            (
                "2026-02-02T09:00:00Z",
                "2026-03-04T09:00:00Z",
                vec![Extended { to_days: 60 }],
                "2026-04-03T08:00:00Z",
            ),
            // Extended to 90 after a 4-day suspension: 2 May 10:00 Rome + 4 = 6 May 10:00 Rome.
            (
                "2026-02-01T09:00:00Z",
                "2026-03-03T09:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-02-10T09:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-02-14T09:00:00Z"),
                    },
                    Extended { to_days: 90 },
                ],
                "2026-05-06T08:00:00Z",
            ),
            // A resumption without a suspension and a doubled suspension change nothing more.
            (
                "2026-01-10T09:00:00Z",
                "2026-02-09T09:00:00Z",
                vec![
                    Resumed {
                        at: t("2026-01-11T09:00:00Z"),
                    },
                    Suspended {
                        at: t("2026-01-12T09:00:00Z"),
                    },
                    Suspended {
                        at: t("2026-01-13T09:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-01-15T09:00:00Z"),
                    },
                ],
                "2026-02-12T09:00:00Z",
            ),
            // Suspended across the autumn change: 24 October to 27 October, 3 days; received
            // 20 October 11:00 Rome (summer), due 19 November 11:00 Rome + 3 = 22 November.
            (
                "2026-10-20T09:00:00Z",
                "2026-11-19T10:00:00Z",
                vec![
                    Suspended {
                        at: t("2026-10-24T09:00:00Z"),
                    },
                    Resumed {
                        at: t("2026-10-27T09:00:00Z"),
                    },
                ],
                "2026-11-22T10:00:00Z",
            ),
        ];
        for (received, original, events, expected) in table {
            assert_eq!(
                due_at(t(received), 30),
                t(original),
                "original of {received}"
            );
            let got = effective_due_at(t(received), t(original), &events);
            assert_eq!(got.due_at, t(expected), "{received} {events:?}");
        }
        let open = effective_due_at(
            t("2026-03-02T09:00:00Z"),
            t("2026-04-01T08:00:00Z"),
            &[DeadlineEvent::Suspended {
                at: t("2026-03-05T14:00:00Z"),
            }],
        );
        assert_eq!(open.suspended_since, Some(t("2026-03-05T14:00:00Z")));
    }

    #[test]
    fn a_wall_clock_time_that_does_not_exist_is_read_in_winter_time() {
        // 28 March 02:30 Rome + 1 day: 29 March 02:30 does not exist; 01:30 UTC is 03:30 Rome.
        assert_eq!(
            add_rome_days(utc("2026-03-28T01:30:00Z"), 1),
            utc("2026-03-29T01:30:00Z")
        );
        // 24 October 02:30 Rome (summer) + 1: the first 02:30 of 25 October, in summer time.
        assert_eq!(
            add_rome_days(utc("2026-10-24T00:30:00Z"), 1),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            rome_days_between(utc("2026-03-05T22:59:00Z"), utc("2026-03-05T23:00:00Z")),
            1
        );
    }

    #[test]
    fn the_deadline_is_thirty_days_by_default() {
        assert_eq!(
            due_at(utc("2026-01-10T09:00:00Z"), 30),
            utc("2026-02-09T09:00:00Z")
        );
    }
}
