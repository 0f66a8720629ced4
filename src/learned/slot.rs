//! The model in use, shared by ingest (the database thread, and the blocking pool that
//! prepares messages) and the backoffice (explanations). Reloaded from the database when a newer
//! version is stored; the lock is held only to swap an `Arc`, never while a model loads or runs.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use rusqlite::Connection;

use crate::learn::Model;
use crate::store::classifier as sql;

/// A model read from the database, with its version.
#[derive(Debug)]
pub struct Loaded {
    pub version: i64,
    pub model: Model,
}

#[derive(Debug, Default)]
pub struct ModelSlot {
    current: Mutex<Option<Arc<Loaded>>>,
    /// A stored version this build cannot read (another format): not read again and again.
    unreadable: Mutex<Option<i64>>,
}

impl ModelSlot {
    /// The model loaded now, without asking the database.
    pub fn peek(&self) -> Option<Arc<Loaded>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts a model just trained in use.
    pub fn put(&self, loaded: Arc<Loaded>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(loaded);
    }

    /// The newest stored model, loaded if it is not the one in use (one cheap query otherwise).
    pub fn refresh(&self, conn: &Connection) -> Result<Option<Arc<Loaded>>> {
        let latest = sql::latest_version(conn)?;
        let current = self.peek();
        if current.as_ref().map(|l| l.version) == latest {
            return Ok(current);
        }
        let Some(version) = latest else {
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
            return Ok(None);
        };
        if *self
            .unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            == Some(version)
        {
            return Ok(current);
        }
        let Some((version, _, bytes)) = sql::latest_bytes(conn)? else {
            return Ok(current);
        };
        match Model::from_bytes(&bytes) {
            Ok(model) => {
                let loaded = Arc::new(Loaded { version, model });
                tracing::info!(version, bytes = bytes.len(), "classifier model loaded");
                self.put(loaded.clone());
                Ok(Some(loaded))
            }
            Err(e) => {
                tracing::warn!(version, "the stored classifier model cannot be read ({e}); it is retrained at the next start or with `ascolto classify train`");
                *self
                    .unreadable
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(version);
                Ok(current)
            }
        }
    }
}
