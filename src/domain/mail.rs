//! Mail words: what ascolto sends and how it stands, what it recognises in what it receives.

use super::vocabulary;

vocabulary! {
    /// The kinds of mail ascolto sends, as `outbox.kind` stores them and `templates/` names them.
    pub enum MailKind {
        Ack = "ack",
        InCharge = "in_charge",
        Answer = "answer",
        Reopened = "reopened",
        Closed = "closed",
        NewTicket = "new_ticket",
        /// The istruttoria: a request for a report to a service's referente (an operator's act).
        Request = "request",
        /// The reminder of a request at its due date.
        RequestReminder = "request_reminder",
        /// A request still unanswered some days after its reminder: to the URP's head.
        RequestEscalation = "request_escalation",
        /// To the operator: a service's report has arrived.
        ReportArrived = "report_arrived",
        /// To the citizen: the answer deadline was suspended, resumed or extended (issue 19).
        DeadlineChanged = "deadline_changed",
        /// Issue 20: to the clinical-risk office, a ticket flagged as a possible adverse event
        /// (no personal data of the citizen's).
        RiskAlert = "risk_alert",
        /// To an operator or the URP's head: the morning digest of tickets due and overdue.
        Digest = "digest",
    }
}

impl MailKind {
    /// Everything but an operator's own answer is an automatic mail (RFC 3834).
    pub fn automatic(self) -> bool {
        match self {
            MailKind::Answer | MailKind::Request => false,
            MailKind::Ack
            | MailKind::InCharge
            | MailKind::Reopened
            | MailKind::Closed
            | MailKind::NewTicket
            | MailKind::RequestReminder
            | MailKind::RequestEscalation
            | MailKind::ReportArrived
            | MailKind::DeadlineChanged
            | MailKind::RiskAlert
            | MailKind::Digest => true,
        }
    }

    /// Mail of the istruttoria: it goes to a referente, the URP's head or an operator, never
    /// to the citizen, and never names the citizen's messages.
    pub fn istruttoria(self) -> bool {
        match self {
            MailKind::Request
            | MailKind::RequestReminder
            | MailKind::RequestEscalation
            | MailKind::ReportArrived => true,
            MailKind::Ack
            | MailKind::InCharge
            | MailKind::Answer
            | MailKind::Reopened
            | MailKind::Closed
            | MailKind::NewTicket
            | MailKind::DeadlineChanged
            | MailKind::RiskAlert
            | MailKind::Digest => false,
        }
    }

    /// Sent because mail came in (so a loop or a mail-bomb could drive it): rate-limited.
    /// Notices of an operator's action are not.
    pub fn answers_inbound(self) -> bool {
        match self {
            MailKind::Ack | MailKind::Reopened => true,
            MailKind::InCharge
            | MailKind::Answer
            | MailKind::Closed
            | MailKind::NewTicket
            | MailKind::Request
            | MailKind::RequestReminder
            | MailKind::RequestEscalation
            // At most one per request until an operator reads the report (see istruttoria).
            | MailKind::ReportArrived
            | MailKind::DeadlineChanged
            | MailKind::RiskAlert
            | MailKind::Digest => false,
        }
    }
}

vocabulary! {
    /// Where a mail in the outbox stands.
    pub enum OutboxState {
        Pending = "pending",
        Sent = "sent",
        /// Gave up after `[notify] max_attempts`, or refused for good.
        Failed = "failed",
        /// Never to be sent (rate limit, bouncing address, one of our own addresses).
        Suppressed = "suppressed",
    }
}

vocabulary! {
    /// Which way a message of a ticket went.
    pub enum Direction {
        In = "in",
        Out = "out",
    }
}

vocabulary! {
    /// Automatic mail ascolto recognises (and never answers).
    pub enum AutoKind {
        AutoReply = "auto_reply",
        Bounce = "bounce",
        PecReceipt = "pec_receipt",
    }
}

vocabulary! {
    /// Why a message sits in quarantine.
    pub enum QuarantineKind {
        /// It could not be read at all.
        Unparseable = "unparseable",
        /// Reading worked, storing failed.
        StoreError = "store_error",
        /// An auto-reply, bounce or receipt about no ticket (or from an unverified sender).
        Automatic = "automatic",
    }
}

vocabulary! {
    /// A PEC envelope (`X-Trasporto`).
    pub enum Envelope {
        /// A certified message.
        Certified = "posta-certificata",
        /// Ordinary mail that reached a PEC box, wrapped by the provider.
        Anomaly = "errore",
    }
}

vocabulary! {
    /// What checking a PEC envelope's signature found.
    pub enum Signature {
        /// No CA file is configured for the mailbox: nothing was checked.
        NotChecked = "not_checked",
        /// The provider's signature is valid and chains to the configured CA file.
        Verified = "verified",
        /// Checked and not valid (or not checkable: no signature, `openssl` missing).
        Invalid = "invalid",
    }
}

vocabulary! {
    /// What a routing rule's pattern is matched against.
    pub enum RuleField {
        Subject = "subject",
        Body = "body",
        Sender = "sender",
        /// Subject and body.
        Text = "text",
    }
}

/// One mail as ascolto sends it: what the outbox holds and the mailer delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Without `<>`.
    pub message_id: String,
    /// Already bracketed.
    pub in_reply_to: Option<String>,
    pub refs: Option<String>,
    pub automatic: bool,
    /// Files attached to an operator's answer (issue 19): the mail is multipart then.
    pub attachments: Vec<OutgoingFile>,
}

/// A file sent with a mail, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingFile {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}
