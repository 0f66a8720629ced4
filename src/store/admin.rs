//! What administrators change in the backoffice: accounts, services, the category list, routing
//! rules, quarantine and the outbox. Each change writes its audit entry in the same transaction
//! (callers run these inside one).

use anyhow::{bail, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use super::audit;
use crate::domain::{AuditAction, AuditActor};

/// A category or service code: capital letters, digits, dots, dashes, underscores.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 20
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn exists(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<bool> {
    Ok(conn.prepare(sql)?.exists(p)?)
}

pub fn service_add(conn: &Connection, actor: AuditActor, code: &str, name: &str) -> Result<i64> {
    if !valid_code(code) || name.trim().is_empty() {
        bail!("code and name are required; the code has capital letters, digits, '.', '-', '_'");
    }
    if exists(conn, "SELECT 1 FROM services WHERE code = ?1", [code])? {
        bail!("the code {code} is already used");
    }
    conn.execute(
        "INSERT INTO services (code, name) VALUES (?1, ?2)",
        params![code, name.trim()],
    )?;
    let id = conn.last_insert_rowid();
    audit::record(
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
        bail!("the name is required");
    }
    if conn.execute(
        "UPDATE services SET name = ?2, active = ?3 WHERE id = ?1",
        params![id, name.trim(), active],
    )? == 0
    {
        bail!("no such service");
    }
    audit::record(
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
        bail!("code and label are required; the code has capital letters, digits, '.', '-', '_'");
    }
    if exists(conn, "SELECT 1 FROM categories WHERE code = ?1", [code])? {
        bail!("the code {code} is already used");
    }
    if let Some(p) = parent {
        if !exists(
            conn,
            "SELECT 1 FROM categories WHERE id = ?1 AND parent_id IS NULL",
            [p],
        )? {
            bail!("the parent must be a macro-category");
        }
    }
    let position: i64 = conn.query_row(
        "SELECT coalesce(max(position), 0) + 1 FROM categories WHERE parent_id IS ?1",
        [parent],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO categories (code, parent_id, label, position) VALUES (?1, ?2, ?3, ?4)",
        params![code, parent, label.trim(), position],
    )?;
    let id = conn.last_insert_rowid();
    audit::record(
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
        bail!("code and label are required; the code has capital letters, digits, '.', '-', '_'");
    }
    if exists(
        conn,
        "SELECT 1 FROM categories WHERE code = ?1 AND id != ?2",
        params![code, id],
    )? {
        bail!("the code {code} is already used");
    }
    let old: Option<String> = conn
        .query_row("SELECT code FROM categories WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(old) = old else {
        bail!("no such category")
    };
    conn.execute(
        "UPDATE categories SET code = ?2, label = ?3, active = ?4 WHERE id = ?1",
        params![id, code, label.trim(), active],
    )?;
    audit::record(
        conn,
        actor,
        AuditAction::CategoryUpdated,
        None,
        json!({ "category": id, "code": [old, code], "active": active }),
    )
}

/// Deletes a category nothing uses (no ticket, rule or sub-category).
pub fn category_delete(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    let used = exists(conn, "SELECT 1 FROM tickets WHERE category_id = ?1", [id])?
        || exists(
            conn,
            "SELECT 1 FROM routing_rules WHERE category_id = ?1",
            [id],
        )?
        || exists(conn, "SELECT 1 FROM categories WHERE parent_id = ?1", [id])?;
    if used {
        bail!("the category is in use: deactivate it instead");
    }
    conn.execute("DELETE FROM categories WHERE id = ?1", [id])?;
    audit::record(
        conn,
        actor,
        AuditAction::CategoryDeleted,
        None,
        json!({ "category": id }),
    )
}

/// A rule as the administrator writes it.
#[derive(Clone, Debug)]
pub struct RuleInput {
    pub name: String,
    pub field: String,
    pub pattern: String,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub kind: Option<String>,
    pub active: bool,
}

/// Checks a rule before it is stored: the ingest would skip a rule that does not compile.
pub fn check_rule(r: &RuleInput) -> Result<()> {
    if r.name.trim().is_empty() {
        bail!("the rule needs a name");
    }
    if crate::classify::Field::parse(&r.field).is_none() {
        bail!("unknown field {:?}", r.field);
    }
    if r.category_id.is_none() && r.service_id.is_none() && r.kind.is_none() {
        bail!("the rule must set a category, a service or a kind");
    }
    crate::classify::check_pattern(&r.pattern)
}

pub fn rule_add(conn: &Connection, actor: AuditActor, r: &RuleInput) -> Result<i64> {
    check_rule(r)?;
    let priority: i64 = conn.query_row(
        "SELECT coalesce(max(priority), 0) + 10 FROM routing_rules",
        [],
        |row| row.get(0),
    )?;
    conn.execute(
        "INSERT INTO routing_rules (priority, name, field, pattern, category_id, service_id, kind, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![priority, r.name.trim(), r.field, r.pattern, r.category_id, r.service_id, r.kind, r.active],
    )?;
    let id = conn.last_insert_rowid();
    audit::record(
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
    if conn.execute(
        "UPDATE routing_rules SET name = ?2, field = ?3, pattern = ?4, category_id = ?5,
           service_id = ?6, kind = ?7, active = ?8 WHERE id = ?1",
        params![
            id,
            r.name.trim(),
            r.field,
            r.pattern,
            r.category_id,
            r.service_id,
            r.kind,
            r.active
        ],
    )? == 0
    {
        bail!("no such rule");
    }
    audit::record(
        conn,
        actor,
        AuditAction::RuleUpdated,
        None,
        json!({ "rule": id, "active": r.active }),
    )
}

pub fn rule_delete(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    conn.execute("DELETE FROM routing_rules WHERE id = ?1", [id])?;
    audit::record(
        conn,
        actor,
        AuditAction::RuleDeleted,
        None,
        json!({ "rule": id }),
    )
}

/// Moves a rule one place up (earlier) or down in the order rules apply, renumbering all.
pub fn rule_move(conn: &Connection, actor: AuditActor, id: i64, up: bool) -> Result<()> {
    let mut ids: Vec<i64> = conn
        .prepare("SELECT id FROM routing_rules ORDER BY priority, id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let Some(i) = ids.iter().position(|x| *x == id) else {
        bail!("no such rule")
    };
    let j = if up {
        i.checked_sub(1)
    } else {
        Some(i + 1).filter(|j| *j < ids.len())
    };
    let Some(j) = j else { return Ok(()) };
    ids.swap(i, j);
    for (n, rid) in ids.iter().enumerate() {
        conn.execute(
            "UPDATE routing_rules SET priority = ?2 WHERE id = ?1 AND priority != ?2",
            params![rid, (n as i64 + 1) * 10],
        )?;
    }
    audit::record(
        conn,
        actor,
        AuditAction::RuleMoved,
        None,
        json!({ "rule": id, "up": up }),
    )
}

pub fn quarantine_discard(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    if conn.execute(
        "UPDATE quarantine SET resolved_at = ?2, resolution = 'discarded' WHERE id = ?1 AND resolved_at IS NULL",
        params![id, super::now_text()],
    )? == 0
    {
        bail!("no such open quarantine entry");
    }
    audit::record(
        conn,
        actor,
        AuditAction::QuarantineDiscarded,
        None,
        json!({ "quarantine": id }),
    )
}

/// Puts a failed notification back in the queue, to be sent at once.
pub fn outbox_retry(conn: &Connection, actor: AuditActor, id: i64) -> Result<()> {
    let ticket: Option<Option<i64>> = conn
        .query_row(
            "SELECT ticket_id FROM outbox WHERE id = ?1 AND state = 'failed'",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(ticket) = ticket else {
        bail!("only a failed notification can be sent again")
    };
    conn.execute(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2 WHERE id = ?1",
        params![id, super::now_text()],
    )?;
    audit::record(
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
    role: &str,
    notify: bool,
    active: bool,
) -> Result<()> {
    if id == actor_id && (role != "admin" || !active) {
        bail!("you cannot remove your own administration or access");
    }
    if super::users::by_id(conn, id)?.is_none() {
        bail!("no such user");
    }
    super::users::update(conn, id, role, notify, active)?;
    audit::record(
        conn,
        AuditActor::User(actor_id),
        AuditAction::UserUpdated,
        None,
        json!({ "user": id, "role": role, "notify": notify, "active": active }),
    )
}

/// Tickets for the "test this rule" box: the most recent `limit`, with the first message.
pub fn recent_for_rule_test(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(String, String, String, String)>> {
    let rows = conn
        .prepare(
            "SELECT t.number, t.subject,
                    coalesce((SELECT m.body_text FROM messages m WHERE m.ticket_id = t.id
                              AND m.direction = 'in' ORDER BY m.id LIMIT 1), ''), c.email
             FROM tickets t JOIN contacts c ON c.id = t.contact_id ORDER BY t.id DESC LIMIT ?1",
        )?
        .query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
