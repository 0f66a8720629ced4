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
        TicketNoteAdded = "ticket.note_added",
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
    }
}
