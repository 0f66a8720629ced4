//! For the IT department's monitoring: `/healthz` and `/metrics`, and the middleware that counts
//! every request. Neither page needs a session (monitoring has none) and neither shows personal
//! data; the reverse proxy should not pass them to the hospital's network (see README).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;

use super::App;
use crate::domain::OutboxState;
use crate::metrics::{self, Metrics};

/// How long the database gets to answer a health check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Counts the request by route pattern (never the path itself: ticket numbers stay out of the
/// labels; a path no route matches is "unmatched"), method (known ones by name, any other as
/// "OTHER") and status, with its duration. See [`metrics::Metrics::request`].
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.request(
        route.as_ref().map(MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    mailboxes: Vec<MailboxHealth>,
    /// "failing" when no OAuth2 token for SMTP submission could be had for the grace time.
    smtp_sign_in: &'static str,
    /// With `[replication]`: how far behind Litestream's replica may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    replication: Option<ReplicationHealth>,
}

/// How Litestream's replica is keeping up, as `/healthz` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum ReplicationState {
    Ok,
    /// Not confirmed yet, within `max_lag_secs`.
    Starting,
    /// Not confirmed for longer than `max_lag_secs`: unhealthy.
    Lagging,
}

#[derive(Serialize)]
struct ReplicationHealth {
    state: ReplicationState,
    /// Seconds since the replica was last confirmed to hold every transaction: at most this
    /// much would be lost with the server.
    lag_secs: i64,
    max_lag_secs: i64,
    last_confirmed: Option<String>,
    replicated_txid: Option<u64>,
    error: Option<String>,
}

#[derive(Serialize)]
struct MailboxHealth {
    name: String,
    state: MailboxState,
    last_success: Option<String>,
    failing_for_secs: Option<i64>,
}

/// How a mailbox's server has been answering, as `/healthz` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum MailboxState {
    Ok,
    /// Not connected yet.
    Starting,
    /// Failing, within the grace time.
    Retrying,
    /// Failing for longer than the grace time: unhealthy.
    Failing,
}

/// 200 when the database answers (both the readers and the writer thread), every mailbox's
/// server answered recently enough and (with `[smtp.oauth2]`) a token for sending could be had;
/// 503 otherwise, with what is wrong.
pub async fn healthz(State(app): State<App>) -> Response {
    let readers = tokio::time::timeout(DATABASE_TIMEOUT, app.readers.read(crate::store::ping));
    let writer = tokio::time::timeout(DATABASE_TIMEOUT, app.store.call(|_| Ok(())));
    let (readers, writer) = tokio::join!(readers, writer);
    let database_ok = matches!(readers, Ok(Ok(()))) && matches!(writer, Ok(Ok(())));

    let now = Utc::now();
    let known = app.metrics.mailboxes();
    let mailboxes: Vec<MailboxHealth> = app
        .settings
        .mailboxes
        .iter()
        .map(|name| {
            let m = known.get(name).cloned().unwrap_or_default();
            let failing_for = m.failing_since.map(|t| (now - t).num_seconds());
            let state = match failing_for {
                _ if m.is_up() => MailboxState::Ok,
                Some(s) if s >= app.settings.mailbox_grace.num_seconds() => MailboxState::Failing,
                Some(_) => MailboxState::Retrying,
                None => MailboxState::Starting,
            };
            MailboxHealth {
                name: name.clone(),
                state,
                last_success: m.last_success.map(crate::store::time_text),
                failing_for_secs: failing_for,
            }
        })
        .collect();
    let smtp_failing = app
        .metrics
        .smtp_token_failing_since()
        .is_some_and(|t| (now - t) >= app.settings.mailbox_grace);
    let replication = replication_health(&app, now);
    let healthy = database_ok
        && !smtp_failing
        && mailboxes.iter().all(|m| m.state != MailboxState::Failing)
        && replication
            .as_ref()
            .is_none_or(|r| r.state != ReplicationState::Lagging);
    if !healthy {
        tracing::warn!(database_ok, "health check failing");
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if healthy { "ok" } else { "unhealthy" },
        database: if database_ok { "ok" } else { "unavailable" },
        mailboxes,
        smtp_sign_in: if smtp_failing { "failing" } else { "ok" },
        replication,
    };
    let json = serde_json::to_string_pretty(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}

fn replication_health(app: &App, now: chrono::DateTime<Utc>) -> Option<ReplicationHealth> {
    let max_lag = app.settings.replication_max_lag?;
    // Before the watcher's first probe: counted from now, so not lagging yet.
    let r = app.metrics.replication();
    let lag = r.as_ref().map_or(chrono::Duration::zero(), |r| r.lag(now));
    let state = match &r {
        _ if lag > max_lag => ReplicationState::Lagging,
        Some(r) if r.last_confirmed.is_some() => ReplicationState::Ok,
        _ => ReplicationState::Starting,
    };
    Some(ReplicationHealth {
        state,
        lag_secs: lag.num_seconds(),
        max_lag_secs: max_lag.num_seconds(),
        last_confirmed: r
            .as_ref()
            .and_then(|r| r.last_confirmed)
            .map(crate::store::time_text),
        replicated_txid: r.as_ref().and_then(|r| r.replicated_txid),
        error: r.and_then(|r| r.last_error),
    })
}

/// `ascolto_replication_*`, when `[replication]` is on.
fn render_replication(app: &App, out: &mut String) {
    let Some(r) = app.metrics.replication() else {
        return;
    };
    let now = Utc::now();
    out.push_str(&format!(
        "# HELP ascolto_replication_lag_seconds Seconds since Litestream's replica was last confirmed to hold every transaction.\n\
         # TYPE ascolto_replication_lag_seconds gauge\nascolto_replication_lag_seconds {:.3}\n",
        r.lag(now).num_milliseconds() as f64 / 1000.0
    ));
    if let Some(t) = r.last_confirmed {
        out.push_str(&format!(
            "# HELP ascolto_replication_last_confirmed_timestamp_seconds When the replica was last confirmed up to date.\n\
             # TYPE ascolto_replication_last_confirmed_timestamp_seconds gauge\nascolto_replication_last_confirmed_timestamp_seconds {}\n",
            t.timestamp()
        ));
    }
    out.push_str(&format!(
        "# HELP ascolto_replication_up 1 when the last probe of Litestream found the replica up to date.\n\
         # TYPE ascolto_replication_up gauge\nascolto_replication_up {}\n\
         # HELP ascolto_replication_probes_failed_total Probes of Litestream that failed or found the replica behind.\n\
         # TYPE ascolto_replication_probes_failed_total counter\nascolto_replication_probes_failed_total {}\n",
        u8::from(r.last_error.is_none() && r.last_confirmed.is_some()),
        r.probes_failed
    ));
}

/// The process's counters, and gauges read from the database at scrape time.
pub async fn metrics(State(app): State<App>) -> Response {
    let mut out = String::new();
    app.metrics.render(&mut out);
    render_replication(&app, &mut out);
    let counts = app
        .readers
        .read(|c| {
            Ok((
                crate::store::backoffice::tickets_by_state(c)?,
                crate::store::admin::pending_work(c)?,
            ))
        })
        .await;
    match counts {
        Ok((by_state, work)) => {
            out.push_str(
                "# HELP ascolto_tickets Tickets by state.\n# TYPE ascolto_tickets gauge\n",
            );
            for (state, n) in by_state {
                out.push_str(&format!(
                    "ascolto_tickets{{state=\"{}\"}} {n}\n",
                    metrics::label(state.as_str())
                ));
            }
            out.push_str("# HELP ascolto_notifications Notifications waiting to be sent (pending) or given up (failed).\n# TYPE ascolto_notifications gauge\n");
            for (state, n) in [
                (OutboxState::Pending, work.pending),
                (OutboxState::Failed, work.failed),
            ] {
                out.push_str(&format!("ascolto_notifications{{state=\"{state}\"}} {n}\n"));
            }
            out.push_str(&format!("# HELP ascolto_quarantine_open Quarantined messages nobody has dealt with.\n# TYPE ascolto_quarantine_open gauge\nascolto_quarantine_open {}\n", work.quarantined));
            out.push_str("# HELP ascolto_database_up 1 when the database answered this scrape.\n# TYPE ascolto_database_up gauge\nascolto_database_up 1\n");
        }
        Err(e) => {
            tracing::warn!(
                "metrics: the database did not answer: {}",
                crate::errors::chain(&*e)
            );
            out.push_str("# HELP ascolto_database_up 1 when the database answered this scrape.\n# TYPE ascolto_database_up gauge\nascolto_database_up 0\n");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
