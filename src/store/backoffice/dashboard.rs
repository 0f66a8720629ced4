//! The dashboard: counts by state and the queues that need someone now.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::domain::State;

use super::*;

/// The dashboard: counts by state and the queues that need someone now.
#[derive(Debug)]
pub struct Dashboard {
    pub by_state: Vec<(State, i64)>,
    /// (queue, its filter, first rows, how many)
    pub queues: Vec<(Queue, Vec<ListRow>, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Attention,
    Unclassified,
    Overdue,
    DueSoon,
    New,
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::Attention,
        Queue::Overdue,
        Queue::DueSoon,
        Queue::Unclassified,
        Queue::New,
    ];

    pub fn filters(self) -> Filters {
        let mut f = Filters::default();
        match self {
            Queue::Attention => f.attention = true,
            Queue::Unclassified => f.unclassified = true,
            Queue::Overdue => {
                f.overdue = true;
                f.sort = Sort::Deadline
            }
            Queue::DueSoon => {
                f.due_soon = true;
                f.sort = Sort::Deadline
            }
            Queue::New => {
                f.state = Some(State::Pending);
                f.sort = Sort::Oldest
            }
        }
        f
    }
}

pub fn dashboard(conn: &Connection, now: DateTime<Utc>, rows: usize) -> Result<Dashboard> {
    let by_state = tickets_by_state(conn)?;
    let mut queues = Vec::new();
    for q in Queue::ALL {
        let page = list(conn, &q.filters(), now, 0, rows)?;
        queues.push((q, page.rows, page.total));
    }
    Ok(Dashboard { by_state, queues })
}
