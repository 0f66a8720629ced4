//! `ascolto export …`: tickets and quarantine for scripts, spreadsheets and terminals.
//!
//! Every CSV ascolto writes (here and the statistics page's) passes its cells through
//! [`csv_cell`], so that a citizen's name or subject never runs as a spreadsheet formula.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

use crate::domain::{AuditAction, AuditActor};
use crate::domain::{Channel, Kind, State, TicketNumber};
use crate::store::citizens;
use crate::store::outbox::{self, OutboxRow};
use crate::store::quarantine::{self, QuarantineRow};
use crate::store::tickets::{self, MessageCounts, Ticket};

/// A ticket as exported: the contract of `ascolto export tickets` (its keys do not change).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TicketRow {
    pub number: TicketNumber,
    pub state: State,
    pub kind: Option<Kind>,
    /// Subject code, e.g. "TEM.02".
    pub category: Option<String>,
    pub category_label: Option<String>,
    /// Service code, e.g. "PS".
    pub service: Option<String>,
    pub service_name: Option<String>,
    pub citizen_email: String,
    pub citizen_name: Option<String>,
    /// Our mail to the citizen bounced: automatic mail to them has stopped.
    pub citizen_bouncing: bool,
    pub subject: String,
    pub received_at: String,
    pub due_at: String,
    pub pec: bool,
    pub needs_attention: bool,
    pub linked_to: Option<TicketNumber>,
    /// Messages from the citizen (automatic mail and services' reports excluded).
    pub inbound_messages: i64,
    /// Every message on the ticket, in and out, automatic included.
    pub messages: i64,
    pub reopen_count: i64,
    /// How it came: `email`, `pec`, `web`, `telefono`, `sportello`, `lettera` (issue 15; last,
    /// so that the CSV's earlier columns stay where they were).
    pub channel: Channel,
}

impl TicketRow {
    fn of(t: Ticket, counts: MessageCounts) -> TicketRow {
        let (category, category_label) = t.category.map(|c| (c.code, c.label)).unzip();
        let (service, service_name) = t.service.map(|s| (s.code, s.label)).unzip();
        TicketRow {
            number: t.number,
            state: t.state,
            kind: t.kind,
            category,
            category_label,
            service,
            service_name,
            // A citizen without e-mail (issue 15) exports an empty address, not the placeholder.
            citizen_email: if crate::domain::address::has_email(&t.citizen.email) {
                t.citizen.email
            } else {
                String::new()
            },
            citizen_name: t.citizen.name,
            citizen_bouncing: t.citizen.bouncing_since.is_some(),
            subject: t.subject,
            received_at: t.received_at,
            due_at: t.due_at,
            pec: t.channel == Channel::Pec,
            needs_attention: t.needs_attention,
            linked_to: t.linked_to,
            inbound_messages: counts.inbound,
            messages: counts.all,
            reopen_count: t.reopen_count,
            channel: t.channel,
        }
    }
}

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
            self.number.to_string(),
            self.received_at,
            self.state.to_string(),
            self.channel.to_string(),
            self.kind.map_or_else(dash, |k| k.to_string()),
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
            self.kind.to_string(),
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
            self.ticket.map_or_else(|| "-".into(), |n| n.to_string()),
            self.kind.to_string(),
            self.to,
            self.state.to_string(),
            self.attempts.to_string(),
            self.created_at,
            self.last_error.unwrap_or_default(),
        ]
    }
}

/// A cell as a spreadsheet may open it safely (OWASP, "CSV injection"): text that begins with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel and LibreOffice as a formula
/// (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`), so it gets a leading `'`, which makes it text. A cell
/// that is a plain number (`-3`, `-1,5`, `2.5`) is left alone: it runs nothing, and a quote would
/// turn a figure of the statistics into text.
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && !plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `-12`, `3,5`, `-0.25`: an optional minus, digits, and at most one decimal separator between
/// digits. Nothing else (no exponent, no sign but a leading minus).
fn plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let mut parts = digits.splitn(2, ['.', ',']);
    let whole =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let int = parts.next();
    match parts.next() {
        None => whole(int),
        frac => whole(int) && whole(frac),
    }
}

/// An exported row with its text passed through [`csv_cell`] for a CSV (numbers and flags are
/// typed, so they stay as they are). Each impl names every field, so that a new one cannot be
/// forgotten.
trait ForSpreadsheet {
    fn for_spreadsheet(self) -> Self;
}

fn text(s: String) -> String {
    match csv_cell(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(safe) => safe,
    }
}

fn maybe_text(s: Option<String>) -> Option<String> {
    s.map(text)
}

impl ForSpreadsheet for TicketRow {
    fn for_spreadsheet(self) -> Self {
        let TicketRow {
            number,
            state,
            kind,
            category,
            category_label,
            service,
            service_name,
            citizen_email,
            citizen_name,
            citizen_bouncing,
            subject,
            received_at,
            due_at,
            pec,
            needs_attention,
            linked_to,
            inbound_messages,
            messages,
            reopen_count,
            channel,
        } = self;
        TicketRow {
            number,
            state,
            kind,
            category: maybe_text(category),
            category_label: maybe_text(category_label),
            service: maybe_text(service),
            service_name: maybe_text(service_name),
            citizen_email: text(citizen_email),
            citizen_name: maybe_text(citizen_name),
            citizen_bouncing,
            subject: text(subject),
            received_at: text(received_at),
            due_at: text(due_at),
            pec,
            needs_attention,
            linked_to,
            inbound_messages,
            messages,
            reopen_count,
            channel,
        }
    }
}

impl ForSpreadsheet for QuarantineRow {
    fn for_spreadsheet(self) -> Self {
        let QuarantineRow {
            id,
            received_at,
            kind,
            reason,
            size,
            source,
            resolved,
        } = self;
        QuarantineRow {
            id,
            received_at: text(received_at),
            kind,
            reason: text(reason),
            size,
            source: text(source),
            resolved,
        }
    }
}

impl ForSpreadsheet for OutboxRow {
    fn for_spreadsheet(self) -> Self {
        let OutboxRow {
            id,
            ticket,
            kind,
            to,
            subject,
            state,
            attempts,
            last_error,
            created_at,
            sent_at,
            message_id,
        } = self;
        OutboxRow {
            id,
            ticket,
            kind,
            to: text(to),
            subject: text(subject),
            state,
            attempts,
            last_error: maybe_text(last_error),
            created_at: text(created_at),
            sent_at: maybe_text(sent_at),
            message_id: text(message_id),
        }
    }
}

pub fn outbox(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    write(format, out, |each| outbox::each(conn, each))
}

/// The tickets; as JSON each also carries its `requests` of the istruttoria (`service`, `to`,
/// `sent_at`, `due_at`, `answered_at`, `state`, and the request's `tag`), its effective deadline
/// `due_at_effective` (issue 19: `due_at` is the same; the key says so for scripts) and its
/// `deadline_changes` (`kind`: suspended, resumed or extended; `at`, `reason`, the `due_at`
/// after it, and `to_days` for an extension) and its second-level `review` (null, or `body`,
/// `opened_at`, `closed_at`, `outcome`).
/// `sent_at`, `due_at`, `answered_at`, `state`, and the request's `tag`), and its analysis
/// (issue 20: `components`, `risk`, `risk_refs`, `fragile`, `fragility`, `founded`).
pub fn tickets(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    if format == Format::Json {
        return tickets::each_ticket(conn, &mut |t, counts| {
            let requests = crate::store::requests::exported(conn, t.id)?;
            let id = t.id;
            let changes = crate::store::deadlines::changes(conn, id)?;
            let effective = t.due_at.clone();
            let quality = crate::store::quality::exported(conn, id)?;
            let mut row = serde_json::to_value(TicketRow::of(t, counts))?;
            row["requests"] = serde_json::to_value(requests)?;
            row["due_at_effective"] = serde_json::Value::String(effective);
            row["deadline_changes"] = serde_json::to_value(changes)?;
            row["review"] = serde_json::to_value(crate::store::reviews::of_ticket(conn, id)?)?;
            // Issue 20: components, risk_refs, fragile, founded (and risk, fragility).
            if let (Some(row), serde_json::Value::Object(extra)) =
                (row.as_object_mut(), serde_json::to_value(quality)?)
            {
                row.extend(extra);
            }
            serde_json::to_writer(&mut *out, &row)?;
            out.write_all(b"\n")?;
            Ok(())
        });
    }
    write(format, out, |each| {
        tickets::each_ticket(conn, &mut |t, counts| each(TicketRow::of(t, counts)))
    })
}

pub fn quarantine(conn: &Connection, format: Format, out: &mut dyn Write) -> Result<()> {
    write(format, out, |each| quarantine::each(conn, each))
}

/// Streams the rows a query yields in `format` (the table, which needs column widths, is
/// gathered first).
fn write<T: Serialize + Tabular + ForSpreadsheet>(
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
            query(&mut |row: T| Ok(csv.serialize(row.for_spreadsheet())?))?;
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
    let contacts = citizens::contacts(conn, email.trim())?;
    let mut tickets = Vec::new();
    for contact in &contacts {
        for t in citizens::tickets(conn, contact.id)? {
            let mut ticket = serde_json::to_value(&t)?;
            ticket["messages"] = serde_json::to_value(citizens::messages(conn, t.id)?)?;
            // The citizen's page links in those mails are keys, never exported (issue 15).
            let mut sent = citizens::notifications(conn, t.id)?;
            for n in &mut sent {
                n.body = crate::citizen_link::redact(&n.body);
            }
            ticket["notifications"] = serde_json::to_value(sent)?;
            tickets.push(ticket);
        }
    }
    crate::store::audit::record(
        conn,
        AuditActor::Cli,
        AuditAction::CitizenExported,
        None,
        json!({ "contacts": contacts.len(), "tickets": tickets.len() }),
    )?;
    let doc = json!({
        "email": email.trim(),
        "exported_at": crate::store::now_text(),
        "contacts": contacts,
        "tickets": Value::Array(tickets),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_become_text() {
        for formula in [
            "=HYPERLINK(\"http://evil.test\",\"x\")",
            "=cmd|' /C calc'!A0",
            "+39 333 1234567",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "\t=1+1",
            "\r=1+1",
            "-",
            "-1,5,2",
            "-1e3",
            "-inf",
        ] {
            assert_eq!(csv_cell(formula), format!("'{formula}"), "{formula:?}");
        }
        // Numbers (the statistics' figures) and ordinary text stay as they are.
        for plain in [
            "-3",
            "-1,5",
            "-0.25",
            "12",
            "25,0",
            "",
            "Pronto soccorso",
            "'=già testo",
            " =1",
            "URP-2026-000001",
            "mario@example.test",
        ] {
            assert_eq!(csv_cell(plain), plain, "{plain:?}");
        }
    }

    #[test]
    fn the_csv_export_neutralises_text_and_keeps_typed_values() {
        let row = TicketRow {
            number: "URP-2026-000001".parse().unwrap(),
            state: State::Pending,
            kind: None,
            category: None,
            category_label: Some("@label".into()),
            service: None,
            service_name: Some("=service".into()),
            citizen_email: "a@example.test".into(),
            citizen_name: Some("=HYPERLINK(\"http://evil.test\")".into()),
            citizen_bouncing: false,
            subject: "=cmd|' /C calc'!A0".into(),
            received_at: "2026-01-01T00:00:00Z".into(),
            due_at: "2026-01-31T00:00:00Z".into(),
            pec: false,
            needs_attention: true,
            linked_to: None,
            inbound_messages: 1,
            messages: 2,
            reopen_count: 0,
            channel: Channel::Email,
        };
        let mut out = Vec::new();
        write(Format::Csv, &mut out, |each| each(row.clone())).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(",'@label,"), "{text}");
        assert!(text.contains(",'=service,"), "{text}");
        assert!(
            text.contains("\"'=HYPERLINK(\"\"http://evil.test\"\")\""),
            "{text}"
        );
        assert!(text.contains(",'=cmd|' /C calc'!A0,"), "{text}");
        // JSON is data, not a spreadsheet: as it came.
        let mut out = Vec::new();
        write(Format::Json, &mut out, |each| each(row.clone())).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("\"subject\":\"=cmd|"));
    }

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
