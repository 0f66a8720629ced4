//! Why the procedure refuses a step: the refusals callers branch on (the backoffice turns each
//! into Italian through `texts::workflow_error`; a failure of the database, `Other`, into a
//! logged 500). They live here, beside the vocabulary they name, so that the texts depend on
//! the domain alone.

use std::fmt;

use super::{Role, State, TicketNumber};

/// A step of the procedure, as a refusal names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    TakeInCharge,
    Answer,
    Close,
    Reopen,
    Note,
    Classify,
    Merge,
    /// Send a request for a report, or mark a report read (the istruttoria).
    Request,
    /// Record a complaint taken by phone, at the desk or by letter (issue 15).
    Record,
    /// Suspend, resume or extend the answer deadline.
    Deadline,
    /// Open a second-level review or record its outcome.
    Review,
    /// Approve or return an answer awaiting approval.
    Approve,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::TakeInCharge => "take the ticket in charge",
            Step::Answer => "answer",
            Step::Close => "close the ticket",
            Step::Reopen => "reopen",
            Step::Note => "write a note",
            Step::Classify => "classify a ticket",
            Step::Merge => "merge tickets",
            Step::Request => "ask a service for a report",
            Step::Record => "record a complaint",
            Step::Deadline => "move the answer deadline",
            Step::Review => "open or close a second-level review",
            Step::Approve => "approve answers (the approver right)",
        })
    }
}

/// Why a step was refused; each becomes Italian in `texts::workflow_error`, the database's own
/// failures (`Other`) a logged 500.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("no such ticket")]
    NotFound,
    #[error("a user with role {role} may not {step}")]
    Forbidden { role: Role, step: Step },
    #[error("ticket {number} is {state}: cannot {step}")]
    WrongState {
        number: TicketNumber,
        state: State,
        step: Step,
    },
    #[error("{0}")]
    Invalid(Invalid),
    /// Two citizens' tickets merge only when the operator confirms it (issue 11): after the
    /// merge, mail goes to `into`'s citizen alone.
    #[error("{} and {} are of different citizens ({}, {}): confirm the merge", .0.from, .0.into, .0.from_citizen, .0.into_citizen)]
    DifferentCitizens(Box<TwoCitizens>),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Two tickets of different citizens, as a refused merge names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoCitizens {
    pub from: TicketNumber,
    pub into: TicketNumber,
    pub from_citizen: String,
    pub into_citizen: String,
}

/// What was wrong with what the operator sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the answer is empty")]
    EmptyAnswer,
    #[error("the note is empty")]
    EmptyNote,
    #[error("unknown category (choose a sub-category)")]
    UnknownCategory,
    #[error("unknown service")]
    UnknownService,
    #[error("tickets are assigned to active operators only")]
    NotAnOperator,
    #[error("a ticket cannot be merged into itself")]
    MergeIntoItself,
    #[error("this ticket has already been merged")]
    AlreadyMerged,
    #[error("the target ticket has itself been merged into another")]
    TargetMerged,
    #[error("a request for a report needs at least one active referente")]
    NoReferente,
    #[error("the request's text or subject is empty")]
    EmptyRequest,
    #[error("the request's due date must be after today, within a year")]
    BadRequestDue,
    #[error("no such request for a report on this ticket")]
    UnknownRequest,
    #[error("unknown kind")]
    UnknownKind,
    #[error("nothing is classified yet: nothing to confirm")]
    NothingToConfirm,
    /// Issue 15: a complaint recorded without its text.
    #[error("the complaint's text is empty")]
    EmptyComplaint,
    #[error("the date received is in the future or implausibly old")]
    BadReceivedDate,
    #[error("the citizen's e-mail address is not valid")]
    BadEmail,
    #[error("the ticket has not been answered yet")]
    NotYetAnswered,
    #[error("a change of the deadline needs its reason")]
    EmptyReason,
    #[error("the deadline is already suspended")]
    AlreadySuspended,
    #[error("the deadline is not suspended")]
    NotSuspended,
    #[error("the ticket was answered: its deadline no longer moves")]
    DeadlineMet,
    #[error("an extension goes to one of `[workflow] extend_to_days`, longer than the deadline in force")]
    BadExtension,
    #[error("more files than `[workflow] attachment_max_files`")]
    TooManyFiles,
    #[error("the files are larger than `[workflow] attachment_max_bytes`")]
    FilesTooLarge,
    #[error("a file's type is not in `[workflow] attachment_types`")]
    FileTypeRefused,
    #[error("a file has no name")]
    FileUnnamed,
    #[error("no such answer awaiting approval on this ticket")]
    NoPendingDraft,
    #[error("a review follows the answer: the ticket was not answered yet")]
    NotAnsweredYet,
    #[error("the ticket already has a review")]
    ReviewExists,
    #[error("the ticket has no open review")]
    NoReview,
    #[error("not one of `[workflow] review_bodies`")]
    UnknownReviewBody,
    #[error("that review body does not take tickets of this category")]
    ReviewBodyExcluded,
}

impl From<rusqlite::Error> for WorkflowError {
    fn from(e: rusqlite::Error) -> Self {
        WorkflowError::Other(e.into())
    }
}
