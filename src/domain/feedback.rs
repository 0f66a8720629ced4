//! What the backoffice confirms after an action: the word a redirect carries in `?fatto=`, so
//! that the page it lands on says what was done (`crate::texts::done` words it).

use super::vocabulary;

vocabulary! {
    /// An action just carried out, named in the redirect that follows it.
    pub enum Done {
        Answered = "risposta",
        Noted = "nota",
        Classified = "classificazione",
        Confirmed = "conferma",
        Closed = "chiusura",
        Merged = "unione",
        RuleSaved = "regola",
        RuleAdded = "regola-nuova",
        RuleDeleted = "regola-eliminata",
        QuarantineRetried = "rielaborato",
        QuarantineDiscarded = "scartato",
        /// An administrator's change saved (users, services, referenti, categories).
        Saved = "salvato",
        MailRequeued = "rimessa-in-coda",
        RequestSent = "relazione-richiesta",
        /// Issue 19's sign-off: the answer waits for an approver; nothing was sent.
        AnswerDrafted = "risposta-da-approvare",
    }
}
