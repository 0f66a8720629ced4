//! The statements of the statistics: a month's tickets read on the covering index
//! `tickets_stats` into compact rows, the per-month generations the triggers move, and the few
//! late tickets a report lists.
//!
//! The rows are decoded here, at the boundary, into typed values: a kind, state, outcome or
//! channel is matched against its vocabulary's stored bytes (no string is allocated), and times
//! are read digit by digit into seconds since the epoch. A large hospital's year is 200,000
//! rows, read in a fraction of a second.

use std::num::NonZeroU32;

use anyhow::{Context, Result};
use chrono::DateTime;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::{Channel, Kind, Outcome, State};

/// One ticket as the figures need it, whatever the period and the moment of asking: times as
/// seconds since the epoch (`u32`: until 2106), ids as small numbers. A large hospital's year
/// holds 200,000 of them, 48 bytes each.
#[derive(Clone, Copy, Debug)]
pub struct StatsRow {
    pub id: i64,
    /// 0 when the stored time cannot be read (never for a time ascolto wrote): not counted.
    pub received: u32,
    pub due: Option<NonZeroU32>,
    pub taken: Option<NonZeroU32>,
    pub answered: Option<NonZeroU32>,
    pub closed: Option<NonZeroU32>,
    pub category: Option<NonZeroU32>,
    pub service: Option<NonZeroU32>,
    pub kind: Option<Kind>,
    pub state: Option<State>,
    pub outcome: Option<Outcome>,
    pub channel: Option<Channel>,
    pub reopened: bool,
}

/// A late ticket as the report lists it, its times as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LateTicket {
    pub number: String,
    pub received_at: String,
    pub due_at: String,
    /// None: still not answered.
    pub answered_at: Option<String>,
}

/// A time as the rows hold it: seconds since the epoch, clamped to `u32`.
pub fn stamp(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

/// A category's or a service's id as the rows hold it.
pub fn small_id(id: Option<i64>) -> Result<Option<NonZeroU32>> {
    id.map(|id| {
        u32::try_from(id)
            .ok()
            .and_then(NonZeroU32::new)
            .with_context(|| format!("id {id} out of the statistics' range"))
    })
    .transpose()
}

/// The key of a UTC month in `stats_months`, as the triggers write it: the first seven
/// characters of `received_at`.
fn month_key((year, month): (i32, u32)) -> String {
    format!("{year:04}-{month:02}")
}

/// Where the month's tickets have got to: the triggers move it on every change to one of them
/// (0 for a month that never had any).
pub fn month_generation(conn: &Connection, month: (i32, u32)) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT generation FROM stats_months WHERE month = ?1")?
        .query_row([month_key(month)], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Moves whenever anything a report counts changes: a ticket (every month's generation) or a
/// category or service (`stats_generation`). Generations only grow, so their sum does too.
pub fn generation(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'stats_generation')
              + (SELECT coalesce(sum(generation), 0) FROM stats_months)",
        [],
        |r| r.get(0),
    )?)
}

/// Every ticket (not merged) received in one UTC month, in the order received.
pub fn month(conn: &Connection, (year, month): (i32, u32)) -> Result<Vec<StatsRow>> {
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
                t.channel, t.reopen_count > 0
         FROM tickets t INDEXED BY tickets_stats
         WHERE t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL",
    )?;
    let mut q = st.query([&from, &to])?;
    let mut rows = Vec::new();
    while let Some(r) = q.next()? {
        let time = |i: usize| -> rusqlite::Result<Option<NonZeroU32>> {
            Ok(stored_stamp(r.get_ref(i)?.as_bytes_or_null()?))
        };
        let bytes =
            |i: usize| -> rusqlite::Result<Option<&[u8]>> { Ok(r.get_ref(i)?.as_bytes_or_null()?) };
        rows.push(StatsRow {
            id: r.get(0)?,
            received: time(1)?.map_or(0, NonZeroU32::get),
            due: time(2)?,
            taken: time(3)?,
            answered: time(4)?,
            closed: time(5)?,
            category: small_id(r.get(6)?)?,
            service: small_id(r.get(7)?)?,
            kind: word(Kind::ALL, Kind::as_str, bytes(8)?),
            state: word(State::ALL, State::as_str, bytes(9)?),
            outcome: word(Outcome::ALL, Outcome::as_str, bytes(10)?),
            channel: word(Channel::ALL, Channel::as_str, bytes(11)?),
            reopened: r.get(12)?,
        });
    }
    // Kept for as long as the month does not change: without the room left by growing.
    rows.shrink_to_fit();
    Ok(rows)
}

/// The word of a vocabulary whose stored form is `stored`, compared as bytes: the scan reads a
/// few hundred thousand rows at once, and a `String` or a `FromStr` per cell would cost more
/// than the rest of the reading. An unknown word counts as not set, like NULL.
fn word<T: Copy>(
    all: &[T],
    as_str: impl Fn(T) -> &'static str,
    stored: Option<&[u8]>,
) -> Option<T> {
    let stored = stored?;
    all.iter()
        .copied()
        .find(|&w| as_str(w).as_bytes() == stored)
}

/// The late tickets as listed, in the order of `ids`.
pub fn late_tickets(conn: &Connection, ids: &[i64]) -> Result<Vec<LateTicket>> {
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

fn stored_stamp(t: Option<&[u8]>) -> Option<NonZeroU32> {
    NonZeroU32::new(stamp(epoch_seconds(t?)?))
}

/// Seconds since the epoch of a stored time. The database's own shape
/// (`2026-03-31T23:30:00Z`, [`super::time_text`]) is read digit by digit; anything else through
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn stored_times_are_read_like_chrono_reads_them() {
        for t in [
            "2026-03-31T23:30:00Z",
            "1999-12-31T00:00:01Z",
            "2028-02-29T12:00:00Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(t).unwrap().timestamp();
            assert_eq!(epoch_seconds(t.as_bytes()), Some(chrono), "{t}");
        }
        assert_eq!(
            epoch_seconds(b"2026-03-31T23:30:00+02:00"),
            Some(
                DateTime::parse_from_rfc3339("2026-03-31T21:30:00Z")
                    .unwrap()
                    .timestamp()
            )
        );
        assert_eq!(epoch_seconds(b"2026-13-31T23:30:00Z"), None);
        for bad in [
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-04-00T00:00:00Z",
            "2026-04-10T24:00:00Z",
            "2026-04-1xT00:00:00Z",
        ] {
            assert_eq!(epoch_seconds(bad.as_bytes()), None, "{bad}");
        }
        // Every day from 1960 to 2140, against chrono's calendar.
        let mut day = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap();
        while day.year() < 2140 {
            let t = format!("{}T13:14:15Z", day.format("%Y-%m-%d"));
            let chrono = DateTime::parse_from_rfc3339(&t).unwrap().timestamp();
            assert_eq!(epoch_seconds(t.as_bytes()), Some(chrono), "{t}");
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn stored_words_are_decoded_and_unknown_ones_are_not_set() {
        let w = |s: &'static str| word(Kind::ALL, Kind::as_str, Some(s.as_bytes()));
        assert_eq!(w("elogio"), Some(Kind::Elogio));
        assert_eq!(w("Elogio"), None);
        assert_eq!(word(State::ALL, State::as_str, None), None);
    }
}
