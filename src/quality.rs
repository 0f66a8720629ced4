//! From complaints to improvement (issue 20): the analysis of a complaint (components, founded,
//! frail citizen, internal note), the clinical-risk flag and its register references,
//! improvement actions, the lists the hospital edits and the regional codes.
//!
//! Each function runs inside the caller's transaction, checks what it is given, writes through
//! `store::quality` / `store::improvement` and audits (codes and ids only, never the note's
//! text). Who may call which is decided by the caller's extractor; the functions refuse a
//! viewer where the step works tickets.

use chrono::NaiveDate;
use rusqlite::Connection;
use serde_json::json;

use crate::domain::{ActionState, Actor, AuditAction, Founded, TicketNumber};
use crate::store::improvement::{self as actions_sql, ActionInput};
use crate::store::quality::{self as sql, AnalysisInput, QualityList};
use crate::store::{self, audit};

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("no such ticket or action")]
    NotFound,
    #[error("this account may not make this change")]
    Forbidden,
    #[error("{0}")]
    Invalid(Invalid),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<rusqlite::Error> for QualityError {
    fn from(e: rusqlite::Error) -> Self {
        QualityError::Other(e.into())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("unknown component")]
    UnknownComponent,
    #[error("unknown kind of frailty")]
    UnknownFragility,
    #[error("a register reference needs the register's name and the identifier")]
    EmptyRiskRef,
    #[error("the action needs a title")]
    EmptyTitle,
    #[error("the due date is not a date like 2026-12-31")]
    BadDueDate,
    #[error("unknown service")]
    UnknownService,
    #[error("no ticket {0}")]
    UnknownTicket(String),
    #[error("unknown category")]
    UnknownCategory,
    #[error(
        "a code and a label are required; the code has capital letters, digits, '.', '-', '_'"
    )]
    CodeOrLabelMissing,
    #[error("the code {0} is already used")]
    CodeTaken(String),
}

pub type Result<T> = std::result::Result<T, QualityError>;

/// Longest internal analysis note kept (a few paragraphs).
const MAX_NOTE_CHARS: usize = 4000;
/// Longest register name or identifier.
const MAX_REF_CHARS: usize = 120;

fn invalid<T>(why: Invalid) -> Result<T> {
    Err(QualityError::Invalid(why))
}

fn refuse_viewer(actor: &Actor) -> Result<()> {
    if actor.role.works_tickets() {
        Ok(())
    } else {
        Err(QualityError::Forbidden)
    }
}

fn ticket_exists(conn: &Connection, ticket_id: i64) -> Result<()> {
    match store::tickets::ticket(conn, ticket_id)? {
        Some(_) => Ok(()),
        None => Err(QualityError::NotFound),
    }
}

/// The clinical-risk office's mail, when the operator asks for it (`[quality] risk_office`).
pub struct RiskAlert<'a> {
    pub notifier: &'a crate::notify::Notifier,
    pub to: &'a str,
    /// What the operator wrote for the office (the only personal data the mail can hold).
    pub note: Option<&'a str>,
}

/// Records a ticket's analysis. Returns whether the risk flag was set now (it was not before);
/// then `alert`, if given, is queued in the same transaction.
pub fn analyse(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    input: &AnalysisInput,
    alert: Option<RiskAlert<'_>>,
) -> Result<bool> {
    refuse_viewer(actor)?;
    ticket_exists(conn, ticket_id)?;
    if !sql::items_exist(conn, QualityList::Components, &input.component_ids)? {
        return invalid(Invalid::UnknownComponent);
    }
    if let Some(f) = input.fragility_id {
        if !sql::items_exist(conn, QualityList::Fragility, &[f])? {
            return invalid(Invalid::UnknownFragility);
        }
    }
    let before = sql::analysis(conn, ticket_id)?;
    let mut input = input.clone();
    input.note = input.note.trim().chars().take(MAX_NOTE_CHARS).collect();
    sql::save_analysis(conn, ticket_id, &input, actor.id, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnalysed,
        Some(ticket_id),
        json!({
            "components": input.component_ids,
            "founded": input.founded.map(Founded::as_str),
            "fragility": input.fragility_id,
            "note_changed": before.note != input.note,
        }),
    )?;
    let flagged_now = input.risk && !before.risk;
    if input.risk != before.risk {
        let action = if input.risk {
            AuditAction::TicketRiskFlagged
        } else {
            AuditAction::TicketRiskUnflagged
        };
        audit::record(conn, actor.audit(), action, Some(ticket_id), json!({}))?;
    }
    if let Some(alert) = alert.filter(|_| flagged_now) {
        let note = alert.note.map(str::trim).filter(|n| !n.is_empty());
        let queued = alert
            .notifier
            .to_risk_office(conn, ticket_id, alert.to, note)?;
        audit::record(
            conn,
            actor.audit(),
            AuditAction::TicketRiskFlagged,
            Some(ticket_id),
            json!({ "risk_office_mail": queued.outbox_id, "with_note": note.is_some() }),
        )?;
    }
    Ok(flagged_now)
}

/// Adds a reference in the trust's incident or claims register.
pub fn add_risk_ref(
    conn: &Connection,
    actor: &Actor,
    ticket_id: i64,
    register: &str,
    identifier: &str,
) -> Result<()> {
    ticket_exists(conn, ticket_id)?;
    let (register, identifier) = (register.trim(), identifier.trim());
    if register.is_empty()
        || identifier.is_empty()
        || register.chars().count() > MAX_REF_CHARS
        || identifier.chars().count() > MAX_REF_CHARS
    {
        return invalid(Invalid::EmptyRiskRef);
    }
    if sql::add_risk_ref(conn, ticket_id, register, identifier, &store::now_text())? {
        audit::record(
            conn,
            actor.audit(),
            AuditAction::TicketRiskFlagged,
            Some(ticket_id),
            json!({ "register": register, "identifier": identifier }),
        )?;
    }
    Ok(())
}

pub fn remove_risk_ref(conn: &Connection, actor: &Actor, ticket_id: i64, id: i64) -> Result<()> {
    if !sql::remove_risk_ref(conn, ticket_id, id)? {
        return Err(QualityError::NotFound);
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketRiskFlagged,
        Some(ticket_id),
        json!({ "removed_ref": id }),
    )?;
    Ok(())
}

/// An improvement action as a form gives it: ticket numbers and a date still as text.
#[derive(Clone, Debug, Default)]
pub struct ActionForm {
    pub title: String,
    pub description: String,
    pub service_id: Option<i64>,
    pub owner: String,
    pub due_date: String,
    pub state: Option<ActionState>,
    pub tickets: String,
    pub category_ids: Vec<i64>,
}

fn action_input(conn: &Connection, form: &ActionForm) -> Result<ActionInput> {
    let title = form.title.trim();
    if title.is_empty() {
        return invalid(Invalid::EmptyTitle);
    }
    let due_date = match form.due_date.trim() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(day) => Some(day.format("%Y-%m-%d").to_string()),
            Err(_) => return invalid(Invalid::BadDueDate),
        },
    };
    if let Some(s) = form.service_id {
        if !store::tickets::service_exists(conn, s)? {
            return invalid(Invalid::UnknownService);
        }
    }
    let mut ticket_ids = Vec::new();
    for word in form
        .tickets
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let id = word
            .parse::<TicketNumber>()
            .ok()
            .map(|n| store::tickets::id_by_number(conn, &n))
            .transpose()?
            .flatten();
        match id {
            Some(id) => ticket_ids.push(id),
            None => return invalid(Invalid::UnknownTicket(word.chars().take(40).collect())),
        }
    }
    for c in &form.category_ids {
        if !sql::category_exists(conn, *c)? {
            return invalid(Invalid::UnknownCategory);
        }
    }
    Ok(ActionInput {
        title: title.chars().take(300).collect(),
        description: form
            .description
            .trim()
            .chars()
            .take(MAX_NOTE_CHARS)
            .collect(),
        service_id: form.service_id,
        owner: form.owner.trim().chars().take(200).collect(),
        due_date,
        state: form.state,
        ticket_ids,
        category_ids: form.category_ids.clone(),
    })
}

/// Creates an improvement action; `risk_manager`: the account's quality right.
pub fn create_action(
    conn: &Connection,
    actor: &Actor,
    risk_manager: bool,
    form: &ActionForm,
) -> Result<i64> {
    if !risk_manager {
        refuse_viewer(actor)?;
    }
    let input = action_input(conn, form)?;
    let id = actions_sql::insert(conn, &input, &store::now_text())?;
    audit::record(
        conn,
        actor.audit(),
        AuditAction::ImprovementCreated,
        None,
        action_detail(id, &input),
    )?;
    Ok(id)
}

pub fn update_action(
    conn: &Connection,
    actor: &Actor,
    risk_manager: bool,
    id: i64,
    form: &ActionForm,
) -> Result<()> {
    if !risk_manager {
        refuse_viewer(actor)?;
    }
    let input = action_input(conn, form)?;
    if !actions_sql::update(conn, id, &input, &store::now_text())? {
        return Err(QualityError::NotFound);
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::ImprovementUpdated,
        None,
        action_detail(id, &input),
    )?;
    Ok(())
}

fn action_detail(id: i64, input: &ActionInput) -> serde_json::Value {
    json!({
        "action": id,
        "state": input.state.unwrap_or(ActionState::Proposed).as_str(),
        "service": input.service_id,
        "due_date": input.due_date,
        "tickets": input.ticket_ids,
        "categories": input.category_ids,
    })
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 20
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// An administrator adds an entry to a list.
pub fn add_list_item(
    conn: &Connection,
    actor: &Actor,
    which: QualityList,
    code: &str,
    label: &str,
) -> Result<i64> {
    let (code, label) = (code.trim().to_ascii_uppercase(), label.trim());
    if !valid_code(&code) || label.is_empty() {
        return invalid(Invalid::CodeOrLabelMissing);
    }
    let Some(id) = sql::add_item(conn, which, &code, label)? else {
        return invalid(Invalid::CodeTaken(code));
    };
    audit::record(
        conn,
        actor.audit(),
        AuditAction::QualityListChanged,
        None,
        json!({ "list": list_word(which), "added": id, "code": code }),
    )?;
    Ok(id)
}

pub fn update_list_item(
    conn: &Connection,
    actor: &Actor,
    which: QualityList,
    id: i64,
    label: &str,
    active: bool,
) -> Result<()> {
    let label = label.trim();
    if label.is_empty() {
        return invalid(Invalid::CodeOrLabelMissing);
    }
    if !sql::update_item(conn, which, id, label, active)? {
        return Err(QualityError::NotFound);
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::QualityListChanged,
        None,
        json!({ "list": list_word(which), "updated": id, "active": active }),
    )?;
    Ok(())
}

/// Sets a category's regional code (empty: none of its own).
pub fn set_regional_code(
    conn: &Connection,
    actor: &Actor,
    category_id: i64,
    code: &str,
) -> Result<()> {
    let code = code.trim();
    if code.chars().count() > 20 {
        return invalid(Invalid::CodeOrLabelMissing);
    }
    let code = (!code.is_empty()).then_some(code);
    if !sql::set_regional_code(conn, category_id, code)? {
        return invalid(Invalid::UnknownCategory);
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::QualityListChanged,
        None,
        json!({ "list": "regional_codes", "category": category_id, "code": code }),
    )?;
    Ok(())
}

fn list_word(which: QualityList) -> &'static str {
    match which {
        QualityList::Components => "components",
        QualityList::Fragility => "fragility_kinds",
    }
}

pub mod export;

#[cfg(test)]
mod tests;
