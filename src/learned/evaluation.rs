//! `ascolto classify evaluate`: stratified k-fold cross-validation on the operators' confirmed
//! tickets, or on a labelled corpus file; the result is printed and kept for the administration
//! page.

use std::path::Path;

use anyhow::{bail, Result};
use rusqlite::Connection;
use serde_json::json;

use crate::domain::{AuditAction, AuditActor};
use crate::learn::{self, EvalOptions, Evaluation, Example};
use crate::store::classifier::{self as sql, EvaluationRow, FieldSummary};
use crate::store::{self, audit};

/// What to evaluate on.
pub enum EvalSource<'a> {
    /// The confirmed tickets of the database (never the corpus: the hospital's own figures).
    Tickets,
    /// A corpus file or a folder of `.jsonl` files; a malformed line is named in the error.
    Corpus(&'a Path),
}

/// Cross-validates and returns the evaluation with the row to keep.
pub fn evaluate(
    conn: &Connection,
    source: EvalSource,
    options: &EvalOptions,
) -> Result<(Evaluation, EvaluationRow)> {
    let (label, evaluation) = match source {
        EvalSource::Tickets => {
            let tickets = sql::training_tickets(conn)?;
            if tickets.len() < options.folds.max(2) {
                bail!(
                    "{} confirmed tickets: too few for {}-fold cross-validation (evaluate the corpus with --corpus)",
                    tickets.len(),
                    options.folds
                );
            }
            let examples: Vec<Example> = tickets
                .iter()
                .map(|t| Example {
                    subject: &t.subject,
                    body: &t.body,
                    sender_name: t.sender_name.as_deref(),
                    kind: t.kind.map(|k| k.as_str().to_string()),
                    category: t.category.clone(),
                    service: t.service.clone(),
                    weight: 1.0,
                })
                .collect();
            ("tickets".to_string(), learn::evaluate(&examples, options)?)
        }
        EvalSource::Corpus(path) => {
            let corpus = learn::read_corpus_path(path)?;
            let examples: Vec<Example> = corpus.iter().map(|e| e.example(1.0)).collect();
            (
                path.display().to_string(),
                learn::evaluate(&examples, options)?,
            )
        }
    };
    let row = EvaluationRow {
        at: store::now_text(),
        source: label,
        folds: evaluation.folds as i64,
        examples: evaluation.examples as i64,
        summary: evaluation
            .fields
            .iter()
            .map(|f| FieldSummary {
                field: f.field,
                labelled: f.labelled,
                decided: f.decided,
                precision: f.precision,
                coverage: f.coverage,
                accuracy_top1: f.accuracy_top1,
                accuracy_top3: f.accuracy_top3,
            })
            .collect(),
        report: evaluation.to_table(),
    };
    Ok((evaluation, row))
}

/// Keeps an evaluation for the administration page, audited.
pub fn keep(conn: &Connection, row: &EvaluationRow, actor: AuditActor) -> Result<()> {
    let id = sql::store_evaluation(conn, row)?;
    audit::record(
        conn,
        actor,
        AuditAction::ClassifierEvaluated,
        None,
        json!({ "evaluation": id, "folds": row.folds, "examples": row.examples }),
    )
}
