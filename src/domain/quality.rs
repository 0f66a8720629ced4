//! The words of the quality work on complaints (issue 20): whether a complaint was founded, and
//! where an improvement action stands.

use super::vocabulary;

vocabulary! {
    /// The analysis's verdict on a complaint (fondatezza).
    pub enum Founded {
        Founded = "fondato",
        Partly = "parzialmente_fondato",
        Unfounded = "infondato",
    }
}

vocabulary! {
    /// Where an improvement action stands (azione di miglioramento).
    pub enum ActionState {
        Proposed = "proposta",
        Started = "avviata",
        Completed = "completata",
        Abandoned = "abbandonata",
    }
}

impl ActionState {
    /// Still to be done: a due date past makes it overdue.
    pub fn is_open(self) -> bool {
        match self {
            ActionState::Proposed | ActionState::Started => true,
            ActionState::Completed | ActionState::Abandoned => false,
        }
    }
}
