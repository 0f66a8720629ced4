//! The attachments and original messages of a ticket, as downloads: audited, under the
//! downloads' memory budget ([`crate::web::downloads`]), refused to viewers without contents.

use axum::extract::State as AppState;
use axum::response::Response;
use serde_json::json;

use super::ticket_id;
use crate::domain::{AuditAction, TicketNumber};
use crate::store::audit;
use crate::store::backoffice as q;
use crate::web::auth::{ContentReader, Session};
use crate::web::{downloads, App, UrlPath, WebError, WebResult};

async fn audit_download(
    app: &App,
    s: &Session,
    ticket: i64,
    what: AuditAction,
    id: i64,
) -> WebResult<()> {
    let actor = s.actor.audit();
    app.store
        .call(move |conn| audit::record(conn, actor, what, Some(ticket), json!({ "id": id })))
        .await?;
    Ok(())
}

pub async fn original(
    AppState(app): AppState<App>,
    ContentReader(s): ContentReader,
    UrlPath((number, message)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let ticket = ticket_id(&app, &number).await?;
    let size = app
        .readers
        .read(move |conn| q::raw_size_of_message(conn, ticket, message))
        .await?
        .ok_or(WebError::NotFound)?;
    // SQLite's copy and ours while it is read; ours alone while it is sent.
    let mut share = app.downloads.admit(size.saturating_mul(2)).await?;
    let raw = app
        .readers
        .read(move |conn| q::raw_of_message(conn, ticket, message))
        .await?
        .ok_or(WebError::NotFound)?;
    share.shrink_to(raw.len());
    audit_download(
        &app,
        &s,
        ticket,
        AuditAction::TicketOriginalDownloaded,
        message,
    )
    .await?;
    Ok(downloads::response(
        &format!("{number}-{message}.eml"),
        raw,
        Some(share),
    ))
}

pub async fn attachment(
    AppState(app): AppState<App>,
    ContentReader(s): ContentReader,
    UrlPath((number, attachment)): UrlPath<(TicketNumber, i64)>,
) -> WebResult<Response> {
    let ticket = ticket_id(&app, &number).await?;
    let size = app
        .readers
        .read(move |conn| q::raw_size_of_attachment(conn, ticket, attachment))
        .await?
        .ok_or(WebError::NotFound)?;
    let mut share = app.downloads.admit_extraction(size).await?;
    let source = app
        .readers
        .read(move |conn| q::attachment_source(conn, ticket, attachment))
        .await?
        .ok_or(WebError::NotFound)?;
    let filename = source.filename.clone();
    // The raw message is dropped inside the closure: only the attachment's bytes come back.
    let bytes = tokio::task::spawn_blocking(move || {
        crate::mail::parse::attachment_bytes(
            &source.raw,
            source.position as usize,
            source.unwrapped_pec,
        )
    })
    .await
    .map_err(|e| anyhow::anyhow!("extracting an attachment: {e}"))?
    .ok_or(WebError::NotFound)?;
    share.shrink_to(bytes.len());
    audit_download(
        &app,
        &s,
        ticket,
        AuditAction::TicketAttachmentDownloaded,
        attachment,
    )
    .await?;
    Ok(downloads::response(
        filename.as_deref().unwrap_or("allegato"),
        bytes,
        Some(share),
    ))
}
