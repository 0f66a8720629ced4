//! `ascolto export risk | transparency | regional` (issue 20): the flagged tickets for the
//! risk manager, the year's transparency report, and one row per ticket for the regional flows.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::domain::time::to_rome;
use crate::export::{csv_cell, Format};
use crate::store::quality as sql;
use crate::store::transparency::{self as figures, RegionalRow};
use crate::transparency::{self, Styling};

/// The transparency report's formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A printable page (style built in).
    Html,
    /// `sezione,voce,valore`.
    Csv,
}

/// The regional export's formats (the flows take CSV).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RegionalFormat {
    Csv,
}

/// The tickets flagged as possible adverse events (of `year` when given): JSON lines, or CSV
/// with the register references joined as `register:identifier; …`.
pub fn risk(
    conn: &Connection,
    year: Option<i32>,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let rows = sql::flagged(conn, year)?;
    match format {
        Format::Json => {
            for r in &rows {
                serde_json::to_writer(&mut *out, r)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv | Format::Table => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record([
                "number",
                "received_at",
                "flagged_at",
                "state",
                "kind",
                "category",
                "service",
                "founded",
                "fragile",
                "risk_refs",
            ])?;
            for r in &rows {
                let refs = r
                    .risk_refs
                    .iter()
                    .map(|x| format!("{}:{}", x.register, x.identifier))
                    .collect::<Vec<_>>()
                    .join("; ");
                w.write_record([
                    r.number.to_string().as_str(),
                    &r.received_at,
                    r.flagged_at.as_deref().unwrap_or(""),
                    r.state.as_str(),
                    r.kind.map(|k| k.as_str()).unwrap_or(""),
                    r.category.as_deref().unwrap_or(""),
                    r.service.as_deref().unwrap_or(""),
                    r.founded.map(|f| f.as_str()).unwrap_or(""),
                    if r.fragile { "1" } else { "0" },
                    &csv_cell(&refs),
                ])?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// The year's transparency report.
pub fn transparency(
    conn: &Connection,
    year: i32,
    office: &str,
    min_count: u32,
    format: ReportFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let report = transparency::build(conn, year, office, min_count)?;
    match format {
        ReportFormat::Html => out.write_all(
            transparency::html(&report, Styling::Embedded)
                .into_string()
                .as_bytes(),
        )?,
        ReportFormat::Csv => out.write_all(&transparency::csv(&report)?)?,
    }
    Ok(())
}

/// The regional export's columns, in order (README "Regional export").
pub const REGIONAL_HEADER: [&str; 10] = [
    "trust",
    "ticket",
    "structure",
    "received_date",
    "channel",
    "kind",
    "category_code",
    "outcome",
    "days_to_answer",
    "reviewed",
];

/// Calendar days (Europe/Rome) from receipt to the first answer.
pub fn days_to_answer(received_at: &str, answered_at: &str) -> Option<i64> {
    let day = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| to_rome(t.with_timezone(&Utc)).date_naive())
    };
    Some((day(answered_at)? - day(received_at)?).num_days())
}

fn regional_cells(trust: &str, r: &RegionalRow) -> Vec<String> {
    let received = DateTime::parse_from_rfc3339(&r.received_at)
        .map(|t| {
            to_rome(t.with_timezone(&Utc))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    vec![
        trust.to_string(),
        r.number.to_string(),
        r.service.clone().unwrap_or_default(),
        received,
        r.channel.as_str().to_string(),
        r.kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        r.regional_code.clone().unwrap_or_default(),
        r.outcome
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
        r.first_answered_at
            .as_deref()
            .and_then(|a| days_to_answer(&r.received_at, a))
            .map(|d| d.to_string())
            .unwrap_or_default(),
        // 1 when a second-level review (riesame) was opened, else 0.
        u8::from(r.reviewed).to_string(),
    ]
}

/// One row per ticket of `year`.
pub fn regional(
    conn: &Connection,
    year: i32,
    trust: &str,
    _format: RegionalFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(&mut *out);
    w.write_record(REGIONAL_HEADER)?;
    for r in figures::regional_rows(conn, year)? {
        let cells = regional_cells(trust, &r);
        w.write_record(cells.iter().map(|c| csv_cell(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_to_answer_counts_rome_calendar_days() {
        // 23:30 UTC on 31 March is already 1 April in Rome.
        assert_eq!(
            days_to_answer("2026-03-31T23:30:00Z", "2026-04-03T08:00:00Z"),
            Some(2)
        );
        assert_eq!(
            days_to_answer("2026-03-10T08:00:00Z", "2026-03-10T17:00:00Z"),
            Some(0)
        );
    }
}
