//! Classification's words: the fields a ticket is classified by, where a field's value came
//! from, and why a model was trained.

use super::vocabulary;

vocabulary! {
    /// A classification field of a ticket (the macro-category follows from the category).
    pub enum ClassField {
        Kind = "kind",
        Category = "category",
        Service = "service",
    }
}

vocabulary! {
    /// Where a classification field's value came from.
    pub enum ClassSource {
        /// A routing rule: the hospital's explicit decision.
        Rule = "rule",
        /// The learned model, above its calibrated threshold.
        Model = "model",
        /// An operator set or confirmed it: what the model learns from.
        Operator = "operator",
    }
}

vocabulary! {
    /// Why a model was trained.
    pub enum TrainReason {
        /// The database had no usable model when the daemon started.
        FirstStart = "first_start",
        Nightly = "nightly",
        /// `ascolto classify train`.
        OnDemand = "on_demand",
    }
}

impl ClassField {
    /// The learn module's name for the field.
    pub fn learnt(self) -> crate::learn::Field {
        match self {
            ClassField::Kind => crate::learn::Field::Kind,
            ClassField::Category => crate::learn::Field::Category,
            ClassField::Service => crate::learn::Field::Service,
        }
    }
}
