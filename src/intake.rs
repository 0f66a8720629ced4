//! Complaints that do not come by mail, and the citizen's own page (issue 15).
//!
//! - [`record`]: an operator records a complaint taken by phone, at the desk, by letter (or a
//!   printed PEC): the date received (the deadline counts from it), the citizen (an e-mail
//!   address is optional: without one, no mail is sent and answers are printed as letters).
//! - The citizen's page (`/pratica/<link>`; its links are `crate::citizen_link`'s):
//!   [`page_viewed`], [`page_message`], [`satisfied`] and [`unsatisfied`] are what the citizen
//!   does there, each audited as `web:citizen`.
//!
//! Every function runs inside the caller's transaction, like `crate::workflow`'s.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::domain::address::{has_email, no_email_placeholder};
use crate::domain::{time, Actor, AuditAction, AuditActor, Channel, Kind, State, TicketNumber};
use crate::notify::{Extra, MailKind, Notifier};
use crate::store::intake::{self as sql, CitizenDetails};
use crate::store::{self, audit, ingest as ingest_sql};
use crate::workflow::{self, Classification, Invalid, Step, WorkflowError};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// A complaint back-dated further than this is refused (a typo in the year, most likely).
const OLDEST_RECEIVED: Duration = Duration::days(366);

/// A file sent with a form (a scanned letter, a photo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A complaint as an operator (or the public form) records it.
#[derive(Clone, Debug)]
pub struct NewComplaint {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub details: CitizenDetails,
    pub subject: String,
    pub text: String,
    pub kind: Option<Kind>,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    /// Kept as a MIME message in `raw_mail` (the record of what was handed in), listed and
    /// downloaded like a mail's attachments.
    pub attachments: Vec<Upload>,
}

/// What a new ticket's number and deadline come from.
#[derive(Clone, Debug)]
pub struct Numbering {
    pub prefix: String,
    pub deadline_days: u32,
}

/// An address good enough to mail: one `@`, something on both sides, no spaces or brackets.
pub fn plausible_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c))
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Records a complaint taken by an operator: a new ticket with the citizen's message, its
/// classification if the operator chose one, the audit entry, and the acknowledgement (held
/// back when the citizen has no e-mail). `actor` is the operator; `None` is the public form,
/// whose caller tells the operators with "riceve mail" once the rules have classified it.
pub fn record(
    conn: &Connection,
    notifier: &Notifier,
    numbering: &Numbering,
    actor: Option<&Actor>,
    c: &NewComplaint,
    now: DateTime<Utc>,
) -> Result<(i64, TicketNumber)> {
    if let Some(a) = actor {
        if !a.role.works_tickets() {
            return Err(WorkflowError::Forbidden {
                role: a.role,
                step: Step::Record,
            });
        }
    }
    let text = c.text.trim();
    if text.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyComplaint));
    }
    if c.received_at > now + Duration::minutes(5) || c.received_at < now - OLDEST_RECEIVED {
        return Err(WorkflowError::Invalid(Invalid::BadReceivedDate));
    }
    let email = clean(&c.email);
    if email
        .as_deref()
        .is_some_and(|e| !plausible_email(e) || !has_email(e))
    {
        return Err(WorkflowError::Invalid(Invalid::BadEmail));
    }
    if let (None, Some(service)) = (actor, c.service_id) {
        if !crate::store::tickets::service_exists(conn, service)? {
            return Err(WorkflowError::Invalid(Invalid::UnknownService));
        }
    }
    let name = clean(&c.name);
    let address = email.unwrap_or_else(no_email_placeholder);
    let contact_id = ingest_sql::upsert_contact(conn, &address, name.as_deref())?;
    let year = time::rome_year(c.received_at);
    let seq = ingest_sql::next_seq(conn, year)?;
    let number = TicketNumber {
        prefix: numbering.prefix.clone(),
        year,
        seq,
    };
    let subject = match c.subject.trim() {
        "" => text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect(),
        s => s.to_string(),
    };
    let received = store::time_text(c.received_at);
    let due = store::time_text(time::due_at(c.received_at, numbering.deadline_days));
    let token = crate::mail::thread::new_token();
    let ticket_id = ingest_sql::insert_ticket(
        conn,
        &ingest_sql::NewTicket {
            number: &number,
            year,
            seq,
            thread_token: &token,
            // The public form's choices are the citizen's, set as they are; an operator's
            // are recorded as the operator's classification below.
            kind: actor.map_or(c.kind, |_| None),
            category_id: None,
            service_id: actor.map_or(c.service_id, |_| None),
            contact_id,
            subject: &subject,
            received_at: &received,
            due_at: &due,
            channel: c.channel,
            linked_ticket_id: None,
        },
    )?;
    let raw_id = match c.attachments.is_empty() {
        true => None,
        false => {
            let raw = recorded_message(&number, &address, &subject, text, &c.attachments, now);
            let sha = hex::encode(Sha256::digest(&raw));
            let source = match actor {
                Some(a) => format!("recorded:user:{}", a.id),
                None => "recorded:web-form".to_string(),
            };
            Some(ingest_sql::insert_raw(conn, &sha, &raw, &source)?)
        }
    };
    let message = sql::insert_citizen_message(conn, ticket_id, raw_id, text, &received)?;
    if let Some(raw_id) = raw_id {
        let raw = crate::store::ingest::raw_bytes(conn, raw_id)?;
        let parsed = crate::mail::parse::parse(&raw, None)
            .map_err(|e| anyhow::anyhow!("a recorded complaint's own MIME message: {e}"))?;
        for (position, a) in parsed.attachments.iter().enumerate() {
            ingest_sql::insert_attachment(
                conn,
                message,
                position,
                a.filename.as_deref(),
                &a.content_type,
                a.size,
            )?;
        }
    }
    let details = CitizenDetails {
        phone: clean(&c.details.phone),
        postal_address: clean(&c.details.postal_address),
        delegate: clean(&c.details.delegate),
        concerned: clean(&c.details.concerned),
        email_unconfirmed: c.details.email_unconfirmed,
    };
    sql::insert_details(conn, ticket_id, &details, actor.map(|a| a.id))?;
    audit::record(
        conn,
        actor.map_or(AuditActor::Citizen, Actor::audit),
        AuditAction::TicketCreated,
        Some(ticket_id),
        json!({
            "number": number,
            "message": message,
            "channel": c.channel,
            "received_at": received,
            "recorded": actor.is_some(),
        }),
    )?;
    let chosen = Classification {
        kind: c.kind,
        category_id: c.category_id,
        service_id: c.service_id,
        assigned_to: None,
    };
    if let (Some(a), true) = (
        actor,
        chosen.kind.is_some() || chosen.category_id.is_some() || chosen.service_id.is_some(),
    ) {
        workflow::classify(conn, a, ticket_id, &chosen)?;
    }
    notifier.to_citizen(conn, ticket_id, MailKind::Ack, Extra::default())?;
    Ok((ticket_id, number))
}

/// The citizen opened their page: audited; an address from the public form is now confirmed
/// (the link came by mail to it).
pub fn page_viewed(conn: &Connection, ticket_id: i64) -> Result<()> {
    let confirmed = sql::confirm_email(conn, ticket_id)?;
    audit::record(
        conn,
        AuditActor::Citizen,
        AuditAction::CitizenPageViewed,
        Some(ticket_id),
        json!({ "email_confirmed": confirmed }),
    )?;
    Ok(())
}

/// The citizen wrote on their page: a message of the ticket, as a reply by mail would be (a
/// closed ticket reopens).
pub fn page_message(
    conn: &Connection,
    notifier: &Notifier,
    ticket_id: i64,
    text: &str,
) -> Result<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyComplaint));
    }
    let id = sql::insert_citizen_message(conn, ticket_id, None, text, &store::now_text())?;
    ingest_sql::mark_needs_attention(conn, ticket_id)?;
    audit::record(
        conn,
        AuditActor::Citizen,
        AuditAction::CitizenMessageAdded,
        Some(ticket_id),
        json!({ "message": id }),
    )?;
    reopen_if_closed(conn, notifier, ticket_id)?;
    Ok(id)
}

fn state_of(conn: &Connection, ticket_id: i64) -> Result<(State, bool)> {
    let t = crate::store::tickets::ticket(conn, ticket_id)?.ok_or(WorkflowError::NotFound)?;
    Ok((t.state, t.first_answered_at.is_some()))
}

fn reopen_if_closed(conn: &Connection, notifier: &Notifier, ticket_id: i64) -> Result<()> {
    if state_of(conn, ticket_id)?.0 == State::Closed {
        workflow::reopen_by_citizen(conn, Some(notifier), ticket_id)?;
    }
    Ok(())
}

/// A content type as a header may carry it: `type/subtype` of safe characters, else
/// `application/octet-stream`.
fn safe_content_type(ct: &str) -> &str {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    match ct.split_once('/') {
        Some((t, sub)) if ok(t) && ok(sub) && ct.len() <= 100 => ct,
        _ => "application/octet-stream",
    }
}

/// RFC 2231 percent-encoding of a filename (any character a person typed, safely).
fn rfc2231(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The record of a complaint handed in with files: a MIME message (the text, then each file,
/// unchanged: `binary` transfer encoding behind a random boundary), stored like mail so that
/// the attachments are listed and downloaded the same way.
fn recorded_message(
    number: &TicketNumber,
    from: &str,
    subject: &str,
    text: &str,
    files: &[Upload],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let one_line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let boundary = format!("ascolto-{}", hex::encode(nonce));
    let mut out: Vec<u8> = format!(
        "From: <{from}>\r\nDate: {}\r\nSubject: {one_line}\r\nX-Ascolto-Ticket: {number}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        now.to_rfc2822(),
        text.replace("\r\n", "\n").replace('\n', "\r\n"),
    )
    .into_bytes();
    for f in files {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {}\r\nContent-Disposition: attachment; \
                 filename*=utf-8''{}\r\nContent-Transfer-Encoding: binary\r\n\r\n",
                safe_content_type(&f.content_type),
                rfc2231(&f.filename),
            )
            .as_bytes(),
        );
        out.extend_from_slice(&f.bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// "Sono soddisfatto": recorded; the ticket stays as it is.
pub fn satisfied(conn: &Connection, ticket_id: i64) -> Result<()> {
    if !state_of(conn, ticket_id)?.1 {
        return Err(WorkflowError::Invalid(Invalid::NotYetAnswered));
    }
    let id = sql::insert_feedback(conn, ticket_id, true, None, &store::now_text())?;
    audit::record(
        conn,
        AuditActor::Citizen,
        AuditAction::CitizenSatisfied,
        Some(ticket_id),
        json!({ "feedback": id }),
    )?;
    Ok(())
}

/// "Non sono soddisfatto", with the reason: recorded, the reason added as the citizen's
/// message, the ticket flagged for attention and reopened if closed.
pub fn unsatisfied(
    conn: &Connection,
    notifier: &Notifier,
    ticket_id: i64,
    reason: &str,
) -> Result<()> {
    if !state_of(conn, ticket_id)?.1 {
        return Err(WorkflowError::Invalid(Invalid::NotYetAnswered));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(WorkflowError::Invalid(Invalid::EmptyComplaint));
    }
    let now = store::now_text();
    let id = sql::insert_feedback(conn, ticket_id, false, Some(reason), &now)?;
    let message = sql::insert_citizen_message(conn, ticket_id, None, reason, &now)?;
    ingest_sql::mark_needs_attention(conn, ticket_id)?;
    audit::record(
        conn,
        AuditActor::Citizen,
        AuditAction::CitizenUnsatisfied,
        Some(ticket_id),
        json!({ "feedback": id, "message": message }),
    )?;
    reopen_if_closed(conn, notifier, ticket_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_handed_in_are_kept_whole_and_listed_like_a_mails() {
        let number: TicketNumber = "URP-2026-000007".parse().unwrap();
        let pdf = b"%PDF-1.4\r\n\x00\x01\xff binary\r\n--not-a-boundary\r\n".to_vec();
        let files = [
            Upload {
                filename: "lettera è \"firmata\".pdf".into(),
                content_type: "application/pdf".into(),
                bytes: pdf.clone(),
            },
            Upload {
                filename: "foto.jpg".into(),
                content_type: "image/jpeg\r\nX-Evil: 1".into(),
                bytes: vec![0xff, 0xd8, 0xff],
            },
        ];
        let raw = recorded_message(
            &number,
            "a@nessuna-email.invalid",
            "Oggetto\r\nBcc: x@evil.test",
            "Testo con è\nseconda riga",
            &files,
            Utc::now(),
        );
        let parsed = crate::mail::parse::parse(&raw, None).unwrap();
        assert!(parsed.body_text.contains("Testo con è"));
        assert_eq!(parsed.attachments.len(), 2);
        assert_eq!(
            parsed.attachments[0].filename.as_deref(),
            Some("lettera è \"firmata\".pdf")
        );
        assert_eq!(parsed.attachments[0].content_type, "application/pdf");
        assert_eq!(
            parsed.attachments[1].content_type,
            "application/octet-stream"
        );
        assert_eq!(
            crate::mail::parse::attachment_bytes(&raw, 0, false).unwrap(),
            pdf
        );
        assert!(!String::from_utf8_lossy(&raw).contains("\r\nBcc:"));
    }

    #[test]
    fn addresses() {
        assert!(plausible_email("maria.rossi@example.it"));
        assert!(!plausible_email("maria"));
        assert!(!plausible_email("a@b"));
        assert!(!plausible_email("a b@c.it"));
        assert!(!plausible_email("a@b@c.it"));
        assert!(!plausible_email("<a@c.it>"));
    }
}
