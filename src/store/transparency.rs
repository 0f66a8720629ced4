//! The SQL of the year's public figures (issue 20): the transparency report, the regional
//! export's rows and the comparison of a service or category over the years. Codes, labels the
//! hospital wrote and counts only: nothing a citizen wrote is read here.

use std::collections::BTreeMap;

use anyhow::Result;
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::domain::{Channel, Founded, Kind, Outcome, TicketNumber};

/// The tickets a year's figures count: received that year (Europe/Rome), merged ones left out
/// (they are counted in the ticket they joined).
const OF_YEAR: &str = "t.year = ?1 AND t.merged_into IS NULL";

/// One line of a table of counts: a label the hospital wrote (or a vocabulary word) and a count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counted<K> {
    pub key: K,
    pub count: i64,
}

/// A count by something the hospital names with a code and a label (a macro-category, a
/// service); `None`: not set.
pub type ByCoded = Vec<Counted<Option<(String, String)>>>;

/// Whether tickets were answered within their deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeliness {
    pub on_time: i64,
    pub late: i64,
    pub unanswered: i64,
}

/// A year's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct YearFigures {
    pub year: i32,
    pub total: i64,
    pub by_kind: Vec<Counted<Option<Kind>>>,
    /// Macro-category (code, label); `None`: not classified.
    pub by_category: ByCoded,
    /// Service (code, name); `None`: no unit concerned.
    pub by_service: ByCoded,
    pub by_channel: Vec<Counted<Channel>>,
    pub by_founded: Vec<Counted<Option<Founded>>>,
    pub timeliness: Timeliness,
    pub fragile: i64,
    pub risk: i64,
    /// Second-level reviews (riesame, issue 19) opened on the year's tickets.
    pub reviews: Option<i64>,
}

fn grouped<K: rusqlite::types::FromSql>(
    conn: &Connection,
    key: &str,
    joins: &str,
    year: i32,
) -> Result<Vec<Counted<K>>> {
    let sql = format!(
        "SELECT {key}, count(*) FROM tickets t {joins} WHERE {OF_YEAR}
         GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    Ok(conn
        .prepare(&sql)?
        .query_map([year], |r| {
            Ok(Counted {
                key: r.get(0)?,
                count: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

fn grouped_pair(
    conn: &Connection,
    code: &str,
    label: &str,
    joins: &str,
    year: i32,
) -> Result<ByCoded> {
    let sql = format!(
        "SELECT {code}, {label}, count(*) FROM tickets t {joins} WHERE {OF_YEAR}
         GROUP BY 1, 2 ORDER BY 3 DESC, 1"
    );
    Ok(conn
        .prepare(&sql)?
        .query_map([year], |r| {
            let code: Option<String> = r.get(0)?;
            let label: Option<String> = r.get(1)?;
            Ok(Counted {
                key: code.zip(label),
                count: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn year_figures(conn: &Connection, year: i32) -> Result<YearFigures> {
    let count = |sql: &str| -> Result<i64> {
        Ok(conn.query_row(
            &format!("SELECT count(*) FROM tickets t {sql}"),
            [year],
            |r| r.get(0),
        )?)
    };
    let analysis = "JOIN ticket_analysis a ON a.ticket_id = t.id";
    Ok(YearFigures {
        year,
        total: count(&format!("WHERE {OF_YEAR}"))?,
        by_kind: grouped(conn, "t.kind", "", year)?,
        by_category: grouped_pair(
            conn,
            "coalesce(p.code, k.code)",
            "coalesce(p.label, k.label)",
            "LEFT JOIN categories k ON k.id = t.category_id
             LEFT JOIN categories p ON p.id = k.parent_id",
            year,
        )?,
        by_service: grouped_pair(
            conn,
            "s.code",
            "s.name",
            "LEFT JOIN services s ON s.id = t.service_id",
            year,
        )?,
        by_channel: grouped(conn, "t.channel", "", year)?,
        by_founded: grouped(
            conn,
            "a.founded",
            "LEFT JOIN ticket_analysis a ON a.ticket_id = t.id",
            year,
        )?,
        timeliness: Timeliness {
            on_time: count(&format!(
                "WHERE {OF_YEAR} AND t.first_answered_at IS NOT NULL AND t.first_answered_at <= t.due_at"
            ))?,
            late: count(&format!(
                "WHERE {OF_YEAR} AND t.first_answered_at IS NOT NULL AND t.first_answered_at > t.due_at"
            ))?,
            unanswered: count(&format!(
                "WHERE {OF_YEAR} AND t.first_answered_at IS NULL"
            ))?,
        },
        fragile: count(&format!(
            "{analysis} WHERE {OF_YEAR} AND a.fragility_id IS NOT NULL"
        ))?,
        risk: count(&format!("{analysis} WHERE {OF_YEAR} AND a.risk = 1"))?,
        reviews: Some(count(&format!(
            "JOIN reviews v ON v.ticket_id = t.id WHERE {OF_YEAR}"
        ))?),
    })
}

/// One ticket as the regional flows ask for it: codes and dates only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionalRow {
    pub number: TicketNumber,
    /// The service's code (the structure concerned).
    pub service: Option<String>,
    pub received_at: String,
    pub channel: Channel,
    pub kind: Option<Kind>,
    /// The category's regional code (its own, else its macro-category's).
    pub regional_code: Option<String>,
    pub outcome: Option<Outcome>,
    pub first_answered_at: Option<String>,
    /// A second-level review (riesame) was opened.
    pub reviewed: bool,
}

/// The year's tickets in number order.
pub fn regional_rows(conn: &Connection, year: i32) -> Result<Vec<RegionalRow>> {
    Ok(conn
        .prepare(&format!(
            "SELECT t.number, s.code, t.received_at, t.channel, t.kind,
                    coalesce(r.code, pr.code), t.outcome, t.first_answered_at,
                    EXISTS (SELECT 1 FROM reviews v WHERE v.ticket_id = t.id)
             FROM tickets t
             LEFT JOIN services s ON s.id = t.service_id
             LEFT JOIN categories k ON k.id = t.category_id
             LEFT JOIN regional_codes r ON r.category_id = k.id
             LEFT JOIN regional_codes pr ON pr.category_id = k.parent_id
             WHERE {OF_YEAR} ORDER BY t.seq"
        ))?
        .query_map([year], |r| {
            Ok(RegionalRow {
                number: r.get(0)?,
                service: r.get(1)?,
                received_at: r.get(2)?,
                channel: r.get(3)?,
                kind: r.get(4)?,
                regional_code: r.get(5)?,
                outcome: r.get(6)?,
                first_answered_at: r.get(7)?,
                reviewed: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// What a comparison over the years follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Service(i64),
    /// A macro-category with its sub-categories, or one sub-category.
    Category(i64),
}

/// One year of a comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct YearRow {
    pub year: i32,
    pub total: i64,
    pub reclami: i64,
    pub elogi: i64,
    pub on_time: i64,
    pub late: i64,
}

/// Years `from..=to` of `subject`, every year present (zero when nothing was received).
pub fn yearly(conn: &Connection, subject: Subject, from: i32, to: i32) -> Result<Vec<YearRow>> {
    let (filter, id) = match subject {
        Subject::Service(id) => ("t.service_id = ?3", id),
        Subject::Category(id) => (
            "(t.category_id = ?3 OR t.category_id IN (SELECT id FROM categories WHERE parent_id = ?3))",
            id,
        ),
    };
    let mut rows: BTreeMap<i32, YearRow> = (from..=to)
        .map(|y| {
            (
                y,
                YearRow {
                    year: y,
                    ..YearRow::default()
                },
            )
        })
        .collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT t.year, count(*),
                sum(t.kind = ?4), sum(t.kind = ?5),
                sum(t.first_answered_at IS NOT NULL AND t.first_answered_at <= t.due_at),
                sum(t.first_answered_at IS NOT NULL AND t.first_answered_at > t.due_at)
         FROM tickets t
         WHERE t.year BETWEEN ?1 AND ?2 AND t.merged_into IS NULL AND {filter}
         GROUP BY t.year"
    ))?;
    let found = stmt.query_map(params![from, to, id, Kind::Reclamo, Kind::Elogio], |r| {
        Ok(YearRow {
            year: r.get(0)?,
            total: r.get(1)?,
            reclami: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            elogi: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
            on_time: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            late: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        })
    })?;
    for row in found {
        let row = row?;
        rows.insert(row.year, row);
    }
    Ok(rows.into_values().collect())
}

/// The statistics page's quality figures for a period: tickets received in `[from, to)` (RFC
/// 3339 UTC), of `service` when given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeriodQuality {
    pub fragile: i64,
    pub risk: i64,
    /// (component label, tickets), in the list's order; components never used are left out.
    pub components: Vec<(String, i64)>,
}

pub fn period_quality(
    conn: &Connection,
    from: &str,
    to: &str,
    service: Option<i64>,
) -> Result<PeriodQuality> {
    const PERIOD: &str = "t.received_at >= ?1 AND t.received_at < ?2
        AND t.merged_into IS NULL AND (?3 IS NULL OR t.service_id = ?3)";
    let count = |cond: &str| -> Result<i64> {
        Ok(conn.query_row(
            &format!(
                "SELECT count(*) FROM ticket_analysis a JOIN tickets t ON t.id = a.ticket_id
                 WHERE {PERIOD} AND {cond}"
            ),
            params![from, to, service],
            |r| r.get(0),
        )?)
    };
    let components = conn
        .prepare(&format!(
            "SELECT c.label, count(*) FROM ticket_components tc
             JOIN complaint_components c ON c.id = tc.component_id
             JOIN tickets t ON t.id = tc.ticket_id
             WHERE {PERIOD} GROUP BY c.id ORDER BY c.position, c.id"
        ))?
        .query_map(params![from, to, service], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(PeriodQuality {
        fragile: count("a.fragility_id IS NOT NULL")?,
        risk: count("a.risk = 1")?,
        components,
    })
}
