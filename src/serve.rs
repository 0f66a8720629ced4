//! The daemon: one supervised watcher task per mailbox, the outbox worker and the backoffice,
//! stopped together on shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::imap::Watcher;
use crate::ingest::{Pipeline, Settings};
use crate::notify::mailer::Mailer;
use crate::notify::worker::OutboxWorker;
use crate::notify::Notifier;
use crate::store::Store;

/// How long tasks get to finish their unit of work after shutdown is asked for. A batch being
/// committed finishes; a fetch in progress is dropped and fetched again at the next start.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Runs ingest for every configured mailbox until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    // One daemon per database, and no restore under it (see `backup`).
    let _lock = crate::store::backup::lock(&config.database.path)?;
    let store = Store::open(&config.database.path)?;
    tracing::info!(database = %config.database.path.display(), mailboxes = config.mailboxes.len(), "ascolto starting");
    if config.mailboxes.is_empty() {
        tracing::warn!("no [[mailbox]] configured: nothing will be ingested");
    }
    let notifier = Arc::new(Notifier::from_config(&config)?);
    let pipeline = Arc::new(Mutex::new(
        Pipeline::new(Settings::from_config(&config)).with_notifier(notifier.clone()),
    ));
    let mailer = Mailer::from_config(&config.smtp)?;
    if let Mailer::File(dir) = &mailer {
        tracing::warn!(dir = %dir.display(), "[smtp] backend = \"file\": notifications are written there, not sent");
    }
    let mut tasks = JoinSet::new();
    // The backoffice binds first: a port already taken stops the start with a clear error.
    let web = crate::web::serve(
        &config,
        store.clone(),
        notifier,
        pipeline.clone(),
        shutdown.clone(),
    )
    .await?;
    tasks.spawn(async move {
        if let Err(e) = web.await {
            tracing::error!("the backoffice stopped: {e}");
        }
        "web".to_string()
    });
    for mailbox in &config.mailboxes {
        let name = mailbox.name.clone();
        let watcher = Watcher::new(
            mailbox.clone(),
            store.clone(),
            pipeline.clone(),
            config.ingest.batch_size,
        )?;
        let token = shutdown.clone();
        tasks.spawn(async move {
            watcher.run(token).await;
            name
        });
    }

    let outbox = OutboxWorker {
        store: store.clone(),
        mailer,
        from: lettre::message::Mailbox::new(
            Some(config.smtp.from_name.clone()),
            config.smtp.from().parse()?,
        ),
        max_attempts: config.notify.max_attempts,
    };
    let token = shutdown.clone();
    tasks.spawn(async move {
        outbox.run(token).await;
        "outbox".to_string()
    });

    let daily = Daily {
        store: store.clone(),
        anonymise_after_days: config.retention.anonymise_after_days,
    };
    let token = shutdown.clone();
    tasks.spawn(async move {
        daily.run(token).await;
        "daily".to_string()
    });

    // Tasks return only on shutdown; one that ends while shutdown has not been asked for has
    // panicked. (Once shutdown is asked for, both branches may be ready: that is no failure.)
    let early = tokio::select! {
        biased;
        _ = shutdown.cancelled() => None,
        Some(ended) = tasks.join_next() => (!shutdown.is_cancelled()).then_some(ended),
    };
    let ended_early = early.is_some();
    if let Some(ended) = early {
        shutdown.cancel();
        match ended {
            Ok(name) => tracing::error!(task = %name, "task stopped unexpectedly"),
            Err(e) => tracing::error!("task failed: {e}"),
        }
    }
    tracing::info!("shutting down");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(ended) = tasks.join_next().await {
            match ended {
                Ok(name) => tracing::info!(task = %name, "stopped"),
                Err(e) => tracing::error!("task failed: {e}"),
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some tasks did not stop within {SHUTDOWN_GRACE:?}; their work is redone at the next start");
    }
    // Let the database thread finish what it was given before the process ends.
    store.call(|_| Ok(())).await?;
    if ended_early {
        bail!("a task stopped unexpectedly");
    }
    Ok(())
}

/// Once a day (the first time shortly after the start): the retention job, when
/// `[retention] anonymise_after_days` is set, and `PRAGMA optimize`.
struct Daily {
    store: Store,
    anonymise_after_days: u32,
}

/// The first round waits this long after the start (the mailboxes connect first).
const DAILY_FIRST: Duration = Duration::from_secs(2);
const DAILY_EVERY: Duration = Duration::from_secs(24 * 3600);

impl Daily {
    async fn run(self, shutdown: CancellationToken) {
        let mut wait = DAILY_FIRST;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(e) = self.round(&shutdown).await {
                tracing::error!("daily maintenance: {e:#}");
            }
            wait = DAILY_EVERY;
        }
    }

    async fn round(&self, shutdown: &CancellationToken) -> Result<()> {
        let days = self.anonymise_after_days;
        if days > 0 {
            // Batch by batch, each its own trip to the database thread: ingest goes on between.
            let mut total = 0;
            loop {
                let done = self
                    .store
                    .call(move |c| {
                        crate::retention::batch(
                            c,
                            days,
                            chrono::Utc::now(),
                            false,
                            crate::retention::BATCH,
                        )
                    })
                    .await?;
                total += done.tickets;
                if done.tickets < crate::retention::BATCH || shutdown.is_cancelled() {
                    break;
                }
            }
            let quarantined = self
                .store
                .call(move |c| crate::retention::quarantine(c, days, chrono::Utc::now(), false))
                .await?;
            let done = crate::retention::Summary {
                tickets: total,
                quarantined,
                ..Default::default()
            };
            self.store
                .call(move |c| crate::retention::finish(c, &done))
                .await?;
            tracing::info!(
                tickets = total,
                quarantined,
                after_days = days,
                "retention: personal data removed from tickets closed (and quarantined mail dealt \
                 with) more than {days} days ago"
            );
        }
        self.store.call(|c| crate::store::optimize(c)).await?;
        Ok(())
    }
}
