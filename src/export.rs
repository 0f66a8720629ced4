//! `ascolto export …`: tickets and quarantine for scripts and spreadsheets.

use std::io::Write;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

use crate::store::query;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// Aligned columns for a terminal (a summary: not every field).
    Table,
}

fn json_line<T: Serialize>(out: &mut dyn Write, row: &T) -> Result<()> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn tickets(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => {
            let mut rows = Vec::new();
            query::tickets(conn, |t| {
                let citizen = match &t.citizen_name {
                    Some(name) => format!("{name} <{}>", t.citizen_email),
                    None => t.citizen_email.clone(),
                };
                rows.push(vec![
                    t.number,
                    t.received_at,
                    t.state,
                    if t.pec { "pec".into() } else { "email".into() },
                    t.kind.unwrap_or_else(|| "-".into()),
                    t.category.unwrap_or_else(|| "-".into()),
                    t.service.unwrap_or_else(|| "-".into()),
                    citizen,
                    t.subject,
                ]);
                Ok(())
            })?;
            let header = [
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
            table(out, &header, rows)?;
        }
        Format::Json => query::tickets(conn, |row| json_line(out, &row))?,
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut *out);
            query::tickets(conn, |row| Ok(csv.serialize(row)?))?;
            csv.flush()?;
        }
    }
    Ok(())
}

pub fn quarantine(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => {
            let mut rows = Vec::new();
            query::quarantine(conn, |q| {
                rows.push(vec![
                    q.id.to_string(),
                    q.received_at,
                    q.kind,
                    q.size.to_string(),
                    q.reason,
                ]);
                Ok(())
            })?;
            table(out, &["id", "received_at", "kind", "size", "reason"], rows)?;
        }
        Format::Json => query::quarantine(conn, |row| json_line(out, &row))?,
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut *out);
            query::quarantine(conn, |row| Ok(csv.serialize(row)?))?;
            csv.flush()?;
        }
    }
    Ok(())
}

/// Writes aligned columns; long cells are cut (terminal display only: escapes control
/// characters, which citizen-supplied text may contain).
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
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
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
