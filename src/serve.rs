//! The daemon: the backoffice, one supervised watcher task per mailbox, the outbox worker and
//! the daily maintenance, stopped together on shutdown.
//!
//! What the outside world provides is handed in ([`run`] takes the bound listener and the
//! shutdown token), so that a test can serve on a port of its own and stop the daemon when it
//! wants; the metrics registry is made here and handed to whoever records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::imap::Watcher;
use crate::ingest::{Pipeline, Settings};
use crate::metrics::Metrics;
use crate::notify::mailer::Mailer;
use crate::notify::worker::OutboxWorker;
use crate::notify::Notifier;
use crate::store::Store;
use crate::web::App;

/// How long tasks get to finish their unit of work after shutdown is asked for. A batch being
/// committed finishes; a fetch in progress is dropped and fetched again at the next start.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The listening socket handed over by the service manager (systemd socket activation:
/// `LISTEN_FDS`, with `LISTEN_PID` naming this process), if any.
///
/// Call it before the async runtime starts its threads: it removes those variables from the
/// environment (so that programs the daemon runs, such as `openssl`, do not take the socket for
/// theirs) and marks the socket close-on-exec.
pub fn handed_over_listener() -> Result<Option<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    match fds.len() {
        0 => Ok(None),
        1 => {
            let listener = fds
                .take_tcp_listener(0)
                .context("the socket handed over (LISTEN_FDS) is not a TCP socket: give ascolto.socket a ListenStream= with an address and a port")?;
            if let Some(l) = &listener {
                // What tokio expects of a socket it is given.
                l.set_nonblocking(true)
                    .context("the socket handed over (LISTEN_FDS)")?;
            }
            Ok(listener)
        }
        n => bail!("{n} sockets handed over (LISTEN_FDS={n}): the backoffice listens on one; give ascolto.socket a single ListenStream="),
    }
}

/// The backoffice's state as the daemon builds it from `config` over `store`: with the
/// notifier and the ingest pipeline that the watchers share, counting into `metrics`. Tests
/// build the same to call the router in-process.
pub fn backoffice(config: &Config, store: Store, metrics: Arc<Metrics>) -> Result<App> {
    let notifier = Arc::new(Notifier::from_config(config)?);
    let pipeline = Arc::new(Mutex::new(
        Pipeline::new(Settings::from_config(config))
            .with_notifier(notifier.clone())
            .with_model_slot(Arc::default()),
    ));
    Ok(App::new(config, store, notifier, pipeline, metrics))
}

/// How a supervised task ended.
/// Runs `work`, a loop that lasts until shutdown, as the supervised task `name`.
fn supervise(
    tasks: &mut JoinSet<Ended>,
    name: impl Into<String>,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let name = name.into();
    tasks.spawn(async move {
        work.await;
        Ended::Stopped(name)
    });
}

enum Ended {
    /// A loop that runs until shutdown (when it ends before, something went wrong).
    Stopped(String),
    /// A one-off job that did its work.
    Finished(&'static str),
}

impl Ended {
    fn task(&self) -> &str {
        match self {
            Ended::Stopped(name) => name,
            Ended::Finished(name) => name,
        }
    }
}

/// Runs the daemon until `shutdown` is cancelled: the backoffice on `listener`, ingest for every
/// configured mailbox, the outbox worker and the daily maintenance.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    // One daemon per database, and no restore under it (see `backup`).
    let _lock = crate::store::backup::lock(&config.database.path)?;
    let store = Store::open(&config.database.path)?;
    if config.replication.enabled() {
        // Litestream checkpoints the write-ahead log itself, between its own reads of it;
        // its tips page describes turning the application's autocheckpoint off so that only
        // Litestream checkpoints. We do, because a checkpoint of ours racing its snapshot is
        // the path of Litestream 0.5's open corruption report (benbjohnson/litestream #1164):
        // with our autocheckpoint on, the drill in tests/replication.rs restored a corrupt
        // database (refused by the restore's integrity check) in 2 of 7 runs; with it off, 0
        // of 20.
        store
            .call(|conn| Ok(conn.pragma_update(None, "wal_autocheckpoint", 0)?))
            .await?;
    }
    tracing::info!(database = %config.database.path.display(), mailboxes = config.mailboxes.len(), "ascolto starting");
    if config.mailboxes.is_empty() {
        tracing::warn!("no [[mailbox]] configured: nothing will be ingested");
    }
    let metrics = Arc::new(Metrics::default());
    let app = backoffice(&config, store.clone(), metrics.clone())?;
    let mailer = Mailer::from_config(&config.smtp, metrics.clone())?;
    if let Mailer::File(dir) = &mailer {
        tracing::warn!(dir = %dir.display(), "[smtp] backend = \"file\": notifications are written there, not sent");
    }
    let mut tasks = JoinSet::new();
    tracing::info!(address = %listener.local_addr()?, base_url = %config.web.base_url, "backoffice listening");
    let web = crate::web::serve(app.clone(), listener, shutdown.clone());
    tasks.spawn(async move {
        if let Err(e) = web.await {
            tracing::error!("the backoffice stopped: {e}");
        }
        Ended::Stopped("web".to_string())
    });
    // The statistics page's first view is quick when this year's and last year's counts are
    // ready; a failure here only makes that view slower.
    let ahead = app.clone();
    let token = shutdown.clone();
    tasks.spawn(async move {
        tokio::select! {
            counted = crate::web::stats::prepare(&ahead) => if let Err(e) = counted {
                tracing::warn!(error = %crate::errors::chain(&*e), "statistics: could not count ahead of the first view");
            },
            _ = token.cancelled() => {}
        }
        Ended::Finished("statistics")
    });
    for mailbox in &config.mailboxes {
        let name = mailbox.name.clone();
        let watcher = Watcher::new(
            mailbox.clone(),
            store.clone(),
            app.pipeline.clone(),
            config.ingest.batch_size,
            metrics.clone(),
        )?;
        supervise(&mut tasks, name, watcher.run(shutdown.clone()));
    }

    let outbox = OutboxWorker {
        store: store.clone(),
        mailer,
        from: lettre::message::Mailbox::new(
            Some(config.smtp.from_name.clone()),
            config.smtp.from().parse()?,
        ),
        max_attempts: config.notify.max_attempts,
        metrics: metrics.clone(),
    };
    supervise(&mut tasks, "outbox", outbox.run(shutdown.clone()));

    if let Some(watcher) =
        crate::replication::Watcher::from_config(&config.replication, metrics.clone())
    {
        tracing::info!(db = %watcher.db.display(), socket = %watcher.socket.display(), "replication: watching Litestream");
        supervise(&mut tasks, "replication", watcher.run(shutdown.clone()));
    }
    let reminders = Reminders {
        store: store.clone(),
        notifier: app.notifier.clone(),
        settings: crate::istruttoria::Settings::from_config(&config),
        workflow: config.workflow.clone(),
    };
    supervise(&mut tasks, "istruttoria", reminders.run(shutdown.clone()));
    let training = crate::learned::task::TrainingTask {
        store: store.clone(),
        slot: app.model.clone(),
        config: config.classify.clone(),
    };
    supervise(&mut tasks, "classifier", training.run(shutdown.clone()));

    let daily = Daily {
        store: store.clone(),
        anonymise_after_days: config.retention.anonymise_after_days,
        wal: crate::retention::WalCheckpoint::for_config(&config),
    };
    supervise(&mut tasks, "daily", daily.run(shutdown.clone()));

    // Loops return only on shutdown; one that ends while shutdown has not been asked for has
    // panicked. (Once shutdown is asked for, both branches may be ready: that is no failure.)
    let early = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break None,
            Some(ended) = tasks.join_next() => match ended {
                Ok(Ended::Finished(task)) => tracing::debug!(task, "done"),
                _ if shutdown.is_cancelled() => break None,
                ended => break Some(ended),
            },
        }
    };
    let ended_early = early.is_some();
    if let Some(ended) = early {
        shutdown.cancel();
        match ended {
            Ok(ended) => tracing::error!(task = %ended.task(), "task stopped unexpectedly"),
            Err(e) => tracing::error!("task failed: {e}"),
        }
    }
    tracing::info!("shutting down");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(ended) = tasks.join_next().await {
            match ended {
                Ok(ended) => tracing::info!(task = %ended.task(), "stopped"),
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

/// The istruttoria's reminders and escalations ([`crate::istruttoria::due_round`]), every few
/// minutes, with the clock's time; and the morning digests ([`crate::digest::due_round`]: once
/// a Rome day, from `[workflow] digest_hour`).
struct Reminders {
    store: Store,
    notifier: Arc<crate::notify::Notifier>,
    settings: crate::istruttoria::Settings,
    workflow: crate::config::WorkflowConfig,
}

/// Due dates are days: a reminder a few minutes after its due time passes is on time, and a
/// round that finds nothing costs one indexed read.
const REMINDERS_EVERY: Duration = Duration::from_secs(300);

impl Reminders {
    async fn run(self, shutdown: CancellationToken) {
        let mut wait = DAILY_FIRST;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            let (notifier, workflow) = (self.notifier.clone(), self.workflow.clone());
            let digests = self
                .store
                .call(move |conn| {
                    let tx = conn.transaction()?;
                    let done = crate::digest::due_round(
                        &tx,
                        &notifier,
                        &workflow,
                        chrono::Utc::now(),
                        false,
                    )?;
                    tx.commit()?;
                    Ok(done)
                })
                .await;
            match digests {
                Ok(done) if done != Default::default() => tracing::info!(
                    operators = done.operators,
                    head = done.head,
                    "morning digests queued"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("morning digests: {e:#}"),
            }
            let (notifier, settings) = (self.notifier.clone(), self.settings.clone());
            let round = self
                .store
                .call(move |conn| {
                    let tx = conn.transaction()?;
                    let done = crate::istruttoria::due_round(
                        &tx,
                        &notifier,
                        &settings,
                        chrono::Utc::now(),
                    )?;
                    tx.commit()?;
                    Ok(done)
                })
                .await;
            match round {
                Ok(done) if done != Default::default() => {
                    tracing::info!(
                        reminded = done.reminded,
                        escalated = done.escalated,
                        "istruttoria: reminders and escalations queued"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!("istruttoria: reminders: {}", crate::errors::chain(&*e)),
            }
            wait = REMINDERS_EVERY;
        }
    }
}

/// Once a day (the first time shortly after the start): the retention job, when
/// `[retention] anonymise_after_days` is set, and `PRAGMA optimize`.
struct Daily {
    store: Store,
    anonymise_after_days: u32,
    wal: crate::retention::WalCheckpoint,
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
                tracing::error!("daily maintenance: {}", crate::errors::chain(&*e));
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
            let wal = self.wal;
            self.store
                .call(move |c| crate::retention::finish(c, &done, wal))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The point of taking the listener: a test binds port 0, serves, and stops the daemon when
    /// it wants. The statistics job that finishes meanwhile is no failure.
    #[tokio::test]
    async fn serves_on_the_listener_it_is_given_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[database]\npath = \"{}\"\n\n[classify]\ntrain_at_start = false\n\n[smtp]\nbackend = \"file\"\nfile_dir = \"{}\"\nfrom_address = \"urp@hospital.test\"\n",
            dir.path().join("db.sqlite3").display(),
            dir.path().join("sent").display()
        );
        let config = Config::from_sources(&text, &BTreeMap::new(), None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(run(config, listener, shutdown.clone()));

        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        // Counting an empty database's statistics takes milliseconds.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!daemon.is_finished(), "the daemon stopped by itself");
        shutdown.cancel();
        tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(2), daemon)
            .await
            .expect("stopped within the grace period")
            .unwrap()
            .unwrap();
    }
}
