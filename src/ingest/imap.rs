//! Watching one mailbox over IMAP: catch up on everything after the last committed UID, then
//! wait with IDLE (or poll), forever; reconnect with backoff on any error.
//!
//! Progress is (UIDVALIDITY, last UID) in the database, moved in the transaction that stores
//! the messages, so a crash at any point re-fetches at most one uncommitted batch, which the
//! pipeline recognises as duplicates. The folder is opened read-only (`EXAMINE`) and read with
//! `BODY.PEEK`, never flagged; messages are moved only when `move_to` asks for it (then the
//! folder is `SELECT`ed), after their commit.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use chrono::Utc;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use super::pipeline::{prepare_with_model, Origin, Outcome, Pipeline};
use crate::config::{MailboxConfig, Security, StartFrom};
use crate::metrics::Metrics;
use crate::store::progress::{self, Progress};
use crate::store::Store;

/// A server that has not accepted the connection or answered a command in this time is
/// treated as down.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(60);
/// IDLE is re-issued at least this often: well under RFC 2177's 29 minutes, and it bounds how
/// long a silently dead connection (no FIN, no keepalive) goes unnoticed. It is re-issued
/// sooner, every `poll_interval_secs`, to check for mail the server did not announce.
const IDLE_REFRESH: Duration = Duration::from_secs(10 * 60);
/// First wait after a failure; doubles up to the mailbox's `poll_interval_secs`, kept between
/// [`BACKOFF_FLOOR`] and [`BACKOFF_CEILING`].
const BACKOFF_START: Duration = Duration::from_secs(1);
/// Retrying faster than this only hammers a server that is down.
const BACKOFF_FLOOR: Duration = Duration::from_secs(5);
/// A returning server is noticed within a minute, whatever the poll interval.
const BACKOFF_CEILING: Duration = Duration::from_secs(60);
/// A batch is committed when it reaches this size even if it has fewer messages than
/// `batch_size`: bounds memory with large attachments.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// The stream under an IMAP session: plain TCP or TLS.
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapStream for T {}

type ImapSession = Session<Box<dyn ImapStream>>;

/// Parsing and classifying a batch (pure CPU work) uses up to this many threads: the batch is
/// prepared while nothing else of this mailbox runs (the previous batch is committed, the next
/// one is being fetched), so its time adds to every batch's.
const PREPARE_THREADS: usize = 4;

/// `one` over `batch` on up to [`PREPARE_THREADS`] threads (as many as the machine has cores),
/// in order.
fn prepare_in_parallel<T: Send>(batch: Vec<Fetched>, one: impl Fn(Fetched) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(PREPARE_THREADS);
    if threads < 2 || batch.len() < 2 * threads {
        return batch.into_iter().map(one).collect();
    }
    let chunk = batch.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Fetched>> = Vec::with_capacity(threads);
    let mut rest = batch.into_iter();
    loop {
        let c: Vec<Fetched> = rest.by_ref().take(chunk).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    let one = &one;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || c.into_iter().map(one).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Ingest for one configured mailbox.
pub struct Watcher {
    cfg: MailboxConfig,
    store: Store,
    /// Shared by all mailboxes; locked only on the database thread, never across an await.
    pipeline: Arc<Mutex<Pipeline>>,
    /// The learned model in use: messages are classified while they are prepared, on the
    /// blocking pool, not on the database thread.
    model: Arc<crate::learned::ModelSlot>,
    batch_size: usize,
    tls: Option<TlsConnector>,
    /// For a mailbox that signs in with OAuth2.
    tokens: Option<crate::oauth::TokenSource>,
    /// The daemon's counters: the mailbox's connection state (for `/healthz`) and what was
    /// ingested.
    metrics: Arc<Metrics>,
}

/// What one catch-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub fetched: usize,
    pub last_uid: u32,
    /// The earliest INTERNALDATE among the fetched messages (when the server received them).
    pub oldest_received: Option<chrono::DateTime<Utc>>,
}

/// Why a watcher in IDLE looks at the mailbox again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Woken {
    /// The server announced new mail (EXISTS or RECENT), or this is the first look.
    Announced,
    /// Our own check, every `poll_interval_secs`: some servers announce new mail only at their
    /// own poll (Cyrus and Courier by default: ~60 s) and some never (reported of Microsoft 365
    /// and Exchange), so the worst case is our poll interval whatever the server does.
    Check,
}

impl Watcher {
    pub fn new(
        cfg: MailboxConfig,
        store: Store,
        pipeline: Arc<Mutex<Pipeline>>,
        batch_size: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Watcher> {
        let tls = match cfg.security {
            Security::None => None,
            Security::Tls | Security::Starttls => Some(
                super::tls::connector(cfg.ca_file.as_deref())
                    .with_context(|| format!("mailbox {:?}", cfg.name))?,
            ),
        };
        let tokens = cfg.oauth2.clone().map(crate::oauth::TokenSource::new);
        let model = pipeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .model_slot();
        Ok(Watcher {
            cfg,
            store,
            pipeline,
            model,
            batch_size,
            tls,
            tokens,
            metrics,
        })
    }

    /// Runs until `shutdown` is cancelled. Never returns early on a network or server error:
    /// it logs, waits, and connects again.
    pub async fn run(self, shutdown: CancellationToken) {
        let max_backoff =
            Duration::from_secs(self.cfg.poll_interval_secs).clamp(BACKOFF_FLOOR, BACKOFF_CEILING);
        let mut backoff = BACKOFF_START;
        self.metrics.mailbox_configured(&self.cfg.name);
        loop {
            match self.session(&shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(e) => {
                    let error = crate::errors::chain(&*e).to_string();
                    self.metrics.mailbox_failed(&self.cfg.name, &error);
                    tracing::warn!(
                        mailbox = %self.cfg.name,
                        retry_in_secs = backoff.as_secs(),
                        "mailbox unavailable: {error}"
                    )
                }
            }
            tokio::select! {
                _ = sleep(backoff) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(max_backoff);
        }
    }

    /// One connection's life. `Ok` only when shutdown was asked for.
    async fn session(&self, shutdown: &CancellationToken, backoff: &mut Duration) -> Result<()> {
        let mut session = self.connect().await?;
        // Read-only (EXAMINE) unless messages are to be moved: the server itself then
        // guarantees that ingest changes nothing in the mailbox, not even \Seen.
        let open = async {
            if self.cfg.move_to.is_some() {
                session.select(&self.cfg.folder).await
            } else {
                session.examine(&self.cfg.folder).await
            }
        };
        let mailbox = timeout(NETWORK_TIMEOUT, open)
            .await
            .context("opening the folder timed out")?
            .with_context(|| format!("cannot open folder {:?}", self.cfg.folder))?;
        let uidvalidity = mailbox
            .uid_validity
            .context("the server gave no UIDVALIDITY")?;
        let mut last_uid = self.starting_point(uidvalidity, mailbox.uid_next).await?;
        let idle = self.cfg.idle
            && timeout(NETWORK_TIMEOUT, session.capabilities())
                .await
                .context("CAPABILITY timed out")??
                .has_str("IDLE");
        tracing::info!(
            mailbox = %self.cfg.name, folder = %self.cfg.folder, uidvalidity, last_uid,
            messages = mailbox.exists, push = idle, "mailbox connected"
        );
        *backoff = BACKOFF_START;
        self.metrics.mailbox_ok(&self.cfg.name);
        let mut woken = Woken::Announced;
        loop {
            // Our own check asks for UIDs only: `N:*` always answers with the newest message,
            // whose body is not worth fetching every poll interval to learn that nothing came.
            if woken == Woken::Check && !self.has_new_mail(&mut session, last_uid).await? {
                self.metrics.mailbox_ok(&self.cfg.name);
                (session, woken) = match self.wait_idle(session, shutdown).await? {
                    Some(s) => s,
                    None => return Ok(()),
                };
                continue;
            }
            let outcome = self
                .catch_up(&mut session, uidvalidity, last_uid, shutdown)
                .await?;
            self.metrics.mailbox_ok(&self.cfg.name);
            last_uid = outcome.last_uid;
            if woken == Woken::Check && outcome.fetched > 0 {
                let lag = outcome
                    .oldest_received
                    .and_then(|t| (Utc::now() - t).to_std().ok());
                tracing::info!(
                    mailbox = %self.cfg.name, messages = outcome.fetched,
                    waited_secs = lag.map(|l| l.as_secs()),
                    "the periodic check found mail that IDLE had not announced"
                );
                self.metrics
                    .mailbox_unannounced(&self.cfg.name, outcome.fetched, lag);
            }
            if shutdown.is_cancelled() {
                let _ = timeout(Duration::from_secs(2), session.logout()).await;
                return Ok(());
            }
            // Mail announced while we were fetching (an untagged EXISTS) may not have been in
            // that fetch: fetch again rather than wait for news that already came.
            if new_mail_announced(|| session.unsolicited_responses.try_recv().ok()) {
                woken = Woken::Announced;
                continue;
            }
            if idle {
                (session, woken) = match self.wait_idle(session, shutdown).await? {
                    Some(s) => s,
                    None => return Ok(()),
                };
            } else {
                tokio::select! {
                    _ = sleep(Duration::from_secs(self.cfg.poll_interval_secs)) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }

    async fn connect(&self) -> Result<ImapSession> {
        let cfg = &self.cfg;
        let tcp = timeout(
            NETWORK_TIMEOUT,
            TcpStream::connect((cfg.host.as_str(), cfg.port)),
        )
        .await
        .with_context(|| format!("connecting to {}:{} timed out", cfg.host, cfg.port))?
        .with_context(|| format!("cannot connect to {}:{}", cfg.host, cfg.port))?;
        tcp.set_nodelay(true)?;
        // Keepalive notices a peer that vanished without closing the connection.
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(60))
            .with_interval(Duration::from_secs(20));
        socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive)?;

        let stream: Box<dyn ImapStream> = match cfg.security {
            Security::None => Box::new(tcp),
            Security::Tls => Box::new(self.tls_handshake(tcp).await?),
            Security::Starttls => {
                let mut client = Client::new(tcp);
                greeting(&mut client).await?;
                timeout(
                    NETWORK_TIMEOUT,
                    client.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .context("STARTTLS timed out")?
                .context("the server refused STARTTLS (try security = \"tls\" on port 993)")?;
                Box::new(self.tls_handshake(client.into_inner()).await?)
            }
        };
        let mut client = Client::new(stream);
        if cfg.security != Security::Starttls {
            greeting(&mut client).await?;
        }
        let Some(tokens) = &self.tokens else {
            let session = timeout(NETWORK_TIMEOUT, client.login(&cfg.username, cfg.secret()))
                .await
                .context("LOGIN timed out")?
                .map_err(|(e, _)| anyhow!("login as {:?} refused: {e}", cfg.username))?;
            return Ok(session);
        };
        let token = tokens.token().await?;
        let mechanism = crate::oauth::mechanism_name(tokens.mechanism());
        let sasl = crate::oauth::Sasl::new(crate::oauth::initial_response(
            tokens.mechanism(),
            &cfg.username,
            &token,
            &cfg.host,
            cfg.port,
        ));
        let refusal = sasl.refusal.clone();
        match timeout(NETWORK_TIMEOUT, client.authenticate(mechanism, sasl)).await {
            Err(_) => bail!("AUTHENTICATE {mechanism} timed out"),
            Ok(Ok(session)) => Ok(session),
            Ok(Err((e, _))) => {
                // A token refused is not used again: the next attempt gets a new one.
                tokens.forget().await;
                let said = refusal.lock().unwrap().take().unwrap_or_default();
                bail!(
                    "AUTHENTICATE {mechanism} as {:?} refused (the access token was not accepted{}{}): {e}",
                    cfg.username,
                    if said.is_empty() { "" } else { "; the server said " },
                    said
                )
            }
        }
    }

    async fn tls_handshake(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let connector = self
            .tls
            .as_ref()
            .expect("a TLS connector exists for TLS mailboxes");
        let name = rustls::pki_types::ServerName::try_from(self.cfg.host.clone())
            .with_context(|| format!("{:?} is not a valid server name for TLS", self.cfg.host))?;
        timeout(NETWORK_TIMEOUT, connector.connect(name, tcp))
            .await
            .context("TLS handshake timed out")?
            .with_context(|| {
                format!(
                    "TLS handshake with {}:{} failed (port 993 wants security = \"tls\", 143 wants \"starttls\"; an internal CA needs ca_file)",
                    self.cfg.host, self.cfg.port
                )
            })
    }

    /// The last UID already ingested, deciding what to do on a first start or after the
    /// server renumbered the folder (UIDVALIDITY changed).
    async fn starting_point(&self, uidvalidity: u32, uid_next: Option<u32>) -> Result<u32> {
        let name = self.cfg.name.clone();
        let account = self.cfg.account();
        let start_from = self.cfg.start_from;
        self.store
            .call(move |conn| {
                let current = progress::get(conn, &name)?;
                let last_uid = match &current {
                    Some(p) if p.uidvalidity == uidvalidity && p.account == account => return Ok(p.last_uid),
                    Some(p) => {
                        tracing::warn!(
                            mailbox = %name, old_uidvalidity = p.uidvalidity, uidvalidity,
                            "the folder was renumbered or the account changed: reading it all again; \
                             messages already stored are recognised and skipped"
                        );
                        0
                    }
                    None => match start_from {
                        StartFrom::All => 0,
                        StartFrom::New => uid_next.unwrap_or(1).saturating_sub(1),
                    },
                };
                progress::set(conn, &name, &Progress { account, uidvalidity, last_uid })?;
                Ok(last_uid)
            })
            .await
    }

    /// Fetches and stores every message above `last_uid`, committing in batches while the next
    /// batch is already being fetched. Returns the last committed UID.
    pub async fn catch_up(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        last_uid: u32,
        shutdown: &CancellationToken,
    ) -> Result<PollOutcome> {
        let mut out = PollOutcome {
            fetched: 0,
            last_uid,
            oldest_received: None,
        };
        let mut pending: Option<JoinHandle<Result<u32>>> = None;
        let mut batch: Vec<Fetched> = Vec::new();
        let mut batch_bytes = 0;
        let mut moved = Vec::new();
        // A failure mid-fetch is kept until the batch already handed to the database is
        // committed: no task outlives this call.
        let mut failure: Option<anyhow::Error> = None;
        {
            let mut stream = timeout(
                NETWORK_TIMEOUT,
                session.uid_fetch(
                    format!("{}:*", last_uid + 1),
                    "(UID INTERNALDATE BODY.PEEK[])",
                ),
            )
            .await
            .context("UID FETCH timed out")??;
            loop {
                let next = tokio::select! {
                    n = timeout(NETWORK_TIMEOUT, stream.next()) => n,
                    _ = shutdown.cancelled() => break,
                };
                let fetch = match next {
                    Err(_) => {
                        failure = Some(anyhow!("the server stopped sending mid-fetch"));
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        failure = Some(anyhow::Error::from(e).context("reading a fetched message"));
                        break;
                    }
                    Ok(Some(Ok(fetch))) => fetch,
                };
                // `N:*` always includes the highest message, even when its UID is below N.
                let Some(uid) = fetch.uid.filter(|&u| u > last_uid) else {
                    continue;
                };
                let Some(body) = fetch.body() else {
                    tracing::warn!(mailbox = %self.cfg.name, uid, "message vanished before it could be read");
                    continue;
                };
                batch_bytes += body.len();
                let internal_date = fetch.internal_date().map(|d| d.with_timezone(&Utc));
                if let Some(d) = internal_date {
                    out.oldest_received = Some(out.oldest_received.map_or(d, |o| o.min(d)));
                }
                batch.push(Fetched {
                    uid,
                    internal_date,
                    raw: body.to_vec(),
                });
                if batch.len() >= self.batch_size || batch_bytes >= MAX_BATCH_BYTES {
                    if let Some(p) = pending.take() {
                        out.last_uid = p.await??;
                    }
                    out.fetched += batch.len();
                    moved.extend(batch.iter().map(|f| f.uid));
                    pending = Some(self.commit(std::mem::take(&mut batch), uidvalidity));
                    batch_bytes = 0;
                }
            }
        }
        if let Some(p) = pending.take() {
            out.last_uid = p.await??;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if !batch.is_empty() && !shutdown.is_cancelled() {
            out.fetched += batch.len();
            moved.extend(batch.iter().map(|f| f.uid));
            out.last_uid = self.commit(batch, uidvalidity).await??;
        }
        if let (Some(folder), false) = (&self.cfg.move_to, moved.is_empty()) {
            self.move_committed(session, &moved, folder).await;
        }
        Ok(out)
    }

    /// Parses (on the blocking pool) and stores (on the database thread) one batch, with the
    /// progress that covers it. Returns the batch's highest UID once committed.
    fn commit(&self, batch: Vec<Fetched>, uidvalidity: u32) -> JoinHandle<Result<u32>> {
        let store = self.store.clone();
        let pipeline = self.pipeline.clone();
        let mailbox = self.cfg.name.clone();
        let account = self.cfg.account();
        let pec_box = self.cfg.pec_box();
        let metrics = self.metrics.clone();
        let model = self.model.peek();
        tokio::spawn(async move {
            let last_uid = batch.iter().map(|f| f.uid).max().unwrap_or_default();
            let label = mailbox.clone();
            let items = tokio::task::spawn_blocking(move || {
                let one = |f: Fetched| {
                    let origin = Origin::imap(&label, uidvalidity, f.uid, f.internal_date);
                    let prepared = prepare_with_model(f.raw, pec_box.as_ref(), model.as_deref());
                    (prepared, origin)
                };
                prepare_in_parallel(batch, one)
            })
            .await?;
            let outcomes = store
                .call(move |conn| {
                    let progress = Progress {
                        account,
                        uidvalidity,
                        last_uid,
                    };
                    // A batch that panicked was rolled back with its transaction; the pipeline
                    // holds only settings and compiled rules, whole either way: go on with it.
                    let mut pipeline = pipeline.lock().unwrap_or_else(PoisonError::into_inner);
                    let outcomes =
                        pipeline.store_batch(conn, &items, Some((&mailbox, &progress)))?;
                    Ok((outcomes, pipeline.take_writer_times()))
                })
                .await?;
            let (outcomes, writer_times) = outcomes;
            metrics.ingested(Outcome::counts(&outcomes));
            metrics.writer_times(&writer_times);
            let quarantined = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Quarantined { .. }))
                .count();
            tracing::debug!(
                messages = outcomes.len(),
                quarantined,
                last_uid,
                "batch committed"
            );
            Ok(last_uid)
        })
    }

    /// Moves committed messages out of the watched folder. Failure only costs tidiness: the
    /// messages stay and are never ingested twice.
    async fn move_committed(&self, session: &mut ImapSession, uids: &[u32], folder: &str) {
        for chunk in uids.chunks(500) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            match timeout(NETWORK_TIMEOUT, session.uid_mv(&set, folder)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(mailbox = %self.cfg.name, %folder, "could not move ingested messages: {e}");
                    return;
                }
                Err(_) => {
                    tracing::warn!(mailbox = %self.cfg.name, %folder, "moving ingested messages timed out");
                    return;
                }
            }
        }
    }

    /// Whether the folder holds a message past `last_uid` (asking for UIDs only).
    async fn has_new_mail(&self, session: &mut ImapSession, last_uid: u32) -> Result<bool> {
        // NOOP first: a server shows a session new messages only when it syncs its view of the
        // folder, which NOOP asks for (RFC 3501 6.1.2) and a FETCH need not do — Dovecot, whose
        // IDLE falls back to a 30 s poll without inotify, would otherwise never show them.
        timeout(NETWORK_TIMEOUT, session.noop())
            .await
            .context("NOOP timed out")??;
        let mut found = false;
        let mut stream = timeout(
            NETWORK_TIMEOUT,
            session.uid_fetch(format!("{}:*", last_uid + 1), "(UID)"),
        )
        .await
        .context("UID FETCH timed out")??;
        while let Some(fetch) = timeout(NETWORK_TIMEOUT, stream.next())
            .await
            .context("the server stopped answering a UID FETCH")?
        {
            found |= fetch?.uid.is_some_and(|u| u > last_uid);
        }
        Ok(found)
    }

    /// Waits in IDLE for news, our own periodic check, or shutdown. `None` means shutdown.
    async fn wait_idle(
        &self,
        session: ImapSession,
        shutdown: &CancellationToken,
    ) -> Result<Option<(ImapSession, Woken)>> {
        let check_every = Duration::from_secs(self.cfg.poll_interval_secs).min(IDLE_REFRESH);
        // Untagged responses that arrive while IDLE starts go to this channel, not to `wait`.
        let unsolicited = session.unsolicited_responses.clone();
        let mut handle = session.idle();
        timeout(NETWORK_TIMEOUT, handle.init())
            .await
            .context("IDLE timed out")??;
        let result = if new_mail_announced(|| unsolicited.try_recv().ok()) {
            Some((Ok(IdleResponse::Timeout), Woken::Announced))
        } else {
            let (wait, _stop) = handle.wait_with_timeout(check_every);
            tokio::select! {
                r = wait => Some(match r {
                    // async-imap's own timer: the same moment as ours.
                    Ok(IdleResponse::Timeout) => (r, Woken::Check),
                    r => (r, Woken::Announced),
                }),
                _ = unsolicited.recv() => Some((Ok(IdleResponse::Timeout), Woken::Announced)),
                _ = sleep(check_every) => Some((Ok(IdleResponse::Timeout), Woken::Check)),
                _ = shutdown.cancelled() => None,
            }
        };
        match result {
            None => Ok(None),
            Some((r, woken)) => {
                r.context("connection lost while waiting for mail")?;
                let session = timeout(NETWORK_TIMEOUT, handle.done())
                    .await
                    .context("ending IDLE timed out")??;
                Ok(Some((session, woken)))
            }
        }
    }
}

/// Drains the unsolicited responses; whether any announced new mail (EXISTS or RECENT).
fn new_mail_announced(mut next: impl FnMut() -> Option<UnsolicitedResponse>) -> bool {
    let mut announced = false;
    while let Some(response) = next() {
        announced |= matches!(
            response,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        );
    }
    announced
}

struct Fetched {
    uid: u32,
    internal_date: Option<chrono::DateTime<Utc>>,
    raw: Vec<u8>,
}

async fn greeting<T: ImapStream>(client: &mut Client<T>) -> Result<()> {
    match timeout(NETWORK_TIMEOUT, client.read_response())
        .await
        .context("no greeting from the server")??
    {
        Some(_) => Ok(()),
        None => bail!("the server closed the connection before greeting"),
    }
}
