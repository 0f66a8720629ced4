//! The daemon's training task: a model from the shipped corpus at the first start (when the
//! database has none it can read), then every night at `[classify] nightly_hour`.
//!
//! Training runs on a thread of its own (seconds to a minute of CPU): the async runtime and the
//! database thread go on meanwhile, ingest classifies with the model it has (or the rules
//! alone), and only storing the result takes the writer, in one short transaction. A training
//! cannot be interrupted halfway; on shutdown the task stops waiting for it and the thread's
//! result is dropped (it has written nothing).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Timelike, Utc};
use tokio_util::sync::CancellationToken;

use super::slot::ModelSlot;
use super::training::{store_trained, Trainer};
use crate::config::ClassifyConfig;
use crate::domain::{time, AuditActor, TrainReason};
use crate::store::Store;

pub struct TrainingTask {
    pub store: Store,
    pub slot: Arc<ModelSlot>,
    pub config: ClassifyConfig,
}

impl TrainingTask {
    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(e) = self.start(&shutdown).await {
            tracing::error!("classifier: {}", crate::errors::chain(&*e));
        }
        if !self.config.nightly {
            shutdown.cancelled().await;
            return;
        }
        loop {
            let wait = until_next(Utc::now(), self.config.nightly_hour);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(e) = self.train(TrainReason::Nightly, &shutdown).await {
                tracing::error!(
                    "classifier: nightly training failed: {}",
                    crate::errors::chain(&*e)
                );
            }
        }
    }

    /// Loads the stored model, or trains the first one.
    async fn start(&self, shutdown: &CancellationToken) -> Result<()> {
        let slot = self.slot.clone();
        let usable = self
            .store
            .call(move |c| {
                // Loaded once: a model this build cannot read leaves the slot empty.
                Ok(slot.refresh(c)?.is_some())
            })
            .await?;
        if !usable && self.config.train_at_start {
            tracing::info!("classifier: no usable model in the database; training one from the shipped corpus in the background (ingest uses the routing rules meanwhile)");
            self.train(TrainReason::FirstStart, shutdown).await?;
        }
        Ok(())
    }

    async fn train(&self, reason: TrainReason, shutdown: &CancellationToken) -> Result<()> {
        let path: PathBuf = self.store.path().to_path_buf();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("ascolto-train".into())
            .spawn(move || {
                let result = crate::store::open_read_only(&path)
                    .and_then(|conn| Trainer::default().train(&conn));
                let _ = tx.send(result);
            })
            .context("cannot start the training thread")?;
        let trained = tokio::select! {
            r = rx => r.context("the training thread stopped")??,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let loaded = self
            .store
            .call(move |c| store_trained(c, trained, reason, AuditActor::Classifier))
            .await?;
        self.slot.put(loaded);
        Ok(())
    }
}

/// How long from `now` to the next full hour `hour` in Europe/Rome.
pub fn until_next(now: DateTime<Utc>, hour: u32) -> Duration {
    let mut t = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now)
        + chrono::Duration::hours(1);
    for _ in 0..48 {
        if time::to_rome(t).hour() == hour {
            break;
        }
        t += chrono::Duration::hours(1);
    }
    (t - now).to_std().unwrap_or(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_training_is_at_the_hour_in_rome() {
        // 2026-03-02 is winter time (UTC+1): 03:00 in Rome is 02:00 UTC.
        let now: DateTime<Utc> = "2026-03-02T10:15:00Z".parse().unwrap();
        let wait = until_next(now, 3);
        let at = now + chrono::Duration::from_std(wait).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-03-03T02:00:00+00:00");
        // Summer time (UTC+2): 01:00 UTC.
        let now: DateTime<Utc> = "2026-07-02T00:30:00Z".parse().unwrap();
        let at = now + chrono::Duration::from_std(until_next(now, 3)).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-07-02T01:00:00+00:00");
    }
}
