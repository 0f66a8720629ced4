//! The learned classifier in the product (issue 13): the model [`crate::learn`] trains, stored
//! in the database, trained from the shipped corpus and the operators' confirmed tickets, and
//! applied at ingest after the routing rules.
//!
//! # Layout
//!
//! - [`corpus`]: the shipped corpus, embedded in the binary (see `build.rs`).
//! - [`slot`]: the model in use, shared by ingest and the backoffice, reloaded when a newer one
//!   is stored.
//! - [`training`]: the examples (corpus + confirmed tickets, scrubbed by `learn`), training off
//!   the database thread, storing the result in one short transaction.
//! - [`apply`]: from a prediction to a new ticket's fields, their sources and the suggestions.
//! - [`explain`]: the words that weighed, for `classify explain` and the ticket page.
//! - [`evaluation`]: `ascolto classify evaluate` on the confirmed tickets or a corpus file.
//! - [`task`]: the daemon's training at the first start and every night.
//!
//! # The decisions
//!
//! The routing rules run first and win: the model only fills a field no rule set, only above
//! that field's calibrated threshold, and never on a message without text (empty, attachments
//! only). Below the threshold it leaves up to three suggestions with their confidence, which an
//! operator confirms with one click. Every field records where its value came from (rule, model
//! version and confidence, operator) in `ticket_field_sources` and in the audit log.

pub mod apply;
pub mod corpus;
pub mod evaluation;
pub mod explain;
pub mod slot;
pub mod task;
pub mod training;

pub use apply::{apply, Applied};
pub use slot::{Loaded, ModelSlot};
pub use training::{train_and_store, Trained, Trainer};

/// How much an operator's confirmed ticket counts against one corpus message: the hospital's
/// own use outweighs the corpus where they disagree, while the corpus still covers what the
/// hospital has few examples of.
pub const CONFIRMED_WEIGHT: f32 = 3.0;

#[cfg(test)]
mod tests;
