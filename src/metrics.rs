//! What the daemon counts for `/metrics` (Prometheus text format) and knows for `/healthz`:
//! ingest and notification counters, each mailbox's connection state, and the backoffice's
//! requests by route and status with a latency histogram.
//!
//! One registry per daemon, made by [`crate::serve::run`] and handed (`Arc<Metrics>`) to those
//! that record: the watchers, the outbox worker and the backoffice (its middleware and handlers),
//! which also reads it for `/metrics` and `/healthz`. Written with atomics and short locks; read
//! when scraped. Not a global: a test makes its own and sees only its own counts. Counts from the
//! database (tickets by state, notifications waiting) are added by the handler at scrape time.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Where the database thread's time goes while it stores mail (issue 16's breakdown), in the
/// order a new ticket meets them. The storage of the full-text index is inside `Message` (a
/// trigger on `messages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterPhase {
    /// Is it stored already (raw bytes' hash, Message-ID + sender)?
    Dedup,
    /// The original's bytes.
    Raw,
    /// Whose is it: a request's report, a reply to a ticket, a new ticket.
    Thread,
    /// The ticket's number, the citizen's contact row and the ticket row.
    Ticket,
    /// Routing rules and the learned model.
    Classify,
    /// The message row, its attachments' list and its full-text index.
    Message,
    /// Audit entries and where each field came from.
    Audit,
    /// The citizen's acknowledgement and the operators' notice, composed into the outbox.
    Notify,
    /// Savepoints, quarantine, progress, anything between the phases above.
    Other,
    /// The transaction's commit (its fsync).
    Commit,
}

impl WriterPhase {
    pub const ALL: [WriterPhase; 10] = [
        WriterPhase::Dedup,
        WriterPhase::Raw,
        WriterPhase::Thread,
        WriterPhase::Ticket,
        WriterPhase::Classify,
        WriterPhase::Message,
        WriterPhase::Audit,
        WriterPhase::Notify,
        WriterPhase::Other,
        WriterPhase::Commit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WriterPhase::Dedup => "dedup",
            WriterPhase::Raw => "raw",
            WriterPhase::Thread => "thread",
            WriterPhase::Ticket => "ticket",
            WriterPhase::Classify => "classify",
            WriterPhase::Message => "message",
            WriterPhase::Audit => "audit",
            WriterPhase::Notify => "notify",
            WriterPhase::Other => "other",
            WriterPhase::Commit => "commit",
        }
    }
}

/// Time spent in each [`WriterPhase`] (nanoseconds), as measured by one batch or summed.
pub type WriterTimes = [u64; WriterPhase::ALL.len()];

#[derive(Default)]
pub struct Metrics {
    pub messages_ingested: AtomicU64,
    pub tickets_created: AtomicU64,
    pub messages_quarantined: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub notification_attempts_failed: AtomicU64,
    /// Passwords verified at sign-in (each an argon2 check: CPU and 19 MiB of memory).
    pub password_checks: AtomicU64,
    /// Sign-ins refused by the throttle without checking the password.
    pub sign_ins_throttled: AtomicU64,
    /// The database thread's time storing mail, by [`WriterPhase`] (nanoseconds).
    writer_nanos: [AtomicU64; WriterPhase::ALL.len()],
    mailboxes: Mutex<BTreeMap<String, MailboxState>>,
    /// Since when no OAuth2 token for SMTP submission could be had (None: fine).
    smtp_token_failing_since: Mutex<Option<DateTime<Utc>>>,
    /// By (route pattern, method label, status): every part from a bounded set.
    http: Mutex<HashMap<(String, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Litestream's replica as the replication watcher last saw it (None: not watched).
    replication: Mutex<Option<ReplicationState>>,
}

/// How the replica has been keeping up (`[replication]`).
#[derive(Clone, Debug)]
pub struct ReplicationState {
    /// When watching began: with no confirmation yet, the lag is counted from here.
    pub watching_since: DateTime<Utc>,
    /// The start of the last probe after which Litestream said the replica held every
    /// transaction: everything committed before this moment is in the replica.
    pub last_confirmed: Option<DateTime<Utc>>,
    pub replicated_txid: Option<u64>,
    /// Why the last probe failed (None: it succeeded).
    pub last_error: Option<String>,
    pub probes_failed: u64,
}

impl ReplicationState {
    /// How long ago the replica was last known to hold everything (from the start of watching
    /// when never).
    pub fn lag(&self, now: DateTime<Utc>) -> chrono::Duration {
        (now - self.last_confirmed.unwrap_or(self.watching_since)).max(chrono::Duration::zero())
    }
}

/// A mailbox as its watcher last saw it.
#[derive(Clone, Debug, Default)]
pub struct MailboxState {
    /// The last time the server answered (connected, fetched, or woke from IDLE).
    pub last_success: Option<DateTime<Utc>>,
    /// Since when every attempt has failed; None while connected.
    pub failing_since: Option<DateTime<Utc>>,
    pub connection_errors: u64,
    pub last_error: Option<String>,
    /// Messages that a check of our own found while the server, in IDLE, had not announced
    /// them (a server that announces late, or never).
    pub unannounced: u64,
    /// How old (by the server's INTERNALDATE) the oldest such message was when found, at the
    /// last check that found any.
    pub unannounced_lag_secs: Option<f64>,
}

impl MailboxState {
    /// The server answered and nothing has failed since.
    pub fn is_up(&self) -> bool {
        self.failing_since.is_none() && self.last_success.is_some()
    }
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The methods counted by name; any other is counted as `OTHER`.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

/// Every counter here is whole after any single change, so a lock poisoned by a panicking
/// request is taken as it is: one bad request must not break `/metrics` and `/healthz`.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a committed batch did (counted by `ingest`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub tickets_created: u64,
    /// Messages stored on a ticket: new tickets, replies, automatic mail.
    pub messages_stored: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

impl Metrics {
    /// A committed batch of ingested messages.
    pub fn ingested(&self, c: IngestCounts) {
        self.tickets_created
            .fetch_add(c.tickets_created, Ordering::Relaxed);
        self.messages_ingested
            .fetch_add(c.messages_stored, Ordering::Relaxed);
        self.messages_duplicate
            .fetch_add(c.duplicates, Ordering::Relaxed);
        self.messages_quarantined
            .fetch_add(c.quarantined, Ordering::Relaxed);
    }

    /// Where a committed batch's writing time went.
    pub fn writer_times(&self, times: &WriterTimes) {
        for (total, t) in self.writer_nanos.iter().zip(times) {
            total.fetch_add(*t, Ordering::Relaxed);
        }
    }

    /// Makes the mailbox known (so that it shows before its first connection).
    pub fn mailbox_configured(&self, name: &str) {
        lock(&self.mailboxes).entry(name.to_string()).or_default();
    }

    /// The server answered.
    pub fn mailbox_ok(&self, name: &str) {
        let mut m = lock(&self.mailboxes);
        let state = m.entry(name.to_string()).or_default();
        state.last_success = Some(Utc::now());
        state.failing_since = None;
    }

    /// A check of our own, while idling, found `messages` that IDLE had not announced, the
    /// oldest received `lag` ago.
    pub fn mailbox_unannounced(
        &self,
        name: &str,
        messages: usize,
        lag: Option<std::time::Duration>,
    ) {
        let mut m = lock(&self.mailboxes);
        let state = m.entry(name.to_string()).or_default();
        state.unannounced += messages as u64;
        if let Some(lag) = lag {
            state.unannounced_lag_secs = Some(lag.as_secs_f64());
        }
    }

    /// A connection or a command failed.
    pub fn mailbox_failed(&self, name: &str, error: &str) {
        let mut m = lock(&self.mailboxes);
        let state = m.entry(name.to_string()).or_default();
        state.connection_errors += 1;
        state.failing_since.get_or_insert_with(Utc::now);
        state.last_error = Some(error.to_string());
    }

    /// Whether the last attempt to get an OAuth2 token for SMTP worked.
    pub fn smtp_token(&self, ok: bool) {
        let mut since = lock(&self.smtp_token_failing_since);
        if ok {
            *since = None;
        } else {
            since.get_or_insert_with(Utc::now);
        }
    }

    pub fn smtp_token_failing_since(&self) -> Option<DateTime<Utc>> {
        *lock(&self.smtp_token_failing_since)
    }

    /// The replication watcher starts.
    pub fn replication_watching(&self) {
        lock(&self.replication).get_or_insert_with(|| ReplicationState {
            watching_since: Utc::now(),
            last_confirmed: None,
            replicated_txid: None,
            last_error: None,
            probes_failed: 0,
        });
    }

    /// A probe begun at `at` ended with the replica holding transaction `txid`, all there was.
    pub fn replication_confirmed(&self, at: DateTime<Utc>, txid: u64) {
        if let Some(r) = lock(&self.replication).as_mut() {
            r.last_confirmed = Some(r.last_confirmed.map_or(at, |t| t.max(at)));
            r.replicated_txid = Some(txid);
            r.last_error = None;
        }
    }

    /// A probe failed, or found the replica behind: the lag keeps growing.
    pub fn replication_failed(&self, error: String) {
        if let Some(r) = lock(&self.replication).as_mut() {
            r.last_error = Some(error);
            r.probes_failed += 1;
        }
    }

    pub fn replication(&self) -> Option<ReplicationState> {
        lock(&self.replication).clone()
    }

    pub fn mailboxes(&self) -> BTreeMap<String, MailboxState> {
        lock(&self.mailboxes).clone()
    }

    /// One backoffice request: its route, method, status and duration.
    ///
    /// Labels come only from fixed sets, whatever a client sends: the route is the pattern the
    /// router matched (no ticket numbers in the labels) or [`UNMATCHED`]; the method is one of
    /// [`METHODS`] or `OTHER`. An invented method or path cannot add a series (issue 11,
    /// finding 6: 65 KB methods grew `/metrics` to 142 MB).
    pub fn request(&self, route: Option<&str>, method: &str, status: u16, took: Duration) {
        let route = route.unwrap_or(UNMATCHED);
        let method = method_label(method);
        *lock(&self.http)
            .entry((route.to_string(), method, status))
            .or_default() += 1;
        let seconds = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let h = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The process's own figures in Prometheus text format (exposition format 0.0.4).
    pub fn render(&self, out: &mut String) {
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        };
        counter(
            out,
            "ascolto_messages_ingested_total",
            "Messages stored (new tickets, replies, automatic mail on a ticket).",
            &self.messages_ingested,
        );
        counter(
            out,
            "ascolto_tickets_created_total",
            "Tickets opened from mail.",
            &self.tickets_created,
        );
        counter(
            out,
            "ascolto_messages_quarantined_total",
            "Messages set aside in quarantine.",
            &self.messages_quarantined,
        );
        counter(
            out,
            "ascolto_messages_duplicate_total",
            "Messages recognised as already stored.",
            &self.messages_duplicate,
        );
        let name = "ascolto_ingest_writer_seconds_total";
        let _ = writeln!(out, "# HELP {name} The database thread's time storing mail, by phase (per message: divide by ascolto_messages_ingested_total + duplicates + quarantined).\n# TYPE {name} counter");
        for (phase, nanos) in WriterPhase::ALL.iter().zip(&self.writer_nanos) {
            let secs = nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}{{phase=\"{}\"}} {secs:.6}", phase.as_str());
        }
        counter(
            out,
            "ascolto_notifications_sent_total",
            "Notifications accepted by the mail server.",
            &self.notifications_sent,
        );
        counter(
            out,
            "ascolto_notification_attempts_failed_total",
            "Sending attempts that failed (retried later, or given up).",
            &self.notification_attempts_failed,
        );
        counter(
            out,
            "ascolto_password_checks_total",
            "Passwords verified at sign-in.",
            &self.password_checks,
        );
        counter(
            out,
            "ascolto_sign_ins_throttled_total",
            "Sign-ins refused by the throttle without checking the password.",
            &self.sign_ins_throttled,
        );

        let mailboxes = self.mailboxes();
        let _ = writeln!(
            out,
            "# HELP ascolto_mailbox_up 1 while the mailbox's server answers.\n# TYPE ascolto_mailbox_up gauge"
        );
        for (name, m) in &mailboxes {
            let up = m.is_up();
            let _ = writeln!(
                out,
                "ascolto_mailbox_up{{mailbox=\"{}\"}} {}",
                label(name),
                u8::from(up)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ascolto_mailbox_last_success_timestamp_seconds When the mailbox's server last answered.\n# TYPE ascolto_mailbox_last_success_timestamp_seconds gauge"
        );
        for (name, m) in &mailboxes {
            if let Some(t) = m.last_success {
                let _ = writeln!(
                    out,
                    "ascolto_mailbox_last_success_timestamp_seconds{{mailbox=\"{}\"}} {}",
                    label(name),
                    t.timestamp()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP ascolto_mailbox_connection_errors_total Failed connections or commands.\n# TYPE ascolto_mailbox_connection_errors_total counter"
        );
        for (name, m) in &mailboxes {
            let _ = writeln!(
                out,
                "ascolto_mailbox_connection_errors_total{{mailbox=\"{}\"}} {}",
                label(name),
                m.connection_errors
            );
        }
        let _ = writeln!(
            out,
            "# HELP ascolto_mailbox_unannounced_total Messages found by ascolto's own check while the server, in IDLE, had not announced them.\n# TYPE ascolto_mailbox_unannounced_total counter"
        );
        for (name, m) in &mailboxes {
            let _ = writeln!(
                out,
                "ascolto_mailbox_unannounced_total{{mailbox=\"{}\"}} {}",
                label(name),
                m.unannounced
            );
        }
        let _ = writeln!(
            out,
            "# HELP ascolto_mailbox_unannounced_lag_seconds How long the oldest unannounced message had waited in the mailbox when the last check found it.\n# TYPE ascolto_mailbox_unannounced_lag_seconds gauge"
        );
        for (name, m) in &mailboxes {
            if let Some(lag) = m.unannounced_lag_secs {
                let _ = writeln!(
                    out,
                    "ascolto_mailbox_unannounced_lag_seconds{{mailbox=\"{}\"}} {lag:.3}",
                    label(name),
                );
            }
        }

        let mut http: Vec<_> = lock(&self.http)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        http.sort();
        let _ = writeln!(
            out,
            "# HELP ascolto_http_requests_total Backoffice requests by route, method and status.\n# TYPE ascolto_http_requests_total counter"
        );
        for ((route, method, status), n) in http {
            let _ = writeln!(
                out,
                "ascolto_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                label(&route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ascolto_http_request_duration_seconds Backoffice request latency by route.\n# TYPE ascolto_http_request_duration_seconds histogram"
        );
        for (route, h) in lock(&self.latency).iter() {
            let route = label(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "ascolto_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "ascolto_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\nascolto_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\nascolto_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
    }
}

/// A label value escaped as the exposition format wants (backslash, quote, newline).
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_exposition_format() {
        let m = Metrics::default();
        m.ingested(IngestCounts {
            tickets_created: 1,
            messages_stored: 2,
            duplicates: 1,
            quarantined: 0,
        });
        m.mailbox_configured("pec");
        m.mailbox_ok("urp");
        m.mailbox_failed("pec", "cannot connect");
        m.mailbox_failed("pec", "cannot connect");
        m.request(
            Some("/reclami/{number}"),
            "GET",
            200,
            Duration::from_millis(7),
        );
        m.request(
            Some("/reclami/{number}"),
            "GET",
            200,
            Duration::from_millis(70),
        );
        m.request(Some("/a\"b"), "POST", 403, Duration::from_millis(1));
        let mut times = [0; WriterPhase::ALL.len()];
        times[WriterPhase::Message as usize] = 1_500_000;
        m.writer_times(&times);
        m.writer_times(&times);
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "ascolto_messages_ingested_total 2",
            "ascolto_tickets_created_total 1",
            "ascolto_messages_duplicate_total 1",
            "ascolto_messages_quarantined_total 0",
            "ascolto_ingest_writer_seconds_total{phase=\"message\"} 0.003000",
            "ascolto_ingest_writer_seconds_total{phase=\"commit\"} 0.000000",
            "ascolto_mailbox_up{mailbox=\"pec\"} 0",
            "ascolto_mailbox_up{mailbox=\"urp\"} 1",
            "ascolto_mailbox_connection_errors_total{mailbox=\"pec\"} 2",
            "ascolto_http_requests_total{route=\"/reclami/{number}\",method=\"GET\",status=\"200\"} 2",
            "ascolto_http_requests_total{route=\"/a\\\"b\",method=\"POST\",status=\"403\"} 1",
            "ascolto_http_request_duration_seconds_bucket{route=\"/reclami/{number}\",le=\"0.01\"} 1",
            "ascolto_http_request_duration_seconds_bucket{route=\"/reclami/{number}\",le=\"0.1\"} 2",
            "ascolto_http_request_duration_seconds_bucket{route=\"/reclami/{number}\",le=\"+Inf\"} 2",
            "ascolto_http_request_duration_seconds_count{route=\"/reclami/{number}\"} 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
        assert!(out.contains("ascolto_mailbox_last_success_timestamp_seconds{mailbox=\"urp\"} "));
        assert!(!out.contains("ascolto_mailbox_last_success_timestamp_seconds{mailbox=\"pec\"}"));
    }

    #[test]
    fn invented_methods_and_paths_add_no_series() {
        let m = Metrics::default();
        for i in 0..500 {
            let method = format!("{}{i}", "X".repeat(65_000));
            m.request(None, &method, 404, Duration::from_millis(1));
            m.request(None, &format!("get{i}"), 405, Duration::from_millis(1));
        }
        m.request(Some("/reclami"), "DELETE", 405, Duration::from_millis(1));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.len() < 8_000, "{} bytes", out.len());
        for line in [
            "ascolto_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 500",
            "ascolto_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"405\"} 500",
            "ascolto_http_requests_total{route=\"/reclami\",method=\"DELETE\",status=\"405\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
    }
}
