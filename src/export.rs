//! `ascolto export …`: tickets and quarantine for scripts, spreadsheets and terminals.

use std::io::Write;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

use crate::store::query::{self, OutboxRow, QuarantineRow, TicketRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// Aligned columns for a terminal (a summary: not every field).
    Table,
}

/// A row that can also be shown as a few terminal columns.
trait Tabular {
    const HEADER: &'static [&'static str];
    fn cells(self) -> Vec<String>;
}

impl Tabular for TicketRow {
    const HEADER: &'static [&'static str] = &[
        "number",
        "received_at",
        "state",
        "channel",
        "kind",
        "category",
        "service",
        "citizen",
        "subject",
    ];

    fn cells(self) -> Vec<String> {
        let citizen = match &self.citizen_name {
            Some(name) => format!("{name} <{}>", self.citizen_email),
            None => self.citizen_email,
        };
        let dash = || "-".to_string();
        vec![
            self.number,
            self.received_at,
            self.state,
            if self.pec {
                "pec".into()
            } else {
                "email".into()
            },
            self.kind.unwrap_or_else(dash),
            self.category.unwrap_or_else(dash),
            self.service.unwrap_or_else(dash),
            citizen,
            self.subject,
        ]
    }
}

impl Tabular for QuarantineRow {
    const HEADER: &'static [&'static str] = &["id", "received_at", "kind", "size", "reason"];

    fn cells(self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.received_at,
            self.kind,
            self.size.to_string(),
            self.reason,
        ]
    }
}

impl Tabular for OutboxRow {
    const HEADER: &'static [&'static str] = &[
        "id",
        "ticket",
        "kind",
        "to",
        "state",
        "attempts",
        "created_at",
        "last_error",
    ];

    fn cells(self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.ticket.unwrap_or_else(|| "-".into()),
            self.kind,
            self.to,
            self.state,
            self.attempts.to_string(),
            self.created_at,
            self.last_error.unwrap_or_default(),
        ]
    }
}

pub fn outbox(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    write(format, out, |each| query::outbox(conn, each))
}

pub fn tickets(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    write(format, out, |each| query::tickets(conn, each))
}

pub fn quarantine(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    write(format, out, |each| query::quarantine(conn, each))
}

/// Streams the rows a query yields in `format` (the table, which needs column widths, is
/// gathered first).
fn write<T: Serialize + Tabular>(
    format: Format,
    out: &mut dyn Write,
    query: impl FnOnce(&mut dyn FnMut(T) -> Result<()>) -> Result<()>,
) -> Result<()> {
    match format {
        Format::Json => query(&mut |row| {
            serde_json::to_writer(&mut *out, &row)?;
            out.write_all(b"\n")?;
            Ok(())
        })?,
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut *out);
            query(&mut |row| Ok(csv.serialize(row)?))?;
            csv.flush()?;
        }
        Format::Table => {
            let mut rows = Vec::new();
            query(&mut |row: T| {
                rows.push(row.cells());
                Ok(())
            })?;
            table(out, T::HEADER, rows)?;
        }
    }
    Ok(())
}

/// Writes aligned columns; long cells are cut and control characters (which citizen-supplied
/// text may contain) blanked, for terminal display only.
fn table(out: &mut dyn Write, header: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
    const MAX_CELL: usize = 60;
    let clean = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match s.char_indices().nth(MAX_CELL) {
            Some((cut, _)) => format!("{}…", &s[..cut]),
            None => s,
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len() - 1;
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    writeln!(out, "({} rows)", rows.len())?;
    Ok(())
}

/// `ascolto export stats`: the figures of the statistics page, from the same code.
pub fn stats(
    conn: &Connection,
    year: i32,
    month: Option<u32>,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let scope = match month {
        Some(m) => crate::stats::Scope::month(year, m),
        None => crate::stats::Scope::year(year),
    }
    .ok_or_else(|| anyhow::anyhow!("no such period: year {year}, month {month:?}"))?;
    let report = crate::stats::report(conn, &scope, chrono::Utc::now())?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Csv | Format::Table => {
            for (i, t) in crate::web::stats::tables(&report).iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "# {}", t.name)?;
                out.write_all(&crate::web::stats::write_csv(t, false)?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_blanks_control_characters_and_cuts_long_cells() {
        let mut out = Vec::new();
        let long = "x".repeat(100);
        table(
            &mut out,
            &["a", "b"],
            vec![vec!["evil\x1b[31m".into(), long]],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains(&format!("{}…", "x".repeat(60))), "{text}");
        assert!(text.ends_with("(1 rows)\n"));
    }
}
