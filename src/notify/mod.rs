//! Notifications (DESIGN.md invariants 5 and 8): composing a mail into the outbox inside the
//! transaction of the change that causes it ([`Notifier`]), and sending what the outbox holds
//! ([`worker`], through a [`mailer::Mailer`]).

mod digest;
pub mod mailer;
pub mod requests;
pub mod templates;
pub mod worker;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::config::Config;
use crate::domain::time;
pub use crate::domain::MailKind;
pub use crate::domain::RecipientKey;
use crate::domain::{Channel, Outcome};
use crate::mail::thread;
use crate::store::outbox::{self, NewMail, ThreadFacts};
use crate::store::tickets::{self as ticket_store, Ticket};
use templates::{MailVars, Templates};

/// What the caller adds to a mail beyond the ticket's own facts.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub answer: Option<String>,
    pub operator_name: Option<String>,
    pub outcome: Option<Outcome>,
    /// The deadline's notice: what changed and why.
    pub deadline_change: Option<crate::domain::DeadlineChange>,
    pub deadline_reason: Option<String>,
}

/// A mail placed in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    pub outbox_id: i64,
    pub message_id: String,
    /// Why it will not be sent, if so.
    pub suppressed: Option<String>,
}

/// Composes notifications; used on the database thread, inside the caller's transaction.
pub struct Notifier {
    templates: Templates,
    office: String,
    domain: String,
    /// The hospital's own mailboxes: automatic mail to any spelling of them is never sent.
    own_addresses: Vec<RecipientKey>,
    deadline_days: u32,
    reopen_window_days: u32,
    limit: u32,
    window_hours: u32,
    /// Mails answering inbound mail, to anyone, per hour: beyond it a flood of forged senders
    /// gets no more mail from the hospital.
    global_per_hour: u32,
    base_url: String,
}

impl Notifier {
    pub fn from_config(c: &Config) -> Result<Notifier> {
        let templates =
            Templates::load(c.notify.templates_dir.as_deref()).context("notification templates")?;
        Ok(Notifier {
            templates,
            office: c.notify.office_name.clone(),
            domain: c.smtp.message_id_domain().to_string(),
            own_addresses: c.own_addresses().to_vec(),
            deadline_days: c.tickets.deadline_days,
            reopen_window_days: c.tickets.reopen_window_days,
            limit: c.notify.auto_reply_limit,
            window_hours: c.notify.auto_reply_window_hours,
            global_per_hour: c.notify.auto_reply_global_per_hour,
            base_url: c.web.base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Queues `kind` to the ticket's citizen. Automatic mail to one of our own addresses, to a
    /// bouncing address, or beyond the rate limit is recorded as suppressed instead.
    pub fn to_citizen(
        &self,
        conn: &Connection,
        ticket_id: i64,
        kind: MailKind,
        extra: Extra,
    ) -> Result<Queued> {
        if kind.istruttoria() {
            anyhow::bail!("{kind} is mail of the istruttoria: it never goes to the citizen");
        }
        let (t, thread) = facts(conn, ticket_id)?;
        let mut vars = self.vars(&t, &thread, &extra);
        let held = self.no_mail(conn, &t, kind)?;
        if held.is_none() {
            // Every mail to the citizen carries a fresh link to their page (issue 15).
            let secret = crate::citizen_link::mint(conn, t.id)?;
            vars.citizen_link = Some(format!("{}/pratica/{secret}", self.base_url));
        }
        let (subject, body) = self.templates.render(kind, &vars)?;
        let suppressed = match held {
            Some(why) => Some(why),
            None if kind.automatic() => self.suppression(conn, &t, kind)?,
            None => None,
        };
        self.queue(
            conn,
            (&t, &thread),
            kind,
            &t.citizen.email,
            &subject,
            &body,
            suppressed,
        )
    }

    /// Queues "new ticket" to every active operator with the "riceve mail" flag.
    pub fn to_operators(&self, conn: &Connection, ticket_id: i64) -> Result<Vec<Queued>> {
        let operators = outbox::notified_operators(conn)?;
        if operators.is_empty() {
            return Ok(Vec::new());
        }
        let (t, thread) = facts(conn, ticket_id)?;
        let vars = self.vars(&t, &thread, &Extra::default());
        let (subject, body) = self.templates.render(MailKind::NewTicket, &vars)?;
        operators
            .iter()
            .map(|to| {
                let about = (&t, &thread);
                self.queue(conn, about, MailKind::NewTicket, to, &subject, &body, None)
            })
            .collect()
    }

    /// Issue 20: tells the clinical-risk office (`to`) that a ticket was flagged as a possible
    /// adverse event: its number, dates, kind, category, service and link, and `note` (what the
    /// operator chose to write). The citizen's name, address, subject and words are left out.
    pub fn to_risk_office(
        &self,
        conn: &Connection,
        ticket_id: i64,
        to: &str,
        note: Option<&str>,
    ) -> Result<Queued> {
        let (t, thread) = facts(conn, ticket_id)?;
        let mut vars = self.vars(&t, &thread, &Extra::default());
        vars.subject = String::new();
        vars.citizen_name = None;
        vars.citizen_email = None;
        vars.quoted = None;
        vars.quoted_date = None;
        vars.answer = note.map(str::to_string);
        let (subject, body) = self.templates.render(MailKind::RiskAlert, &vars)?;
        self.queue(
            conn,
            (&t, &thread),
            MailKind::RiskAlert,
            to,
            &subject,
            &body,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        conn: &Connection,
        (t, thread): (&Ticket, &ThreadFacts),
        kind: MailKind,
        to: &str,
        subject: &str,
        body: &str,
        suppressed: Option<String>,
    ) -> Result<Queued> {
        let message_id = thread::outbound_message_id(&t.number, &thread.thread_token, &self.domain);
        let tag = format!("[{}]", t.number);
        let subject = if subject.contains(&tag) {
            subject.to_string()
        } else {
            format!("{tag} {subject}")
        };
        // Replies thread under the citizen's last message in their mail client.
        let mut refs: Vec<String> = [&thread.first_inbound_id, &thread.last_inbound_id]
            .into_iter()
            .flatten()
            .map(|id| format!("<{id}>"))
            .collect();
        refs.dedup();
        let refs = (!refs.is_empty()).then(|| refs.join(" "));
        let in_reply_to = thread.last_inbound_id.as_ref().map(|id| format!("<{id}>"));
        let outbox_id = outbox::insert(
            conn,
            &NewMail {
                ticket_id: Some(t.id),
                kind,
                to,
                subject: &subject,
                body,
                message_id: &message_id,
                in_reply_to: in_reply_to.as_deref(),
                refs: refs.as_deref(),
                automatic: kind.automatic(),
                suppressed: suppressed.as_deref(),
            },
        )?;
        if let Some(reason) = &suppressed {
            tracing::info!(ticket = %t.number, %kind, reason = %reason, "notification suppressed");
        }
        Ok(Queued {
            outbox_id,
            message_id,
            suppressed,
        })
    }

    /// Why no mail at all goes to this citizen (issue 15): they gave no address (a complaint
    /// by phone, at the desk, by letter), or the public form's address is not confirmed yet
    /// (only the acknowledgement, which carries the confirming link, goes to it).
    fn no_mail(&self, conn: &Connection, t: &Ticket, kind: MailKind) -> Result<Option<String>> {
        if !crate::domain::address::has_email(&t.citizen.email) {
            return Ok(Some("the citizen gave no e-mail address".into()));
        }
        if kind != MailKind::Ack && crate::store::intake::email_unconfirmed(conn, t.id)? {
            return Ok(Some("the citizen has not confirmed the address yet".into()));
        }
        Ok(None)
    }

    fn suppression(&self, conn: &Connection, t: &Ticket, kind: MailKind) -> Result<Option<String>> {
        let to = RecipientKey::of(&t.citizen.email);
        if self.own_addresses.contains(&to) {
            return Ok(Some("the address is one of the hospital's own".into()));
        }
        if let Some(since) = &t.citizen.bouncing_since {
            return Ok(Some(format!("the address bounces (since {since})")));
        }
        if !kind.answers_inbound() {
            return Ok(None);
        }
        let now = Utc::now();
        let since =
            |hours: u32| crate::store::time_text(now - chrono::Duration::hours(i64::from(hours)));
        // Per mailbox, whatever the spelling: `+tags` do not buy more acknowledgements.
        let sent =
            outbox::replies_to_inbound_since(conn, &to, &since(self.window_hours), self.limit)?;
        if sent >= i64::from(self.limit) {
            return Ok(Some(format!(
                "rate limit: {sent} acknowledgements to this address in {} hours",
                self.window_hours
            )));
        }
        // And for everyone together: forged senders are as many as an attacker likes.
        let everyone = outbox::all_replies_to_inbound_since(conn, &since(1), self.global_per_hour)?;
        if everyone >= i64::from(self.global_per_hour) {
            return Ok(Some(format!(
                "global rate limit: {everyone} acknowledgements to anyone in the last hour \
                 ([notify] auto_reply_global_per_hour = {})",
                self.global_per_hour
            )));
        }
        Ok(None)
    }

    /// An answer model filled in for ticket `ticket_id` as `operator_name` would send it: the
    /// same variables as the answer mail (citizen, number, dates, service, …).
    pub fn fill_model(
        &self,
        conn: &Connection,
        ticket_id: i64,
        text: &str,
        operator_name: &str,
    ) -> Result<String> {
        let (t, thread) = facts(conn, ticket_id)?;
        let extra = Extra {
            operator_name: Some(operator_name.to_string()),
            ..Default::default()
        };
        templates::render_text(text, &self.vars(&t, &thread, &extra))
    }

    fn vars(&self, t: &Ticket, thread: &ThreadFacts, extra: &Extra) -> MailVars {
        MailVars {
            number: t.number.to_string(),
            subject: t.subject.clone(),
            citizen_name: t.citizen.name.clone(),
            received_at: rome_datetime(&t.received_at),
            due_date: rome_date(&t.due_at),
            deadline_days: self.deadline_days,
            office: self.office.clone(),
            answer: extra.answer.clone(),
            operator_name: extra.operator_name.clone(),
            quoted: thread.last_inbound_body.as_deref().map(quote),
            quoted_date: thread.last_inbound_at.as_deref().map(rome_datetime),
            outcome: extra.outcome.map(|o| crate::texts::outcome(o).to_string()),
            reopen_window_days: self.reopen_window_days,
            channel: Some(
                match t.channel {
                    Channel::Pec => "PEC",
                    Channel::Email => "email",
                    Channel::Web => "modulo web",
                    Channel::Telefono => "telefono",
                    Channel::Sportello => "sportello",
                    Channel::Lettera => "lettera",
                }
                .into(),
            ),
            kind: t.kind.map(|k| k.as_str().to_string()),
            category: t
                .category
                .as_ref()
                .map(|c| format!("{} {}", c.code, c.label)),
            service: t.service.as_ref().map(|s| s.label.clone()),
            link: Some(format!("{}/reclami/{}", self.base_url, t.number)),
            deadline_change: extra.deadline_change.map(|c| c.as_str().to_string()),
            deadline_reason: extra.deadline_reason.clone(),
            ..Default::default()
        }
    }
}

/// The ticket and its thread's facts, read in the caller's transaction.
fn facts(conn: &Connection, ticket_id: i64) -> Result<(Ticket, ThreadFacts)> {
    let t = ticket_store::ticket(conn, ticket_id)?.context("no such ticket")?;
    let thread = outbox::thread_facts(conn, ticket_id)?.context("no such ticket")?;
    Ok((t, thread))
}

/// The citizen's text quoted as mail clients do, cut to a sensible length.
fn quote(text: &str) -> String {
    const MAX_LINES: usize = 40;
    let mut lines: Vec<String> = text
        .lines()
        .take(MAX_LINES)
        .map(|l| format!("> {l}"))
        .collect();
    if text.lines().count() > MAX_LINES {
        lines.push("> […]".into());
    }
    lines.join("\n")
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// "15/01/2026 alle 09:30", Europe/Rome.
fn rome_datetime(text: &str) -> String {
    parse_time(text)
        .map(|t| time::to_rome(t).format("%d/%m/%Y alle %H:%M").to_string())
        .unwrap_or_default()
}

/// "15/01/2026", Europe/Rome.
fn rome_date(text: &str) -> String {
    parse_time(text)
        .map(|t| time::to_rome(t).format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ingest::{self as sql, NewTicket};

    fn notifier(notify: &str) -> Notifier {
        let config = crate::config::Config::from_sources(
            &format!(
                "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
                 username = \"urp@hospital.test\"\npassword = \"x\"\n[notify]\n{notify}\n"
            ),
            &Default::default(),
            None,
        )
        .unwrap();
        Notifier::from_config(&config).unwrap()
    }

    /// A new ticket of the citizen writing from `email`.
    fn ticket(conn: &Connection, email: &str) -> i64 {
        let seq = sql::next_seq(conn, 2026).unwrap();
        let number: crate::domain::TicketNumber = format!("URP-2026-{seq:06}").parse().unwrap();
        let contact_id = sql::upsert_contact(conn, email, None).unwrap();
        sql::insert_ticket(
            conn,
            &NewTicket {
                number: &number,
                year: 2026,
                seq,
                thread_token: "token",
                kind: None,
                category_id: None,
                service_id: None,
                contact_id,
                subject: "Reclamo",
                received_at: "2026-03-02T09:00:00Z",
                due_at: "2026-04-01T09:00:00Z",
                channel: Channel::Email,
                linked_ticket_id: None,
            },
        )
        .unwrap()
    }

    fn ack(n: &Notifier, conn: &Connection, email: &str) -> Option<String> {
        let id = ticket(conn, email);
        n.to_citizen(conn, id, MailKind::Ack, Extra::default())
            .unwrap()
            .suppressed
    }

    #[test]
    fn acknowledgements_are_limited_per_mailbox_whatever_the_spelling() {
        let conn = crate::store::open_in_memory().unwrap();
        let n = notifier("auto_reply_limit = 3");
        let got: Vec<Option<String>> = (1..=5)
            .map(|i| ack(&n, &conn, &format!("victim+{i}@gmail.test")))
            .collect();
        assert!(got[..3].iter().all(Option::is_none), "{got:?}");
        for reason in &got[3..] {
            assert!(
                reason.as_deref().unwrap().starts_with("rate limit: 3 "),
                "{reason:?}"
            );
        }
        assert!(
            ack(&n, &conn, "VICTIM@gmail.test").is_some(),
            "case is no escape"
        );
        // Gmail ignores dots; other mailboxes are other mailboxes.
        for a in [
            "ma.rio@gmail.com",
            "mario+x@googlemail.com",
            "m.a.r.i.o@gmail.com",
        ] {
            assert!(ack(&n, &conn, a).is_none(), "{a}");
        }
        assert!(ack(&n, &conn, "mario@gmail.com").is_some());
        assert!(ack(&n, &conn, "mario@example.test").is_none());
        // The mail still goes to the address as written.
        let to: String = conn
            .query_row("SELECT to_address FROM outbox WHERE id = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(to, "victim+2@gmail.test");
    }

    #[test]
    fn the_global_ceiling_holds_for_any_number_of_senders() {
        let conn = crate::store::open_in_memory().unwrap();
        let n = notifier("auto_reply_global_per_hour = 4");
        let got: Vec<Option<String>> = (1..=6)
            .map(|i| ack(&n, &conn, &format!("forged{i}@example.test")))
            .collect();
        assert!(got[..4].iter().all(Option::is_none), "{got:?}");
        for reason in &got[4..] {
            let reason = reason.as_deref().unwrap();
            assert!(
                reason.starts_with("global rate limit: 4 ")
                    && reason.contains("auto_reply_global_per_hour = 4"),
                "{reason}"
            );
        }
        // An operator's answer and notices of an operator's action are not counted nor held.
        let id = ticket(&conn, "citizen@example.test");
        for kind in [MailKind::Answer, MailKind::InCharge, MailKind::Closed] {
            let q = n.to_citizen(&conn, id, kind, Extra::default()).unwrap();
            assert_eq!(q.suppressed, None, "{kind:?}");
        }
        // Mail from more than an hour ago no longer counts.
        conn.execute("UPDATE outbox SET created_at = '2026-01-01T00:00:00Z'", [])
            .unwrap();
        assert!(ack(&n, &conn, "late@example.test").is_none());
    }

    #[test]
    fn no_spelling_of_our_own_addresses_gets_automatic_mail() {
        let conn = crate::store::open_in_memory().unwrap();
        let n = notifier("");
        for a in ["urp@hospital.test", "URP+loop@hospital.test"] {
            assert_eq!(
                ack(&n, &conn, a).as_deref(),
                Some("the address is one of the hospital's own"),
                "{a}"
            );
        }
    }
}
