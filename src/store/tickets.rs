//! The SQL of a ticket's life: what the workflow (`crate::workflow`) reads and changes. The
//! workflow decides; these only read and write, inside the caller's transaction.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{Channel, Kind, Outcome, Relation, State, TicketNumber};

/// A ticket as its readers see it: the ticket page, the notifications, the export, the
/// workflow. (Lists read a narrower row: `store::backoffice::ListRow`.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub number: TicketNumber,
    pub state: State,
    pub kind: Option<Kind>,
    pub channel: Channel,
    pub subject: String,
    /// RFC 3339 UTC, as stored.
    pub received_at: String,
    pub due_at: String,
    pub taken_in_charge_at: Option<String>,
    pub first_answered_at: Option<String>,
    pub closed_at: Option<String>,
    pub outcome: Option<Outcome>,
    pub reopen_count: i64,
    pub needs_attention: bool,
    /// The sub-category (subject code).
    pub category: Option<Coded>,
    pub service: Option<Coded>,
    /// The operator working it.
    pub assigned: Option<Named>,
    pub citizen: Contact,
    /// The ticket this one names (opened by someone else quoting its number, or a late reply).
    pub linked_to: Option<TicketNumber>,
    pub merged_into: Option<TicketNumber>,
}

/// A category or a service: its id, code and label (a service's label is its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coded {
    pub id: i64,
    pub code: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// The citizen who wrote a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    /// Our mail to them bounced since then: automatic mail to them has stopped.
    pub bouncing_since: Option<String>,
}

/// The columns [`ticket_of_row`] reads, by name, and the joins they come from.
const TICKET: &str = "SELECT t.id AS id, t.number AS number, t.state AS state, t.kind AS kind,
       t.channel AS channel, t.subject AS subject, t.received_at AS received_at,
       t.due_at AS due_at, t.taken_in_charge_at AS taken_in_charge_at,
       t.first_answered_at AS first_answered_at, t.closed_at AS closed_at,
       t.outcome AS outcome, t.reopen_count AS reopen_count,
       t.needs_attention AS needs_attention,
       t.category_id AS category_id, k.code AS category_code, k.label AS category_label,
       t.service_id AS service_id, s.code AS service_code, s.name AS service_name,
       t.assigned_to AS assigned_to, u.name AS assigned_name,
       c.id AS contact_id, c.email AS citizen_email, c.name AS citizen_name,
       c.bouncing_since AS bouncing_since, l.number AS linked_to, mi.number AS merged_into
  FROM tickets t
  JOIN contacts c ON c.id = t.contact_id
  LEFT JOIN categories k ON k.id = t.category_id
  LEFT JOIN services s ON s.id = t.service_id
  LEFT JOIN users u ON u.id = t.assigned_to
  LEFT JOIN tickets l ON l.id = t.linked_ticket_id
  LEFT JOIN tickets mi ON mi.id = t.merged_into";

/// One row of [`TICKET`] as a [`Ticket`].
pub fn ticket_of_row(r: &rusqlite::Row) -> rusqlite::Result<Ticket> {
    let coded = |id: &str, code: &str, label: &str| -> rusqlite::Result<Option<Coded>> {
        Ok(match (r.get(id)?, r.get(code)?, r.get(label)?) {
            (Some(id), Some(code), Some(label)) => Some(Coded { id, code, label }),
            _ => None,
        })
    };
    Ok(Ticket {
        id: r.get("id")?,
        number: r.get("number")?,
        state: r.get("state")?,
        kind: r.get("kind")?,
        channel: r.get("channel")?,
        subject: r.get("subject")?,
        received_at: r.get("received_at")?,
        due_at: r.get("due_at")?,
        taken_in_charge_at: r.get("taken_in_charge_at")?,
        first_answered_at: r.get("first_answered_at")?,
        closed_at: r.get("closed_at")?,
        outcome: r.get("outcome")?,
        reopen_count: r.get("reopen_count")?,
        needs_attention: r.get("needs_attention")?,
        category: coded("category_id", "category_code", "category_label")?,
        service: coded("service_id", "service_code", "service_name")?,
        assigned: match (r.get("assigned_to")?, r.get("assigned_name")?) {
            (Some(id), Some(name)) => Some(Named { id, name }),
            _ => None,
        },
        citizen: Contact {
            id: r.get("contact_id")?,
            email: r.get("citizen_email")?,
            name: r.get("citizen_name")?,
            bouncing_since: r.get("bouncing_since")?,
        },
        linked_to: r.get("linked_to")?,
        merged_into: r.get("merged_into")?,
    })
}

pub fn ticket(conn: &Connection, ticket_id: i64) -> Result<Option<Ticket>> {
    Ok(conn
        .prepare_cached(&format!("{TICKET} WHERE t.id = ?1"))?
        .query_row([ticket_id], ticket_of_row)
        .optional()?)
}

pub fn ticket_by_number(conn: &Connection, number: &TicketNumber) -> Result<Option<Ticket>> {
    Ok(conn
        .prepare_cached(&format!("{TICKET} WHERE t.number = ?1"))?
        .query_row([number], ticket_of_row)
        .optional()?)
}

/// How many messages a ticket has: from its citizen (automatic mail left out), and in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub inbound: i64,
    pub all: i64,
}

/// Every ticket in number order with its message counts (the export), one at a time.
pub fn each_ticket(
    conn: &Connection,
    each: &mut dyn FnMut(Ticket, MessageCounts) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT x.*,
           (SELECT count(*) FROM messages m WHERE m.ticket_id = x.id AND m.direction = 'in'
              AND m.automatic IS NULL AND m.request_id IS NULL) AS inbound,
           (SELECT count(*) FROM messages m WHERE m.ticket_id = x.id) AS all_messages
         FROM ({TICKET}) x ORDER BY x.id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let counts = MessageCounts {
            inbound: r.get("inbound")?,
            all: r.get("all_messages")?,
        };
        each(ticket_of_row(r)?, counts)?;
    }
    Ok(())
}

/// The tickets that name this one: merged into it, or linked to it (at most 100).
pub fn related(conn: &Connection, ticket_id: i64) -> Result<Vec<(TicketNumber, Relation)>> {
    Ok(conn
        .prepare_cached(
            "SELECT number, ?2 FROM tickets WHERE merged_into = ?1
             UNION ALL SELECT number, ?3 FROM tickets WHERE linked_ticket_id = ?1 LIMIT 100",
        )?
        .query_map(
            params![ticket_id, Relation::Merged, Relation::Linked],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A ticket's number and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub number: TicketNumber,
    pub state: State,
    /// The ticket it was merged into, if any.
    pub merged_into: Option<i64>,
}

pub fn standing(conn: &Connection, ticket_id: i64) -> Result<Option<Standing>> {
    Ok(conn
        .prepare_cached("SELECT number, state, merged_into FROM tickets WHERE id = ?1")?
        .query_row([ticket_id], |r| {
            Ok(Standing {
                number: r.get(0)?,
                state: r.get(1)?,
                merged_into: r.get(2)?,
            })
        })
        .optional()?)
}

/// The id of the ticket with this number.
pub fn id_by_number(conn: &Connection, number: &TicketNumber) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM tickets WHERE number = ?1")?
        .query_row([number], |r| r.get(0))
        .optional()?)
}

/// `pending → in_charge`, assigned to `operator` unless someone already is.
pub fn set_in_charge(conn: &Connection, ticket_id: i64, operator: i64, now: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET state = ?4, taken_in_charge_at = ?2,
           assigned_to = coalesce(assigned_to, ?3), updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![ticket_id, now, operator, State::InCharge])?;
    Ok(())
}

/// Stores an operator's answer as the ticket's outbound message, with the Message-ID and
/// subject of the mail queued for it.
pub fn insert_answer(
    conn: &Connection,
    ticket_id: i64,
    text: &str,
    now: &str,
    author: i64,
    outbox_id: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (ticket_id, direction, message_id, subject, body_text, received_at,
           created_at, author_id)
         SELECT ?1, 'out', o.message_id, o.subject, ?2, ?3, ?3, ?4 FROM outbox o WHERE o.id = ?5",
    )?
    .execute(params![ticket_id, text, now, author, outbox_id])?;
    Ok(conn.last_insert_rowid())
}

/// The ticket was answered: `answered`, its first answer time kept, attention cleared.
pub fn set_answered(conn: &Connection, ticket_id: i64, now: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET state = ?3, first_answered_at = coalesce(first_answered_at, ?2),
           needs_attention = 0, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![ticket_id, now, State::Answered])?;
    Ok(())
}

pub fn set_closed(conn: &Connection, ticket_id: i64, outcome: Outcome, now: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET state = ?4, closed_at = ?2, outcome = ?3, needs_attention = 0,
           updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![ticket_id, now, outcome, State::Closed])?;
    Ok(())
}

/// Back to `answered` from `closed`: the reopening counted, the ticket flagged.
pub fn set_reopened(conn: &Connection, ticket_id: i64, now: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET state = ?3, reopen_count = reopen_count + 1, closed_at = NULL,
           needs_attention = 1, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![ticket_id, now, State::Answered])?;
    Ok(())
}

pub fn insert_note(
    conn: &Connection,
    ticket_id: i64,
    author: i64,
    body: &str,
    now: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO notes (ticket_id, author_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket_id, author, body, now])?;
    Ok(conn.last_insert_rowid())
}

/// What an operator sets on a ticket by hand. `None` is unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classification {
    pub kind: Option<Kind>,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub assigned_to: Option<i64>,
}

pub fn classification(conn: &Connection, ticket_id: i64) -> Result<Option<Classification>> {
    Ok(conn
        .prepare_cached(
            "SELECT kind, category_id, service_id, assigned_to FROM tickets WHERE id = ?1",
        )?
        .query_row([ticket_id], |r| {
            Ok(Classification {
                kind: r.get(0)?,
                category_id: r.get(1)?,
                service_id: r.get(2)?,
                assigned_to: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn set_classification(
    conn: &Connection,
    ticket_id: i64,
    c: &Classification,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET kind = ?2, category_id = ?3, service_id = ?4, assigned_to = ?5,
           updated_at = ?6 WHERE id = ?1",
    )?
    .execute(params![
        ticket_id,
        c.kind,
        c.category_id,
        c.service_id,
        c.assigned_to,
        now
    ])?;
    Ok(())
}

/// Whether `id` is a sub-category (tickets are classified with sub-categories only).
pub fn is_sub_category(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM categories WHERE id = ?1 AND parent_id IS NOT NULL")?
        .exists([id])?)
}

pub fn service_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM services WHERE id = ?1")?
        .exists([id])?)
}

/// Whether `id` is an active account that works tickets.
pub fn is_active_operator(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND active = 1 AND role IN (?2, ?3)")?
        .exists(params![
            id,
            crate::domain::Role::Operator,
            crate::domain::Role::Admin
        ])?)
}

/// Moves `from`'s messages, notes, requests and earlier merges to `into`, lends `into` its need of
/// attention, and closes `from` as merged into `into`.
pub fn merge(conn: &Connection, from: i64, into: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE messages SET ticket_id = ?2 WHERE ticket_id = ?1",
        params![from, into],
    )?;
    conn.execute(
        "UPDATE notes SET ticket_id = ?2 WHERE ticket_id = ?1",
        params![from, into],
    )?;
    // Requests of the istruttoria follow (their tags keep the number they were sent with).
    conn.execute(
        "UPDATE requests SET ticket_id = ?2 WHERE ticket_id = ?1",
        params![from, into],
    )?;
    // Tickets merged earlier into `from` follow it, so that merges never chain.
    conn.execute(
        "UPDATE tickets SET merged_into = ?2 WHERE merged_into = ?1",
        params![from, into],
    )?;
    conn.execute(
        "UPDATE tickets SET needs_attention = max(needs_attention,
           (SELECT needs_attention FROM tickets WHERE id = ?1)), updated_at = ?3 WHERE id = ?2",
        params![from, into, now],
    )?;
    conn.execute(
        "UPDATE tickets SET merged_into = ?2, state = ?4, closed_at = ?3, needs_attention = 0,
           updated_at = ?3 WHERE id = ?1",
        params![from, into, now, State::Closed],
    )?;
    Ok(())
}
