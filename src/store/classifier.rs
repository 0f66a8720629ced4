//! The learned classifier's SQL (issue 13): the stored model, where each ticket's
//! classification fields came from, the model's suggestions, what the routing rules set, the
//! tickets it learns from, and the evaluations.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::domain::{ClassField, ClassSource, Kind, TrainReason};

/// A stored model's facts, without its bytes (the administration page).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRow {
    pub version: i64,
    pub format_version: u32,
    pub trained_at: String,
    pub reason: TrainReason,
    pub corpus_examples: i64,
    pub ticket_examples: i64,
    pub seconds: f64,
    pub thresholds: Thresholds,
    pub size: i64,
}

/// The calibrated thresholds of a model, per field (`None`: the field never decides alone).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub kind: Option<f32>,
    pub category: Option<f32>,
    pub macro_category: Option<f32>,
    pub service: Option<f32>,
}

/// A model to store.
pub struct NewModel<'a> {
    pub format_version: u32,
    pub trained_at: &'a str,
    pub reason: TrainReason,
    pub corpus_examples: usize,
    pub ticket_examples: usize,
    pub seconds: f64,
    pub thresholds: &'a Thresholds,
    pub bytes: &'a [u8],
}

/// The newest model's version, if any (cheap: the table's largest key).
pub fn latest_version(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(version) FROM classifier_models")?
        .query_row([], |r| r.get(0))?)
}

/// The newest model: its version, format version and bytes.
pub fn latest_bytes(conn: &Connection) -> Result<Option<(i64, u32, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT version, format_version, bytes FROM classifier_models
              ORDER BY version DESC LIMIT 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// The newest model's facts.
pub fn latest(conn: &Connection) -> Result<Option<ModelRow>> {
    conn.prepare_cached(
        "SELECT version, format_version, trained_at, reason, corpus_examples, ticket_examples,
                seconds, thresholds, length(bytes)
           FROM classifier_models ORDER BY version DESC LIMIT 1",
    )?
    .query_row([], |r| {
        Ok((
            ModelRow {
                version: r.get(0)?,
                format_version: r.get(1)?,
                trained_at: r.get(2)?,
                reason: r.get(3)?,
                corpus_examples: r.get(4)?,
                ticket_examples: r.get(5)?,
                seconds: r.get(6)?,
                thresholds: Thresholds::default(),
                size: r.get(8)?,
            },
            r.get::<_, String>(7)?,
        ))
    })
    .optional()?
    .map(|(mut row, json)| {
        row.thresholds = serde_json::from_str(&json)?;
        Ok(row)
    })
    .transpose()
}

/// Stores a model and removes every older one (they may hold words of tickets anonymised
/// since); returns its version. Run it in one short transaction: the training happened before.
pub fn store_model(conn: &Connection, m: &NewModel) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO classifier_models (format_version, trained_at, reason, corpus_examples,
             ticket_examples, seconds, thresholds, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.format_version,
        m.trained_at,
        m.reason,
        m.corpus_examples as i64,
        m.ticket_examples as i64,
        m.seconds,
        serde_json::to_string(m.thresholds)?,
        m.bytes
    ])?;
    let version = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM classifier_models WHERE version < ?1")?
        .execute([version])?;
    Ok(version)
}

/// Where a field's value came from, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSource {
    pub field: ClassField,
    pub source: ClassSource,
    pub rule_id: Option<i64>,
    pub rule_name: Option<String>,
    pub model_version: Option<i64>,
    pub confidence: Option<f64>,
    pub user_id: Option<i64>,
    /// The operator's name (read back only).
    pub user_name: Option<String>,
    pub at: String,
}

impl FieldSource {
    pub fn rule(field: ClassField, rule_id: i64, rule_name: &str, at: &str) -> FieldSource {
        FieldSource {
            field,
            source: ClassSource::Rule,
            rule_id: Some(rule_id),
            rule_name: Some(rule_name.to_string()),
            model_version: None,
            confidence: None,
            user_id: None,
            user_name: None,
            at: at.to_string(),
        }
    }

    pub fn model(field: ClassField, version: i64, confidence: f32, at: &str) -> FieldSource {
        FieldSource {
            field,
            source: ClassSource::Model,
            rule_id: None,
            rule_name: None,
            model_version: Some(version),
            confidence: Some(f64::from(confidence)),
            user_id: None,
            user_name: None,
            at: at.to_string(),
        }
    }

    pub fn operator(field: ClassField, user_id: i64, at: &str) -> FieldSource {
        FieldSource {
            field,
            source: ClassSource::Operator,
            rule_id: None,
            rule_name: None,
            model_version: None,
            confidence: None,
            user_id: Some(user_id),
            user_name: None,
            at: at.to_string(),
        }
    }

    /// The audit log's words for it (ids, versions, confidences: no personal data).
    pub fn audit_detail(&self) -> serde_json::Value {
        serde_json::json!({
            "source": self.source,
            "rule": self.rule_id,
            "model_version": self.model_version,
            "confidence": self.confidence.map(|c| (c * 1000.0).round() / 1000.0),
            "user": self.user_id,
        })
    }
}

/// Records (or replaces) where `ticket_id`'s field `s.field` came from.
pub fn set_source(conn: &Connection, ticket_id: i64, s: &FieldSource) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO ticket_field_sources
             (ticket_id, field, source, rule_id, rule_name, model_version, confidence, user_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        ticket_id,
        s.field,
        s.source,
        s.rule_id,
        s.rule_name,
        s.model_version,
        s.confidence,
        s.user_id,
        s.at
    ])?;
    Ok(())
}

/// Forgets where a field came from (it was emptied).
pub fn clear_source(conn: &Connection, ticket_id: i64, field: ClassField) -> Result<()> {
    conn.prepare_cached("DELETE FROM ticket_field_sources WHERE ticket_id = ?1 AND field = ?2")?
        .execute(params![ticket_id, field])?;
    Ok(())
}

/// Where each of a ticket's fields came from, in field order.
pub fn sources(conn: &Connection, ticket_id: i64) -> Result<Vec<FieldSource>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.field, s.source, s.rule_id, s.rule_name, s.model_version, s.confidence,
                s.user_id, u.name, s.at
           FROM ticket_field_sources s LEFT JOIN users u ON u.id = s.user_id
          WHERE s.ticket_id = ?1 ORDER BY s.field",
    )?;
    let rows = stmt
        .query_map([ticket_id], |r| {
            Ok(FieldSource {
                field: r.get(0)?,
                source: r.get(1)?,
                rule_id: r.get(2)?,
                rule_name: r.get(3)?,
                model_version: r.get(4)?,
                confidence: r.get(5)?,
                user_id: r.get(6)?,
                user_name: r.get(7)?,
                at: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One of the model's suggestions for a field.
#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub field: ClassField,
    pub rank: i64,
    /// A kind word, a category code, a service code, or [`crate::learn::NO_SERVICE`].
    pub value: String,
    pub confidence: f64,
    pub model_version: i64,
    /// The category's or service's id and label when the value names an active one (a kind
    /// is its own label).
    pub target: Option<(i64, String)>,
}

impl Suggestion {
    /// The kind a kind suggestion names.
    pub fn kind(&self) -> Option<Kind> {
        match self.field {
            ClassField::Kind => self.value.parse().ok(),
            _ => None,
        }
    }
}

/// Replaces a field's suggestions with `values` (best first).
pub fn set_suggestions(
    conn: &Connection,
    ticket_id: i64,
    field: ClassField,
    values: &[(&str, f32)],
    model_version: i64,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM ticket_suggestions WHERE ticket_id = ?1 AND field = ?2")?
        .execute(params![ticket_id, field])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO ticket_suggestions (ticket_id, field, rank, value, confidence, model_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (rank, (value, confidence)) in values.iter().enumerate() {
        insert.execute(params![
            ticket_id,
            field,
            rank as i64,
            value,
            f64::from(*confidence),
            model_version
        ])?;
    }
    Ok(())
}

/// A new ticket's suggestions for every field at once (best first within a field), in one
/// statement: ingest writes them for most new tickets, so each statement counts.
pub fn insert_suggestions(
    conn: &Connection,
    ticket_id: i64,
    fields: &[(ClassField, Vec<(String, f32)>)],
    model_version: i64,
) -> Result<()> {
    let rows: Vec<(ClassField, usize, &str, f64)> = fields
        .iter()
        .flat_map(|(field, values)| {
            values
                .iter()
                .enumerate()
                .map(move |(rank, (v, c))| (*field, rank, v.as_str(), f64::from(*c)))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO ticket_suggestions (ticket_id, field, rank, value, confidence, model_version)
         VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
    );
    let mut params: Vec<rusqlite::types::Value> = Vec::with_capacity(rows.len() * 6);
    for (field, rank, value, confidence) in rows {
        params.extend([
            ticket_id.into(),
            field.as_str().to_string().into(),
            (rank as i64).into(),
            value.to_string().into(),
            confidence.into(),
            model_version.into(),
        ]);
    }
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(())
}

/// A ticket's suggestions, by field and rank, with what each names in today's lists.
pub fn suggestions(conn: &Connection, ticket_id: i64) -> Result<Vec<Suggestion>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.field, g.rank, g.value, g.confidence, g.model_version,
                coalesce(c.id, s.id), coalesce(c.code || ' – ' || c.label, s.name)
           FROM ticket_suggestions g
           LEFT JOIN categories c ON g.field = 'category' AND c.code = g.value
                AND c.parent_id IS NOT NULL AND c.active = 1
           LEFT JOIN services s ON g.field = 'service' AND s.code = g.value AND s.active = 1
          WHERE g.ticket_id = ?1 ORDER BY g.field, g.rank",
    )?;
    let rows = stmt
        .query_map([ticket_id], |r| {
            let id: Option<i64> = r.get(5)?;
            let label: Option<String> = r.get(6)?;
            Ok(Suggestion {
                field: r.get(0)?,
                rank: r.get(1)?,
                value: r.get(2)?,
                confidence: r.get(3)?,
                model_version: r.get(4)?,
                target: id.zip(label),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// An active sub-category's id by its code: what a model's category may fill (a macro-category
/// alone, `ALT`, is no ticket's classification).
pub fn sub_category_by_code(conn: &Connection, code: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM categories WHERE code = ?1 AND parent_id IS NOT NULL AND active = 1",
        )?
        .query_row([code], |r| r.get(0))
        .optional()?)
}

/// An active service's id by its code.
pub fn service_by_code(conn: &Connection, code: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM services WHERE code = ?1 AND active = 1")?
        .query_row([code], |r| r.get(0))
        .optional()?)
}

/// What a routing rule set on a new ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleValue {
    Kind(Kind),
    Category(i64),
    Service(i64),
}

impl RuleValue {
    pub fn field(self) -> ClassField {
        match self {
            RuleValue::Kind(_) => ClassField::Kind,
            RuleValue::Category(_) => ClassField::Category,
            RuleValue::Service(_) => ClassField::Service,
        }
    }
}

pub fn record_rule_result(
    conn: &Connection,
    ticket_id: i64,
    rule_id: i64,
    value: RuleValue,
) -> Result<()> {
    let (kind, category, service) = match value {
        RuleValue::Kind(k) => (Some(k), None, None),
        RuleValue::Category(c) => (None, Some(c), None),
        RuleValue::Service(s) => (None, None, Some(s)),
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO rule_results (ticket_id, field, rule_id, kind, category_id, service_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![ticket_id, value.field(), rule_id, kind, category, service])?;
    Ok(())
}

/// How often a rule's result agreed with the operators' final classification: among the
/// tickets where it set a field that an operator then confirmed (or changed), how many kept it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleAgreement {
    pub rule_id: i64,
    /// `None`: the rule was deleted since.
    pub name: Option<String>,
    pub applied: i64,
    pub judged: i64,
    pub agreed: i64,
}

pub fn rule_agreement(conn: &Connection) -> Result<Vec<RuleAgreement>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.rule_id, rr.name, count(*),
                count(s.ticket_id),
                sum(s.ticket_id IS NOT NULL AND CASE r.field
                      WHEN 'kind' THEN r.kind IS t.kind
                      WHEN 'category' THEN r.category_id IS t.category_id
                      ELSE r.service_id IS t.service_id END)
           FROM rule_results r
           JOIN tickets t ON t.id = r.ticket_id
           LEFT JOIN ticket_field_sources s ON s.ticket_id = r.ticket_id AND s.field = r.field
                AND s.source = 'operator'
           LEFT JOIN routing_rules rr ON rr.id = r.rule_id
          GROUP BY r.rule_id ORDER BY coalesce(rr.priority, 1e9), r.rule_id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(RuleAgreement {
                rule_id: r.get(0)?,
                name: r.get(1)?,
                applied: r.get(2)?,
                judged: r.get(3)?,
                agreed: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A ticket an operator classified, as the model learns from it: the citizen's first message,
/// the fields an operator set or confirmed (and, for the service, what it is now).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingTicket {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub sender_name: Option<String>,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    /// The service's code now (`None`: no unit), and whether an operator set or confirmed it.
    pub service: Option<String>,
    pub service_confirmed: bool,
}

/// The tickets with at least one field an operator set or confirmed, not anonymised (retraining
/// after `anonymise` forgets them) and not merged away, oldest first.
pub fn training_tickets(conn: &Connection) -> Result<Vec<TrainingTicket>> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.subject,
                (SELECT m.body_text FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'in'
                    AND m.automatic IS NULL ORDER BY m.received_at, m.id LIMIT 1),
                coalesce(c.name, (SELECT m.from_name FROM messages m WHERE m.ticket_id = t.id
                    AND m.direction = 'in' ORDER BY m.id LIMIT 1)),
                CASE WHEN sk.source = 'operator' THEN t.kind END,
                CASE WHEN sc.source = 'operator' THEN k.code END,
                v.code, sv.source = 'operator'
           FROM tickets t
           JOIN contacts c ON c.id = t.contact_id
           LEFT JOIN categories k ON k.id = t.category_id
           LEFT JOIN services v ON v.id = t.service_id
           LEFT JOIN ticket_field_sources sk ON sk.ticket_id = t.id AND sk.field = 'kind'
           LEFT JOIN ticket_field_sources sc ON sc.ticket_id = t.id AND sc.field = 'category'
           LEFT JOIN ticket_field_sources sv ON sv.ticket_id = t.id AND sv.field = 'service'
          WHERE t.anonymised_at IS NULL AND t.merged_into IS NULL
            AND t.id IN (SELECT ticket_id FROM ticket_field_sources WHERE source = 'operator')
          ORDER BY t.id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TrainingTicket {
                id: r.get(0)?,
                subject: r.get(1)?,
                body: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                sender_name: r.get(3)?,
                kind: r.get(4)?,
                category: r.get(5)?,
                service: r.get(6)?,
                service_confirmed: r.get::<_, Option<bool>>(7)?.unwrap_or(false),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The figures of an evaluation the administration page shows, per field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSummary {
    /// `kind`, `category`, `macro_category`, `service`.
    pub field: crate::learn::Field,
    pub labelled: usize,
    pub decided: usize,
    pub precision: f64,
    pub coverage: f64,
    pub accuracy_top1: f64,
    pub accuracy_top3: f64,
}

/// An evaluation as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationRow {
    pub at: String,
    pub source: String,
    pub folds: i64,
    pub examples: i64,
    pub summary: Vec<FieldSummary>,
    pub report: String,
}

pub fn store_evaluation(conn: &Connection, e: &EvaluationRow) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO classifier_evaluations (at, source, folds, examples, summary, report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        e.at,
        e.source,
        e.folds,
        e.examples,
        serde_json::to_string(&e.summary)?,
        e.report
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn latest_evaluation(conn: &Connection) -> Result<Option<EvaluationRow>> {
    conn.prepare_cached(
        "SELECT at, source, folds, examples, summary, report FROM classifier_evaluations
          ORDER BY id DESC LIMIT 1",
    )?
    .query_row([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })
    .optional()?
    .map(|(at, source, folds, examples, summary, report)| {
        Ok(EvaluationRow {
            at,
            source,
            folds,
            examples,
            summary: serde_json::from_str(&summary)?,
            report,
        })
    })
    .transpose()
}

/// Of the tickets received in [from, to) that have a category, how many an operator set or
/// confirmed (the statistics page's "confermate da un operatore").
pub fn confirmed_share(conn: &Connection, from: &str, to: &str) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), count(s.ticket_id)
               FROM tickets t
               LEFT JOIN ticket_field_sources s ON s.ticket_id = t.id AND s.field = 'category'
                    AND s.source = 'operator'
              WHERE t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL
                AND t.category_id IS NOT NULL",
        )?
        .query_row([from, to], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// What the classifier reads of a ticket: its subject, the citizen's first message and the
/// sender's name (for explanations).
pub fn ticket_text(
    conn: &Connection,
    ticket_id: i64,
) -> Result<Option<(String, String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT t.subject,
                    coalesce((SELECT m.body_text FROM messages m WHERE m.ticket_id = t.id
                        AND m.direction = 'in' AND m.automatic IS NULL
                        ORDER BY m.received_at, m.id LIMIT 1), ''),
                    c.name
               FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.id = ?1",
        )?
        .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// Tickets received in [from, to) (of one service, when given) counted by a category that an
/// operator set or confirmed: the statistics' "confirmed classifications only". Sub-categories
/// by code, most frequent first.
pub fn confirmed_by_category(
    conn: &Connection,
    from: &str,
    to: &str,
    service: Option<i64>,
) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.code, k.label, count(*)
           FROM tickets t
           JOIN ticket_field_sources s ON s.ticket_id = t.id AND s.field = 'category'
                AND s.source = 'operator'
           JOIN categories k ON k.id = t.category_id
          WHERE t.received_at >= ?1 AND t.received_at < ?2 AND t.merged_into IS NULL
            AND (?3 IS NULL OR t.service_id = ?3)
          GROUP BY k.id ORDER BY count(*) DESC, k.code",
    )?;
    let rows = stmt
        .query_map(params![from, to, service], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[cfg(test)]
#[path = "classifier_tests.rs"]
mod tests;
