//! One inbound message from raw bytes to "stored, threaded, classified, audited", inside the
//! caller's transaction. [`prepare`] is pure CPU work and runs anywhere; [`Pipeline::store_batch`]
//! runs on the database thread.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;
use sha2::{Digest, Sha256};

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::classify::Classifier;
use crate::domain::{time, TicketNumber};
use crate::domain::{AuditAction, AuditActor, Channel, ClassField, QuarantineKind, RecipientKey};
use crate::istruttoria::{self, Claim};
use crate::learn::{Message as LearnMessage, Prediction};
use crate::learned::{self, Loaded, ModelSlot};
use crate::mail::auth::{self, Unverified};
use crate::mail::auto::{AutoKind, Automatic};
use crate::mail::pec::{PecBox, PecInfo};
use crate::mail::thread;
use crate::mail::{self, ParseError, ParsedMail};
use crate::metrics::{WriterPhase, WriterTimes};
use crate::notify::{Extra, MailKind, Notifier};
use crate::store::classifier::{self as class_sql, FieldSource, RuleValue};
use crate::store::ingest::{self as sql, NewMessage, NewTicket, TicketRef};
use crate::store::progress::{self, Progress};
use crate::store::{self, audit, rules};
use crate::workflow;

/// A message read and hashed, ready to be stored.
pub struct Prepared {
    pub raw: Vec<u8>,
    pub sha256: String,
    pub parsed: Result<ParsedMail, ParseError>,
    /// The learned classifier's prediction, made here (off the database thread) when a model
    /// was loaded; the pipeline uses it if that model is still the one in use.
    pub prediction: Option<Predicted>,
}

/// A prediction and the version of the model that made it.
pub struct Predicted {
    pub model_version: i64,
    pub prediction: Prediction,
}

/// Parses and hashes `raw`; `pec_box` when it came from a mailbox configured as a PEC box.
pub fn prepare(raw: Vec<u8>, pec_box: Option<&PecBox>) -> Prepared {
    prepare_with_model(raw, pec_box, None)
}

/// [`prepare`], and the learned classifier's prediction for a citizen's message (automatic
/// mail never gets a code) when `model` is given.
pub fn prepare_with_model(
    raw: Vec<u8>,
    pec_box: Option<&PecBox>,
    model: Option<&Loaded>,
) -> Prepared {
    let sha256 = hex::encode(Sha256::digest(&raw));
    let parsed = mail::parse(&raw, pec_box);
    let prediction = match (&parsed, model) {
        (Ok(m), Some(loaded)) if m.automatic.is_none() => Some(Predicted {
            model_version: loaded.version,
            prediction: learned::apply::predict(loaded, &message_of(m)),
        }),
        _ => None,
    };
    Prepared {
        raw,
        sha256,
        parsed,
        prediction,
    }
}

/// What the learned classifier reads of a message.
fn message_of(m: &ParsedMail) -> LearnMessage<'_> {
    LearnMessage {
        subject: &m.subject,
        body: &m.body_text,
        sender_name: m.from_name.as_deref(),
    }
}

/// Where a message came from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// "imap:NAME uidvalidity=V uid=U", or "import:PATH" (" mailbox=NAME" when the archive is
    /// read as that mailbox's). Stored with the raw bytes (`raw_mail.source`).
    pub label: String,
    /// The server's INTERNALDATE: when the message reached the mailbox.
    pub internal_date: Option<DateTime<Utc>>,
}

impl Origin {
    pub fn imap(
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        internal_date: Option<DateTime<Utc>>,
    ) -> Origin {
        Origin {
            label: format!("imap:{mailbox} uidvalidity={uidvalidity} uid={uid}"),
            internal_date,
        }
    }

    /// A message of an archive, read as if it came from `mailbox` when one is named.
    pub fn import(place: &str, mailbox: Option<&str>) -> Origin {
        Origin {
            label: match mailbox {
                Some(m) => format!("import:{place} mailbox={m}"),
                None => format!("import:{place}"),
            },
            internal_date: None,
        }
    }

    /// The configured mailbox a label names, if any.
    pub fn mailbox_of(label: &str) -> Option<&str> {
        if let Some(rest) = label.strip_prefix("imap:") {
            return rest.rsplit_once(" uidvalidity=").map(|(name, _)| name);
        }
        label
            .strip_prefix("import:")?
            .rsplit_once(" mailbox=")
            .map(|(_, name)| name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created {
        ticket: TicketNumber,
        linked_to: Option<TicketNumber>,
    },
    Threaded {
        ticket: TicketNumber,
    },
    /// An auto-reply, bounce or PEC receipt stored on the ticket it is about.
    Automatic {
        ticket: TicketNumber,
    },
    /// A service's report for a request of the istruttoria: internal, on the ticket.
    Report {
        ticket: TicketNumber,
    },
    Duplicate,
    Quarantined {
        id: i64,
        reason: String,
    },
}

impl Outcome {
    /// What a batch's outcomes add to the metrics.
    pub fn counts(outcomes: &[Outcome]) -> crate::metrics::IngestCounts {
        let mut c = crate::metrics::IngestCounts::default();
        for o in outcomes {
            match o {
                Outcome::Created { .. } => {
                    c.tickets_created += 1;
                    c.messages_stored += 1;
                }
                Outcome::Threaded { .. } | Outcome::Automatic { .. } | Outcome::Report { .. } => {
                    c.messages_stored += 1
                }
                Outcome::Duplicate => c.duplicates += 1,
                Outcome::Quarantined { .. } => c.quarantined += 1,
            }
        }
        c
    }
}

/// The settings the pipeline needs, taken from the config.
#[derive(Clone, Debug)]
pub struct Settings {
    pub number_prefix: String,
    pub deadline_days: u32,
    pub reopen_window_days: u32,
    /// The hospital's own mailboxes ([`crate::config::Config::own_addresses`]): mail from any
    /// spelling of them is automatic, never a citizen's.
    pub own_addresses: Vec<RecipientKey>,
    /// The mailboxes configured as PEC boxes (`[[mailbox]] pec = true`), by name.
    pub pec_boxes: BTreeMap<String, PecBox>,
    /// `[ingest] trusted_authserv_id`: whose Authentication-Results headers are believed.
    pub trusted_authserv_id: Option<String>,
    /// Which replies are services' reports (`[istruttoria]`).
    pub istruttoria: crate::istruttoria::Settings,
}

impl Settings {
    pub fn from_config(c: &crate::config::Config) -> Settings {
        Settings {
            number_prefix: c.tickets.number_prefix.clone(),
            deadline_days: c.tickets.deadline_days,
            reopen_window_days: c.tickets.reopen_window_days,
            own_addresses: c.own_addresses().to_vec(),
            pec_boxes: c
                .mailboxes
                .iter()
                .filter_map(|m| Some((m.name.clone(), m.pec_box()?)))
                .collect(),
            trusted_authserv_id: c.ingest.trusted_authserv_id.clone(),
            istruttoria: crate::istruttoria::Settings::from_config(c),
        }
    }

    /// Whether the trusted mail server failed to authenticate the sender of `m`.
    fn unverified_sender(&self, m: &ParsedMail) -> Option<Unverified> {
        let trusted = self.trusted_authserv_id.as_deref()?;
        auth::judge(m.authentication_results.iter().map(String::as_str), trusted)
    }

    /// How mail from `origin` treats PEC envelopes: as its mailbox is configured.
    pub fn pec_box(&self, origin: &Origin) -> Option<&PecBox> {
        self.pec_boxes.get(Origin::mailbox_of(&origin.label)?)
    }
}

/// The pipeline's state kept across batches: settings, the compiled routing rules and the
/// learned model in use.
pub struct Pipeline {
    settings: Settings,
    classifier: Classifier,
    /// Shared with the watchers (they predict while preparing) and the backoffice.
    model_slot: Arc<ModelSlot>,
    /// The model this batch uses (refreshed from the slot at each batch).
    model: Option<Arc<Loaded>>,
    /// Queues the citizen's and operators' mails. None when importing an archive: citizens are
    /// not mailed about old complaints.
    notifier: Option<Arc<Notifier>>,
    /// Where the writing time of the batches stored so far went ([`Pipeline::take_writer_times`]).
    clock: PhaseClock,
}

/// Attributes the time since its last lap to the phase just finished: a few `Instant::now()`
/// per message (tens of nanoseconds each, against ~100 µs of writing).
#[derive(Default)]
struct PhaseClock {
    last: Cell<Option<Instant>>,
    nanos: Cell<WriterTimes>,
}

impl PhaseClock {
    fn start(&self) {
        self.last.set(Some(Instant::now()));
    }

    fn lap(&self, phase: WriterPhase) {
        let now = Instant::now();
        if let Some(last) = self.last.replace(Some(now)) {
            let mut nanos = self.nanos.get();
            nanos[phase as usize] += now.duration_since(last).as_nanos() as u64;
            self.nanos.set(nanos);
        }
    }
}

/// How a message joins an existing ticket; recorded in the audit log.
enum Thread {
    Existing(TicketRef, &'static str),
    New { linked: Option<TicketRef> },
}

impl Pipeline {
    pub fn new(settings: Settings) -> Pipeline {
        // Generation -1 never matches the database: the first batch compiles the rules.
        Pipeline {
            settings,
            classifier: Classifier::compile(-1, Vec::new()).0,
            model_slot: Arc::default(),
            model: None,
            notifier: None,
            clock: PhaseClock::default(),
        }
    }

    /// The writing time of the batches stored since the last call, by phase (then reset).
    pub fn take_writer_times(&mut self) -> WriterTimes {
        self.clock.nanos.take()
    }

    /// Uses `slot` for the learned model (the daemon shares one with the backoffice).
    pub fn with_model_slot(mut self, slot: Arc<ModelSlot>) -> Pipeline {
        self.model_slot = slot;
        self
    }

    /// The learned model's slot, for whoever prepares messages ahead of the pipeline.
    pub fn model_slot(&self) -> Arc<ModelSlot> {
        self.model_slot.clone()
    }

    /// The live pipeline: new tickets are acknowledged, operators told, reopenings announced.
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Pipeline {
        self.notifier = Some(notifier);
        self
    }

    /// How mail from `origin` treats PEC envelopes (see [`Settings::pec_box`]).
    pub fn pec_box(&self, origin: &Origin) -> Option<&PecBox> {
        self.settings.pec_box(origin)
    }

    /// Recompiles the routing rules if they changed since the last batch, and takes the newest
    /// learned model.
    fn refresh_rules(&mut self, conn: &Connection) -> anyhow::Result<()> {
        self.model = match self.model_slot.refresh(conn) {
            Ok(m) => m,
            Err(e) => {
                // Classification by the model is a help, never a reason to stop ingest.
                tracing::warn!("classifier model not loaded: {}", crate::errors::chain(&*e));
                self.model_slot.peek()
            }
        };
        let generation = rules::generation(conn)?;
        if generation != self.classifier.generation {
            let (classifier, _errors) = Classifier::compile(generation, rules::load(conn)?);
            tracing::info!(rules = classifier.len(), generation, "routing rules loaded");
            self.classifier = classifier;
        }
        Ok(())
    }

    /// Stores `items` and, if given, the mailbox progress that covers them, in one transaction.
    /// A message that fails is rolled back alone and quarantined; an error is returned only when
    /// even that is impossible (the database itself is failing), and then nothing is committed.
    pub fn store_batch(
        &mut self,
        conn: &mut Connection,
        items: &[(Prepared, Origin)],
        progress: Option<(&str, &Progress)>,
    ) -> anyhow::Result<Vec<Outcome>> {
        self.refresh_rules(conn)?;
        self.clock.start();
        let mut tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(items.len());
        for (prepared, origin) in items {
            let attempt = {
                let sp = tx.savepoint()?;
                match self.store_one(&sp, prepared, origin, false) {
                    Ok(outcome) => sp.commit().map(|_| outcome).map_err(anyhow::Error::from),
                    Err(e) => Err(e), // dropping the savepoint rolls it back
                }
            };
            let outcome = match attempt {
                Ok(o) => o,
                Err(e) => {
                    let reason = format!("could not be stored: {}", crate::errors::chain(&*e));
                    tracing::error!(origin = %origin.label, "{reason}");
                    let sp = tx.savepoint()?;
                    let o = quarantine(&sp, prepared, origin, QuarantineKind::StoreError, &reason)?;
                    sp.commit()?;
                    o
                }
            };
            outcomes.push(outcome);
            self.clock.lap(WriterPhase::Other);
        }
        if let Some((mailbox, p)) = progress {
            progress::set(&tx, mailbox, p)?;
        }
        self.clock.lap(WriterPhase::Other);
        tx.commit()?;
        self.clock.lap(WriterPhase::Commit);
        // Said after the commit: a process killed before it logs nothing it did not keep, so
        // the same ticket number never appears twice in the log.
        for ((_, origin), outcome) in items.iter().zip(&outcomes) {
            tracing::info!(origin = %origin.label, outcome = ?outcome, "message ingested");
        }
        Ok(outcomes)
    }

    /// Runs a quarantined message through the pipeline again (after a rule, a fix or a new
    /// ticket made it storable). On success the quarantine entry is resolved and the outcome
    /// returned; if it would be quarantined again nothing changes and the reason is returned.
    pub fn retry_quarantined(
        &mut self,
        conn: &mut Connection,
        quarantine_id: i64,
        actor: AuditActor,
    ) -> anyhow::Result<Result<Outcome, String>> {
        self.refresh_rules(conn)?;
        let tx = conn.transaction()?;
        let Some(entry) = store::quarantine::open_entry(&tx, quarantine_id)? else {
            return Ok(Err("no such open quarantine entry".into()));
        };
        let origin = Origin {
            label: entry.source,
            internal_date: DateTime::parse_from_rfc3339(&entry.received_at)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        };
        let raw = entry.raw;
        let prepared = prepare(raw, self.settings.pec_box(&origin));
        let failure = match self.store_one(&tx, &prepared, &origin, true) {
            Ok(Outcome::Quarantined { reason, .. }) => Err(reason),
            Ok(o) => Ok(o),
            Err(e) => Err(format!(
                "could not be stored: {}",
                crate::errors::chain(&*e)
            )),
        };
        let outcome = match failure {
            Ok(o) => o,
            Err(reason) => {
                // Still failing: the attempt is rolled back (the entry stays as it was), and
                // recorded.
                drop(tx);
                audit::record(
                    conn,
                    actor,
                    AuditAction::QuarantineRetryFailed,
                    None,
                    json!({ "quarantine": quarantine_id }),
                )?;
                return Ok(Err(reason));
            }
        };
        let resolution = match &outcome {
            Outcome::Created { ticket, .. }
            | Outcome::Threaded { ticket }
            | Outcome::Automatic { ticket }
            | Outcome::Report { ticket } => format!("retried: {ticket}"),
            _ => "retried: duplicate".into(),
        };
        store::quarantine::resolve(&tx, quarantine_id, &resolution)?;
        audit::record(
            &tx,
            actor,
            AuditAction::QuarantineRetried,
            None,
            json!({ "quarantine": quarantine_id }),
        )?;
        tx.commit()?;
        Ok(Ok(outcome))
    }

    fn store_one(
        &self,
        conn: &Connection,
        p: &Prepared,
        origin: &Origin,
        retry: bool,
    ) -> anyhow::Result<Outcome> {
        if !retry && sql::raw_exists(conn, &p.sha256)? {
            self.clock.lap(WriterPhase::Dedup);
            return Ok(Outcome::Duplicate);
        }
        let m = match &p.parsed {
            Ok(m) => m,
            Err(e) => {
                return quarantine(conn, p, origin, QuarantineKind::Unparseable, &e.to_string())
            }
        };
        if let Some(mid) = &m.message_id {
            if sql::inbound_duplicate(conn, mid, m.from_email.as_deref())? {
                self.clock.lap(WriterPhase::Dedup);
                return Ok(Outcome::Duplicate);
            }
        }
        self.clock.lap(WriterPhase::Dedup);
        let received = received_at(m, origin, Utc::now());
        let unverified = self.settings.unverified_sender(m);

        let automatic = m.automatic.clone().or_else(|| {
            let from = RecipientKey::of(m.from_email.as_deref()?);
            self.settings
                .own_addresses
                .contains(&from)
                .then(|| Automatic {
                    kind: AutoKind::AutoReply,
                    signal: "sent from one of the hospital's own addresses".into(),
                })
        });
        if let Some(auto) = automatic {
            if let Some(u) = &unverified {
                // A forged bounce could mark a citizen's address as bouncing.
                return quarantine(
                    conn,
                    p,
                    origin,
                    QuarantineKind::Automatic,
                    &format!(
                        "{} ({}) from a sender the mail server could not authenticate ({})",
                        auto.kind.as_str(),
                        auto.signal,
                        u.reason
                    ),
                );
            }
            // About a request of the istruttoria: kept on the request, never the citizen's.
            let refs = m.references.iter().chain(&m.automatic_refs);
            if let Some((t, request)) = istruttoria::request_of_refs(conn, refs)? {
                let raw_id = sql::insert_raw(conn, &p.sha256, &p.raw, &origin.label)?;
                let id = insert_message(
                    conn,
                    m,
                    request.ticket_id,
                    raw_id,
                    &received,
                    Some(auto.kind),
                    None,
                )?;
                let at = store::time_text(received.at);
                istruttoria::automatic_received(conn, &request, id, auto.kind, &auto.signal, &at)?;
                return Ok(Outcome::Automatic { ticket: t.number });
            }
            let refs = m.references.iter().chain(&m.automatic_refs);
            return match ticket_by_our_reference(conn, refs)? {
                Some(t) => {
                    let raw_id = sql::insert_raw(conn, &p.sha256, &p.raw, &origin.label)?;
                    let id =
                        insert_message(conn, m, t.id, raw_id, &received, Some(auto.kind), None)?;
                    if auto.kind == AutoKind::Bounce {
                        crate::store::outbox::mark_bouncing(conn, t.id)?;
                    }
                    audit::record(
                        conn,
                        AuditActor::Ingest,
                        AuditAction::MessageAutomatic,
                        Some(t.id),
                        json!({ "message": id, "kind": auto.kind, "signal": auto.signal }),
                    )?;
                    Ok(Outcome::Automatic { ticket: t.number })
                }
                None => quarantine(
                    conn,
                    p,
                    origin,
                    QuarantineKind::Automatic,
                    &format!(
                        "{} ({}) that refers to no ticket",
                        auto.kind.as_str(),
                        auto.signal
                    ),
                ),
            };
        }

        let raw_id = sql::insert_raw(conn, &p.sha256, &p.raw, &origin.label)?;
        self.clock.lap(WriterPhase::Raw);
        match istruttoria::claim(conn, &self.settings.istruttoria, m, unverified.is_some())? {
            Claim::Report {
                request,
                other_sender,
            } => {
                let id = insert_message(conn, m, request.ticket_id, raw_id, &received, None, None)?;
                let from = match (&m.from_name, &m.from_email) {
                    (Some(n), Some(e)) => format!("{n} <{e}>"),
                    (_, e) => e.clone().unwrap_or_default(),
                };
                let at = store::time_text(received.at);
                istruttoria::report_received(
                    conn,
                    self.notifier.as_deref(),
                    &request,
                    id,
                    other_sender,
                    from,
                    &at,
                )?;
                return Ok(Outcome::Report {
                    ticket: request.ticket_number,
                });
            }
            Claim::Stranger(t) => {
                return self.create_ticket(
                    conn,
                    m,
                    p.prediction.as_ref(),
                    raw_id,
                    &received,
                    unverified.as_ref(),
                    Some(t),
                )
            }
            Claim::None => {}
        }
        let thread = match (self.find_thread(conn, m)?, &unverified) {
            // A sender the mail server could not authenticate may be anyone: what they wrote
            // never joins, reopens or changes the ticket it names, it only points at it.
            (Thread::Existing(t, _), Some(_)) => Thread::New { linked: Some(t) },
            (thread, _) => thread,
        };
        self.clock.lap(WriterPhase::Thread);
        match thread {
            Thread::Existing(t, via) => {
                let closed = !t.state.is_open();
                let window = self.settings.reopen_window_days;
                if closed
                    && !workflow::within_reopen_window(t.closed_at.as_deref(), received.at, window)
                {
                    // Too late to reopen: a new ticket, linked to the old one.
                    return self.create_ticket(
                        conn,
                        m,
                        p.prediction.as_ref(),
                        raw_id,
                        &received,
                        None,
                        Some(t),
                    );
                }
                let id = insert_message(conn, m, t.id, raw_id, &received, None, None)?;
                sql::mark_needs_attention(conn, t.id)?;
                audit::record(
                    conn,
                    AuditActor::Ingest,
                    AuditAction::MessageReceived,
                    Some(t.id),
                    json!({ "message": id, "threaded_by": via }),
                )?;
                if closed {
                    workflow::reopen_by_citizen(conn, self.notifier.as_deref(), t.id)?;
                }
                Ok(Outcome::Threaded { ticket: t.number })
            }
            Thread::New { linked } => self.create_ticket(
                conn,
                m,
                p.prediction.as_ref(),
                raw_id,
                &received,
                unverified.as_ref(),
                linked,
            ),
        }
    }

    /// DESIGN.md invariant 6: our Message-ID with the right token; or the citizen's own earlier
    /// message, or the ticket number in the subject, from the ticket's own citizen. A number from
    /// anyone else opens a new ticket linked to the one named.
    fn find_thread(&self, conn: &Connection, m: &ParsedMail) -> anyhow::Result<Thread> {
        if let Some(t) = ticket_by_our_reference(conn, m.references.iter())? {
            return Ok(Thread::Existing(t, "message_id"));
        }
        let from = m.from_email.as_deref().unwrap_or_default();
        for r in &m.references {
            if let Some(t) = sql::ticket_by_inbound_message_id(conn, r)? {
                if t.citizen_email.eq_ignore_ascii_case(from) {
                    return Ok(Thread::Existing(t, "citizen_reference"));
                }
            }
        }
        let mut linked = None;
        for number in thread::numbers_in_subject(&m.subject, &self.settings.number_prefix) {
            if let Some(t) = sql::ticket_by_number(conn, &number)? {
                if t.citizen_email.eq_ignore_ascii_case(from) {
                    return Ok(Thread::Existing(t, "subject_number"));
                }
                linked.get_or_insert(t);
            }
        }
        Ok(Thread::New { linked })
    }

    #[allow(clippy::too_many_arguments)]
    fn create_ticket(
        &self,
        conn: &Connection,
        m: &ParsedMail,
        predicted: Option<&Predicted>,
        raw_id: i64,
        received: &Received,
        unverified: Option<&Unverified>,
        linked: Option<TicketRef>,
    ) -> anyhow::Result<Outcome> {
        let from = m
            .from_email
            .as_deref()
            .expect("parse guarantees a sender for non-automatic mail");
        let year = time::rome_year(received.at);
        let seq = sql::next_seq(conn, year)?;
        let number = TicketNumber {
            prefix: self.settings.number_prefix.clone(),
            year,
            seq,
        };
        let token = thread::new_token();
        let contact_id = sql::upsert_contact(conn, from, m.from_name.as_deref())?;
        self.clock.lap(WriterPhase::Ticket);
        let class = self.classifier.classify(&m.subject, &m.body_text, from);
        let received_text = store::time_text(received.at);
        let now = store::now_text();
        let learnt = match &self.model {
            Some(loaded) => {
                let msg = message_of(m);
                let fresh;
                let prediction = match predicted {
                    Some(p) if p.model_version == loaded.version => &p.prediction,
                    _ => {
                        fresh = learned::apply::predict(loaded, &msg);
                        &fresh
                    }
                };
                Some(learned::apply(
                    conn,
                    loaded,
                    prediction,
                    (class.kind, class.category_id, class.service_id),
                    learned::apply::has_text(&msg),
                    &now,
                )?)
            }
            None => None,
        };
        let learnt_ref = learnt.as_ref();
        self.clock.lap(WriterPhase::Classify);
        let due = store::time_text(time::due_at(received.at, self.settings.deadline_days));
        let channel = match m.pec {
            Some(_) => Channel::Pec,
            None => Channel::Email,
        };
        let ticket_id = sql::insert_ticket(
            conn,
            &NewTicket {
                number: &number,
                year,
                seq,
                thread_token: &token,
                kind: class.kind.or(learnt_ref.and_then(|l| l.kind)),
                category_id: class.category_id.or(learnt_ref.and_then(|l| l.category_id)),
                service_id: class.service_id.or(learnt_ref.and_then(|l| l.service_id)),
                contact_id,
                subject: &m.subject,
                received_at: &received_text,
                due_at: &due,
                channel,
                linked_ticket_id: linked.as_ref().map(|t| t.id),
            },
        )?;
        self.clock.lap(WriterPhase::Ticket);
        let message = insert_message(conn, m, ticket_id, raw_id, received, None, unverified)?;
        self.clock.lap(WriterPhase::Message);
        audit::record(
            conn,
            AuditActor::Ingest,
            AuditAction::TicketCreated,
            Some(ticket_id),
            json!({
                "number": number,
                "message": message,
                "channel": channel,
                "linked_to": linked.as_ref().map(|t| &t.number),
                "sender_unverified": unverified.map(|u| &u.reason),
            }),
        )?;
        self.record_classification(conn, ticket_id, &class, learnt_ref, &now)?;
        self.clock.lap(WriterPhase::Audit);
        if let Some(notifier) = &self.notifier {
            notifier.to_citizen(conn, ticket_id, MailKind::Ack, Extra::default())?;
            notifier.to_operators(conn, ticket_id)?;
        }
        self.clock.lap(WriterPhase::Notify);
        Ok(Outcome::Created {
            ticket: number,
            linked_to: linked.map(|t| t.number),
        })
    }
}

impl Pipeline {
    /// A ticket not made from mail (issue 15: a complaint recorded by an operator, or sent
    /// through the public form): the routing rules fill what it still lacks, as for a new
    /// mail's ticket, with their sources and one audit entry. (The learned model reads a parsed
    /// mail and is not asked; its nightly training learns from these tickets once confirmed.)
    pub fn classify_recorded(
        &mut self,
        conn: &Connection,
        ticket_id: i64,
        text: &str,
    ) -> anyhow::Result<()> {
        self.refresh_rules(conn)?;
        let t = crate::store::tickets::ticket(conn, ticket_id)?
            .ok_or_else(|| anyhow::anyhow!("no ticket {ticket_id}"))?;
        let mut class = self.classifier.classify(&t.subject, text, &t.citizen.email);
        let now = store::now_text();
        // Only what is still empty: the operator's own choice stays.
        let (kind, category, service) = (t.kind, t.category.map(|c| c.id), t.service.map(|s| s.id));
        class.kind = class.kind.filter(|_| kind.is_none());
        class.category_id = class.category_id.filter(|_| category.is_none());
        class.service_id = class.service_id.filter(|_| service.is_none());
        class.field_rules.retain(|(field, _)| match field {
            ClassField::Kind => class.kind.is_some(),
            ClassField::Category => class.category_id.is_some(),
            ClassField::Service => class.service_id.is_some(),
        });
        if class.field_rules.is_empty() {
            return Ok(());
        }
        crate::store::tickets::set_classification(
            conn,
            ticket_id,
            &crate::store::tickets::Classification {
                kind: kind.or(class.kind),
                category_id: category.or(class.category_id),
                service_id: service.or(class.service_id),
                assigned_to: t.assigned.map(|a| a.id),
            },
            &now,
        )?;
        self.record_classification(conn, ticket_id, &class, None, &now)
    }

    /// Where a new ticket's fields came from (rules, model), what each rule set (for the rules'
    /// agreement with the operators), the model's suggestions, and one audit entry.
    fn record_classification(
        &self,
        conn: &Connection,
        ticket_id: i64,
        class: &crate::classify::Classification,
        learnt: Option<&learned::Applied>,
        now: &str,
    ) -> anyhow::Result<()> {
        let mut sources: Vec<FieldSource> = Vec::new();
        for &(field, rule_id) in &class.field_rules {
            let name = self.classifier.rule_name(rule_id).unwrap_or_default();
            sources.push(FieldSource::rule(field, rule_id, name, now));
            let value = match field {
                ClassField::Kind => class.kind.map(RuleValue::Kind),
                ClassField::Category => class.category_id.map(RuleValue::Category),
                ClassField::Service => class.service_id.map(RuleValue::Service),
            };
            if let Some(value) = value {
                class_sql::record_rule_result(conn, ticket_id, rule_id, value)?;
            }
        }
        if let Some(l) = learnt {
            sources.extend(l.sources.iter().cloned());
            class_sql::insert_suggestions(conn, ticket_id, &l.suggestions, l.model_version)?;
        }
        for s in &sources {
            class_sql::set_source(conn, ticket_id, s)?;
        }
        if sources.is_empty() && learnt.is_none_or(|l| l.suggestions.is_empty()) {
            return Ok(());
        }
        let mut fields = serde_json::Map::new();
        for s in &sources {
            fields.insert(s.field.as_str().into(), s.audit_detail());
        }
        audit::record(
            conn,
            AuditActor::Ingest,
            AuditAction::TicketClassified,
            Some(ticket_id),
            json!({
                "category": class.category_id.or(learnt.and_then(|l| l.category_id)),
                "service": class.service_id.or(learnt.and_then(|l| l.service_id)),
                "kind": class.kind.or(learnt.and_then(|l| l.kind)),
                "rules": class.rule_ids,
                "sources": fields,
                "suggested": learnt.map(|l| l.suggestions.iter().map(|(f, _)| *f).collect::<Vec<_>>()),
                "model_version": learnt.map(|l| l.model_version),
            }),
        )?;
        Ok(())
    }
}

/// A certified time (PEC) counts only this long before the mailbox's own receipt of the
/// envelope: a provider may hold a message in its queue for a while, not for weeks.
const CERTIFIED_BEFORE_RECEIPT: chrono::Duration = chrono::Duration::days(5);
/// … and at most this long after it (clocks that disagree).
const CERTIFIED_AFTER_RECEIPT: chrono::Duration = chrono::Duration::days(1);
/// No claimed date before this is believed (ascolto's mail is never older).
const EARLIEST_PLAUSIBLE: &str = "2000-01-01T00:00:00Z";

/// When a complaint counts as received, and whether a PEC certified time decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub at: DateTime<Utc>,
    pub certified_used: bool,
}

/// The time the complaint counts as received: PEC's certified time when it is plausible, else
/// when the mailbox got it, else the sender's Date, else now.
///
/// A date written by the sender (or by whoever forged an envelope) never moves a ticket out of
/// the window around the server's own receipt (INTERNALDATE, which the server sets): before
/// 2000 or after tomorrow it is ignored, and a certified time counts only within
/// [receipt − 5 days, receipt + 1 day] (any plausible time when there is no receipt time, i.e.
/// an archive import).
pub fn received_at(m: &ParsedMail, origin: &Origin, now: DateTime<Utc>) -> Received {
    let earliest: DateTime<Utc> = EARLIEST_PLAUSIBLE.parse().expect("a valid constant");
    let plausible = |t: &DateTime<Utc>| *t >= earliest && *t <= now + CERTIFIED_AFTER_RECEIPT;
    let receipt = origin.internal_date;
    let certified = m
        .pec
        .as_ref()
        .and_then(|p| p.certified_at)
        .filter(plausible)
        .filter(|c| match receipt {
            Some(r) => *c >= r - CERTIFIED_BEFORE_RECEIPT && *c <= r + CERTIFIED_AFTER_RECEIPT,
            None => true,
        });
    match certified {
        Some(at) => Received {
            at,
            certified_used: true,
        },
        None => Received {
            at: receipt.or(m.date.filter(plausible)).unwrap_or(now),
            certified_used: false,
        },
    }
}

/// The ticket whose token one of `refs` carries. A Message-ID of our shape with a wrong token is
/// a forgery (or corruption) and proves nothing.
fn ticket_by_our_reference<'a>(
    conn: &Connection,
    refs: impl Iterator<Item = &'a String>,
) -> anyhow::Result<Option<TicketRef>> {
    for r in refs {
        let Some((number, token)) = thread::claimed_ticket(r) else {
            continue;
        };
        if let Some(t) = sql::ticket_by_number(conn, &number)? {
            if thread::tokens_match(token, &t.thread_token) {
                return Ok(Some(t));
            }
            tracing::warn!(ticket = %t.number, "a Message-ID claims this ticket with a wrong token; ignored");
        }
    }
    Ok(None)
}

fn insert_message(
    conn: &Connection,
    m: &ParsedMail,
    ticket_id: i64,
    raw_id: i64,
    received: &Received,
    automatic: Option<AutoKind>,
    unverified: Option<&Unverified>,
) -> anyhow::Result<i64> {
    let pec = m
        .pec
        .as_ref()
        .map(|p| {
            serde_json::to_string(&PecInfo {
                certified_at_used: received.certified_used,
                ..p.clone()
            })
        })
        .transpose()?;
    let received_at = &store::time_text(received.at);
    let id = sql::insert_inbound_message(
        conn,
        &NewMessage {
            ticket_id,
            raw_id,
            message_id: m.message_id.as_deref(),
            in_reply_to: m.references.first().map(String::as_str),
            from_email: m.from_email.as_deref(),
            from_name: m.from_name.as_deref(),
            subject: &m.subject,
            body_text: &m.body_text,
            received_at,
            automatic,
            pec: pec.as_deref(),
            sender_unverified: unverified.map(|u| u.reason.as_str()),
        },
    )?;
    for (i, a) in m.attachments.iter().enumerate() {
        sql::insert_attachment(conn, id, i, a.filename.as_deref(), &a.content_type, a.size)?;
    }
    Ok(id)
}

fn quarantine(
    conn: &Connection,
    p: &Prepared,
    origin: &Origin,
    kind: QuarantineKind,
    reason: &str,
) -> anyhow::Result<Outcome> {
    let raw_id = match sql::raw_id_by_hash(conn, &p.sha256)? {
        Some(id) => id,
        None => sql::insert_raw(conn, &p.sha256, &p.raw, &origin.label)?,
    };
    let received = origin.internal_date.unwrap_or_else(Utc::now);
    let id = sql::insert_quarantine(conn, raw_id, &store::time_text(received), kind, reason)?;
    audit::record(
        conn,
        AuditActor::Ingest,
        AuditAction::QuarantineAdded,
        None,
        json!({ "quarantine": id, "kind": kind }),
    )?;
    Ok(Outcome::Quarantined {
        id,
        reason: reason.to_string(),
    })
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
