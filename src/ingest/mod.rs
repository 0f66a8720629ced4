//! Ingest: mail from the watched mailboxes (or an archive) into the database, exactly once.

pub mod imap;
pub mod import;
pub mod pipeline;
pub mod tls;

pub use pipeline::{prepare, prepare_with_model, Origin, Outcome, Pipeline, Prepared, Settings};
