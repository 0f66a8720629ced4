//! Stratified k-fold cross-validation: every message is classified by a model that never saw it,
//! with thresholds calibrated (by an inner cross-validation) on that model's training folds
//! only, so the precision reported at the threshold is what a new message would get.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::calibrate::stratified_folds;
use super::model::{
    macro_of, prepare, train_prepared, Example, Field, Labels, LearnError, Message, Prediction,
    TrainOptions,
};

#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub folds: usize,
    pub seed: u64,
    pub train: TrainOptions,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            folds: 5,
            seed: 2026,
            train: TrainOptions::default(),
        }
    }
}

/// Counts for one label (or one macro-category).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LabelReport {
    pub label: String,
    /// Messages whose true label this is.
    pub support: usize,
    /// Messages automatically given this label.
    pub decided: usize,
    /// Of those, right.
    pub correct: usize,
    /// Messages of this true label that got any automatic decision.
    pub covered: usize,
    pub precision: f64,
    pub recall: f64,
    pub coverage: f64,
}

/// Rows are true labels, columns predicted labels in the same order; the automatic matrix has one
/// more column, "no decision".
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub automatic: Vec<Vec<usize>>,
    pub top1: Vec<Vec<usize>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldReport {
    pub field: Field,
    /// Messages with a true label for this field.
    pub labelled: usize,
    /// The threshold each fold's model used (`None`: it never decided).
    pub thresholds: Vec<Option<f32>>,
    pub decided: usize,
    pub correct: usize,
    /// Right among automatic decisions.
    pub precision: f64,
    /// Share of messages with an automatic decision.
    pub coverage: f64,
    /// Right automatic decisions among all messages.
    pub recall: f64,
    /// The best label's accuracy if every message were decided (100 % coverage).
    pub accuracy_top1: f64,
    /// The true label among the (up to three) suggestions.
    pub accuracy_top3: f64,
    pub labels: Vec<LabelReport>,
    pub confusion: Confusion,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub folds: usize,
    pub examples: usize,
    /// Kind, category, macro-category, service.
    pub fields: Vec<FieldReport>,
    /// Of the messages automatically given a category, the share whose macro-category is right
    /// (the "right macro-category among those given a category").
    pub category_macro_precision: f64,
}

impl Evaluation {
    pub fn field(&self, field: Field) -> Option<&FieldReport> {
        self.fields.iter().find(|f| f.field == field)
    }
}

/// One message's outcome for one field.
struct Outcome {
    truth: String,
    automatic: Option<String>,
    suggestions: Vec<String>,
}

/// Cross-validates training on `examples`.
pub fn evaluate(examples: &[Example], opts: &EvalOptions) -> Result<Evaluation, LearnError> {
    let folds = opts.folds.max(2);
    let messages: Vec<Message> = examples.iter().map(Example::message).collect();
    let prep = prepare(&messages, &opts.train.features, true, opts.train.threads);
    let labels = Labels::of(examples);
    let keys: Vec<&str> = examples
        .iter()
        .map(|e| e.category.as_deref().or(e.kind.as_deref()).unwrap_or(""))
        .collect();
    let fold_of = stratified_folds(&keys, folds, opts.seed);
    let fields = [
        Field::Kind,
        Field::Category,
        Field::MacroCategory,
        Field::Service,
    ];
    let mut outcomes: Vec<Vec<Outcome>> = fields.iter().map(|_| Vec::new()).collect();
    let mut thresholds: Vec<Vec<Option<f32>>> = fields.iter().map(|_| Vec::new()).collect();
    for fold in 0..folds {
        let train: Vec<usize> = (0..examples.len())
            .filter(|&i| fold_of[i] != fold)
            .collect();
        let model = train_prepared(&prep, &train, &labels, &opts.train)?;
        for (k, &field) in fields.iter().enumerate() {
            thresholds[k].push(model.field_summary(field).and_then(|(_, t)| t));
        }
        for i in (0..examples.len()).filter(|&i| fold_of[i] == fold) {
            let prediction: Prediction = model.predict_doc(&prep.docs[i]);
            for (k, &field) in fields.iter().enumerate() {
                let truth = match field {
                    Field::Kind => labels.by_field[0][i].clone(),
                    Field::Category => labels.by_field[1][i].clone(),
                    Field::MacroCategory => labels.by_field[1][i]
                        .as_deref()
                        .map(|c| macro_of(c).to_string()),
                    Field::Service => labels.by_field[2][i].clone(),
                };
                let Some(truth) = truth else { continue };
                let fp = prediction.field(field);
                outcomes[k].push(Outcome {
                    truth,
                    automatic: fp.decision.as_ref().map(|d| d.label.clone()),
                    suggestions: fp.suggestions.iter().map(|s| s.label.clone()).collect(),
                });
            }
        }
    }
    let category = &outcomes[1];
    let given: Vec<&Outcome> = category.iter().filter(|o| o.automatic.is_some()).collect();
    let right_macro = given
        .iter()
        .filter(|o| o.automatic.as_deref().map(macro_of) == Some(macro_of(&o.truth)))
        .count();
    Ok(Evaluation {
        folds,
        examples: examples.len(),
        category_macro_precision: ratio(right_macro, given.len()),
        fields: fields
            .iter()
            .zip(outcomes.iter())
            .zip(thresholds)
            .map(|((&field, o), t)| report(field, o, t))
            .collect(),
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn report(field: Field, outcomes: &[Outcome], thresholds: Vec<Option<f32>>) -> FieldReport {
    let mut names: BTreeSet<&str> = outcomes.iter().map(|o| o.truth.as_str()).collect();
    names.extend(
        outcomes
            .iter()
            .filter_map(|o| o.suggestions.first().map(String::as_str)),
    );
    names.extend(outcomes.iter().filter_map(|o| o.automatic.as_deref()));
    let names: Vec<String> = names.into_iter().map(String::from).collect();
    let at = |l: &str| {
        names
            .iter()
            .position(|n| n == l)
            .expect("every label is listed")
    };
    let n = names.len();
    let mut automatic = vec![vec![0; n + 1]; n];
    let mut top1 = vec![vec![0; n]; n];
    let mut labels: Vec<LabelReport> = names
        .iter()
        .map(|l| LabelReport {
            label: l.clone(),
            ..Default::default()
        })
        .collect();
    let (mut decided, mut correct, mut first, mut in_three) = (0, 0, 0, 0);
    for o in outcomes {
        let t = at(&o.truth);
        labels[t].support += 1;
        match &o.automatic {
            Some(a) => {
                let p = at(a);
                automatic[t][p] += 1;
                labels[p].decided += 1;
                labels[t].covered += 1;
                decided += 1;
                if p == t {
                    labels[t].correct += 1;
                    correct += 1;
                }
            }
            None => automatic[t][n] += 1,
        }
        if let Some(s) = o.suggestions.first() {
            top1[t][at(s)] += 1;
            if *s == o.truth {
                first += 1;
            }
        }
        if o.suggestions.contains(&o.truth) {
            in_three += 1;
        }
    }
    for l in &mut labels {
        l.precision = ratio(l.correct, l.decided);
        l.recall = ratio(l.correct, l.support);
        l.coverage = ratio(l.covered, l.support);
    }
    let total = outcomes.len();
    FieldReport {
        field,
        labelled: total,
        thresholds,
        decided,
        correct,
        precision: ratio(correct, decided),
        coverage: ratio(decided, total),
        recall: ratio(correct, total),
        accuracy_top1: ratio(first, total),
        accuracy_top3: ratio(in_three, total),
        labels,
        confusion: Confusion {
            labels: names,
            automatic,
            top1,
        },
    }
}

fn pct(x: f64) -> String {
    format!("{:5.1} %", 100.0 * x)
}

impl Evaluation {
    /// The evaluation as plain-text tables, for a terminal.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} messages, {}-fold stratified cross-validation\n",
            self.examples, self.folds
        );
        let _ = writeln!(
            s,
            "{:<15} {:>9} {:>9} {:>9} {:>9} {:>9}   thresholds",
            "field", "precision", "coverage", "recall", "top-1", "top-3"
        );
        for f in &self.fields {
            let t: Vec<String> = f
                .thresholds
                .iter()
                .map(|t| t.map_or("none".into(), |t| format!("{t:.2}")))
                .collect();
            let _ = writeln!(
                s,
                "{:<15} {:>9} {:>9} {:>9} {:>9} {:>9}   {}",
                f.field.as_str(),
                pct(f.precision),
                pct(f.coverage),
                pct(f.recall),
                pct(f.accuracy_top1),
                pct(f.accuracy_top3),
                t.join(" ")
            );
        }
        let _ = writeln!(
            s,
            "\nautomatic categories with the right macro-category: {}",
            pct(self.category_macro_precision)
        );
        for f in &self.fields {
            let _ = writeln!(s, "\n{}: per label", f.field.as_str());
            let _ = writeln!(
                s,
                "{:<14} {:>7} {:>9} {:>9} {:>9}",
                "label", "support", "precision", "recall", "coverage"
            );
            for l in &f.labels {
                let _ = writeln!(
                    s,
                    "{:<14} {:>7} {:>9} {:>9} {:>9}",
                    l.label,
                    l.support,
                    pct(l.precision),
                    pct(l.recall),
                    pct(l.coverage)
                );
            }
            let _ = writeln!(
                s,
                "confusion at the threshold (rows: true; columns: decided, last: none)"
            );
            let width = f
                .confusion
                .labels
                .iter()
                .map(String::len)
                .max()
                .unwrap_or(4)
                .max(4);
            let _ = write!(s, "{:<width$}", "");
            for l in &f.confusion.labels {
                let _ = write!(s, " {:>w$}", l, w = width);
            }
            let _ = writeln!(s, " {:>w$}", "none", w = width);
            for (l, row) in f.confusion.labels.iter().zip(&f.confusion.automatic) {
                let _ = write!(s, "{l:<width$}");
                for v in row {
                    let _ = write!(s, " {v:>width$}");
                }
                let _ = writeln!(s);
            }
        }
        s
    }
}
