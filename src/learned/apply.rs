//! From the model's prediction to a new ticket's fields: the rules' results stay, the model
//! fills what is left above its thresholds, and suggests the rest.

use anyhow::Result;
use rusqlite::Connection;

use super::slot::Loaded;
use crate::domain::{ClassField, Kind};
use crate::learn::{FieldPrediction, Message, Prediction, NO_SERVICE};
use crate::store::classifier::{self as sql, FieldSource};

/// What the model adds to a new ticket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub kind: Option<Kind>,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    /// Where each filled field came from.
    pub sources: Vec<FieldSource>,
    /// Up to three suggestions for each field neither the rules nor the model filled.
    pub suggestions: Vec<(ClassField, Vec<(String, f32)>)>,
    pub model_version: i64,
}

/// Whether a message may be given a code automatically: it has words (not empty, not only
/// attachments). Automatic mail never reaches classification (it opens no ticket).
pub fn has_text(msg: &Message) -> bool {
    !msg.body.trim().is_empty()
}

/// The model's say on a new ticket whose rules set `rules` (kind, category, service): fills
/// only fields the rules left empty, only with a decision above the field's threshold, and only
/// when `decide` (a message with text); otherwise keeps the suggestions.
pub fn apply(
    conn: &Connection,
    loaded: &Loaded,
    prediction: &Prediction,
    rules: (Option<Kind>, Option<i64>, Option<i64>),
    decide: bool,
    now: &str,
) -> Result<Applied> {
    let version = loaded.version;
    let mut out = Applied {
        model_version: version,
        ..Applied::default()
    };
    let decision = |fp: &FieldPrediction| fp.decision.clone().filter(|_| decide);
    let keep = |fp: &FieldPrediction| -> Vec<(String, f32)> {
        fp.suggestions
            .iter()
            .map(|s| (s.label.clone(), s.confidence))
            .collect()
    };
    let suggest = |field: ClassField, fp: &FieldPrediction, out: &mut Applied| {
        let s = keep(fp);
        if !s.is_empty() {
            out.suggestions.push((field, s));
        }
    };

    if rules.0.is_none() {
        let filled = decision(&prediction.kind)
            .and_then(|d| Some((d.label.parse::<Kind>().ok()?, d.confidence)));
        match filled {
            Some((kind, confidence)) => {
                out.kind = Some(kind);
                out.sources.push(FieldSource::model(
                    ClassField::Kind,
                    version,
                    confidence,
                    now,
                ));
            }
            None => suggest(ClassField::Kind, &prediction.kind, &mut out),
        }
    }
    if rules.1.is_none() {
        let filled = match decision(&prediction.category) {
            Some(d) => sql::sub_category_by_code(conn, &d.label)?.map(|id| (id, d.confidence)),
            None => None,
        };
        match filled {
            Some((id, confidence)) => {
                out.category_id = Some(id);
                out.sources.push(FieldSource::model(
                    ClassField::Category,
                    version,
                    confidence,
                    now,
                ));
            }
            None => {
                // Only what an operator can pick: an active sub-category of the hospital's
                // list (a corpus label such as the macro-only `ALT`, or a category since
                // disabled, is no use as a suggestion).
                let mut usable = Vec::new();
                for (code, confidence) in keep(&prediction.category) {
                    if sql::sub_category_by_code(conn, &code)?.is_some() {
                        usable.push((code, confidence));
                    }
                }
                if !usable.is_empty() {
                    out.suggestions.push((ClassField::Category, usable));
                }
            }
        }
    }
    if rules.2.is_none() {
        // "No unit concerned", decided, leaves the field empty: nothing to fill or suggest.
        let decided = decision(&prediction.service);
        let filled = match &decided {
            Some(d) if d.label != NO_SERVICE => {
                sql::service_by_code(conn, &d.label)?.map(|id| (id, d.confidence))
            }
            _ => None,
        };
        match (filled, decided) {
            (Some((id, confidence)), _) => {
                out.service_id = Some(id);
                out.sources.push(FieldSource::model(
                    ClassField::Service,
                    version,
                    confidence,
                    now,
                ));
            }
            (None, Some(d)) if d.label == NO_SERVICE => {}
            _ => suggest(ClassField::Service, &prediction.service, &mut out),
        }
    }
    Ok(out)
}

/// Predicts with `loaded` (for a message that came without a prediction, or with an older
/// model's).
pub fn predict(loaded: &Loaded, msg: &Message) -> Prediction {
    loaded.model.predict(msg)
}
