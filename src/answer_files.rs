//! Files attached to an answer (issue 19): checked against `[workflow]`'s limits (count, total
//! size, media types), stored with the ticket in the answer's transaction, and carried by the
//! answer's mail (the worker sends it as multipart with the same threading headers).

use rusqlite::Connection;
use serde_json::json;

use crate::config::WorkflowConfig;
use crate::domain::refusal::{Invalid, WorkflowError};
use crate::domain::{Actor, AuditAction, OutgoingFile};
use crate::notify::{Notifier, Queued};
use crate::store::{self, answer_files as sql, audit};

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

/// A file name as a mail and a download may carry it: its last path component, without
/// control characters or quotes, at most 150 characters.
pub fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(150)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Whether `files` keep within the limits.
pub fn check(files: &[OutgoingFile], limits: &WorkflowConfig) -> Result<()> {
    if files.len() > limits.attachment_max_files {
        return Err(WorkflowError::Invalid(Invalid::TooManyFiles));
    }
    let total: u64 = files.iter().map(|f| f.bytes.len() as u64).sum();
    if total > limits.attachment_max_bytes {
        return Err(WorkflowError::Invalid(Invalid::FilesTooLarge));
    }
    for f in files {
        if f.filename.is_empty() {
            return Err(WorkflowError::Invalid(Invalid::FileUnnamed));
        }
        let t = f.content_type.trim().to_ascii_lowercase();
        if !limits.attachment_types.contains(&t) {
            return Err(WorkflowError::Invalid(Invalid::FileTypeRefused));
        }
    }
    Ok(())
}

/// The operator's answer with `files`: the answer as `workflow::answer` makes it, the files
/// stored with it and carried by its mail, all in the caller's transaction.
pub fn answer_with_files(
    conn: &Connection,
    notifier: &Notifier,
    actor: &Actor,
    ticket_id: i64,
    text: &str,
    files: &[OutgoingFile],
    limits: &WorkflowConfig,
) -> Result<Queued> {
    check(files, limits)?;
    let queued = crate::workflow::answer(conn, notifier, actor, ticket_id, text)?;
    if files.is_empty() {
        return Ok(queued);
    }
    let now = store::now_text();
    let mut listed = Vec::new();
    for f in files {
        let id = sql::insert(conn, ticket_id, queued.outbox_id, f, &now)?;
        listed.push(json!({ "file": id, "size": f.bytes.len(), "type": f.content_type }));
    }
    audit::record(
        conn,
        actor.audit(),
        AuditAction::TicketAnswerFilesAttached,
        Some(ticket_id),
        json!({ "outbox": queued.outbox_id, "files": listed }),
    )?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, ty: &str, n: usize) -> OutgoingFile {
        OutgoingFile {
            filename: name.into(),
            content_type: ty.into(),
            bytes: vec![7; n],
        }
    }

    #[test]
    fn limits_and_names() {
        let limits = WorkflowConfig {
            attachment_max_bytes: 100,
            attachment_max_files: 2,
            ..Default::default()
        };
        assert!(check(&[file("a.pdf", "application/pdf", 60)], &limits).is_ok());
        assert!(matches!(
            check(
                &[
                    file("a.pdf", "application/pdf", 60),
                    file("b.pdf", "application/pdf", 41)
                ],
                &limits
            ),
            Err(WorkflowError::Invalid(Invalid::FilesTooLarge))
        ));
        assert!(matches!(
            check(
                &[
                    file("a", "application/pdf", 1),
                    file("b", "application/pdf", 1),
                    file("c", "application/pdf", 1)
                ],
                &limits
            ),
            Err(WorkflowError::Invalid(Invalid::TooManyFiles))
        ));
        assert!(matches!(
            check(&[file("x.exe", "application/x-msdownload", 1)], &limits),
            Err(WorkflowError::Invalid(Invalid::FileTypeRefused))
        ));
        assert_eq!(
            clean_filename("C:\\Users\\x\\referto \"1\".pdf"),
            "referto 1.pdf"
        );
        assert_eq!(clean_filename("../../etc/passwd\r\n"), "passwd");
    }
}
