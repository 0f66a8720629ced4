//! What the audit log records (DESIGN.md invariant 7): one word per kind of action.

use super::vocabulary;

vocabulary! {
    /// An action in the audit log, as `audit_log.action` stores it.
    pub enum AuditAction {
        TicketCreated = "ticket.created",
        TicketViewed = "ticket.viewed",
        /// A viewer asked for what their role does not show (`[web] viewer_sees_content`).
        TicketViewRefused = "ticket.view_refused",
        TicketTakenInCharge = "ticket.taken_in_charge",
        TicketAnswered = "ticket.answered",
        TicketClosed = "ticket.closed",
        TicketReopened = "ticket.reopened",
        TicketClassified = "ticket.classified",
        /// An operator confirmed a classification (a suggestion, or what was already set).
        TicketClassificationConfirmed = "ticket.classification_confirmed",
        TicketNoteAdded = "ticket.note_added",
        /// An answer arrived after its session had ended: kept as a draft (issue 18).
        TicketDraftKept = "ticket.draft_kept",
        TicketMergedInto = "ticket.merged_into",
        TicketMergedFrom = "ticket.merged_from",
        TicketAttachmentDownloaded = "ticket.attachment_downloaded",
        TicketOriginalDownloaded = "ticket.original_downloaded",
        TicketAnonymised = "ticket.anonymised",
        MessageReceived = "message.received",
        MessageAutomatic = "message.automatic",
        UserLogin = "user.login",
        UserLogout = "user.logout",
        UserLoginFailed = "user.login_failed",
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        UserDisabled = "user.disabled",
        UserPasswordReset = "user.password_reset",
        QuarantineAdded = "quarantine.added",
        QuarantineRetried = "quarantine.retried",
        QuarantineRetryFailed = "quarantine.retry_failed",
        QuarantineDiscarded = "quarantine.discarded",
        QuarantineDownloaded = "quarantine.downloaded",
        QuarantineAnonymised = "quarantine.anonymised",
        OutboxRetried = "outbox.retried",
        ServiceCreated = "service.created",
        ServiceUpdated = "service.updated",
        CategoryCreated = "category.created",
        CategoryUpdated = "category.updated",
        CategoryDeleted = "category.deleted",
        RuleCreated = "rule.created",
        RuleUpdated = "rule.updated",
        RuleDeleted = "rule.deleted",
        RuleMoved = "rule.moved",
        CitizenExported = "citizen.exported",
        /// The istruttoria (issue 14): a request for a report sent to a referente.
        RequestSent = "request.sent",
        /// Its reminder at the due date.
        RequestReminded = "request.reminded",
        /// Its escalation to the URP's head.
        RequestEscalated = "request.escalated",
        /// The referente's (or a deputy's) report arrived.
        RequestAnswered = "request.answered",
        /// An out-of-office reply or a bounce of a request's mail.
        RequestAutomatic = "request.automatic",
        /// An operator read the report.
        RequestReportRead = "request.report_read",
        ReferenteCreated = "referente.created",
        ReferenteUpdated = "referente.updated",
        /// The citizen opened their page (`/pratica/<link>`; issue 15).
        CitizenPageViewed = "citizen.page_viewed",
        /// The citizen wrote on their page.
        CitizenMessageAdded = "citizen.message_added",
        /// The citizen said they are satisfied with the answer.
        CitizenSatisfied = "citizen.satisfied",
        /// The citizen said they are not satisfied (the ticket reopens).
        CitizenUnsatisfied = "citizen.unsatisfied",
        /// An operator printed the answer as a letter (a citizen without e-mail).
        TicketAnswerPrinted = "ticket.answer_printed",
        ClassifierTrained = "classifier.trained",
        ClassifierEvaluated = "classifier.evaluated",
        /// Issue 19: the answer deadline stopped, ran again, was extended.
        TicketDeadlineSuspended = "ticket.deadline_suspended",
        TicketDeadlineResumed = "ticket.deadline_resumed",
        TicketDeadlineExtended = "ticket.deadline_extended",
        /// The second level: a review (riesame) opened, and its outcome.
        TicketReviewOpened = "ticket.review_opened",
        TicketReviewClosed = "ticket.review_closed",
        /// Files sent with an answer (their names and sizes are in the details).
        TicketAnswerFilesAttached = "ticket.answer_files_attached",
        /// Sign-off: an answer kept for approval, approved (sent), returned with a comment.
        TicketAnswerDrafted = "ticket.answer_drafted",
        TicketAnswerApproved = "ticket.answer_approved",
        TicketAnswerReturned = "ticket.answer_returned",
        /// An administrator's answer models.
        AnswerModelCreated = "answer_model.created",
        AnswerModelUpdated = "answer_model.updated",
        /// Issue 20: the analysis of a complaint (components, founded, frail citizen, note).
        TicketAnalysed = "ticket.analysed",
        /// Flagged as a possible adverse event, or its register references changed.
        TicketRiskFlagged = "ticket.risk_flagged",
        TicketRiskUnflagged = "ticket.risk_unflagged",
        ImprovementCreated = "improvement.created",
        ImprovementUpdated = "improvement.updated",
        /// The components, the frailty list or the regional codes changed.
        QualityListChanged = "quality.list_changed",
    }
}

vocabulary! {
    /// The families of actions the audit log page filters by (the words are the old prefixes,
    /// so that bookmarked filters still work).
    pub enum AuditGroup {
        Tickets = "ticket.",
        /// Openings of tickets alone: the most frequent entries.
        Views = "ticket.viewed",
        Users = "user.",
        Messages = "message.",
        Quarantine = "quarantine.",
        Rules = "rule.",
        Categories = "category.",
        Services = "service.",
        Outbox = "outbox.",
        Citizens = "citizen.",
        Requests = "request.",
        Referenti = "referente.",
        Classifier = "classifier.",
        AnswerModels = "answer_model.",
        Improvements = "improvement.",
        Quality = "quality.",
    }
}

impl AuditAction {
    /// The family this action belongs to (a view is also a ticket action: see [`AuditGroup::contains`]).
    pub fn group(self) -> AuditGroup {
        use AuditAction as A;
        match self {
            A::TicketViewed => AuditGroup::Views,
            A::TicketCreated
            | A::TicketViewRefused
            | A::TicketTakenInCharge
            | A::TicketAnswered
            | A::TicketClosed
            | A::TicketReopened
            | A::TicketClassified
            | A::TicketClassificationConfirmed
            | A::TicketNoteAdded
            | A::TicketDraftKept
            | A::TicketMergedInto
            | A::TicketMergedFrom
            | A::TicketAttachmentDownloaded
            | A::TicketOriginalDownloaded
            | A::TicketAnswerPrinted
            | A::TicketAnonymised
            | A::TicketDeadlineSuspended
            | A::TicketDeadlineResumed
            | A::TicketDeadlineExtended
            | A::TicketReviewOpened
            | A::TicketReviewClosed
            | A::TicketAnswerFilesAttached
            | A::TicketAnalysed
            | A::TicketRiskFlagged
            | A::TicketRiskUnflagged
            | A::TicketAnswerDrafted
            | A::TicketAnswerApproved
            | A::TicketAnswerReturned => AuditGroup::Tickets,
            A::CitizenPageViewed
            | A::CitizenMessageAdded
            | A::CitizenSatisfied
            | A::CitizenUnsatisfied => AuditGroup::Citizens,
            A::MessageReceived | A::MessageAutomatic => AuditGroup::Messages,
            A::UserLogin
            | A::UserLogout
            | A::UserLoginFailed
            | A::UserCreated
            | A::UserUpdated
            | A::UserDisabled
            | A::UserPasswordReset => AuditGroup::Users,
            A::QuarantineAdded
            | A::QuarantineRetried
            | A::QuarantineRetryFailed
            | A::QuarantineDiscarded
            | A::QuarantineDownloaded
            | A::QuarantineAnonymised => AuditGroup::Quarantine,
            A::OutboxRetried => AuditGroup::Outbox,
            A::ServiceCreated | A::ServiceUpdated => AuditGroup::Services,
            A::CategoryCreated | A::CategoryUpdated | A::CategoryDeleted => AuditGroup::Categories,
            A::RuleCreated | A::RuleUpdated | A::RuleDeleted | A::RuleMoved => AuditGroup::Rules,
            A::CitizenExported => AuditGroup::Citizens,
            A::RequestSent
            | A::RequestReminded
            | A::RequestEscalated
            | A::RequestAnswered
            | A::RequestAutomatic
            | A::RequestReportRead => AuditGroup::Requests,
            A::ReferenteCreated | A::ReferenteUpdated => AuditGroup::Referenti,
            A::ClassifierTrained | A::ClassifierEvaluated => AuditGroup::Classifier,
            A::AnswerModelCreated | A::AnswerModelUpdated => AuditGroup::AnswerModels,
            A::ImprovementCreated | A::ImprovementUpdated => AuditGroup::Improvements,
            A::QualityListChanged => AuditGroup::Quality,
        }
    }
}

impl AuditGroup {
    /// Whether `action` is listed under this family: tickets include their views.
    pub fn contains(self, action: AuditAction) -> bool {
        let own = action.group();
        own == self || (self == AuditGroup::Tickets && own == AuditGroup::Views)
    }

    /// The actions of this family.
    pub fn actions(self) -> Vec<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .filter(|a| self.contains(*a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The families are what the old prefixes selected.
    #[test]
    fn groups_are_the_old_prefixes() {
        for &g in AuditGroup::ALL {
            for &a in AuditAction::ALL {
                let by_prefix = a.as_str().starts_with(g.as_str());
                assert_eq!(g.contains(a), by_prefix, "{g} {a}");
            }
        }
    }
}
