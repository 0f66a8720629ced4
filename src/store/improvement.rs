//! The SQL of improvement actions (azioni di miglioramento, issue 20): what the trust did or
//! committed to do, with the tickets and categories that motivated it.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::{ActionState, TicketNumber};

/// An improvement action with what motivated it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub service_id: Option<i64>,
    pub service: Option<String>,
    pub service_name: Option<String>,
    pub owner: String,
    /// YYYY-MM-DD.
    pub due_date: Option<String>,
    pub state: ActionState,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub tickets: Vec<TicketNumber>,
    /// (id, code, label)
    pub categories: Vec<(i64, String, String)>,
}

impl Action {
    /// Still open with its due date before `today` (YYYY-MM-DD).
    pub fn overdue(&self, today: &str) -> bool {
        self.state.is_open() && self.due_date.as_deref().is_some_and(|d| d < today)
    }
}

/// What the action form writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionInput {
    pub title: String,
    pub description: String,
    pub service_id: Option<i64>,
    pub owner: String,
    pub due_date: Option<String>,
    pub state: Option<ActionState>,
    pub ticket_ids: Vec<i64>,
    pub category_ids: Vec<i64>,
}

/// Which actions a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionFilter {
    pub state: Option<ActionState>,
    pub service_id: Option<i64>,
    /// Open with a due date before this day (YYYY-MM-DD).
    pub overdue_on: Option<String>,
    /// Relevant to this year: created in it, or still open, or completed or abandoned in it.
    pub year: Option<i32>,
}

const ACTION: &str = "SELECT a.id, a.title, a.description, a.service_id, s.code, s.name, a.owner,
        a.due_date, a.state, a.created_at, a.updated_at, a.completed_at
   FROM improvement_actions a LEFT JOIN services s ON s.id = a.service_id";

fn action_of_row(r: &rusqlite::Row) -> rusqlite::Result<Action> {
    Ok(Action {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        service_id: r.get(3)?,
        service: r.get(4)?,
        service_name: r.get(5)?,
        owner: r.get(6)?,
        due_date: r.get(7)?,
        state: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        completed_at: r.get(11)?,
        tickets: Vec::new(),
        categories: Vec::new(),
    })
}

fn with_links(conn: &Connection, mut a: Action) -> Result<Action> {
    a.tickets = conn
        .prepare_cached(
            "SELECT t.number FROM improvement_action_tickets x JOIN tickets t ON t.id = x.ticket_id
             WHERE x.action_id = ?1 ORDER BY t.id",
        )?
        .query_map([a.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    a.categories = conn
        .prepare_cached(
            "SELECT c.id, c.code, c.label FROM improvement_action_categories x
             JOIN categories c ON c.id = x.category_id
             WHERE x.action_id = ?1 ORDER BY c.position, c.id",
        )?
        .query_map([a.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(a)
}

pub fn action(conn: &Connection, id: i64) -> Result<Option<Action>> {
    let a = conn
        .prepare_cached(&format!("{ACTION} WHERE a.id = ?1"))?
        .query_row([id], action_of_row)
        .optional()?;
    a.map(|a| with_links(conn, a)).transpose()
}

/// The actions `filter` selects: overdue first, then by due date, newest last.
pub fn actions(conn: &Connection, filter: &ActionFilter) -> Result<Vec<Action>> {
    let list: Vec<Action> = conn
        .prepare_cached(&format!(
            "{ACTION}
             WHERE (?1 IS NULL OR a.state = ?1)
               AND (?2 IS NULL OR a.service_id = ?2)
               AND (?3 IS NULL OR (a.state IN ('proposta', 'avviata') AND a.due_date < ?3))
               AND (?4 IS NULL OR substr(a.created_at, 1, 4) = CAST(?4 AS TEXT)
                    OR a.state IN ('proposta', 'avviata')
                    OR substr(coalesce(a.completed_at, a.updated_at), 1, 4) = CAST(?4 AS TEXT))
             ORDER BY a.due_date IS NULL, a.due_date, a.id"
        ))?
        .query_map(
            params![
                filter.state,
                filter.service_id,
                filter.overdue_on,
                filter.year
            ],
            action_of_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    list.into_iter().map(|a| with_links(conn, a)).collect()
}

/// Open actions past their due date (the dashboard's count).
pub fn overdue_count(conn: &Connection, today: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM improvement_actions INDEXED BY improvement_actions_due
             WHERE state IN ('proposta', 'avviata') AND due_date < ?1",
        )?
        .query_row([today], |r| r.get(0))?)
}

pub fn insert(conn: &Connection, input: &ActionInput, now: &str) -> Result<i64> {
    let state = input.state.unwrap_or(ActionState::Proposed);
    conn.execute(
        "INSERT INTO improvement_actions (title, description, service_id, owner, due_date, state,
                                          created_at, updated_at, completed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, CASE WHEN ?6 IN ('completata', 'abbandonata') THEN ?7 END)",
        params![
            input.title,
            input.description,
            input.service_id,
            input.owner,
            input.due_date,
            state,
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    set_links(conn, id, input)?;
    Ok(id)
}

/// Rewrites action `id`; false when there is none.
pub fn update(conn: &Connection, id: i64, input: &ActionInput, now: &str) -> Result<bool> {
    let state = input.state.unwrap_or(ActionState::Proposed);
    let n = conn.execute(
        "UPDATE improvement_actions SET title = ?2, description = ?3, service_id = ?4, owner = ?5,
                due_date = ?6, state = ?7, updated_at = ?8,
                completed_at = CASE WHEN ?7 IN ('completata', 'abbandonata')
                                    THEN coalesce(completed_at, ?8) END
         WHERE id = ?1",
        params![
            id,
            input.title,
            input.description,
            input.service_id,
            input.owner,
            input.due_date,
            state,
            now
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    set_links(conn, id, input)?;
    Ok(true)
}

fn set_links(conn: &Connection, id: i64, input: &ActionInput) -> Result<()> {
    conn.execute(
        "DELETE FROM improvement_action_tickets WHERE action_id = ?1",
        [id],
    )?;
    conn.execute(
        "DELETE FROM improvement_action_categories WHERE action_id = ?1",
        [id],
    )?;
    let mut t = conn.prepare_cached(
        "INSERT OR IGNORE INTO improvement_action_tickets (action_id, ticket_id) VALUES (?1, ?2)",
    )?;
    for ticket in &input.ticket_ids {
        t.execute(params![id, ticket])?;
    }
    let mut c = conn.prepare_cached(
        "INSERT OR IGNORE INTO improvement_action_categories (action_id, category_id) VALUES (?1, ?2)",
    )?;
    for category in &input.category_ids {
        c.execute(params![id, category])?;
    }
    Ok(())
}
