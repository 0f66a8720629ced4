//! The backoffice's read queries: the ticket list with its filters, the dashboard's queues, one
//! ticket with its thread and history, and the administration lists.
//!
//! Every query is shaped for a database of a million tickets: lists walk an index in the order
//! they show and stop at a page; counts stop at [`COUNT_CAP`]; the dashboard's counts by state
//! come from a table the triggers keep.

mod choices;
mod dashboard;
mod thread;

pub use choices::*;
pub use dashboard::*;
pub use thread::*;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::Connection;

use crate::domain::time::{rome_midnight_utc, NEAR_DUE_DAYS};
use crate::domain::{Channel, Kind, State, TicketNumber};

/// Lists count their rows up to this many and then say "more than".
pub const COUNT_CAP: usize = 10_000;
pub const PAGE_SIZE: usize = 50;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Most recently received first.
    #[default]
    Newest,
    Oldest,
    /// Nearest deadline first.
    Deadline,
}

impl Sort {
    pub fn parse(s: &str) -> Sort {
        match s {
            "meno_recenti" => Sort::Oldest,
            "scadenza" => Sort::Deadline,
            _ => Sort::Newest,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "recenti",
            Sort::Oldest => "meno_recenti",
            Sort::Deadline => "scadenza",
        }
    }
}

/// The list's filters, already validated (the web layer parses the query string).
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub state: Option<State>,
    pub kind: Option<Kind>,
    /// A category code: a macro-category includes its sub-categories.
    pub category: Option<String>,
    /// Tickets with no category yet ("da classificare"), open ones.
    pub unclassified: bool,
    pub service: Option<i64>,
    pub operator: Option<i64>,
    pub attention: bool,
    pub overdue: bool,
    pub due_soon: bool,
    /// With a request for a report still open ("in istruttoria").
    pub istruttoria: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Words searched in subjects and bodies; also a ticket number or part of it, a citizen's
    /// name, address or phone (`store::intake::matching_citizen_or_number`).
    pub search: Option<String>,
    pub sort: Sort,
}

/// One row of a ticket list.
#[derive(Clone, Debug)]
pub struct ListRow {
    pub number: TicketNumber,
    pub state: State,
    pub kind: Option<Kind>,
    pub category_code: Option<String>,
    pub category_label: Option<String>,
    pub citizen_name: Option<String>,
    pub citizen_email: String,
    pub subject: String,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub answered: bool,
    pub needs_attention: bool,
    pub channel: Channel,
    pub service_name: Option<String>,
    /// The learned classifier's best category for a ticket it did not classify, with its
    /// confidence.
    pub suggested_category: Option<(String, f64)>,
    /// Issue 20: the citizen is flagged as frail ("persona fragile").
    pub fragile: bool,
}

/// Turns words typed by a person into an FTS5 query: every word must appear, each taken
/// literally (quotes doubled), so that no FTS5 syntax reaches the engine. None when no word.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        .flat_map(|w| w.split(['\'', '-']))
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

struct Where {
    clauses: Vec<String>,
    params: Vec<Value>,
    /// The partial index of an open-ticket queue, named to the planner: without statistics it
    /// would rather walk a large index on state or category.
    index: Option<&'static str>,
}

impl Where {
    fn push(&mut self, clause: &str, values: impl IntoIterator<Item = Value>) {
        // Each bare `?` becomes the number of the value it takes.
        let mut values = values.into_iter();
        let mut out = String::new();
        for (i, piece) in clause.split('?').enumerate() {
            if i > 0 {
                self.params
                    .push(values.next().expect("a value for every placeholder"));
                out.push_str(&format!("?{}", self.params.len()));
            }
            out.push_str(piece);
        }
        self.clauses.push(out);
    }
}

/// Full-text search considers the most recent messages that match, at most this many: a word
/// in a tenth of a million complaints would otherwise make every search sort them all.
pub const SEARCH_CAP: usize = 1_000;

/// The tickets of the most recent messages matching the search (at most [`SEARCH_CAP`]
/// messages), and whether there were more.
fn search(conn: &Connection, query: &str) -> Result<(Vec<i64>, bool)> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT m.ticket_id FROM messages m WHERE m.id IN
           (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1
            ORDER BY rowid DESC LIMIT {})",
        SEARCH_CAP + 1
    ))?;
    let mut ids: Vec<i64> = st
        .query_map([query], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let capped = ids.len() > SEARCH_CAP;
    ids.sort_unstable();
    ids.dedup();
    Ok((ids, capped))
}

fn where_clause(
    f: &Filters,
    category_ids: Option<&[i64]>,
    found: Option<&[i64]>,
    now: DateTime<Utc>,
) -> Where {
    // Merged tickets stay listed (closed, with where they went): they are records too.
    let mut w = Where {
        clauses: vec!["1".into()],
        params: Vec::new(),
        index: if f.attention {
            Some("tickets_attention")
        } else if f.overdue || f.due_soon {
            Some("tickets_unanswered_due")
        } else if f.unclassified {
            Some("tickets_unclassified")
        } else {
            None
        },
    };
    let text = |s: &str| Value::Text(s.to_string());
    let word = |s: &'static str| Value::Text(s.to_string());
    // Open-ticket filters name the partial indexes' condition literally so that the planner
    // may use them.
    // (The attention queue's own condition already excludes closed tickets; a term its partial
    // index does not imply would cost a table lookup per row.)
    let open = f.overdue || f.due_soon || f.unclassified;
    if let Some(state) = f.state {
        w.push("t.state = ?", [word(state.as_str())]);
    }
    if open {
        w.push("t.state != 'closed'", []);
    }
    if let Some(kind) = f.kind {
        w.push("t.kind = ?", [word(kind.as_str())]);
    }
    match category_ids {
        None => {}
        // One sub-category: an equality, so that its index also gives the order.
        Some([id]) => w.push("t.category_id = ?", [Value::Integer(*id)]),
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            w.push(&format!("t.category_id IN ({})", list.join(", ")), []);
        }
    }
    if f.unclassified {
        w.push("t.category_id IS NULL", []);
    }
    if let Some(service) = f.service {
        w.push("t.service_id = ?", [Value::Integer(service)]);
    }
    if let Some(op) = f.operator {
        w.push("t.assigned_to = ?", [Value::Integer(op)]);
    }
    if f.attention {
        // A citizen wrote to a ticket already in work (new tickets are the "new" queue).
        w.push(
            "t.needs_attention = 1 AND t.state IN ('in_charge', 'answered')",
            [],
        );
    }
    let now_text = super::time_text(now);
    if f.overdue {
        w.push(
            "t.first_answered_at IS NULL AND t.due_at < ?",
            [text(&now_text)],
        );
    }
    if f.due_soon {
        let soon = super::time_text(now + chrono::Duration::days(NEAR_DUE_DAYS));
        w.push(
            "t.first_answered_at IS NULL AND t.due_at >= ? AND t.due_at <= ?",
            [text(&now_text), text(&soon)],
        );
    }
    if f.istruttoria {
        w.push(crate::store::requests::IN_ISTRUTTORIA, []);
    }
    if let Some(from) = f.from {
        w.push(
            "t.received_at >= ?",
            [text(&super::time_text(rome_midnight_utc(from)))],
        );
    }
    if let Some(to) = f.to.and_then(|d| d.succ_opt()) {
        w.push(
            "t.received_at < ?",
            [text(&super::time_text(rome_midnight_utc(to)))],
        );
    }
    if let Some(ids) = found {
        // Ids the database gave, so they can be written into the statement.
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        w.push(&format!("t.id IN ({})", list.join(",")), []);
    }
    w
}

/// A list shows at most this many characters of a subject, a name or an address: the rows
/// carry one more, so that the page can mark what was cut (a 2 MB subject made the dashboard
/// 4 MB for every user: issue 11, finding 13).
pub const LIST_TEXT_CHARS: usize = 200;

fn list_columns() -> String {
    let n = LIST_TEXT_CHARS + 1;
    format!(
        "t.number, t.state, t.kind, k.code, k.label, substr(c.name, 1, {n}), substr(c.email, 1, {n}),
         substr(t.subject, 1, {n}), t.received_at, t.due_at, t.first_answered_at IS NOT NULL,
         t.needs_attention, t.channel, s.name,
         (SELECT g.value || ' ' || g.confidence FROM ticket_suggestions g
           WHERE g.ticket_id = t.id AND g.field = 'category' AND g.rank = 0),
         NOT {FRAIL_LAST}"
    )
}

/// Issue 20: 0 for a frail citizen's ticket, 1 for the others (sorts them first).
const FRAIL_LAST: &str = "NOT EXISTS (SELECT 1 FROM ticket_analysis fa
                              WHERE fa.ticket_id = t.id AND fa.fragility_id IS NOT NULL)";

fn list_row(r: &rusqlite::Row) -> rusqlite::Result<ListRow> {
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let s: String = r.get(i)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
            })
    };
    Ok(ListRow {
        number: r.get(0)?,
        state: r.get(1)?,
        kind: r.get(2)?,
        category_code: r.get(3)?,
        category_label: r.get(4)?,
        citizen_name: r.get(5)?,
        citizen_email: r.get(6)?,
        subject: r.get(7)?,
        received_at: time(8)?,
        due_at: time(9)?,
        answered: r.get(10)?,
        needs_attention: r.get(11)?,
        channel: r.get(12)?,
        service_name: r.get(13)?,
        suggested_category: r.get::<_, Option<String>>(14)?.and_then(|s| {
            let (code, confidence) = s.rsplit_once(' ')?;
            Some((code.to_string(), confidence.parse().ok()?))
        }),
        fragile: r.get(15)?,
    })
}

/// The ids a category code stands for: itself, and for a macro-category its sub-categories.
/// Empty for an unknown code.
pub fn category_ids(conn: &Connection, code: &str) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM categories WHERE code = ?1
             OR parent_id = (SELECT id FROM categories WHERE code = ?1) ORDER BY id",
        )?
        .query_map([code], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub rows: Vec<ListRow>,
    /// How many tickets match, counted up to [`COUNT_CAP`] + 1.
    pub total: usize,
    /// The search matched more than [`SEARCH_CAP`] messages: only the most recent count.
    pub search_capped: bool,
}

/// One page of tickets matching `f`.
pub fn list(
    conn: &Connection,
    f: &Filters,
    now: DateTime<Utc>,
    page: usize,
    page_size: usize,
) -> Result<Page> {
    let category_ids = match &f.category {
        Some(code) => Some(category_ids(conn, code)?),
        None => None,
    };
    if category_ids.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Page {
            rows: Vec::new(),
            total: 0,
            search_capped: false,
        });
    }
    let (mut found, search_capped) = match f.search.as_deref().and_then(fts_query) {
        Some(q) => {
            let (ids, capped) = search(conn, &q)?;
            (Some(ids), capped)
        }
        None => (None, false),
    };
    // Issue 15: the search also finds a ticket by its number (or part of it) and a citizen by
    // name, address or phone.
    if let (Some(text), Some(ids)) = (f.search.as_deref(), found.as_mut()) {
        ids.extend(super::intake::matching_citizen_or_number(conn, text)?);
        ids.sort_unstable();
        ids.dedup();
    }
    if found.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Page {
            rows: Vec::new(),
            total: 0,
            search_capped,
        });
    }
    let w = where_clause(f, category_ids.as_deref(), found.as_deref(), now);
    let cond = w.clauses.join(" AND ");
    let from = match w.index {
        Some(index) => format!("tickets t INDEXED BY {index}"),
        None => "tickets t".to_string(),
    };
    let order = match f.sort {
        Sort::Newest => "t.received_at DESC, t.id DESC",
        Sort::Oldest => "t.received_at, t.id",
        Sort::Deadline => "t.due_at, t.id",
    };
    // Issue 20: a frail citizen's ticket comes first in every queue of open tickets (small sets
    // by construction; the whole list keeps its plain order, which an index serves).
    let order = if w.index.is_some() || f.state.is_some_and(State::is_open) {
        format!("{FRAIL_LAST}, {order}")
    } else {
        order.to_string()
    };
    // The page's ids first (narrow rows to sort), then their columns.
    let sql = format!(
        "SELECT {} FROM
           (SELECT t.id FROM {from} WHERE {cond} ORDER BY {order} LIMIT {page_size} OFFSET {}) p
         JOIN tickets t ON t.id = p.id
         JOIN contacts c ON c.id = t.contact_id
         LEFT JOIN categories k ON k.id = t.category_id
         LEFT JOIN services s ON s.id = t.service_id
         ORDER BY {order}",
        list_columns(),
        page.saturating_mul(page_size)
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(&w.params), list_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let count_sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM {from} WHERE {cond} LIMIT {})",
        COUNT_CAP + 1
    );
    let total: i64 = conn
        .prepare_cached(&count_sql)?
        .query_row(rusqlite::params_from_iter(&w.params), |r| r.get(0))?;
    Ok(Page {
        rows,
        total: total as usize,
        search_capped,
    })
}

/// How many tickets are in each state (a table the triggers keep: free on any database).
pub fn tickets_by_state(conn: &Connection) -> Result<Vec<(State, i64)>> {
    Ok(conn
        .prepare_cached("SELECT state, n FROM ticket_state_counts ORDER BY state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_never_reach_fts5_as_syntax() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("bagni sporchi").unwrap(), "\"bagni\" \"sporchi\"");
        assert_eq!(
            fts_query("dell'ospedale NEAR(a b) \"x").unwrap(),
            "\"dell\" \"ospedale\" \"NEAR\" \"a\" \"b\" \"x\""
        );
        assert_eq!(fts_query("OR AND *").unwrap(), "\"OR\" \"AND\"");
    }

    #[test]
    fn list_filters_and_counts() {
        let conn = crate::store::open_in_memory().unwrap();
        let now: DateTime<Utc> = "2026-05-20T10:00:00Z".parse().unwrap();
        conn.execute_batch(
            "INSERT INTO contacts (id, email, name, created_at) VALUES (1, 'a@x.test', 'A', '2026-01-01T00:00:00Z');
             INSERT INTO tickets (number, year, seq, thread_token, state, contact_id, subject, received_at, due_at, channel, created_at, updated_at, category_id)
             VALUES ('URP-2026-000001', 2026, 1, 't', 'pending', 1, 'Bagni sporchi', '2026-04-01T08:00:00Z', '2026-05-01T08:00:00Z', 'email', 'x', 'x', NULL),
                    ('URP-2026-000002', 2026, 2, 't', 'closed', 1, 'Grazie', '2026-05-10T08:00:00Z', '2026-06-09T08:00:00Z', 'email', 'x', 'x', (SELECT id FROM categories WHERE code = 'REL.01')),
                    ('URP-2026-000003', 2026, 3, 't', 'in_charge', 1, 'Attesa', '2026-05-15T08:00:00Z', '2026-05-25T08:00:00Z', 'pec', 'x', 'x', NULL);
             INSERT INTO messages (ticket_id, direction, subject, body_text, received_at, created_at)
             VALUES (1, 'in', 'Bagni sporchi', 'Il bagno del reparto era sporchissimo', '2026-04-01T08:00:00Z', 'x');",
        )
        .unwrap();
        let numbers = |f: &Filters| -> (Vec<String>, usize) {
            let p = list(&conn, f, now, 0, 10).unwrap();
            (
                p.rows
                    .into_iter()
                    .map(|r| r.number.to_string()[9..].to_string())
                    .collect(),
                p.total,
            )
        };
        assert_eq!(
            numbers(&Filters::default()),
            (vec!["000003".into(), "000002".into(), "000001".into()], 3)
        );
        assert_eq!(numbers(&Queue::Overdue.filters()).0, ["000001"]);
        assert_eq!(numbers(&Queue::DueSoon.filters()).0, ["000003"]);
        assert_eq!(
            numbers(&Queue::Unclassified.filters()).0,
            ["000003", "000001"]
        );
        let f = Filters {
            category: Some("REL".into()),
            ..Default::default()
        };
        assert_eq!(numbers(&f).0, ["000002"]);
        let f = Filters {
            search: Some("sporchissimo".into()),
            ..Default::default()
        };
        assert_eq!(numbers(&f).0, ["000001"]);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let f = Filters {
            from: d("2026-05-10"),
            to: d("2026-05-14"),
            ..Default::default()
        };
        assert_eq!(numbers(&f).0, ["000002"]);
        let counts = dashboard(&conn, now, 5).unwrap().by_state;
        assert!(
            counts.contains(&(State::Pending, 1)) && counts.contains(&(State::Closed, 1)),
            "{counts:?}"
        );
    }
}
