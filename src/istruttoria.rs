//! The istruttoria (issue 14): asking the service concerned for its report, by mail, on the
//! record.
//!
//! - Administrators keep each service's **referenti** (audited).
//! - An operator **sends a request** to one or more referenti ([`send`]), from a text built on
//!   `templates/request.txt` ([`draft`]) that leaves the citizen's name and contacts out unless
//!   kept. Each referente gets a request of its own, tagged `[URP-2026-000042 R1]`, whose mail
//!   carries the ticket's token in its Message-ID.
//! - The referente's plain Reply comes back through ingest: [`claim`] decides whether an
//!   inbound message is a request's report (naming a request's mail with the right token, or
//!   the tag from the referente's own address), and [`report_received`] stores it as internal:
//!   never the citizen's message, never reopening, never mailed to the citizen. A deputy of the
//!   hospital's own domains with the token is accepted and marked; anyone else is a stranger.
//! - Out-of-office replies and bounces of a request's mail are kept on the request
//!   ([`automatic_received`]) and never answered.
//! - [`due_round`] sends reminders at the due date and escalations after
//!   `[istruttoria] escalate_after_days`; it takes the time as an argument (the daemon passes
//!   the clock, tests and `ascolto istruttoria solleciti --now` any time).
//!
//! Every step is audited; the citizen's deadline is never touched.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use regex::Regex;
use rusqlite::Connection;
use serde_json::json;

use crate::admin::{AdminError, Thing};
use crate::domain::refusal::{Invalid, Step, WorkflowError};
use crate::domain::time::{rome_midnight_utc, to_rome};
use crate::domain::{
    Actor, AuditAction, AuditActor, AutoKind, MailKind, RecipientKey, RequestState, RequestTag,
};
use crate::mail::{thread, ParsedMail};
use crate::notify::requests::{Draft, RequestMail};
use crate::notify::Notifier;
use crate::store::ingest::{self as ingest_sql, TicketRef};
use crate::store::requests::{self as sql, NewRequest, Request};
use crate::store::tickets::{self as ticket_sql, Ticket};
use crate::store::{self, audit};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// The settings of the istruttoria, from `[istruttoria]` and `[tickets] number_prefix`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub number_prefix: String,
    pub due_days: u32,
    pub escalate_after_days: u32,
    pub escalate_to: Option<String>,
    pub hospital_domains: Vec<String>,
}

impl Settings {
    pub fn from_config(c: &crate::config::Config) -> Settings {
        Settings {
            number_prefix: c.tickets.number_prefix.clone(),
            due_days: c.istruttoria.due_days,
            escalate_after_days: c.istruttoria.escalate_after_days,
            escalate_to: c.istruttoria.escalate_to.clone(),
            hospital_domains: c.istruttoria.hospital_domains.clone(),
        }
    }

    fn is_hospital_address(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, domain)| {
            self.hospital_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain.trim()))
        })
    }

    /// The due date the request form proposes: `due_days` from today (Rome).
    pub fn default_due(&self, now: DateTime<Utc>) -> NaiveDate {
        to_rome(now).date_naive() + Duration::days(i64::from(self.due_days.max(1)))
    }
}

/// The stored due time of a due date: the end of that day in Rome (the referente has the
/// whole day; the reminder goes once it has passed).
pub fn due_at_of(day: NaiveDate) -> DateTime<Utc> {
    match day.succ_opt() {
        Some(next) => rome_midnight_utc(next) - Duration::seconds(1),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

// ---- referenti (administrators) ----

/// A referente as an administrator writes it.
#[derive(Clone, Debug)]
pub struct ReferenteInput {
    pub service_id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
}

/// An address as a referente's: one `@`, something on both sides, no spaces.
fn valid_address(a: &str) -> bool {
    a.len() <= 254
        && !a.contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'))
}

fn check_referente(
    conn: &Connection,
    r: &ReferenteInput,
    except: Option<i64>,
) -> Result<(), AdminError> {
    if r.name.trim().is_empty() {
        return Err(AdminError::NameMissing);
    }
    let email = r.email.trim();
    if !valid_address(email) {
        return Err(AdminError::NotAnEmail(email.to_string()));
    }
    if !ticket_sql::service_exists(conn, r.service_id)? {
        return Err(AdminError::NotFound(Thing::Service));
    }
    if sql::referente_taken(conn, r.service_id, email, except)? {
        return Err(AdminError::ReferenteTaken(email.to_string()));
    }
    Ok(())
}

pub fn referente_add(
    conn: &Connection,
    actor: AuditActor,
    r: &ReferenteInput,
) -> Result<i64, AdminError> {
    check_referente(conn, r, None)?;
    let id = sql::insert_referente(
        conn,
        r.service_id,
        r.name.trim(),
        r.email.trim(),
        r.role.trim(),
    )?;
    audit::record(
        conn,
        actor,
        AuditAction::ReferenteCreated,
        None,
        json!({ "referente": id, "service": r.service_id }),
    )?;
    Ok(id)
}

pub fn referente_update(
    conn: &Connection,
    actor: AuditActor,
    id: i64,
    r: &ReferenteInput,
) -> Result<(), AdminError> {
    let old = sql::referente(conn, id)?.ok_or(AdminError::NotFound(Thing::Referente))?;
    let r = ReferenteInput {
        service_id: old.service_id,
        ..r.clone()
    };
    check_referente(conn, &r, Some(id))?;
    sql::update_referente(
        conn,
        id,
        r.name.trim(),
        r.email.trim(),
        r.role.trim(),
        r.active,
    )?;
    audit::record(
        conn,
        actor,
        AuditAction::ReferenteUpdated,
        None,
        json!({
            "referente": id,
            "service": old.service_id,
            "address_changed": !old.email.eq_ignore_ascii_case(r.email.trim()),
            "active": r.active,
        }),
    )?;
    Ok(())
}

// ---- the request ----

fn refuse_viewer(actor: &Actor) -> Result<()> {
    if !actor.role.works_tickets() {
        return Err(WorkflowError::Forbidden {
            role: actor.role,
            step: Step::Request,
        });
    }
    Ok(())
}

fn ticket(conn: &Connection, ticket_id: i64) -> Result<Ticket> {
    ticket_sql::ticket(conn, ticket_id)?.ok_or(WorkflowError::NotFound)
}

/// The active referenti among `ids`, in the order given; refused if none, or one is unknown
/// or inactive.
fn chosen_referenti(conn: &Connection, ids: &[i64]) -> Result<Vec<sql::Referente>> {
    let mut out = Vec::new();
    for &id in ids {
        match sql::referente(conn, id)? {
            Some(r) if r.active => {
                if !out.iter().any(|o: &sql::Referente| o.id == r.id) {
                    out.push(r)
                }
            }
            _ => return Err(WorkflowError::Invalid(Invalid::NoReferente)),
        }
    }
    if out.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::NoReferente));
    }
    Ok(out)
}

/// "Dott. Bianchi (Direttore UO), Inf. Verdi (Coordinatore)".
fn greeting(referenti: &[sql::Referente]) -> String {
    referenti
        .iter()
        .map(|r| match r.role.trim() {
            "" => r.name.clone(),
            role => format!("{} ({role})", r.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The proposed request for `referente_ids` due on `due`: subject and text from
/// `templates/request.txt`, with the complaint quoted. Without `keep_citizen` the citizen's
/// name, address and anything that looks like a contact are left out of it.
pub fn draft(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    referente_ids: &[i64],
    due: NaiveDate,
    keep_citizen: bool,
) -> Result<(String, String)> {
    refuse_viewer(actor)?;
    let t = ticket(conn, ticket_id)?;
    let referenti = chosen_referenti(conn, referente_ids)?;
    let mut services: Vec<String> = referenti.iter().map(|r| r.service_name.clone()).collect();
    services.dedup();
    let complaint = sql::first_complaint(conn, ticket_id)?;
    let d = Draft {
        referente: greeting(&referenti),
        service: Some(services.join(", ")),
        due: due_at_of(due),
        operator_name: actor.name.clone(),
        complaint: complaint.as_ref().map(|(body, _)| {
            if keep_citizen {
                body.clone()
            } else {
                redact(body, t.citizen.name.as_deref(), &t.citizen.email)
            }
        }),
        complaint_at: complaint.map(|(_, at)| at),
        citizen: keep_citizen.then(|| (t.citizen.name.clone(), t.citizen.email.clone())),
    };
    let (subject, body) = notifier.request_draft(&t, &d)?;
    let subject = if keep_citizen {
        subject
    } else {
        redact(&subject, t.citizen.name.as_deref(), &t.citizen.email)
    };
    Ok((subject, body))
}

/// What the operator sends.
#[derive(Clone, Debug)]
pub struct Send {
    pub referente_ids: Vec<i64>,
    pub due: NaiveDate,
    pub subject: String,
    pub body: String,
}

/// Sends the request to each referente chosen: one request each (R1, R2, …), its mail queued,
/// audited. Returns the requests' ids. The citizen's deadline is unchanged.
pub fn send(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    s: &Send,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    refuse_viewer(actor)?;
    let t = ticket(conn, ticket_id)?;
    if t.merged_into.is_some() {
        return Err(WorkflowError::Invalid(Invalid::AlreadyMerged));
    }
    let (subject, body) = (s.subject.trim(), s.body.trim_end());
    if subject.is_empty() || body.trim().is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyRequest));
    }
    let today = to_rome(now).date_naive();
    if s.due <= today || s.due > today + Duration::days(366) {
        return Err(WorkflowError::Invalid(Invalid::BadRequestDue));
    }
    let referenti = chosen_referenti(conn, &s.referente_ids)?;
    let (now_text, due_text) = (store::time_text(now), store::time_text(due_at_of(s.due)));
    let mut ids = Vec::new();
    for r in &referenti {
        let tag = RequestTag {
            ticket: t.number.clone(),
            seq: sql::next_seq(conn, &t.number)?,
        };
        let tag_text = tag.to_string();
        let id = sql::insert_request(
            conn,
            &NewRequest {
                ticket_id,
                tag: &tag_text,
                referente_id: r.id,
                service_id: r.service_id,
                to_address: &r.email,
                to_name: &greeting(std::slice::from_ref(r)),
                subject,
                body_text: body,
                author_id: actor.id,
                sent_at: &now_text,
                due_at: &due_text,
            },
        )?;
        let queued = notifier.queue_request_mail(
            conn,
            &RequestMail {
                ticket: &t,
                request_id: Some(id),
                tag: &tag_text,
                kind: MailKind::Request,
                to: &r.email,
                subject,
                body,
                in_reply_to: None,
            },
            false,
        )?;
        audit::record(
            conn,
            actor.audit(),
            AuditAction::RequestSent,
            Some(ticket_id),
            json!({
                "request": id,
                "tag": tag_text,
                "referente": r.id,
                "service": r.service_id,
                "due_at": due_text,
                "outbox": queued.outbox_id,
            }),
        )?;
        ids.push(id);
    }
    Ok(ids)
}

/// An operator read a request's report: it leaves the dashboard's queue.
pub fn mark_read(conn: &Connection, actor: &Actor, ticket_id: i64, request_id: i64) -> Result<()> {
    refuse_viewer(actor)?;
    let r = sql::request(conn, request_id)?
        .filter(|r| r.ticket_id == ticket_id)
        .ok_or(WorkflowError::Invalid(Invalid::UnknownRequest))?;
    if sql::set_read(conn, r.id)? {
        audit::record(
            conn,
            actor.audit(),
            AuditAction::RequestReportRead,
            Some(ticket_id),
            json!({ "request": r.id, "tag": r.tag }),
        )?;
    }
    Ok(())
}

// ---- what comes back (ingest calls these inside its transaction) ----

/// What an inbound message is to the istruttoria.
#[derive(Debug)]
pub enum Claim {
    /// A report of this request; `other_sender` when someone of the hospital other than the
    /// referente asked wrote it (a deputy, a forward).
    Report {
        request: Box<Request>,
        other_sender: bool,
    },
    /// It names a request's mail but comes from outside the hospital (or unauthenticated): a
    /// stranger, who gets a new ticket linked to this one.
    Stranger(TicketRef),
    /// Nothing to do with a request.
    None,
}

/// Whether `m` is a report of one of our requests (see [`Claim`]). `unverified`: the hospital's
/// mail server could not authenticate the sender, who may be anyone.
pub fn claim(
    conn: &Connection,
    s: &Settings,
    m: &ParsedMail,
    unverified: bool,
) -> anyhow::Result<Claim> {
    let from = m.from_email.as_deref().unwrap_or_default();
    let from_key = RecipientKey::of(from);
    // A reference to a request's mail, with the ticket's token checked in constant time.
    if let Some((t, request)) = request_of_refs(conn, m.references.iter())? {
        if t.citizen_email.eq_ignore_ascii_case(from) {
            // The citizen themselves (a request forwarded to them): their ordinary threading.
            return Ok(Claim::None);
        }
        if unverified {
            return Ok(Claim::Stranger(t));
        }
        if RecipientKey::of(&request.to_address) == from_key {
            return Ok(Claim::Report {
                request: Box::new(request),
                other_sender: false,
            });
        }
        if s.is_hospital_address(from) {
            return Ok(Claim::Report {
                request: Box::new(request),
                other_sender: true,
            });
        }
        return Ok(Claim::Stranger(t));
    }
    if unverified {
        return Ok(Claim::None);
    }
    // The tag in the subject counts only from the referente asked (like a ticket number from
    // its citizen).
    for tag in RequestTag::in_subject(&m.subject, &s.number_prefix) {
        if let Some(id) = sql::request_by_tag(conn, &tag.to_string())? {
            if let Some(request) = sql::request(conn, id)? {
                if RecipientKey::of(&request.to_address) == from_key {
                    return Ok(Claim::Report {
                        request: Box::new(request),
                        other_sender: false,
                    });
                }
            }
        }
    }
    Ok(Claim::None)
}

/// The request (and its ticket) whose mail one of `refs` names with the ticket's right token.
pub fn request_of_refs<'a>(
    conn: &Connection,
    refs: impl Iterator<Item = &'a String>,
) -> anyhow::Result<Option<(TicketRef, Request)>> {
    for r in refs {
        let Some((number, token)) = thread::claimed_ticket(r) else {
            continue;
        };
        let Some(t) = ingest_sql::ticket_by_number(conn, &number)? else {
            continue;
        };
        if !thread::tokens_match(token, &t.thread_token) {
            continue;
        }
        if let Some(id) = sql::request_of_mail(conn, r.trim())? {
            if let Some(request) = sql::request(conn, id)? {
                return Ok(Some((t, request)));
            }
        }
    }
    Ok(None)
}

/// A report was stored as message `message` of the request's ticket: the request is answered,
/// the ticket flagged (the report unread), the operator told once, all audited. Nothing goes to
/// the citizen and the ticket's state does not change.
pub fn report_received(
    conn: &Connection,
    notifier: Option<&Notifier>,
    request: &Request,
    message: i64,
    other_sender: bool,
    report_from: String,
    at: &str,
) -> anyhow::Result<()> {
    sql::set_message_request(conn, message, request.id)?;
    let already_unread = sql::report_unread(conn, request.id)?;
    sql::set_answered(conn, request.id, at)?;
    audit::record(
        conn,
        AuditActor::Ingest,
        AuditAction::RequestAnswered,
        Some(request.ticket_id),
        json!({
            "request": request.id,
            "tag": request.tag,
            "message": message,
            "other_sender": other_sender,
        }),
    )?;
    let Some(notifier) = notifier.filter(|_| !already_unread) else {
        return Ok(());
    };
    let t = ticket_sql::ticket(conn, request.ticket_id)?
        .ok_or_else(|| anyhow::anyhow!("the request's ticket vanished"))?;
    let to = match sql::notified_operator(conn, request.author_id)? {
        Some(author) => vec![author],
        None => crate::store::outbox::notified_operators(conn)?,
    };
    let vars = notifier.request_vars(&t, request, Some(report_from));
    let (subject, body) = notifier.render_request(MailKind::ReportArrived, &vars)?;
    for address in &to {
        notifier.queue_request_mail(
            conn,
            &RequestMail {
                ticket: &t,
                request_id: None,
                tag: &request.tag,
                kind: MailKind::ReportArrived,
                to: address,
                subject: &subject,
                body: &body,
                in_reply_to: None,
            },
            false,
        )?;
    }
    Ok(())
}

/// An out-of-office reply or a bounce of a request's mail, stored as message `message`: shown
/// on the request; a bounce marks the referente's address as wrong. Never answered.
pub fn automatic_received(
    conn: &Connection,
    request: &Request,
    message: i64,
    kind: AutoKind,
    signal: &str,
    at: &str,
) -> anyhow::Result<()> {
    sql::set_message_request(conn, message, request.id)?;
    sql::set_automatic(conn, request.id, kind, at)?;
    if kind == AutoKind::Bounce {
        if let Some(referente) = request.referente_id {
            sql::mark_referente_bouncing(conn, referente, at)?;
        }
    }
    audit::record(
        conn,
        AuditActor::Ingest,
        AuditAction::RequestAutomatic,
        Some(request.ticket_id),
        json!({
            "request": request.id,
            "tag": request.tag,
            "message": message,
            "kind": kind,
            "signal": signal,
        }),
    )?;
    Ok(())
}

// ---- reminders and escalations ----

/// What one round of [`due_round`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundCounts {
    pub reminded: usize,
    pub escalated: usize,
}

/// Reminds the referenti of open requests whose due date has passed, and reports to
/// `[istruttoria] escalate_to` those still open `escalate_after_days` after it. `now` is the
/// clock's time (injected: tests move it). Each request is reminded once and escalated once;
/// requests of closed tickets are left alone. Run it inside a transaction.
pub fn due_round(
    conn: &Connection,
    notifier: &Notifier,
    s: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<RoundCounts> {
    let mut counts = RoundCounts::default();
    let now_text = store::time_text(now);
    for id in sql::due_for_reminder(conn, &now_text)? {
        let Some((t, r)) = open_request(conn, id)? else {
            continue;
        };
        let bouncing = r.bounced_at.is_some() || referente_bounces(conn, &r)?;
        let vars = notifier.request_vars(&t, &r, None);
        let (subject, body) = notifier.render_request(MailKind::RequestReminder, &vars)?;
        let first = sql::first_mail_id(conn, r.id)?;
        let queued = notifier.queue_request_mail(
            conn,
            &RequestMail {
                ticket: &t,
                request_id: Some(r.id),
                tag: &r.tag,
                kind: MailKind::RequestReminder,
                to: &r.to_address,
                subject: &subject,
                body: &body,
                in_reply_to: first.as_deref(),
            },
            bouncing,
        )?;
        sql::set_reminded(conn, r.id, &now_text)?;
        audit::record(
            conn,
            AuditActor::Istruttoria,
            AuditAction::RequestReminded,
            Some(t.id),
            json!({ "request": r.id, "tag": r.tag, "outbox": queued.outbox_id,
                    "suppressed": queued.suppressed.is_some() }),
        )?;
        counts.reminded += 1;
    }
    let Some(head) = &s.escalate_to else {
        return Ok(counts);
    };
    let cutoff = store::time_text(now - Duration::days(i64::from(s.escalate_after_days)));
    for id in sql::due_for_escalation(conn, &cutoff)? {
        let Some((t, r)) = open_request(conn, id)? else {
            continue;
        };
        if r.reminded_at.is_none() {
            continue; // reminded first, in this very round if need be
        }
        let vars = notifier.request_vars(&t, &r, None);
        let (subject, body) = notifier.render_request(MailKind::RequestEscalation, &vars)?;
        let queued = notifier.queue_request_mail(
            conn,
            &RequestMail {
                ticket: &t,
                request_id: Some(r.id),
                tag: &r.tag,
                kind: MailKind::RequestEscalation,
                to: head,
                subject: &subject,
                body: &body,
                in_reply_to: None,
            },
            false,
        )?;
        sql::set_escalated(conn, r.id, &now_text)?;
        audit::record(
            conn,
            AuditActor::Istruttoria,
            AuditAction::RequestEscalated,
            Some(t.id),
            json!({ "request": r.id, "tag": r.tag, "outbox": queued.outbox_id }),
        )?;
        counts.escalated += 1;
    }
    Ok(counts)
}

/// The request `id` with its ticket, if still open and its ticket too.
fn open_request(conn: &Connection, id: i64) -> anyhow::Result<Option<(Ticket, Request)>> {
    let Some(r) = sql::request(conn, id)? else {
        return Ok(None);
    };
    let Some(t) = ticket_sql::ticket(conn, r.ticket_id)? else {
        return Ok(None);
    };
    if r.state != RequestState::Open || !t.state.is_open() {
        return Ok(None);
    }
    Ok(Some((t, r)))
}

fn referente_bounces(conn: &Connection, r: &Request) -> anyhow::Result<bool> {
    Ok(match r.referente_id {
        Some(id) => sql::referente(conn, id)?.is_some_and(|x| {
            x.bouncing_since.is_some() && x.email.eq_ignore_ascii_case(&r.to_address)
        }),
        None => false,
    })
}

// ---- the citizen's data out of a request ----

/// What replaces the citizen's data in a request's proposed text.
pub const OMITTED: &str = "[omissis]";

/// `text` without the citizen's address and name (each word of it of three letters or more),
/// other mail addresses, phone numbers and fiscal codes.
pub fn redact(text: &str, name: Option<&str>, email: &str) -> String {
    static CONTACTS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"(?i)[A-Z0-9._%+\-]+@[A-Z0-9.\-]+\.[A-Z]{2,}", // mail addresses
            r"|\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b", // codice fiscale
            r"|(?:\+39[\s.\-]?|\b0039[\s.\-]?|\b)(?:3\d{2}|0\d{1,3})[\s.\-]?\d{3,4}[\s.\-]?\d{2,4}\b", // Italian phones
        ))
        .unwrap()
    });
    let mut out = text.replace(email, OMITTED);
    out = CONTACTS.replace_all(&out, OMITTED).into_owned();
    if let Some(name) = name {
        for word in name.split_whitespace().filter(|w| w.chars().count() >= 3) {
            let pattern = format!(r"(?i)\b{}\b", regex::escape(word));
            if let Ok(re) = Regex::new(&pattern) {
                out = re.replace_all(&out, OMITTED).into_owned();
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "istruttoria_tests.rs"]
mod tests;
