//! The model: examples in, a calibrated linear model per field out; predictions and explanations.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::calibrate::{fit_temperature, stratified_folds, threshold_for, HeldOut};
use super::features::{
    extract, for_each_occurrence, DocFeatures, FeatureConfig, HashMap64, Row, Vocab,
};
use super::linear::{fit, softmax, Dataset, Linear, LinearConfig};
use super::scrub::scrub_personal_data;
use super::text::{cap, tokenize, Token, MAX_TEXT_BYTES};

/// The service label of a message that concerns no unit (the corpus's `null`).
pub const NO_SERVICE: &str = "-";

/// Fewer distinct words that the model knows than this (stop words aside) and it decides nothing:
/// "Reclamo", "vedi allegato", an empty body or a language it never saw give suggestions at most.
pub const MIN_CONTENT_WORDS: usize = 3;

/// Suggestions shown below the threshold.
pub const SUGGESTIONS: usize = 3;

/// Above this many training examples, thresholds are calibrated on one held-out fifth instead
/// of by full cross-validation: the estimate is already tight, and five more fits would cost
/// minutes.
const FULL_CALIBRATION_MAX: usize = 20_000;

/// With many examples, the model whose held-out predictions set the thresholds is trained on at
/// most this many: it is then a little less sure than the final one, so the thresholds err on the
/// safe side, and training 100,000 tickets saves a third of its time.
const CALIBRATION_TRAIN_MAX: usize = 40_000;

/// At most this many weights in a model (16 MB as `f32`): with more classes (categories the
/// hospital adds), fewer features, so the model stays under 20 MB whatever it learns.
const MAX_WEIGHTS: usize = 4_000_000;

/// A classification field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Kind,
    Category,
    /// The part of the category code before the dot (`TEM` for `TEM.02`, `ALT` for `ALT`):
    /// not learnt on its own, but summed from the category's probabilities.
    MacroCategory,
    Service,
}

impl Field {
    /// The fields that have a model of their own, in storage order.
    pub const LEARNT: [Field; 3] = [Field::Kind, Field::Category, Field::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Category => "category",
            Field::MacroCategory => "macro_category",
            Field::Service => "service",
        }
    }

    fn slot(self) -> usize {
        match self {
            Field::Kind => 0,
            Field::Category => 1,
            Field::Service => 2,
            Field::MacroCategory => 3,
        }
    }
}

/// The fields with a linear model of their own: the three of [`Field::LEARNT`], and the
/// macro-category when [`TrainOptions::macro_model`] is on.
const FITTED: [Field; 4] = [
    Field::Kind,
    Field::Category,
    Field::Service,
    Field::MacroCategory,
];

/// The macro-category of a category code: `TEM.02` → `TEM`, `ALT` → `ALT`.
pub fn macro_of(code: &str) -> &str {
    code.split('.').next().unwrap_or(code)
}

/// A message to classify.
#[derive(Clone, Copy, Debug, Default)]
pub struct Message<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    /// The sender's display name (From header, or the name typed for a phone complaint): removed
    /// from the text wherever it appears.
    pub sender_name: Option<&'a str>,
}

/// A labelled message to learn from.
#[derive(Clone, Debug)]
pub struct Example<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    pub sender_name: Option<&'a str>,
    /// `reclamo`, `segnalazione`, `elogio`, `suggerimento`, or `None` if not confirmed.
    pub kind: Option<String>,
    /// A category code (`TEM.02`, `ALT`, or one the hospital added), or `None` if not confirmed.
    pub category: Option<String>,
    /// A service code, or `None` for "no unit concerned" — which is learnt as a label of its own
    /// ([`NO_SERVICE`]), as in the corpus. Leave out of training an example whose service an
    /// operator has not confirmed.
    pub service: Option<String>,
    /// How much the example counts. Suggested: 1 for the shipped corpus, 3 for a ticket an
    /// operator confirmed, so the hospital's own use soon outweighs the corpus where they
    /// disagree, while the corpus still covers what the hospital has few examples of.
    pub weight: f32,
}

impl<'a> Example<'a> {
    pub fn message(&self) -> Message<'a> {
        Message {
            subject: self.subject,
            body: self.body,
            sender_name: self.sender_name,
        }
    }

    fn label(&self, field: Field) -> Option<String> {
        match field {
            Field::Kind => self.kind.clone(),
            Field::Category => self.category.clone(),
            Field::MacroCategory => self.category.as_deref().map(|c| macro_of(c).to_string()),
            Field::Service => Some(self.service.clone().unwrap_or_else(|| NO_SERVICE.into())),
        }
    }
}

/// Everything that shapes training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub features: FeatureConfig,
    pub linear: LinearConfig,
    /// The precision automatic decisions must reach on held-out data.
    pub precision_target: f32,
    /// Folds of the cross-validation that calibrates the thresholds.
    pub calibration_folds: usize,
    /// A threshold must be backed by at least this many held-out decisions.
    pub min_calibration_support: usize,
    /// Threads for preparing text and fitting fields (this machine has two cores).
    pub threads: usize,
    /// Also fit a model of the macro-category itself (pooling the examples of its
    /// sub-categories), and give it this share of the macro-category's probability, the summed
    /// sub-categories having the rest; the sub-categories are then rescaled to agree. 0 = none.
    pub macro_model: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: FeatureConfig::default(),
            linear: LinearConfig::default(),
            precision_target: 0.95,
            calibration_folds: 5,
            min_calibration_support: 30,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            macro_model: 0.5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("no example carries a label for any field: nothing to learn")]
    NothingToLearn,
    #[error("not a model file: {0}")]
    Format(String),
    #[error("model format version {found}, this build reads version {expected}: retrain")]
    Version { found: u32, expected: u32 },
}

/// A label with its confidence (a calibrated probability).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    pub label: String,
    pub confidence: f32,
}

/// What the model says about one field.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FieldPrediction {
    /// Set only above the field's calibrated threshold: fill the field, with source "model".
    pub decision: Option<Scored>,
    /// The most likely labels, best first (the decision, if any, is the first). Empty when the
    /// model has no field model or the message has no words it knows.
    pub suggestions: Vec<Scored>,
}

/// What the model says about one message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Prediction {
    pub kind: FieldPrediction,
    /// A decided category always lies in the decided macro-category.
    pub category: FieldPrediction,
    pub macro_category: FieldPrediction,
    pub service: FieldPrediction,
    /// Distinct words of the message that the model knows; below [`MIN_CONTENT_WORDS`] nothing
    /// is decided.
    pub content_words: usize,
}

impl Prediction {
    pub fn field(&self, field: Field) -> &FieldPrediction {
        match field {
            Field::Kind => &self.kind,
            Field::Category => &self.category,
            Field::MacroCategory => &self.macro_category,
            Field::Service => &self.service,
        }
    }
}

/// A word that weighed for a label: the citizen's own word, and how much it added to the
/// label's log-probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub word: String,
    pub weight: f32,
}

/// What a model was trained on, for the backoffice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub examples: usize,
    pub features: usize,
    pub precision_target: f32,
}

/// One learnt field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldModel {
    pub field: Field,
    pub labels: Vec<String>,
    pub linear: Linear,
    pub temperature: f32,
    pub threshold: Option<f32>,
    /// Category only: the threshold on the summed probability of a macro-category.
    pub macro_threshold: Option<f32>,
}

/// A trained classifier. Cheap to share (`&Model` is all prediction needs).
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub(crate) features: FeatureConfig,
    /// The macro-category model's share (see [`TrainOptions::macro_model`]).
    pub(crate) macro_share: f32,
    pub(crate) linear: LinearConfig,
    pub(crate) vocab: Vocab,
    pub(crate) fields: Vec<FieldModel>,
    pub(crate) info: ModelInfo,
}

/// A message's text, scrubbed and tokenised; the scrubbed texts are kept for explanations.
pub(crate) struct Tokenized {
    pub texts: [String; 2],
    pub tokens: Vec<Token>,
}

pub(crate) fn tokenized(msg: &Message, scrub: bool) -> Tokenized {
    let subject = cap(msg.subject, 1024);
    let body = cap(msg.body, MAX_TEXT_BYTES);
    let texts = if scrub {
        [
            scrub_personal_data(subject, msg.sender_name),
            scrub_personal_data(body, msg.sender_name),
        ]
    } else {
        [subject.to_string(), body.to_string()]
    };
    let tokens = tokenize(&texts[0], &texts[1]);
    Tokenized { texts, tokens }
}

/// The messages' features, and the text of every feature (the vocabulary keeps some of them).
pub(crate) struct Prepared {
    pub docs: Vec<DocFeatures>,
    pub names: HashMap64<String>,
}

pub(crate) fn prepare(
    messages: &[Message],
    cfg: &FeatureConfig,
    scrub: bool,
    threads: usize,
) -> Prepared {
    let chunk = messages.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<(Vec<DocFeatures>, HashMap64<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = messages
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut names = HashMap64::default();
                    let docs = part
                        .iter()
                        .map(|m| extract(&tokenized(m, scrub).tokens, cfg, Some(&mut names)))
                        .collect();
                    (docs, names)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("preparing text panicked"))
            .collect()
    });
    let mut docs = Vec::with_capacity(messages.len());
    let mut names = HashMap64::default();
    for (d, n) in parts {
        docs.extend(d);
        if names.is_empty() {
            names = n;
        } else {
            for (h, name) in n {
                names.entry(h).or_insert(name);
            }
        }
    }
    Prepared { docs, names }
}

/// The labels of each learnt field, per example (`None`: not labelled for that field).
pub(crate) struct Labels {
    pub by_field: [Vec<Option<String>>; 4],
    pub weights: Vec<f32>,
}

impl Labels {
    pub(crate) fn of(examples: &[Example]) -> Labels {
        let column = |f: Field| examples.iter().map(|e| e.label(f)).collect();
        Labels {
            by_field: [
                column(Field::Kind),
                column(Field::Category),
                column(Field::Service),
                column(Field::MacroCategory),
            ],
            weights: examples.iter().map(|e| e.weight.max(0.0)).collect(),
        }
    }
}

/// A vocabulary and the field models fitted on some of the prepared messages.
struct Fitted {
    vocab: Vocab,
    fields: Vec<(Field, Vec<String>, Linear)>,
}

fn fit_on(prep: &Prepared, idx: &[usize], labels: &Labels, opts: &TrainOptions) -> Fitted {
    let docs: Vec<&DocFeatures> = idx.iter().map(|&i| &prep.docs[i]).collect();
    let columns = if opts.macro_model > 0.0 { 4 } else { 3 };
    let classes: usize = labels.by_field[..columns]
        .iter()
        .map(|column| {
            let mut seen: Vec<&str> = idx.iter().filter_map(|&i| column[i].as_deref()).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        })
        .sum();
    let mut features = opts.features.clone();
    features.max_features = features.max_features.min(MAX_WEIGHTS / classes.max(1));
    let vocab = Vocab::build(&docs, &prep.names, &features);
    let rows: Vec<Row> = docs
        .iter()
        .map(|d| vocab.vectorize(d, &opts.features))
        .collect();
    let fit_field = |field: Field| -> Option<(Field, Vec<String>, Linear)> {
        let column = &labels.by_field[field.slot()];
        let mut names: Vec<&str> = idx
            .iter()
            .filter(|&&i| labels.weights[i] > 0.0)
            .filter_map(|&i| column[i].as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            return None;
        }
        let class: HashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(k, n)| (*n, k as u32))
            .collect();
        let mut data = Dataset {
            rows: Vec::new(),
            classes: Vec::new(),
            weights: Vec::new(),
            n_classes: names.len(),
            n_features: vocab.len(),
        };
        for (j, &i) in idx.iter().enumerate() {
            if let (Some(label), true) = (column[i].as_deref(), labels.weights[i] > 0.0) {
                data.rows.push(&rows[j]);
                data.classes.push(class[label]);
                data.weights.push(labels.weights[i]);
            }
        }
        let mean = data.weights.iter().sum::<f32>() / data.weights.len() as f32;
        data.weights.iter_mut().for_each(|w| *w /= mean);
        let linear = fit(&data, &opts.linear);
        Some((field, names.into_iter().map(String::from).collect(), linear))
    };
    let fit_field = &fit_field;
    let wanted: Vec<Field> = FITTED
        .into_iter()
        .filter(|&f| f != Field::MacroCategory || opts.macro_model > 0.0)
        .collect();
    let fields = if opts.threads > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = wanted
                .iter()
                .map(|&f| s.spawn(move || fit_field(f)))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("fitting a field panicked"))
                .collect()
        })
    } else {
        wanted.into_iter().filter_map(fit_field).collect()
    };
    Fitted { vocab, fields }
}

/// Temperature and thresholds of one field.
#[derive(Clone, Copy, Debug)]
struct Calibration {
    temperature: f32,
    threshold: Option<f32>,
    macro_threshold: Option<f32>,
}

fn calibrate(
    prep: &Prepared,
    idx: &[usize],
    labels: &Labels,
    opts: &TrainOptions,
) -> [Option<Calibration>; 4] {
    let folds = opts.calibration_folds.max(2);
    let keys: Vec<&str> = idx
        .iter()
        .map(|&i| labels.by_field[1][i].as_deref().unwrap_or(""))
        .collect();
    let fold_of = stratified_folds(&keys, folds, opts.linear.seed ^ 0xca1);
    let rounds = if idx.len() > FULL_CALIBRATION_MAX {
        1
    } else {
        folds
    };
    let mut held: [Vec<HeldOut>; 4] = Default::default();
    for fold in 0..rounds {
        let mut train: Vec<usize> = (0..idx.len())
            .filter(|&j| fold_of[j] != fold)
            .map(|j| idx[j])
            .collect();
        if train.len() > CALIBRATION_TRAIN_MAX {
            // An even spread (the order is the caller's, often by date), not the first ones.
            let stride = train.len().div_ceil(CALIBRATION_TRAIN_MAX);
            train = train.into_iter().step_by(stride).collect();
        }
        let fitted = fit_on(prep, &train, labels, opts);
        let mut scores = Vec::new();
        for (field, names, linear) in &fitted.fields {
            let names = Arc::new(names.clone());
            for j in (0..idx.len()).filter(|&j| fold_of[j] == fold) {
                let i = idx[j];
                let (Some(truth), doc) = (&labels.by_field[field.slot()][i], &prep.docs[i]) else {
                    continue;
                };
                if fitted.vocab.known_words(doc) < MIN_CONTENT_WORDS || labels.weights[i] <= 0.0 {
                    continue;
                }
                let row = fitted.vocab.vectorize(doc, &opts.features);
                linear.scores(&row, &mut scores);
                held[field.slot()].push(HeldOut {
                    example: i,
                    labels: Arc::clone(&names),
                    scores: scores.clone(),
                    truth: truth.clone(),
                    weight: labels.weights[i],
                });
            }
        }
    }
    let target = opts.precision_target;
    let support = opts.min_calibration_support;
    let temperatures: Vec<Option<f32>> = held
        .iter()
        .map(|h| (!h.is_empty()).then(|| fit_temperature(h)))
        .collect();
    let mut out = [None; 4];
    for slot in [0, 2] {
        let Some(temperature) = temperatures[slot] else {
            continue;
        };
        let mut top = Vec::with_capacity(held[slot].len());
        let mut p = Vec::new();
        for h in &held[slot] {
            p.clear();
            p.extend_from_slice(&h.scores);
            softmax(&mut p, temperature);
            let best = argmax(&p);
            top.push((p[best], h.labels[best] == h.truth, h.weight));
        }
        out[slot] = Some(Calibration {
            temperature,
            threshold: threshold_for(&mut top, target, support),
            macro_threshold: None,
        });
    }
    if let Some(temperature) = temperatures[1] {
        // The category's decisions, with the macro-category model's share when there is one:
        // the thresholds are set on the probabilities that prediction will show.
        let by_example: HashMap<usize, &HeldOut> = held[3].iter().map(|h| (h.example, h)).collect();
        let mut top = Vec::with_capacity(held[1].len());
        let mut macro_top = Vec::with_capacity(held[1].len());
        for h in &held[1] {
            let mut p = h.scores.clone();
            softmax(&mut p, temperature);
            let macro_p = by_example
                .get(&h.example)
                .zip(temperatures[3])
                .map(|(m, t)| {
                    let mut q = m.scores.clone();
                    softmax(&mut q, t);
                    (m.labels.as_slice(), q)
                });
            let cp = CategoryProbs::new(
                &h.labels,
                p,
                macro_p.as_ref().map(|(l, q)| (*l, q.as_slice())),
                opts.macro_model,
            );
            let best = argmax(&cp.sub);
            top.push((cp.sub[best], h.labels[best] == h.truth, h.weight));
            let m = argmax(&cp.macro_p);
            macro_top.push((cp.macro_p[m], cp.macros[m] == macro_of(&h.truth), h.weight));
        }
        out[1] = Some(Calibration {
            temperature,
            threshold: threshold_for(&mut top, target, support),
            macro_threshold: threshold_for(&mut macro_top, target, support),
        });
    }
    if let Some(temperature) = temperatures[3] {
        out[3] = Some(Calibration {
            temperature,
            threshold: None,
            macro_threshold: None,
        });
    }
    out
}

/// The category field's probabilities: per sub-category, and per macro-category (the sum of its
/// sub-categories, mixed with the macro-category model's own probability when there is one, the
/// sub-categories then rescaled so that they sum to their macro's).
pub(crate) struct CategoryProbs {
    pub sub: Vec<f32>,
    /// Sorted.
    pub macros: Vec<String>,
    pub macro_p: Vec<f32>,
}

impl CategoryProbs {
    pub(crate) fn new(
        labels: &[String],
        mut sub: Vec<f32>,
        macro_model: Option<(&[String], &[f32])>,
        share: f32,
    ) -> CategoryProbs {
        let mut macros: Vec<String> = labels.iter().map(|l| macro_of(l).to_string()).collect();
        macros.sort();
        macros.dedup();
        let of = |l: &str| {
            macros
                .binary_search_by(|m| m.as_str().cmp(macro_of(l)))
                .unwrap_or(0)
        };
        let mut sums = vec![0f32; macros.len()];
        for (l, q) in labels.iter().zip(&sub) {
            sums[of(l)] += q;
        }
        let macro_p = match macro_model {
            Some((names, p)) if share > 0.0 => {
                let share = share.min(1.0);
                let mut mixed: Vec<f32> = macros
                    .iter()
                    .zip(&sums)
                    .map(|(m, s)| {
                        let own = names.iter().position(|n| n == m).map_or(0.0, |k| p[k]);
                        (1.0 - share) * s + share * own
                    })
                    .collect();
                let total: f32 = mixed.iter().sum();
                if total > 0.0 {
                    mixed.iter_mut().for_each(|x| *x /= total);
                    for (l, q) in labels.iter().zip(sub.iter_mut()) {
                        let k = of(l);
                        if sums[k] > 0.0 {
                            *q *= mixed[k] / sums[k];
                        }
                    }
                    mixed
                } else {
                    sums
                }
            }
            _ => sums,
        };
        CategoryProbs {
            sub,
            macros,
            macro_p,
        }
    }
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The macro-category with the highest summed probability, and that sum.
fn best_macro<'l>(labels: &'l [String], p: &[f32]) -> (&'l str, f32) {
    let mut sums: Vec<(&str, f32)> = Vec::new();
    for (label, &q) in labels.iter().zip(p) {
        let m = macro_of(label);
        match sums.iter_mut().find(|s| s.0 == m) {
            Some(s) => s.1 += q,
            None => sums.push((m, q)),
        }
    }
    sums.into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("", 0.0))
}

/// Trains a model: scrubs personal data, learns the vocabulary, calibrates thresholds by
/// cross-validation, then fits every field on all the examples.
pub fn train(examples: &[Example], opts: &TrainOptions) -> Result<Model, LearnError> {
    train_with(examples, opts, true)
}

pub(crate) fn train_with(
    examples: &[Example],
    opts: &TrainOptions,
    scrub: bool,
) -> Result<Model, LearnError> {
    let messages: Vec<Message> = examples.iter().map(Example::message).collect();
    let prep = prepare(&messages, &opts.features, scrub, opts.threads);
    let labels = Labels::of(examples);
    let idx: Vec<usize> = (0..examples.len()).collect();
    train_prepared(&prep, &idx, &labels, opts)
}

pub(crate) fn train_prepared(
    prep: &Prepared,
    idx: &[usize],
    labels: &Labels,
    opts: &TrainOptions,
) -> Result<Model, LearnError> {
    let calibration = calibrate(prep, idx, labels, opts);
    let fitted = fit_on(prep, idx, labels, opts);
    if fitted.fields.is_empty() {
        return Err(LearnError::NothingToLearn);
    }
    let fields = fitted
        .fields
        .into_iter()
        .map(|(field, labels, linear)| {
            let c = calibration[field.slot()];
            FieldModel {
                field,
                labels,
                linear,
                temperature: c.map_or(1.0, |c| c.temperature),
                threshold: c.and_then(|c| c.threshold),
                macro_threshold: c.and_then(|c| c.macro_threshold),
            }
        })
        .collect();
    Ok(Model {
        features: opts.features.clone(),
        macro_share: opts.macro_model,
        linear: opts.linear.clone(),
        info: ModelInfo {
            examples: idx.len(),
            features: fitted.vocab.len(),
            precision_target: opts.precision_target,
        },
        vocab: fitted.vocab,
        fields,
    })
}

fn top_scored(labels: &[String], p: &[f32], keep: impl Fn(&str) -> bool) -> Vec<Scored> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| keep(&labels[i])).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    order
        .into_iter()
        .take(SUGGESTIONS)
        .map(|i| Scored {
            label: labels[i].clone(),
            confidence: p[i],
        })
        .collect()
}

impl Model {
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The labels a field can take, and its threshold (`None`: never decides by itself).
    pub fn field_summary(&self, field: Field) -> Option<(&[String], Option<f32>)> {
        let fm = self.field_model(field)?;
        let threshold = if field == Field::MacroCategory {
            fm.macro_threshold
        } else {
            fm.threshold
        };
        Some((&fm.labels, threshold))
    }

    fn field_model(&self, field: Field) -> Option<&FieldModel> {
        let learnt = if field == Field::MacroCategory {
            Field::Category
        } else {
            field
        };
        self.fields.iter().find(|f| f.field == learnt)
    }

    /// Classifies a message. Never fails: what it cannot read gives no decision.
    pub fn predict(&self, msg: &Message) -> Prediction {
        let t = tokenized(msg, true);
        self.predict_doc(&extract(&t.tokens, &self.features, None))
    }

    fn probabilities(&self, fm: &FieldModel, row: &Row) -> Vec<f32> {
        let mut p = Vec::with_capacity(fm.labels.len());
        fm.linear.scores(row, &mut p);
        softmax(&mut p, fm.temperature);
        p
    }

    pub(crate) fn predict_doc(&self, doc: &DocFeatures) -> Prediction {
        let row = self.vocab.vectorize(doc, &self.features);
        let mut out = Prediction {
            content_words: self.vocab.known_words(doc),
            ..Prediction::default()
        };
        if row.is_empty() {
            return out;
        }
        let may_decide = out.content_words >= MIN_CONTENT_WORDS;
        let decide = |s: &Scored, threshold: Option<f32>| {
            (may_decide && threshold.is_some_and(|t| s.confidence >= t)).then(|| s.clone())
        };
        let macro_model = self
            .fields
            .iter()
            .find(|f| f.field == Field::MacroCategory)
            .map(|fm| (fm, self.probabilities(fm, &row)));
        for fm in &self.fields {
            match fm.field {
                Field::MacroCategory => {}
                Field::Category => {
                    let cp = CategoryProbs::new(
                        &fm.labels,
                        self.probabilities(fm, &row),
                        macro_model
                            .as_ref()
                            .map(|(m, p)| (m.labels.as_slice(), p.as_slice())),
                        self.macro_share,
                    );
                    let all = top_scored(&fm.labels, &cp.sub, |_| true);
                    let category = all.first().and_then(|s| decide(s, fm.threshold));
                    // A decided category carries its macro; otherwise the macro may be decided on
                    // its own probability, and then the suggestions stay inside it.
                    let macro_scored = |m: &str| Scored {
                        label: m.to_string(),
                        confidence: cp
                            .macros
                            .iter()
                            .position(|x| x == m)
                            .map_or(0.0, |k| cp.macro_p[k]),
                    };
                    let macro_decision = match &category {
                        Some(c) => Some(macro_scored(macro_of(&c.label))),
                        None => {
                            let best = argmax(&cp.macro_p);
                            cp.macros
                                .get(best)
                                .and_then(|m| decide(&macro_scored(m), fm.macro_threshold))
                        }
                    };
                    out.category.suggestions = match (&category, &macro_decision) {
                        (None, Some(md)) => {
                            top_scored(&fm.labels, &cp.sub, |l| macro_of(l) == md.label)
                        }
                        _ => all,
                    };
                    out.category.decision = category;
                    out.macro_category.suggestions = top_scored(&cp.macros, &cp.macro_p, |_| true);
                    if let Some(md) = &macro_decision {
                        out.macro_category
                            .suggestions
                            .retain(|s| s.label != md.label);
                        out.macro_category.suggestions.insert(0, md.clone());
                        out.macro_category.suggestions.truncate(SUGGESTIONS);
                    }
                    out.macro_category.decision = macro_decision;
                }
                field => {
                    let p = self.probabilities(fm, &row);
                    let fp = if field == Field::Kind {
                        &mut out.kind
                    } else {
                        &mut out.service
                    };
                    fp.suggestions = top_scored(&fm.labels, &p, |_| true);
                    fp.decision = fp.suggestions.first().and_then(|s| decide(s, fm.threshold));
                }
            }
        }
        out
    }

    /// The words of `msg` that weighed most for `label` of `field` (the best label when `None`),
    /// strongest first, at most `top`. For the macro-category, the words that weighed for its
    /// sub-categories taken together.
    pub fn explain(
        &self,
        msg: &Message,
        field: Field,
        label: Option<&str>,
        top: usize,
    ) -> Vec<Reason> {
        let Some(fm) = self.field_model(field) else {
            return Vec::new();
        };
        let t = tokenized(msg, true);
        let doc = extract(&t.tokens, &self.features, None);
        let row = self.vocab.vectorize(&doc, &self.features);
        if row.is_empty() {
            return Vec::new();
        }
        let p = self.probabilities(fm, &row);
        let target: Vec<usize> = match (field, label) {
            (Field::MacroCategory, Some(m)) => (0..p.len())
                .filter(|&i| macro_of(&fm.labels[i]) == m)
                .collect(),
            (Field::MacroCategory, None) => {
                let (m, _) = best_macro(&fm.labels, &p);
                (0..p.len())
                    .filter(|&i| macro_of(&fm.labels[i]) == m)
                    .collect()
            }
            (_, Some(l)) => fm.labels.iter().position(|x| x == l).into_iter().collect(),
            (_, None) => vec![argmax(&p)],
        };
        let p_target: f32 = target.iter().map(|&i| p[i]).sum();
        if target.is_empty() || p_target <= 0.0 {
            return Vec::new();
        }
        // How much a feature raises the target's score above the average label's:
        // x_f · (Σ_{c∈target} (p_c / p_target)·w_fc − mean_k w_fk). Not the gradient of the
        // log-probability, which vanishes when the model is sure — exactly when an operator
        // most wants to see why.
        let c = fm.linear.n_classes;
        let gradient = |col: usize| -> f32 {
            let w = &fm.linear.weights[col * c..col * c + c];
            let own: f32 = target.iter().map(|&k| p[k] / p_target * w[k]).sum();
            let mean: f32 = w.iter().sum::<f32>() / c as f32;
            (own - mean) / fm.temperature
        };
        let value: HashMap<u32, f32> = row.iter().copied().collect();
        let count: HashMap64<f32> = doc.feats.iter().map(|&(h, _, n)| (h, n)).collect();
        // Contribution of each feature occurrence, shared among the words it came from.
        let mut by_word: HashMap<&str, (usize, f32)> = HashMap::new();
        for_each_occurrence(&t.tokens, &self.features, |occ| {
            let Some(&col) = self.vocab.index.get(&occ.hash) else {
                return;
            };
            let x = value.get(&col).copied().unwrap_or(0.0) * occ.weight / count[&occ.hash];
            let contribution = x * gradient(col as usize);
            let words = [Some(occ.first), occ.second];
            let share = contribution / if occ.second.is_some() { 2.0 } else { 1.0 };
            for i in words.into_iter().flatten() {
                let e = by_word.entry(t.tokens[i].stem.as_str()).or_insert((i, 0.0));
                e.1 += share;
            }
        });
        let mut reasons: Vec<Reason> = by_word
            .into_values()
            .filter(|(_, w)| *w > 0.0)
            .map(|(i, weight)| {
                let tok = &t.tokens[i];
                let text = &t.texts[tok.source as usize];
                Reason {
                    word: text[tok.span.0..tok.span.1].to_string(),
                    weight,
                }
            })
            .collect();
        reasons.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.word.cmp(&b.word))
        });
        reasons.truncate(top);
        reasons
    }
}
