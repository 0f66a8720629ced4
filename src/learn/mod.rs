//! The learned classifier (issue 13): kind, category (and so macro-category) and service of a
//! citizen's message, from examples, with calibrated confidence and measured quality.
//!
//! Pure library code: no database, no web, no ingest. The caller stores [`Model::to_bytes`],
//! feeds [`Example`]s (the shipped corpus and the operators' confirmed tickets) to [`train`],
//! calls [`Model::predict`] on new messages and [`evaluate`] for the figures.
//!
//! DESIGN NOTES: see the end of this file (filled in with the measurements).

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
    macro_of, train, Example, Field, FieldPrediction, LearnError, Message, Model, ModelInfo, Prediction, Reason,
    Scored, TrainOptions, MIN_CONTENT_WORDS, NO_SERVICE, SUGGESTIONS,
};
pub use scrub::scrub_personal_data;
pub use serial::FORMAT_VERSION;

#[cfg(test)]
mod tests;
