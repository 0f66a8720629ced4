//! Downloads of stored mail and attachments, inside a memory budget.
//!
//! An attachment is not stored apart: it is cut out of its message's raw bytes, which are
//! read whole from SQLite and parsed whole, each time. For a 50 MB attachment that is about
//! 2.5 times the raw message at the peak (the raw bytes, the decoded part, its copy), then the
//! decoded bytes for as long as the client takes to read them; 8 concurrent downloads took the
//! daemon to 1.2 GB (issue 11, finding 12). So every download first takes its weight from a
//! budget of [`BUDGET_MIB`], waiting for room if need be: while it is read and cut out, its
//! peak; while it is sent, the bytes being sent. The weight goes back when the response body
//! is finished or dropped (the client went away). Many small downloads run side by side; large
//! ones take turns.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ui, WebError, WebResult};

/// What downloads in flight may hold in memory together, in MiB.
pub const BUDGET_MIB: usize = 256;

/// How long a download waits for room before it is refused ("try again").
const WAIT: Duration = Duration::from_secs(60);

/// The body is handed to the connection in pieces of this size (views of one buffer).
const CHUNK: usize = 64 * 1024;

/// The peak of cutting an attachment out of a message, in multiples of the raw message: the raw
/// bytes, the decoded part inside the parsed message and the copy returned (base64 decodes to
/// three quarters of its size).
const EXTRACT_PEAK: (usize, usize) = (5, 2);

/// The budget's unit: permits are KiB.
const UNIT: usize = 1024;

/// The memory budget of downloads (see the module's documentation).
pub struct Downloads {
    budget: Arc<Semaphore>,
    total: usize,
    wait: Duration,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads::with_budget(BUDGET_MIB * 1024 * 1024, WAIT)
    }
}

/// A download's share of the budget.
pub struct Share(OwnedSemaphorePermit);

impl Share {
    /// Keeps only what `bytes` need (the peak of preparing them has passed).
    pub fn shrink_to(&mut self, bytes: usize) {
        let keep = units(bytes).max(1);
        let held = self.0.num_permits();
        if held > keep {
            drop(self.0.split(held - keep));
        }
    }
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

impl Downloads {
    /// A budget of `bytes`; a download waits at most `wait` for room.
    pub fn with_budget(bytes: usize, wait: Duration) -> Downloads {
        let total = units(bytes).max(1);
        Downloads {
            budget: Arc::new(Semaphore::new(total)),
            total,
            wait,
        }
    }

    /// Waits for room for `bytes` (at most the whole budget: a download larger than the budget
    /// runs alone).
    pub async fn admit(&self, bytes: usize) -> WebResult<Share> {
        let want = units(bytes).clamp(1, self.total);
        let want = u32::try_from(want).unwrap_or(u32::MAX);
        match tokio::time::timeout(self.wait, self.budget.clone().acquire_many_owned(want)).await {
            Ok(Ok(permit)) => Ok(Share(permit)),
            Ok(Err(closed)) => Err(WebError::Internal(anyhow::anyhow!("downloads: {closed}"))),
            Err(_) => {
                tracing::warn!(bytes, "download refused: the memory budget stayed full");
                Err(WebError::Busy(crate::texts::DOWNLOADS_BUSY.into()))
            }
        }
    }

    /// Room for cutting an attachment out of a message of `raw_bytes`.
    pub async fn admit_extraction(&self, raw_bytes: usize) -> WebResult<Share> {
        let (num, den) = EXTRACT_PEAK;
        self.admit(raw_bytes.saturating_mul(num) / den).await
    }

    /// What is free now, in bytes (for tests).
    pub fn available(&self) -> usize {
        self.budget.available_permits() * UNIT
    }
}

/// A download: never displayed inline, whatever the citizen declared it to be. `share` is held
/// until the body has been sent or dropped.
pub fn response(filename: &str, bytes: Vec<u8>, share: Option<Share>) -> Response {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = if ascii.trim().is_empty() {
        "allegato".to_string()
    } else {
        ascii
    };
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii,
        ui::url_encode(filename).replace('/', "%2F")
    );
    let length = bytes.len();
    let bytes = Bytes::from(bytes);
    let pieces = futures::stream::unfold((bytes, 0, share), |(bytes, at, share)| async move {
        if at >= bytes.len() {
            return None;
        }
        let end = (at + CHUNK).min(bytes.len());
        let piece = bytes.slice(at..end);
        Some((
            Ok::<_, std::convert::Infallible>(piece),
            (bytes, end, share),
        ))
    });
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        Body::from_stream(pieces),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_share_goes_back_when_its_body_is_done() {
        let d = Downloads::with_budget(10 * 1024 * 1024, WAIT);
        let mut share = d.admit_extraction(2 * 1024 * 1024).await.unwrap();
        assert_eq!(d.available(), 5 * 1024 * 1024, "2.5 × the raw message");
        share.shrink_to(1024 * 1024);
        assert_eq!(d.available(), 9 * 1024 * 1024);
        let bytes: Vec<u8> = (0..1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
        let resp = response("a.bin", bytes.clone(), Some(share));
        assert_eq!(d.available(), 9 * 1024 * 1024, "held while the body waits");
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.as_ref(), bytes.as_slice(), "the same bytes, in pieces");
        assert_eq!(d.available(), 10 * 1024 * 1024);
        // A client that goes away gives it back too.
        let share = d.admit(3 * 1024 * 1024).await.unwrap();
        drop(response("b.bin", vec![1; 10], Some(share)));
        assert_eq!(d.available(), 10 * 1024 * 1024);
    }

    #[tokio::test]
    async fn a_download_waits_for_room_then_is_refused() {
        let d = Downloads::with_budget(4 * 1024 * 1024, Duration::from_millis(50));
        let big = d.admit(100 * 1024 * 1024).await.unwrap();
        assert_eq!(d.available(), 0, "larger than the budget: it runs alone");
        let waiting = d.admit(1024);
        match waiting.await {
            Err(WebError::Busy(m)) => assert!(m.contains("riprova")),
            _ => panic!("refused after the wait"),
        }
        drop(big);
        assert!(d.admit(1024).await.is_ok());
    }
}
