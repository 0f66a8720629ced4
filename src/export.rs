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
}

fn json_line<T: Serialize>(out: &mut dyn Write, row: &T) -> Result<()> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn tickets(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
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
        Format::Json => query::quarantine(conn, |row| json_line(out, &row))?,
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut *out);
            query::quarantine(conn, |row| Ok(csv.serialize(row)?))?;
            csv.flush()?;
        }
    }
    Ok(())
}
