//! The outbox worker: sends what is due, at least once, with retries and backoff.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;

use super::mailer::Mailer;
use crate::metrics::Metrics;
use crate::store::{outbox, Store};

/// How often the outbox is looked at: a notification leaves within about this long of its
/// commit.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Mails taken per round.
const BATCH: usize = 20;
/// First retry after this; doubling up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub sent: usize,
    pub failed: usize,
}

pub struct OutboxWorker {
    pub store: Store,
    pub mailer: Mailer,
    pub from: Mailbox,
    pub max_attempts: u32,
    /// The daemon's counters: notifications sent and attempts failed.
    pub metrics: Arc<Metrics>,
}

impl OutboxWorker {
    /// Sends every due mail once. A mail is marked sent only after the server accepted it, so a
    /// crash in between sends it again — with the same Message-ID.
    pub async fn poll_once(&self) -> Result<PollOutcome> {
        let due = self
            .store
            .call(|c| outbox::due(c, &crate::store::now_text(), BATCH))
            .await?;
        let mut out = PollOutcome::default();
        // Marked sent together after the round: one trip to the database thread, which ingest
        // shares. A crash before that re-sends them, with the same Message-IDs.
        let mut sent = Vec::new();
        for mail in due {
            let id = mail.id;
            match self.mailer.send(&self.from, &mail.mail).await {
                Ok(()) => {
                    tracing::info!(outbox = id, "notification sent");
                    sent.push(id);
                    out.sent += 1;
                }
                Err(e) => {
                    let attempts = mail.attempts + 1;
                    // A permanent refusal (5xx: no such user, …) will not change by retrying.
                    let permanent = e
                        .downcast_ref::<super::mailer::SendError>()
                        .is_some_and(|e| e.permanent);
                    let give_up = permanent || attempts >= self.max_attempts;
                    let delay = FIRST_RETRY
                        .saturating_mul(1 << (attempts - 1).min(16))
                        .min(MAX_RETRY_DELAY);
                    let next =
                        crate::store::time_text(Utc::now() + chrono::Duration::from_std(delay)?);
                    let error = crate::errors::chain(&*e).to_string();
                    if give_up {
                        tracing::error!(
                            outbox = id,
                            attempts,
                            "notification failed for good: {error}"
                        );
                    } else {
                        tracing::warn!(
                            outbox = id,
                            attempts,
                            retry_in_secs = delay.as_secs(),
                            "notification not sent: {error}"
                        );
                    }
                    self.store
                        .call(move |c| outbox::mark_attempt_failed(c, id, &error, &next, give_up))
                        .await?;
                    self.metrics
                        .notification_attempts_failed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    out.failed += 1;
                }
            }
        }
        if !sent.is_empty() {
            let n = sent.len() as u64;
            self.store
                .call(move |c| outbox::mark_sent(c, &sent))
                .await?;
            self.metrics
                .notifications_sent
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(out)
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let full_round = match self.poll_once().await {
                Ok(round) => round.sent + round.failed >= BATCH,
                Err(e) => {
                    tracing::error!("outbox: {}", crate::errors::chain(&*e));
                    false
                }
            };
            // More may be waiting (a burst, or the backlog after an SMTP outage): go on at once.
            if full_round && !shutdown.is_cancelled() {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
