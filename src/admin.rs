//! What administrators change: services, the category list, routing rules, accounts' roles,
//! quarantine and the outbox. Each change is checked here, written through `store::admin`, and
//! audited in the caller's transaction. A refusal is an [`AdminError`]: the backoffice shows it
//! in Italian (`texts::admin_error`), the command line in English; only
//! [`AdminError::Database`] is a failure of ascolto itself (a logged 500).

use rusqlite::Connection;
use serde_json::json;

use crate::classify::{self, PatternError};
use crate::domain::{AuditAction, AuditActor, Role};
use crate::store::admin::{self as sql, RuleInput};
use crate::store::{audit, users};

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What an administrator's change can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such {0}")]
    NotFound(Thing),
    #[error("the code {0} is already used")]
    CodeTaken(String),
    #[error("a code and a name are required; the code has capital letters, digits, '.', '-', '_'")]
    CodeOrNameMissing,
    #[error("the name is required")]
    NameMissing,
    #[error("the parent must be a macro-category")]
    ParentNotMacro,
    #[error("the category is in use: deactivate it instead")]
    CategoryInUse,
    #[error("the rule needs a name")]
    RuleNameMissing,
    #[error("the rule must set a category, a service or a kind")]
    RuleSetsNothing,
    #[error("{0}")]
    Pattern(#[from] PatternError),
    #[error("only a failed notification can be sent again")]
    NotFailed,
    #[error("you cannot remove your own administration or access")]
    SelfLockout,
    #[error("{0:?} is not an email address")]
    NotAnEmail(String),
    #[error("a user {0} already exists")]
    EmailTaken(String),
    #[error("the service already has a referente {0}")]
    ReferenteTaken(String),
    #[error("the password must have at least {} characters", MIN_PASSWORD_CHARS)]
    PasswordTooShort,
    #[error("an answer model needs a title and a text")]
    ModelIncomplete,
    #[error("the answer model's text does not render: {0}")]
    ModelTemplate(String),
    /// The database failed (not the administrator's doing).
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// What was not found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thing {
    User,
    Service,
    Category,
    Rule,
    QuarantineEntry,
    Referente,
    AnswerModel,
}

impl std::fmt::Display for Thing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Thing::User => "user",
            Thing::Service => "service",
            Thing::Category => "category",
            Thing::Rule => "rule",
            Thing::QuarantineEntry => "open quarantine entry",
            Thing::Referente => "referente",
            Thing::AnswerModel => "answer model",
        })
    }
}

impl From<rusqlite::Error> for AdminError {
    fn from(e: rusqlite::Error) -> Self {
        AdminError::Database(e.into())
    }
}

type Result<T, E = AdminError> = std::result::Result<T, E>;

/// A category or service code: capital letters, digits, dots, dashes, underscores.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 20
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn record(
    conn: &Connection,
    actor: AuditActor,
    action: AuditAction,
    ticket: Option<i64>,
    detail: serde_json::Value,
) -> Result<()> {
    Ok(audit::record(conn, actor, action, ticket, detail)?)
}

pub fn service_add(conn: &Connection, actor: AuditActor, code: &str, name: &str) -> Result<i64> {
    if !valid_code(code) || name.trim().is_empty() {
        return Err(AdminError::CodeOrNameMissing);
    }
    if sql::service_code_taken(conn, code)? {
        return Err(AdminError::CodeTaken(code.to_string()));
    }
    let id = sql::insert_service(conn, code, name.trim())?;
    record(
        conn,
        actor,
        AuditAction::ServiceCreated,
        None,
        json!({ "service": id, "code": code }),
    )?;
    Ok(id)
}

pub fn service_update(
    conn: &Connection,
    actor: AuditActor,
    id: i64,
    name: &str,
    active: bool,
) -> Result<()> {
    if name.trim().is_empty() {
        return Err(AdminError::NameMissing);
    }
    if !sql::update_service(conn, id, name.trim(), active)? {
        return Err(AdminError::NotFound(Thing::Service));
    }
    record(
        conn,
        actor,
        AuditAction::ServiceUpdated,
        None,
        json!({ "service": id, "active": active }),
    )
}

pub fn category_add(
    conn: &Connection,
    actor: AuditActor,
    code: &str,
    label: &str,
    parent: Option<i64>,
) -> Result<i64> {
    if !valid_code(code) || label.trim().is_empty() {
        return Err(AdminError::CodeOrNameMissing);
    }
    if sql::category_code_taken(conn, code, None)? {
        return Err(AdminError::CodeTaken(code.to_string()));
    }
    if let Some(p) = parent {
        if !sql::is_macro_category(conn, p)? {
            return Err(AdminError::ParentNotMacro);
        }
    }
    let id = sql::insert_category(conn, code, label.trim(), parent)?;
    record(
        conn,
        actor,
        AuditAction::CategoryCreated,
        None,
        json!({ "category": id, "code": code }),
    )?;
    Ok(id)
}

/// Renames, recodes, (de)activates. A used category is never deleted, only deactivated, so
/// that past tickets and statistics keep their code.
pub fn category_update(
    conn: &Connection,
    actor: AuditActor,
    id: i64,
    code: &str,
    label: &str,
    active: bool,
) -> Result<()> {
    if !valid_code(code) || label.trim().is_empty() {
        return Err(AdminError::CodeOrNameMissing);
    }
    if sql::category_code_taken(conn, code, Some(id))? {
        return Err(AdminError::CodeTaken(code.to_string()));
    }
    let old = sql::category_code(conn, id)?.ok_or(AdminError::NotFound(Thing::Category))?;
    sql::update_category(conn, id, code, label.trim(), active)?;
    record(
        conn,
        actor,
        AuditAction::CategoryUpdated,
        None,
        json!({ "category": id, "code": [old, code], "active": active }),
    )
}

/// Deletes a category nothing uses (no ticket, rule or sub-category).
pub fn category_delete(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    if sql::category_in_use(conn, id)? {
        return Err(AdminError::CategoryInUse);
    }
    sql::delete_category(conn, id)?;
    record(
        conn,
        actor,
        AuditAction::CategoryDeleted,
        None,
        json!({ "category": id }),
    )
}

/// Checks a rule before it is stored: the ingest would skip a rule that does not compile.
pub fn check_rule(r: &RuleInput) -> Result<()> {
    if r.name.trim().is_empty() {
        return Err(AdminError::RuleNameMissing);
    }
    if r.category_id.is_none() && r.service_id.is_none() && r.kind.is_none() {
        return Err(AdminError::RuleSetsNothing);
    }
    Ok(classify::check_pattern(&r.pattern)?)
}

pub fn rule_add(conn: &Connection, actor: AuditActor, r: &RuleInput) -> Result<i64> {
    check_rule(r)?;
    let r = RuleInput {
        name: r.name.trim().to_string(),
        ..r.clone()
    };
    let id = sql::insert_rule(conn, &r)?;
    record(
        conn,
        actor,
        AuditAction::RuleCreated,
        None,
        json!({ "rule": id }),
    )?;
    Ok(id)
}

pub fn rule_update(conn: &Connection, actor: AuditActor, id: i64, r: &RuleInput) -> Result<()> {
    check_rule(r)?;
    let r = RuleInput {
        name: r.name.trim().to_string(),
        ..r.clone()
    };
    if !sql::update_rule(conn, id, &r)? {
        return Err(AdminError::NotFound(Thing::Rule));
    }
    record(
        conn,
        actor,
        AuditAction::RuleUpdated,
        None,
        json!({ "rule": id, "active": r.active }),
    )
}

pub fn rule_delete(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    sql::delete_rule(conn, id)?;
    record(
        conn,
        actor,
        AuditAction::RuleDeleted,
        None,
        json!({ "rule": id }),
    )
}

/// Moves a rule one place up (earlier) or down in the order rules apply.
pub fn rule_move(conn: &Connection, actor: AuditActor, id: i64, up: bool) -> Result<()> {
    let mut ids = sql::rule_order(conn)?;
    let i = ids
        .iter()
        .position(|x| *x == id)
        .ok_or(AdminError::NotFound(Thing::Rule))?;
    let j = if up {
        i.checked_sub(1)
    } else {
        Some(i + 1).filter(|j| *j < ids.len())
    };
    let Some(j) = j else { return Ok(()) };
    ids.swap(i, j);
    sql::renumber_rules(conn, &ids)?;
    record(
        conn,
        actor,
        AuditAction::RuleMoved,
        None,
        json!({ "rule": id, "up": up }),
    )
}

pub fn quarantine_discard(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    if !sql::discard_quarantined(conn, id)? {
        return Err(AdminError::NotFound(Thing::QuarantineEntry));
    }
    record(
        conn,
        actor,
        AuditAction::QuarantineDiscarded,
        None,
        json!({ "quarantine": id }),
    )
}

/// Puts a failed notification back in the queue, to be sent at once.
pub fn outbox_retry(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    let ticket = sql::failed_notification(conn, id)?.ok_or(AdminError::NotFailed)?;
    sql::requeue_notification(conn, id)?;
    record(
        conn,
        actor,
        AuditAction::OutboxRetried,
        ticket,
        json!({ "outbox": id }),
    )
}

/// Sets a user's role, "riceve mail" flag and access. An administrator cannot take away their
/// own administration (someone must be left to manage the office).
pub fn user_update(
    conn: &Connection,
    actor_id: i64,
    id: i64,
    role: Role,
    notify: bool,
    active: bool,
) -> Result<()> {
    if id == actor_id && (role != Role::Admin || !active) {
        return Err(AdminError::SelfLockout);
    }
    if users::by_id(conn, id)?.is_none() {
        return Err(AdminError::NotFound(Thing::User));
    }
    users::update(conn, id, role, notify, active)?;
    record(
        conn,
        AuditActor::User(actor_id),
        AuditAction::UserUpdated,
        None,
        json!({ "user": id, "role": role, "notify": notify, "active": active }),
    )
}
