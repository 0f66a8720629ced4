//! Training: the shipped corpus (weight 1) and the operators' confirmed tickets
//! ([`super::CONFIRMED_WEIGHT`]) in, a stored model out.
//!
//! Training takes seconds on the corpus and up to a minute on 100,000 tickets, so it never runs
//! on the database thread: the examples are read on a read-only connection (WAL: a snapshot,
//! while ingest goes on), the model is trained on the caller's thread, and only storing it takes
//! the writer, in one short transaction. Personal data are removed by `learn` itself
//! ([`crate::learn::train`] scrubs every example: names from the sender and signatures,
//! addresses, phones, codici fiscali, dates); anonymised tickets are not read at all, and the
//! older models are deleted when a new one is stored, so retraining after `anonymise` forgets
//! them.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rusqlite::Connection;
use serde_json::json;

use super::slot::Loaded;
use crate::domain::{AuditAction, AuditActor, TrainReason};
use crate::learn::{self, CorpusEntry, Example, Field, Model, TrainOptions};
use crate::store::classifier::{self as sql, NewModel, Thresholds, TrainingTicket};
use crate::store::{self, audit};

/// What shapes a training: the options handed to `learn`, and the corpus used as the prior.
#[derive(Clone, Debug)]
pub struct Trainer {
    pub options: TrainOptions,
    /// The corpus; `None`: the one shipped in the binary.
    pub corpus: Option<Vec<CorpusEntry>>,
    pub confirmed_weight: f32,
}

impl Default for Trainer {
    fn default() -> Self {
        Trainer {
            options: TrainOptions::default(),
            corpus: None,
            confirmed_weight: super::CONFIRMED_WEIGHT,
        }
    }
}

/// A model trained and not yet stored.
pub struct Trained {
    pub model: Model,
    pub bytes: Vec<u8>,
    pub corpus_examples: usize,
    pub ticket_examples: usize,
    pub seconds: f64,
    pub thresholds: Thresholds,
}

/// A confirmed ticket as an example. The service is always a label in `learn` (no unit is
/// [`learn::NO_SERVICE`]); a ticket whose service nobody confirmed teaches what it has now,
/// which a rule or the model set above its threshold.
fn example(t: &TrainingTicket, weight: f32) -> Example<'_> {
    Example {
        subject: &t.subject,
        body: &t.body,
        sender_name: t.sender_name.as_deref(),
        kind: t.kind.map(|k| k.as_str().to_string()),
        category: t.category.clone(),
        service: t.service.clone(),
        weight,
    }
}

impl Trainer {
    /// Reads the confirmed tickets (from a read-only connection) and trains. Slow: run it off
    /// the async runtime and off the database thread.
    pub fn train(&self, reader: &Connection) -> Result<Trained> {
        let tickets = sql::training_tickets(reader).context("reading the confirmed tickets")?;
        self.train_on(&tickets)
    }

    /// Trains on the corpus and `tickets`.
    pub fn train_on(&self, tickets: &[TrainingTicket]) -> Result<Trained> {
        let started = Instant::now();
        let shipped;
        let corpus = match &self.corpus {
            Some(c) => c,
            None => {
                shipped = super::corpus::shipped()?;
                &shipped
            }
        };
        let mut examples: Vec<Example> = corpus.iter().map(|e| e.example(1.0)).collect();
        examples.extend(tickets.iter().map(|t| example(t, self.confirmed_weight)));
        let model = learn::train(&examples, &self.options).context("training the classifier")?;
        let threshold = |f: Field| model.field_summary(f).and_then(|(_, t)| t);
        let thresholds = Thresholds {
            kind: threshold(Field::Kind),
            category: threshold(Field::Category),
            macro_category: threshold(Field::MacroCategory),
            service: threshold(Field::Service),
        };
        Ok(Trained {
            bytes: model.to_bytes(),
            model,
            corpus_examples: corpus.len(),
            ticket_examples: tickets.len(),
            seconds: started.elapsed().as_secs_f64(),
            thresholds,
        })
    }
}

/// Stores a trained model (one transaction: the row, older models deleted, the audit entry) and
/// returns it loaded.
pub fn store_trained(
    conn: &mut Connection,
    trained: Trained,
    reason: TrainReason,
    actor: AuditActor,
) -> Result<Arc<Loaded>> {
    let tx = conn.transaction()?;
    let version = sql::store_model(
        &tx,
        &NewModel {
            format_version: learn::FORMAT_VERSION,
            trained_at: &store::now_text(),
            reason,
            corpus_examples: trained.corpus_examples,
            ticket_examples: trained.ticket_examples,
            seconds: trained.seconds,
            thresholds: &trained.thresholds,
            bytes: &trained.bytes,
        },
    )?;
    audit::record(
        &tx,
        actor,
        AuditAction::ClassifierTrained,
        None,
        json!({
            "version": version,
            "reason": reason,
            "corpus_examples": trained.corpus_examples,
            "ticket_examples": trained.ticket_examples,
            "bytes": trained.bytes.len(),
            "seconds": (trained.seconds * 10.0).round() / 10.0,
            "thresholds": trained.thresholds,
        }),
    )?;
    tx.commit()?;
    tracing::info!(
        version,
        reason = reason.as_str(),
        corpus = trained.corpus_examples,
        tickets = trained.ticket_examples,
        seconds = trained.seconds,
        bytes = trained.bytes.len(),
        "classifier trained"
    );
    Ok(Arc::new(Loaded {
        version,
        model: trained.model,
    }))
}

/// Trains and stores on one connection (the command line, tests): reads, trains, then stores
/// in one transaction.
pub fn train_and_store(
    conn: &mut Connection,
    trainer: &Trainer,
    reason: TrainReason,
    actor: AuditActor,
) -> Result<Arc<Loaded>> {
    let trained = trainer.train(conn)?;
    store_trained(conn, trained, reason, actor)
}
