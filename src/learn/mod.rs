//! The learned classifier (issue 13): kind, category (and so macro-category) and service of a
//! citizen's message, learnt from labelled examples, with calibrated confidence, thresholds for
//! automatic decisions, explanations, and cross-validated figures.
//!
//! Pure library code: no database, web or ingest. The caller stores [`Model::to_bytes`] (a BLOB
//! with its [`FORMAT_VERSION`]), feeds [`Example`]s — the shipped corpus (weight 1) and the
//! operators' confirmed tickets (weight 3, say) — to [`train`], calls [`Model::predict`] on new
//! messages, [`Model::explain`] for "why", and [`evaluate`] for the figures.
//!
//! # Layout
//!
//! - `scrub`: personal data out ([`scrub_personal_data`]): e-mail addresses, URLs, phone
//!   numbers, codici fiscali, dates, the sender's name, capitalised names after cues (titles,
//!   relatives, "mi chiamo", greetings) and the signature block after a closing formula.
//! - `text`: length caps (64 KiB, 2,000 tokens), quoted mail and signatures, words, case and
//!   accent folding (`perché` = `perche'` = `perche`), stop words, Snowball stemming (Italian,
//!   or English when the message is plainly English).
//! - `features`: stemmed words, pairs of stemmed words, character 3–5-grams inside words;
//!   sublinear tf × idf, L2-normalised per block (words 50 %, characters 50 %); a vocabulary
//!   (see below).
//! - `linear`: multinomial logistic regression by SGD (and complement naive Bayes, measured and
//!   not used).
//! - `calibrate`: temperature scaling, precision thresholds, stratified folds.
//! - `model`: [`train`], [`Model::predict`], [`Model::explain`]; `serial`: the bytes;
//!   `eval`: [`evaluate`]; `corpus`: the JSON-lines reader.
//!
//! # Choices, and why
//!
//! - **Vocabulary rather than the hashing trick.** Features are counted by a 64-bit hash (fast,
//!   no string per occurrence), but only those in at least two training messages, at most
//!   100,000 (fewer when there are many labels: a model never exceeds 4 M weights, 16 MB), get
//!   a column, and the model stores their text. No collisions; a word seen once (a typo, a name
//!   that escaped scrubbing) is never learnt; an administrator can read what the model knows.
//! - **Logistic regression rather than complement naive Bayes**: on the corpus's 5-fold CV,
//!   LR is better everywhere (top-1 kind 88 % vs 78 %, category 65 % vs 63 %, service 78 % vs
//!   75 %) and its confidences reach the 95 % threshold far more often (kind coverage 70 % vs
//!   41 %, service 38 % vs 11 %). Trained by plain SGD with lazy L2 (a scale factor), because
//!   full-batch L-BFGS needs ~100 passes and 100,000 tickets must train in under a minute on two
//!   cores. L2 = 3·10⁻⁵ is the middle of a flat optimum (10⁻⁵ to 10⁻⁴ differ by less than the
//!   fold-to-fold noise in accuracy; 3·10⁻⁴ is worse).
//! - **Calibration.** Thresholds come from out-of-fold predictions on the training examples
//!   (5-fold; above 20,000 examples one held-out fifth): the lowest confidence at which the
//!   held-out decisions above it reach 95 % (weighted) precision, with at least 30 of them, and
//!   never below 0.5; a field that cannot reach it never decides. A temperature fitted on the same
//!   predictions makes the displayed confidence a probability.
//! - **Macro-category from the category model**, by summing the probabilities of its
//!   sub-categories: a decided category always carries its macro, and when no sub-category is
//!   sure but its macro is, the macro is decided alone and the suggestions stay inside it.
//!   Categories the hospital adds (`ALT.05`) belong to the macro before their dot.
//! - **No decision on too little text**: fewer than [`MIN_CONTENT_WORDS`] distinct words the
//!   model knows (empty, "vedi allegato", an unknown language) gives suggestions only.
//! - **Explanations** go back from features to the words of the message (a pair of words is
//!   shared between them, a character n-gram credits its word), so the operator sees
//!   "aspettato", "BAGNO", not a stem or a hash.
//!
//! # Measured (5-fold stratified CV on the 1,220 corpus messages; `cargo run --release
//! # --example learn_evaluate`)
//!
//! | field | precision at threshold | coverage | top-1 (100 % coverage) | top-3 |
//! |---|---|---|---|---|
//! | kind | 95.9 % | 70.2 % | 88.2 % | 99.4 % |
//! | category | 94.3 % | 17.4 % | 65.2 % | 87.0 % |
//! | macro-category | 94.0 % | 24.6 % | 69.7 % | 92.5 % |
//! | service | 95.0 % | 37.9 % | 77.8 % | 97.8 % |
//!
//! Automatic categories with the right macro-category: 95.3 %. Other fold seeds move these by
//! one or two points; the precision at the threshold lands on both sides of 95 %.
//! The corpus was written to avoid the obvious keyword and has 60 messages per sub-category;
//! REL.01 (rudeness) is the hardest (it is read as the place it happened). Tried and not kept:
//! complement NB (above); no character n-grams (top-1 −1.6 points for kind and for category,
//! kind coverage −7); no word pairs (no gain); subject weight 1 or 3 instead of 2, character block 30 % or
//! 70 % instead of 50 %, 15 or 60 epochs (all within noise); a 96.5 % internal target to keep a
//! margin over 95 % (category precision unchanged, coverage −6 points: the errors at the top are
//! confident disagreements about boundaries, not noise).

mod calibrate;
mod corpus;
mod eval;
mod features;
mod linear;
mod model;
mod scrub;
mod serial;
mod text;

pub use corpus::{read_corpus, read_corpus_path, CorpusEntry, CorpusError};
pub use eval::{evaluate, Confusion, EvalOptions, Evaluation, FieldReport, LabelReport};
pub use features::FeatureConfig;
pub use linear::{Algorithm, LinearConfig};
pub use model::{
    macro_of, train, Example, Field, FieldPrediction, LearnError, Message, Model, ModelInfo,
    Prediction, Reason, Scored, TrainOptions, MIN_CONTENT_WORDS, NO_SERVICE, SUGGESTIONS,
};
pub use scrub::scrub_personal_data;
pub use serial::FORMAT_VERSION;

#[cfg(test)]
mod tests;
