//! The backoffice: server-rendered HTML (axum + maud), no JavaScript, Italian UI.
//!
//! Every request passes [`guard`]: it finds the session, and for a POST checks the Origin and
//! the form's CSRF token before any handler runs. Handlers state who may call them by the type
//! of their extractor ([`auth::AnyUser`], [`auth::Staff`], [`auth::AdminUser`]); a handler
//! without one is public, and only the sign-in page and the static files are.
//!
//! Writes go through [`Store::call`] (the one writer thread, the workflow functions); reads
//! run on a small pool of read-only connections ([`Readers`]), which WAL lets run beside the
//! writer.

mod admin;
pub mod auth;
mod charts;
pub mod citizen;
pub mod downloads;
mod feedback;
pub mod multipart;
mod ops;
pub mod public;
mod quality;
pub mod stats;
mod tickets;
mod ui;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::Pipeline;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::Store;
use crate::workflow::WorkflowError;

/// Forms larger than this are refused (an answer of a few pages is far below it).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub readers: Arc<Readers>,
    pub notifier: Arc<Notifier>,
    pub pipeline: Arc<Mutex<Pipeline>>,
    /// The learned model in use (the same slot as the pipeline's): the ticket page explains
    /// its suggestions with it.
    pub model: Arc<crate::learned::ModelSlot>,
    pub settings: Arc<Settings>,
    pub throttle: Arc<auth::Throttle>,
    pub stats_cache: Arc<stats::Cache>,
    /// Bounds the memory that downloads of mail and attachments hold together.
    pub downloads: Arc<downloads::Downloads>,
    /// The daemon's counters, shared with the watchers and the outbox worker: requests and
    /// sign-ins are counted here, `/metrics` and `/healthz` read them.
    pub metrics: Arc<Metrics>,
    /// Requests to citizens' pages per address (issue 15): links are guessed nowhere fast.
    pub citizen_limits: Arc<citizen::Limits>,
    /// The public form's token key and limits (`[public]`; issue 15).
    pub public: Arc<public::Gate>,
}

impl App {
    /// The backoffice's state over `store`, with the daemon's `notifier`, ingest `pipeline`
    /// (the quarantine's "try again" runs it) and `metrics`.
    pub fn new(
        config: &Config,
        store: Store,
        notifier: Arc<Notifier>,
        pipeline: Arc<Mutex<Pipeline>>,
        metrics: Arc<Metrics>,
    ) -> App {
        let model = pipeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .model_slot();
        App {
            readers: Arc::new(Readers::new(store.path().to_path_buf())),
            store,
            notifier,
            pipeline,
            model,
            settings: Arc::new(Settings::from_config(config)),
            throttle: Arc::new(auth::Throttle::new(auth::password_check_slots())),
            stats_cache: Arc::new(stats::Cache::default()),
            downloads: Arc::new(downloads::Downloads::default()),
            metrics,
            citizen_limits: Arc::new(citizen::Limits::default()),
            public: Arc::new(public::Gate::new(config.public.clone())),
        }
    }
}

/// The web settings, derived from the config once.
#[derive(Debug)]
pub struct Settings {
    /// `scheme://host[:port]` of `base_url`: the only origin forms are accepted from.
    pub origin: String,
    pub secure_cookies: bool,
    pub idle: chrono::Duration,
    pub max_age: chrono::Duration,
    pub office_name: String,
    pub number_prefix: String,
    /// The configured mailboxes, for `/healthz`.
    pub mailboxes: Vec<String>,
    /// A mailbox failing this long makes `/healthz` unhealthy.
    pub mailbox_grace: chrono::Duration,
    /// Peers whose `X-Forwarded-For` is believed (`[web] trusted_proxies`).
    pub trusted_proxies: Vec<crate::config::IpNet>,
    /// Whether viewers read tickets' contents (`[web] viewer_sees_content`).
    pub viewer_sees_content: bool,
    /// With `[replication]`: a replica not confirmed up to date for this long is unhealthy.
    pub replication_max_lag: Option<chrono::Duration>,
    /// `[istruttoria]`: the request form's default due date.
    pub istruttoria: crate::istruttoria::Settings,
    /// `[tickets] deadline_days`: complaints recorded by hand count their deadline too.
    pub deadline_days: u32,
    /// `[notify] letterhead` (else the office's name): answers printed as letters.
    pub letterhead: String,
    /// `[workflow]`: the extensions the deadline form offers and accepts, the review bodies.
    pub workflow: crate::config::WorkflowConfig,
    /// Issue 20: `[public] transparency` and its small-count threshold.
    pub quality: QualitySettings,
}

/// Issue 20's web settings.
#[derive(Debug, Default)]
pub struct QualitySettings {
    /// `/trasparenza/<anno>` without signing in.
    pub transparency_public: bool,
    pub transparency_min_count: u32,
    /// `[quality] risk_office`: the ticket page offers to mail it when flagging.
    pub risk_office: Option<String>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        let base = c.web.base_url.trim_end_matches('/');
        let origin = match base.find("://") {
            Some(i) => match base[i + 3..].find('/') {
                Some(j) => base[..i + 3 + j].to_string(),
                None => base.to_string(),
            },
            None => base.to_string(),
        };
        Settings {
            secure_cookies: origin.starts_with("https://"),
            origin: origin.to_ascii_lowercase(),
            idle: chrono::Duration::minutes(i64::from(c.web.session_idle_minutes)),
            max_age: chrono::Duration::hours(i64::from(c.web.session_max_hours)),
            office_name: c.notify.office_name.clone(),
            number_prefix: c.tickets.number_prefix.clone(),
            mailboxes: c.mailboxes.iter().map(|m| m.name.clone()).collect(),
            mailbox_grace: chrono::Duration::seconds(i64::from(c.web.health_mailbox_grace_secs)),
            trusted_proxies: c.web.trusted_proxies.clone(),
            viewer_sees_content: c.web.viewer_sees_content,
            replication_max_lag: c
                .replication
                .enabled()
                .then(|| chrono::Duration::seconds(i64::from(c.replication.max_lag_secs))),
            istruttoria: crate::istruttoria::Settings::from_config(c),
            deadline_days: c.tickets.deadline_days,
            letterhead: match c.notify.letterhead.trim() {
                "" => c.notify.office_name.clone(),
                l => l.to_string(),
            },
            workflow: c.workflow.clone(),
            quality: QualitySettings {
                transparency_public: c.public.transparency,
                transparency_min_count: c.public.transparency_min_count,
                risk_office: c.quality.risk_office.clone(),
            },
        }
    }
}

/// Read-only connections for the pages' queries, reused across requests.
///
/// At most [`MAX_READS`] reads run at once, so there are never more connections than that:
/// each holds its own page cache and a blocking thread, and 200 parallel sign-ins (each reads
/// the account first) used to open 200 connections and keep them all (issue 11, finding 5).
///
/// The pool's lock is held only to pop or push one connection, never while a query runs, so
/// a read that panics cannot leave the list half-changed: a poisoned lock is taken as it is.
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// Reads at once (and connections kept): pages make a few short reads each; a statistics
/// report that takes a while to count holds one slot and leaves the others to the pages.
const MAX_READS: usize = 8;

impl Readers {
    pub fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_READS)),
        }
    }

    /// Runs `f` on a read-only connection on the blocking pool. A read that meets SQLite's
    /// rare immediate SQLITE_BUSY of WAL mode (a reader arriving while the WAL is being reset
    /// or recovered, where no busy handler is called) is run again.
    pub async fn read<F, R>(self: &Arc<Self>, f: F) -> Result<R>
    where
        F: Fn(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let this = self.clone();
        // Held by the read itself, so that a request that goes away does not free the slot
        // while its read still runs.
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .context("the database readers were closed")?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut attempt = 0;
            loop {
                let conn = this
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop();
                let out = match conn {
                    Some(c) => Ok(c),
                    None => crate::store::open_read_only(&this.path),
                }
                .and_then(|conn| {
                    let out = f(&conn);
                    this.idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(conn);
                    out
                });
                match out {
                    Err(e) if attempt < 5 && is_busy(&e) => {
                        attempt += 1;
                        tracing::debug!(attempt, "database busy for a read; again");
                        std::thread::sleep(std::time::Duration::from_millis(10 * attempt));
                    }
                    other => return other,
                }
            }
        })
        .await
        .context("a database read panicked")?
    }
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DatabaseBusy
        )
    })
}

/// A failed request, as the person sees it.
#[derive(Debug)]
pub enum WebError {
    NotFound,
    Forbidden,
    /// The request cannot be carried out; the message is shown (Italian).
    Refused(String),
    /// Not now: the server is busy with others' requests; the message says to try again.
    Busy(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        WebError::Internal(e)
    }
}

impl From<WorkflowError> for WebError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::NotFound => WebError::NotFound,
            WorkflowError::Forbidden { .. } => WebError::Forbidden,
            WorkflowError::Other(e) => WebError::Internal(e),
            other => WebError::Refused(crate::texts::workflow_error(&other)),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            WebError::NotFound => (StatusCode::NOT_FOUND, "Pagina non trovata.".to_string()),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Il tuo ruolo non consente questa operazione.".to_string(),
            ),
            WebError::Refused(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            WebError::Busy(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            WebError::Internal(e) => {
                tracing::error!("backoffice request failed: {}", crate::errors::chain(&*e));
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Si è verificato un errore interno: l'operazione non è stata eseguita. \
                     Riprova; se l'errore si ripete, avvisa l'amministratore di sistema."
                        .to_string(),
                )
            }
        };
        (status, ui::message_page(status, &message)).into_response()
    }
}

pub type WebResult<T> = std::result::Result<T, WebError>;

/// The parts of a URL's path, parsed into their types (a ticket number, an id): a path whose
/// parts do not parse names a page that does not exist (404), like one that names nothing.
pub struct UrlPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for UrlPath<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| UrlPath(v))
            .map_err(|_| WebError::NotFound)
    }
}

/// The last page any list goes to: far past any real list, and `page × page size` stays a
/// small number (`pagina=18446744073709551615` answered 500: issue 11, finding 13).
const MAX_PAGE: usize = 10_000;

/// A page number from a query string: 1 when missing or unreadable, at most [`MAX_PAGE`].
fn page_number(text: &str) -> usize {
    text.trim().parse::<usize>().unwrap_or(1).clamp(1, MAX_PAGE)
}

/// A checkbox or flag from a form or a query string: ticked when "1", "on" or "true".
fn form_flag(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "on" | "true"))
}

/// An optional id chosen in a select: empty is none, anything but a number is refused.
fn form_id(v: &str) -> WebResult<Option<i64>> {
    match v.trim() {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| WebError::Refused("Valore non valido.".into())),
    }
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(tickets::dashboard))
        .route("/accedi", get(auth::login_page).post(auth::login))
        .route("/esci", post(auth::logout))
        .route("/reclami", get(tickets::list))
        .route(
            "/reclami/nuovo",
            get(tickets::new_complaint).post(tickets::record_complaint),
        )
        .route("/reclami/{number}", get(tickets::show))
        .route("/reclami/{number}/stampa", get(tickets::print_answer))
        .route("/reclami/{number}/risposta", post(tickets::answer))
        .route(
            "/reclami/{number}/risposta/allegati",
            post(tickets::answer_with_files),
        )
        .route(
            "/reclami/{number}/risposte/allegati/{id}",
            get(tickets::answer_file),
        )
        .route(
            "/reclami/{number}/risposta/modello",
            get(tickets::answer_with_model),
        )
        .route("/reclami/{number}/nota", post(tickets::note))
        .route("/reclami/{number}/classificazione", post(tickets::classify))
        .route("/reclami/{number}/conferma", post(tickets::confirm))
        .route("/reclami/{number}/chiusura", post(tickets::close))
        .route("/reclami/{number}/unione", post(tickets::merge))
        .route("/reclami/{number}/riesame", post(tickets::review_open))
        .route(
            "/reclami/{number}/bozze/{id}/approva",
            post(tickets::draft_approve),
        )
        .route(
            "/reclami/{number}/bozze/{id}/restituisci",
            post(tickets::draft_return),
        )
        .route(
            "/reclami/{number}/riesame/esito",
            post(tickets::review_close),
        )
        .route(
            "/reclami/{number}/termine/sospensione",
            post(tickets::deadline_suspend),
        )
        .route(
            "/reclami/{number}/termine/ripresa",
            post(tickets::deadline_resume),
        )
        .route(
            "/reclami/{number}/termine/proroga",
            post(tickets::deadline_extend),
        )
        .route("/reclami/{number}/relazioni", post(tickets::send_request))
        .route(
            "/reclami/{number}/relazioni/nuova",
            get(tickets::new_request),
        )
        .route(
            "/reclami/{number}/relazioni/{id}/letta",
            post(tickets::report_read),
        )
        .route(
            "/reclami/{number}/messaggi/{id}/originale",
            get(tickets::original),
        )
        .route("/reclami/{number}/allegati/{id}", get(tickets::attachment))
        .route("/segnala", get(public::page).post(public::submit))
        .route("/pratica/{link}", get(citizen::page))
        .route("/pratica/{link}/messaggio", post(citizen::message))
        .route("/pratica/{link}/soddisfatto", post(citizen::satisfied))
        .route(
            "/pratica/{link}/non-soddisfatto",
            post(citizen::unsatisfied),
        )
        .route("/statistiche", get(stats::page))
        .route("/statistiche.csv", get(stats::csv))
        .route("/statistiche/relazione", get(stats::annual))
        // Issue 20: analysis, clinical risk, improvement actions, transparency.
        .route("/reclami/{number}/analisi", post(tickets::analyse))
        .route("/reclami/{number}/rischio", post(tickets::risk_ref_add))
        .route(
            "/reclami/{number}/rischio/{id}/rimuovi",
            post(tickets::risk_ref_remove),
        )
        .route("/rischio-clinico", get(quality::risk))
        .route("/azioni", get(quality::actions).post(quality::action_add))
        .route(
            "/azioni/{id}",
            get(quality::action).post(quality::action_update),
        )
        .route("/trasparenza/{year}", get(quality::transparency))
        .route("/trasparenza/{year}/csv", get(quality::transparency_csv))
        .route("/statistiche/confronto", get(quality::compare))
        .route("/amministrazione/qualita", get(quality::admin))
        .route(
            "/amministrazione/qualita/componenti",
            post(quality::component_add),
        )
        .route(
            "/amministrazione/qualita/componenti/{id}",
            post(quality::component_update),
        )
        .route(
            "/amministrazione/qualita/fragilita",
            post(quality::fragility_add),
        )
        .route(
            "/amministrazione/qualita/fragilita/{id}",
            post(quality::fragility_update),
        )
        .route(
            "/amministrazione/qualita/codici/{id}",
            post(quality::regional_code),
        )
        .route(
            "/amministrazione/qualita/rischio/{id}",
            post(quality::risk_right),
        )
        .route("/amministrazione", get(admin::index))
        .route(
            "/amministrazione/utenti",
            get(admin::users).post(admin::user_add),
        )
        .route("/amministrazione/utenti/{id}", post(admin::user_update))
        .route(
            "/amministrazione/utenti/{id}/password",
            post(admin::user_password),
        )
        .route(
            "/amministrazione/servizi",
            get(admin::services).post(admin::service_add),
        )
        .route("/amministrazione/servizi/{id}", post(admin::service_update))
        .route(
            "/amministrazione/referenti",
            get(admin::referenti).post(admin::referente_add),
        )
        .route(
            "/amministrazione/referenti/{id}",
            post(admin::referente_update),
        )
        .route(
            "/amministrazione/categorie",
            get(admin::categories).post(admin::category_add),
        )
        .route(
            "/amministrazione/categorie/{id}",
            post(admin::category_update),
        )
        .route(
            "/amministrazione/regole",
            get(admin::rules).post(admin::rule_add),
        )
        .route("/amministrazione/regole/{id}", post(admin::rule_update))
        .route(
            "/amministrazione/regole/{id}/sposta",
            post(admin::rule_move),
        )
        .route(
            "/amministrazione/modelli",
            get(admin::answer_models).post(admin::answer_model_add),
        )
        .route(
            "/amministrazione/modelli/{id}",
            post(admin::answer_model_update),
        )
        .route("/amministrazione/riepiloghi", get(admin::digests))
        .route(
            "/amministrazione/riepiloghi/{id}",
            post(admin::digest_update),
        )
        .route(
            "/amministrazione/riepiloghi/{id}/approvatore",
            post(admin::approver_update),
        )
        .route("/amministrazione/classificatore", get(admin::classifier))
        .route("/amministrazione/quarantena", get(admin::quarantine))
        .route(
            "/amministrazione/quarantena/{id}/originale",
            get(admin::quarantine_raw),
        )
        .route(
            "/amministrazione/quarantena/{id}/riprova",
            post(admin::quarantine_retry),
        )
        .route(
            "/amministrazione/quarantena/{id}/scarta",
            post(admin::quarantine_discard),
        )
        .route("/amministrazione/posta", get(admin::outbox))
        .route(
            "/amministrazione/posta/{id}/riprova",
            post(admin::outbox_retry),
        )
        .route("/amministrazione/registro", get(admin::audit))
        .route("/static/ascolto.css", get(stylesheet))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { WebError::NotFound })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(middleware::from_fn_with_state(
            app.metrics.clone(),
            ops::track,
        ))
        .with_state(app)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("ascolto.css"),
    )
        .into_response()
}

/// Headers every response carries: no scripts at all, no framing, no sniffing, no caching of
/// pages that hold health data.
const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

fn secure_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// Finds the session; refuses a POST from another origin or without its form's CSRF token.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let session = match auth::session_of(&app, req.headers()).await {
        Ok(s) => s,
        Err(e) => return WebError::Internal(e).into_response(),
    };
    let mut req = req;
    if req.method() == Method::POST {
        if !auth::origin_allowed(&app.settings, req.headers()) {
            // A citizen's page's path holds its link: never logged (issue 15).
            let path = crate::citizen_link::redact(req.uri().path());
            tracing::warn!(%path, "POST refused: foreign or missing Origin");
            return refused_form();
        }
        let (parts, body) = req.into_parts();
        // Forms with files may be larger: the complaint forms (issue 15) up to their own
        // limit, the answer with its files (issue 19) up to the files' limit and the text's.
        let path = parts.uri.path();
        let limit = if multipart::UPLOAD_PATHS.contains(&path) {
            multipart::MAX_UPLOAD_BYTES
        } else if multipart::is_answer_with_files(path) {
            MAX_FORM_BYTES
                .saturating_add(
                    usize::try_from(app.settings.workflow.attachment_max_bytes)
                        .unwrap_or(usize::MAX),
                )
                .saturating_add(64 * 1024)
        } else {
            MAX_FORM_BYTES
        };
        let Ok(bytes) = to_bytes(body, limit).await else {
            return closes_connection(
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ui::message_page(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Il testo inviato è troppo lungo.",
                    ),
                )
                    .into_response(),
            );
        };
        // The form's fields, whichever the encoding: the CSRF token, and an answer to keep
        // when its session has ended.
        let fields = if multipart::is_multipart(&parts.headers) {
            multipart::parse(&parts.headers, &bytes)
                .map(|(fields, _)| fields)
                .unwrap_or_default()
        } else {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes).unwrap_or_default()
        };
        let sent = fields
            .iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.clone());
        let expected = if parts.uri.path() == "/accedi" {
            auth::login_csrf_cookie(&parts.headers)
        } else if parts.uri.path().starts_with("/pratica/") {
            // A citizen's page has no session: its forms' token comes from its link.
            citizen::csrf_of_path(parts.uri.path())
        } else {
            session.as_ref().map(|s| s.csrf.clone())
        };
        // The public form has no session: its own signed token is checked by `public::submit`,
        // after the Origin above.
        let ok = parts.uri.path() == "/segnala"
            || matches!((&sent, &expected), (Some(s), Some(e)) if auth::constant_time_eq(s, e));
        if !ok && session.is_none() {
            // An answer that arrives after its session ended is kept, not lost (issue 18).
            let kept = auth::keep_answer(&app, &parts.headers, parts.uri.path(), &fields).await;
            if let Some(mut resp) = kept {
                secure_headers(&mut resp);
                return resp;
            }
        }
        if !ok {
            let path = crate::citizen_link::redact(parts.uri.path());
            tracing::warn!(%path, "POST refused: missing or wrong CSRF token");
            return refused_form();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(auth::Current(session));
    let mut resp = next.run(req).await;
    secure_headers(&mut resp);
    resp
}

fn refused_form() -> Response {
    let mut resp = (
        StatusCode::FORBIDDEN,
        ui::message_page(
            StatusCode::FORBIDDEN,
            "Il modulo è scaduto o non proviene da questo sito: ricarica la pagina e riprova.",
        ),
    )
        .into_response();
    secure_headers(&mut resp);
    closes_connection(resp)
}

/// A form refused before its body was read leaves that body in the connection, which the
/// server then closes: say so, so that the browser does not send its next request there.
fn closes_connection(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Serves the backoffice on `listener` until `shutdown`; in-flight requests finish.
pub fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .into_future()
}
