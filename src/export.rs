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

/// `ascolto export citizen`: everything stored about the citizen writing from `email`
/// (addresses compare without case), as JSON. The export itself is audited (without the
/// address).
pub fn citizen(conn: &Connection, email: &str, out: &mut dyn Write) -> Result<()> {
    use serde_json::{json, Value};
    let contacts: Vec<(i64, String, Option<String>, String)> = conn
        .prepare("SELECT id, email, name, created_at FROM contacts WHERE email = ?1")?
        .query_map([email.trim()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut tickets = Vec::new();
    for (contact_id, ..) in &contacts {
        let mut st = conn.prepare(
            "SELECT t.id, t.number, t.subject, t.kind, c.code, c.label, s.name, t.state,
                    t.outcome, t.channel, t.received_at, t.taken_in_charge_at,
                    t.first_answered_at, t.closed_at, t.anonymised_at
             FROM tickets t LEFT JOIN categories c ON c.id = t.category_id
             LEFT JOIN services s ON s.id = t.service_id
             WHERE t.contact_id = ?1 ORDER BY t.id",
        )?;
        let rows: Vec<(i64, Value)> = st
            .query_map([contact_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    json!({
                        "number": r.get::<_, String>(1)?,
                        "subject": r.get::<_, String>(2)?,
                        "kind": r.get::<_, Option<String>>(3)?,
                        "category_code": r.get::<_, Option<String>>(4)?,
                        "category": r.get::<_, Option<String>>(5)?,
                        "service": r.get::<_, Option<String>>(6)?,
                        "state": r.get::<_, String>(7)?,
                        "outcome": r.get::<_, Option<String>>(8)?,
                        "channel": r.get::<_, String>(9)?,
                        "received_at": r.get::<_, String>(10)?,
                        "taken_in_charge_at": r.get::<_, Option<String>>(11)?,
                        "first_answered_at": r.get::<_, Option<String>>(12)?,
                        "closed_at": r.get::<_, Option<String>>(13)?,
                        "anonymised_at": r.get::<_, Option<String>>(14)?,
                    }),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (ticket_id, mut ticket) in rows {
            let messages: Vec<Value> = conn
                .prepare(
                    "SELECT m.id, m.direction, m.received_at, m.from_email, m.from_name, m.subject,
                            m.body_text, m.automatic
                     FROM messages m WHERE m.ticket_id = ?1 ORDER BY m.id",
                )?
                .query_map([ticket_id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        json!({
                            "direction": r.get::<_, String>(1)?,
                            "at": r.get::<_, String>(2)?,
                            "from_email": r.get::<_, Option<String>>(3)?,
                            "from_name": r.get::<_, Option<String>>(4)?,
                            "subject": r.get::<_, String>(5)?,
                            "body": r.get::<_, String>(6)?,
                            "automatic": r.get::<_, Option<String>>(7)?,
                        }),
                    ))
                })?
                .map(|row| {
                    let (id, mut m) = row?;
                    let attachments: Vec<Value> = conn
                        .prepare_cached(
                            "SELECT filename, content_type, size FROM attachments
                             WHERE message_id = ?1 ORDER BY position",
                        )?
                        .query_map([id], |r| {
                            Ok(json!({
                                "filename": r.get::<_, Option<String>>(0)?,
                                "content_type": r.get::<_, String>(1)?,
                                "size": r.get::<_, i64>(2)?,
                            }))
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    m["attachments"] = Value::Array(attachments);
                    Ok(m)
                })
                .collect::<rusqlite::Result<_>>()?;
            let sent: Vec<Value> = conn
                .prepare(
                    "SELECT kind, to_address, subject, body_text, state, sent_at FROM outbox
                     WHERE ticket_id = ?1 AND kind != 'new_ticket' ORDER BY id",
                )?
                .query_map([ticket_id], |r| {
                    Ok(json!({
                        "kind": r.get::<_, String>(0)?,
                        "to": r.get::<_, String>(1)?,
                        "subject": r.get::<_, String>(2)?,
                        "body": r.get::<_, String>(3)?,
                        "state": r.get::<_, String>(4)?,
                        "sent_at": r.get::<_, Option<String>>(5)?,
                    }))
                })?
                .collect::<rusqlite::Result<_>>()?;
            ticket["messages"] = Value::Array(messages);
            ticket["notifications"] = Value::Array(sent);
            tickets.push(ticket);
        }
    }
    crate::store::audit::record(
        conn,
        "cli",
        "citizen.exported",
        None,
        json!({ "contacts": contacts.len(), "tickets": tickets.len() }),
    )?;
    let doc = json!({
        "email": email.trim(),
        "exported_at": crate::store::now_text(),
        "contacts": contacts.iter().map(|(_, e, n, at)| json!({"email": e, "name": n, "first_seen": at})).collect::<Vec<_>>(),
        "tickets": tickets,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
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
