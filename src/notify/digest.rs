//! The morning digest's mail (issue 19): to an operator, or to the URP's head; about no ticket.

use anyhow::Result;
use rusqlite::Connection;

use super::templates::MailVars;
use super::{MailKind, Notifier, Queued};
use crate::store::outbox::{self, NewMail};

impl Notifier {
    /// Queues the digest rendered from `vars` to `to`.
    pub fn queue_digest(&self, conn: &Connection, to: &str, vars: &MailVars) -> Result<Queued> {
        let vars = MailVars {
            office: self.office.clone(),
            link: Some(format!("{}/", self.base_url)),
            ..vars.clone()
        };
        let (subject, body) = self.templates.render(MailKind::Digest, &vars)?;
        let mut unique = [0u8; 8];
        getrandom::fill(&mut unique).expect("the operating system's random source failed");
        let message_id = format!("ascolto.digest.{}@{}", hex::encode(unique), self.domain);
        let outbox_id = outbox::insert(
            conn,
            &NewMail {
                ticket_id: None,
                kind: MailKind::Digest,
                to,
                subject: &subject,
                body: &body,
                message_id: &message_id,
                in_reply_to: None,
                refs: None,
                automatic: true,
                suppressed: None,
            },
        )?;
        Ok(Queued {
            outbox_id,
            message_id,
            suppressed: None,
        })
    }
}
