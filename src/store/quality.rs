//! The SQL of a complaint's analysis (issue 20): its components, whether it was founded, the
//! frail citizen, the clinical-risk flag and its references in the trust's other registers;
//! the lists the hospital edits (components, kinds of frailty) and the regional codes.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::{Founded, Kind, State, TicketNumber};

/// A list the hospital edits beside the categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QualityList {
    /// The components a complaint is analysed in (soggettiva, relazionale, …).
    Components,
    /// Why a citizen is frail (anziano, disabile, minore, …).
    Fragility,
}

impl QualityList {
    fn table(self) -> &'static str {
        match self {
            QualityList::Components => "complaint_components",
            QualityList::Fragility => "fragility_kinds",
        }
    }
}

/// One entry of a [`QualityList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListItem {
    pub id: i64,
    pub code: String,
    pub label: String,
    pub active: bool,
}

fn item_of_row(r: &rusqlite::Row) -> rusqlite::Result<ListItem> {
    Ok(ListItem {
        id: r.get(0)?,
        code: r.get(1)?,
        label: r.get(2)?,
        active: r.get(3)?,
    })
}

/// A list's entries in their order (inactive ones too: old tickets still name them).
pub fn list(conn: &Connection, which: QualityList) -> Result<Vec<ListItem>> {
    let sql = format!(
        "SELECT id, code, label, active FROM {} ORDER BY position, id",
        which.table()
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map([], item_of_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items)
}

/// Adds an entry at the end of the list; `None` when the code is taken.
pub fn add_item(
    conn: &Connection,
    which: QualityList,
    code: &str,
    label: &str,
) -> Result<Option<i64>> {
    let table = which.table();
    let taken: bool = conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE code = ?1)"),
        [code],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(None);
    }
    conn.execute(
        &format!(
            "INSERT INTO {table} (code, label, position)
             VALUES (?1, ?2, (SELECT coalesce(max(position), 0) + 10 FROM {table}))"
        ),
        params![code, label],
    )?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Renames or (de)activates an entry; false when there is none.
pub fn update_item(
    conn: &Connection,
    which: QualityList,
    id: i64,
    label: &str,
    active: bool,
) -> Result<bool> {
    let n = conn.execute(
        &format!(
            "UPDATE {} SET label = ?2, active = ?3 WHERE id = ?1",
            which.table()
        ),
        params![id, label, active],
    )?;
    Ok(n == 1)
}

/// A ticket's reference in another register of the trust (incident reporting, claims).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskRef {
    #[serde(skip)]
    pub id: i64,
    pub register: String,
    pub identifier: String,
}

/// A ticket's analysis; a ticket never analysed has the default (nothing recorded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    pub components: Vec<ListItem>,
    pub founded: Option<Founded>,
    /// Internal: never shown to the citizen, removed by the anonymisation.
    pub note: String,
    pub fragility: Option<ListItem>,
    pub risk: bool,
    pub risk_flagged_at: Option<String>,
    pub risk_refs: Vec<RiskRef>,
}

pub fn analysis(conn: &Connection, ticket_id: i64) -> Result<Analysis> {
    let row = conn
        .prepare_cached(
            "SELECT a.founded, a.note, a.risk, a.risk_flagged_at,
                    f.id, f.code, f.label, f.active
             FROM ticket_analysis a LEFT JOIN fragility_kinds f ON f.id = a.fragility_id
             WHERE a.ticket_id = ?1",
        )?
        .query_row([ticket_id], |r| {
            let fragility = match r.get::<_, Option<i64>>(4)? {
                Some(id) => Some(ListItem {
                    id,
                    code: r.get(5)?,
                    label: r.get(6)?,
                    active: r.get(7)?,
                }),
                None => None,
            };
            Ok(Analysis {
                founded: r.get(0)?,
                note: r.get(1)?,
                risk: r.get(2)?,
                risk_flagged_at: r.get(3)?,
                fragility,
                ..Analysis::default()
            })
        })
        .optional()?;
    let mut a = row.unwrap_or_default();
    a.components = conn
        .prepare_cached(
            "SELECT c.id, c.code, c.label, c.active FROM ticket_components tc
             JOIN complaint_components c ON c.id = tc.component_id
             WHERE tc.ticket_id = ?1 ORDER BY c.position, c.id",
        )?
        .query_map([ticket_id], item_of_row)?
        .collect::<rusqlite::Result<_>>()?;
    a.risk_refs = risk_refs(conn, ticket_id)?;
    Ok(a)
}

pub fn risk_refs(conn: &Connection, ticket_id: i64) -> Result<Vec<RiskRef>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, register, identifier FROM ticket_risk_refs WHERE ticket_id = ?1 ORDER BY id",
        )?
        .query_map([ticket_id], |r| {
            Ok(RiskRef {
                id: r.get(0)?,
                register: r.get(1)?,
                identifier: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// What an operator records (the flag's time is kept from its first setting).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalysisInput {
    pub component_ids: Vec<i64>,
    pub founded: Option<Founded>,
    pub note: String,
    pub fragility_id: Option<i64>,
    pub risk: bool,
}

/// Whether every id names an entry of the list (inactive ones included: a ticket may keep one).
pub fn items_exist(conn: &Connection, which: QualityList, ids: &[i64]) -> Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)",
        which.table()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for id in ids {
        if !stmt.query_row([id], |r| r.get::<_, bool>(0))? {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn save_analysis(
    conn: &Connection,
    ticket_id: i64,
    input: &AnalysisInput,
    user_id: i64,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO ticket_analysis (ticket_id, founded, note, fragility_id, risk, risk_flagged_at,
                                      updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 THEN ?6 END, ?6, ?7)
         ON CONFLICT (ticket_id) DO UPDATE SET
            founded = excluded.founded, note = excluded.note, fragility_id = excluded.fragility_id,
            risk = excluded.risk,
            risk_flagged_at = CASE WHEN excluded.risk THEN coalesce(ticket_analysis.risk_flagged_at, ?6) END,
            updated_at = ?6, updated_by = ?7",
        params![
            ticket_id,
            input.founded,
            input.note,
            input.fragility_id,
            input.risk,
            now,
            user_id
        ],
    )?;
    conn.execute(
        "DELETE FROM ticket_components WHERE ticket_id = ?1",
        [ticket_id],
    )?;
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO ticket_components (ticket_id, component_id) VALUES (?1, ?2)",
    )?;
    for c in &input.component_ids {
        add.execute(params![ticket_id, c])?;
    }
    Ok(())
}

/// Adds a reference; false when the ticket already has it.
pub fn add_risk_ref(
    conn: &Connection,
    ticket_id: i64,
    register: &str,
    identifier: &str,
    now: &str,
) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO ticket_risk_refs (ticket_id, register, identifier, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![ticket_id, register, identifier, now],
    )?;
    Ok(n == 1)
}

/// Removes reference `id` of the ticket; false when it has none such.
pub fn remove_risk_ref(conn: &Connection, ticket_id: i64, id: i64) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM ticket_risk_refs WHERE id = ?1 AND ticket_id = ?2",
        params![id, ticket_id],
    )?;
    Ok(n == 1)
}

/// A flagged ticket, as the risk manager's list and `ascolto export risk` show it: codes and
/// dates, no citizen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskRow {
    pub number: TicketNumber,
    pub received_at: String,
    pub flagged_at: Option<String>,
    pub state: State,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub service_name: Option<String>,
    pub founded: Option<Founded>,
    pub fragile: bool,
    pub risk_refs: Vec<RiskRef>,
}

/// The tickets flagged as possible adverse events, newest flag first; of year `year` (of
/// receipt) when given.
pub fn flagged(conn: &Connection, year: Option<i32>) -> Result<Vec<RiskRow>> {
    let mut rows: Vec<(i64, RiskRow)> = conn
        .prepare_cached(
            "SELECT t.id, t.number, t.received_at, a.risk_flagged_at, t.state, t.kind, k.code,
                    s.code, s.name, a.founded, a.fragility_id IS NOT NULL
             FROM ticket_analysis a INDEXED BY ticket_analysis_risk
             JOIN tickets t ON t.id = a.ticket_id
             LEFT JOIN categories k ON k.id = t.category_id
             LEFT JOIN services s ON s.id = t.service_id
             WHERE a.risk = 1 AND (?1 IS NULL OR t.year = ?1)
             ORDER BY a.risk_flagged_at DESC, t.id DESC",
        )?
        .query_map([year], |r| {
            Ok((
                r.get(0)?,
                RiskRow {
                    number: r.get(1)?,
                    received_at: r.get(2)?,
                    flagged_at: r.get(3)?,
                    state: r.get(4)?,
                    kind: r.get(5)?,
                    category: r.get(6)?,
                    service: r.get(7)?,
                    service_name: r.get(8)?,
                    founded: r.get(9)?,
                    fragile: r.get(10)?,
                    risk_refs: Vec::new(),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, row) in &mut rows {
        row.risk_refs = risk_refs(conn, *id)?;
    }
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// What `ascolto export tickets --format json` adds to each ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exported {
    /// Component codes.
    pub components: Vec<String>,
    pub risk: bool,
    pub risk_refs: Vec<RiskRef>,
    pub fragile: bool,
    /// The kind of frailty's code.
    pub fragility: Option<String>,
    pub founded: Option<Founded>,
}

pub fn exported(conn: &Connection, ticket_id: i64) -> Result<Exported> {
    let a = analysis(conn, ticket_id)?;
    Ok(Exported {
        components: a.components.into_iter().map(|c| c.code).collect(),
        risk: a.risk,
        risk_refs: a.risk_refs,
        fragile: a.fragility.is_some(),
        fragility: a.fragility.map(|f| f.code),
        founded: a.founded,
    })
}

/// The anonymisation: the analysis note is an operator's text about the case and may quote the
/// citizen; components, flags and references stay (the statistics stay whole).
pub fn anonymise_due(conn: &Connection, marker: &str) -> Result<()> {
    conn.execute(
        "UPDATE ticket_analysis SET note = ?1
         WHERE note != '' AND ticket_id IN (SELECT id FROM temp.retention_due)",
        [marker],
    )?;
    Ok(())
}

/// A category's regional code, with the macro-category's as the fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionalCode {
    pub category_id: i64,
    pub code: String,
    pub label: String,
    pub is_macro: bool,
    /// Set on this category itself.
    pub own: Option<String>,
    /// What the regional export writes for it.
    pub effective: Option<String>,
}

/// Every category with its regional code, in the list's order.
pub fn regional_codes(conn: &Connection) -> Result<Vec<RegionalCode>> {
    Ok(conn
        .prepare_cached(
            "SELECT c.id, c.code, c.label, c.parent_id IS NULL, r.code, coalesce(r.code, pr.code)
             FROM categories c
             LEFT JOIN regional_codes r ON r.category_id = c.id
             LEFT JOIN regional_codes pr ON pr.category_id = c.parent_id
             ORDER BY c.position, c.id",
        )?
        .query_map([], |r| {
            Ok(RegionalCode {
                category_id: r.get(0)?,
                code: r.get(1)?,
                label: r.get(2)?,
                is_macro: r.get(3)?,
                own: r.get(4)?,
                effective: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Sets (or with `None` removes) a category's regional code; false when there is no such
/// category.
pub fn set_regional_code(conn: &Connection, category_id: i64, code: Option<&str>) -> Result<bool> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM categories WHERE id = ?1)",
        [category_id],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(false);
    }
    match code {
        Some(code) => conn.execute(
            "INSERT INTO regional_codes (category_id, code) VALUES (?1, ?2)
             ON CONFLICT (category_id) DO UPDATE SET code = excluded.code",
            params![category_id, code],
        )?,
        None => conn.execute(
            "DELETE FROM regional_codes WHERE category_id = ?1",
            [category_id],
        )?,
    };
    Ok(true)
}

/// Whether category `id` exists (macro or sub).
pub fn category_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM categories WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?)
}

/// The ids of the accounts with the clinical-risk and quality right.
pub fn risk_managers(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM users WHERE risk_manager = 1 ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Grants or takes away the right; false when there is no such account.
pub fn set_risk_manager(conn: &Connection, user_id: i64, on: bool) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE users SET risk_manager = ?2 WHERE id = ?1",
        params![user_id, on],
    )? == 1)
}
