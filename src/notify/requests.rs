//! The istruttoria's mails (issue 14): the request for a report to a referente, its reminder,
//! the escalation to the URP's head, and the operator's notice that a report arrived.
//!
//! They carry the ticket's token in their Message-ID (a reply proves it belongs by naming one)
//! and the request's tag in their subject (`[URP-2026-000042 R1]`). They never name the
//! citizen's messages in their threading headers, and never carry the citizen's address or
//! name unless the operator kept them in the request's text.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::templates::MailVars;
use super::{quote, rome_date, rome_datetime, Notifier, Queued, RecipientKey};
use crate::domain::MailKind;
use crate::mail::thread;
use crate::store::outbox::{self, NewMail};
use crate::store::requests::{self as sql, Request};
use crate::store::tickets::Ticket;

/// What the proposed request (`templates/request.txt`) is built from.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The referenti asked, as the greeting names them.
    pub referente: String,
    pub service: Option<String>,
    pub due: DateTime<Utc>,
    pub operator_name: String,
    /// The complaint's text (already cleared of the citizen's data unless kept).
    pub complaint: Option<String>,
    /// When the complaint was received (stored time).
    pub complaint_at: Option<String>,
    /// The citizen's name and address, only when the operator keeps them.
    pub citizen: Option<(Option<String>, String)>,
}

/// One mail of the istruttoria, composed, to queue.
pub struct RequestMail<'a> {
    pub ticket: &'a Ticket,
    /// The request it belongs to: a reply naming it is that request's report. None for the
    /// operator's notice (a reply to it is no report).
    pub request_id: Option<i64>,
    /// "URP-2026-000042 R1".
    pub tag: &'a str,
    pub kind: MailKind,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// The Message-ID (without `<>`) this mail answers: a reminder threads under its request.
    pub in_reply_to: Option<&'a str>,
}

impl Notifier {
    /// The request an operator starts from: subject and text from `templates/request.txt`.
    pub fn request_draft(&self, t: &Ticket, d: &Draft) -> Result<(String, String)> {
        let vars = MailVars {
            number: t.number.to_string(),
            subject: t.subject.clone(),
            citizen_name: d.citizen.as_ref().and_then(|(name, _)| name.clone()),
            citizen_email: d.citizen.as_ref().map(|(_, email)| email.clone()),
            received_at: rome_datetime(&t.received_at),
            due_date: rome_date(&t.due_at),
            deadline_days: self.deadline_days,
            office: self.office.clone(),
            operator_name: Some(d.operator_name.clone()),
            quoted: d.complaint.as_deref().map(quote),
            quoted_date: d.complaint_at.as_deref().map(rome_datetime),
            kind: t.kind.map(|k| k.as_str().to_string()),
            category: t
                .category
                .as_ref()
                .map(|c| format!("{} {}", c.code, c.label)),
            service: d.service.clone(),
            referente: Some(d.referente.clone()),
            request_due_date: Some(rome_date(&crate::store::time_text(d.due))),
            link: Some(self.link(t)),
            ..Default::default()
        };
        self.templates.render(MailKind::Request, &vars)
    }

    /// What a reminder, an escalation or the operator's notice about request `r` may say.
    pub fn request_vars(&self, t: &Ticket, r: &Request, report_from: Option<String>) -> MailVars {
        MailVars {
            number: t.number.to_string(),
            subject: r.subject.clone(),
            received_at: rome_datetime(&t.received_at),
            due_date: rome_date(&t.due_at),
            deadline_days: self.deadline_days,
            office: self.office.clone(),
            service: r.service_name.clone(),
            link: Some(self.link(t)),
            referente: Some(r.to_name.clone()),
            request_tag: Some(format!("[{}]", r.tag)),
            request_due_date: Some(rome_date(&r.due_at)),
            request_sent_date: Some(rome_date(&r.sent_at)),
            request_text: Some(quote(&r.body_text)),
            report_from,
            ..Default::default()
        }
    }

    /// Renders a template of the istruttoria.
    pub fn render_request(&self, kind: MailKind, vars: &MailVars) -> Result<(String, String)> {
        self.templates.render(kind, vars)
    }

    /// Queues one mail of the istruttoria. Automatic ones (reminder, escalation, notice) to
    /// one of the hospital's own mailboxes, or to an address known to bounce, are recorded as
    /// suppressed.
    pub fn queue_request_mail(
        &self,
        conn: &Connection,
        m: &RequestMail,
        bouncing: bool,
    ) -> Result<Queued> {
        let facts = outbox::thread_facts(conn, m.ticket.id)?.context("no such ticket")?;
        let message_id =
            thread::outbound_message_id(&m.ticket.number, &facts.thread_token, &self.domain);
        let tag = format!("[{}]", m.tag);
        let subject = if m.subject.contains(&tag) {
            crate::mail::one_line(m.subject, super::templates::MAX_SUBJECT_CHARS)
        } else {
            crate::mail::one_line(
                &format!("{tag} {}", m.subject),
                super::templates::MAX_SUBJECT_CHARS,
            )
        };
        let automatic = m.kind.automatic();
        let suppressed = if !automatic {
            None
        } else if self.own_addresses.contains(&RecipientKey::of(m.to)) {
            Some("the address is one of the hospital's own".to_string())
        } else if bouncing {
            Some("the address bounces (a request to it came back)".to_string())
        } else {
            None
        };
        let in_reply_to = m.in_reply_to.map(|id| format!("<{id}>"));
        let outbox_id = outbox::insert(
            conn,
            &NewMail {
                ticket_id: Some(m.ticket.id),
                kind: m.kind,
                to: m.to,
                subject: &subject,
                body: m.body,
                message_id: &message_id,
                in_reply_to: in_reply_to.as_deref(),
                refs: in_reply_to.as_deref(),
                automatic,
                suppressed: suppressed.as_deref(),
            },
        )?;
        if let Some(request_id) = m.request_id {
            sql::set_outbox_request(conn, outbox_id, request_id)?;
        }
        Ok(Queued {
            outbox_id,
            message_id,
            suppressed,
        })
    }

    fn link(&self, t: &Ticket) -> String {
        format!("{}/reclami/{}", self.base_url, t.number)
    }
}
