//! The choices the backoffice offers: categories, services, operators.

use anyhow::Result;
use rusqlite::Connection;

use crate::domain::Role;

/// A choice in a select: (id, code, label, active, parent code).
#[derive(Clone, Debug)]
pub struct Category {
    pub id: i64,
    pub code: String,
    pub label: String,
    pub parent_id: Option<i64>,
    pub position: i64,
    pub active: bool,
    /// Tickets or rules use it: it can be deactivated, not deleted.
    pub used: bool,
}

pub fn categories(conn: &Connection) -> Result<Vec<Category>> {
    let rows = conn
        .prepare_cached(
            "SELECT c.id, c.code, c.label, c.parent_id, c.position, c.active,
                    EXISTS (SELECT 1 FROM tickets t WHERE t.category_id = c.id)
                    OR EXISTS (SELECT 1 FROM routing_rules r WHERE r.category_id = c.id)
                    OR EXISTS (SELECT 1 FROM categories s WHERE s.parent_id = c.id)
             FROM categories c
             ORDER BY coalesce((SELECT p.position FROM categories p WHERE p.id = c.parent_id), c.position),
                      coalesce((SELECT p.code FROM categories p WHERE p.id = c.parent_id), c.code),
                      c.parent_id IS NOT NULL, c.position, c.code",
        )?
        .query_map([], |r| {
            Ok(Category {
                id: r.get(0)?,
                code: r.get(1)?,
                label: r.get(2)?,
                parent_id: r.get(3)?,
                position: r.get(4)?,
                active: r.get(5)?,
                used: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[derive(Clone, Debug)]
pub struct Service {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub active: bool,
}

pub fn services(conn: &Connection) -> Result<Vec<Service>> {
    let rows = conn
        .prepare_cached("SELECT id, code, name, active FROM services ORDER BY name")?
        .query_map([], |r| {
            Ok(Service {
                id: r.get(0)?,
                code: r.get(1)?,
                name: r.get(2)?,
                active: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Users who can be assigned a ticket (and appear in the operator filter).
pub fn operators(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let rows = conn
        .prepare_cached("SELECT id, name FROM users WHERE role != ?1 AND active = 1 ORDER BY name")?
        .query_map([Role::Viewer], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
