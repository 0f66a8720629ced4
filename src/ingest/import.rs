//! Bringing an old mailbox archive (an mbox file or a directory of `.eml` files) through the
//! same pipeline as live mail. Re-importing is harmless: duplicates are recognised.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::Connection;

use super::pipeline::{prepare, Origin, Outcome, Pipeline};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub threaded: usize,
    pub automatic: usize,
    pub duplicates: usize,
    pub quarantined: usize,
}

impl ImportReport {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Created { .. } => self.created += 1,
            // A service's report threads into its ticket like a reply.
            Outcome::Threaded { .. } | Outcome::Report { .. } => self.threaded += 1,
            Outcome::Automatic { .. } => self.automatic += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Quarantined { .. } => self.quarantined += 1,
        }
    }
}

/// The messages in `path`, in order, each with where it was found (a file, or `MBOX#N`).
pub fn read_archive(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let raw =
                    std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
                Ok((f.display().to_string(), raw))
            })
            .collect()
    } else {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(split_mbox(&data)
            .into_iter()
            .enumerate()
            .map(|(i, m)| (format!("{}#{}", path.display(), i + 1), m))
            .collect())
    }
}

/// Splits an mbox (mboxo or mboxrd) at its `From ` separator lines and undoes `>From ` quoting.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut at_line_start = true;
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        if at_line_start && line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(m);
            }
            current = Some(Vec::new());
            continue;
        }
        let msg = current.get_or_insert_with(Vec::new);
        // mboxrd: ">From ", ">>From " … lose one '>'.
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            msg.extend_from_slice(&line[1..]);
        } else {
            msg.extend_from_slice(line);
        }
        at_line_start = line.ends_with(b"\n");
    }
    if let Some(m) = current {
        messages.push(m);
    }
    // The separator's preceding blank line belongs to the format, not the message.
    messages
        .into_iter()
        .map(|mut m| {
            if m.ends_with(b"\n\n") {
                m.pop();
            }
            m
        })
        .filter(|m| !m.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// Imports `path` in batches of `batch_size`, one transaction each. With `mailbox`, the archive
/// is read as that configured mailbox's mail (a PEC box's envelopes are unwrapped).
pub fn import(
    conn: &mut Connection,
    pipeline: &mut Pipeline,
    path: &Path,
    mailbox: Option<&str>,
    batch_size: usize,
) -> Result<ImportReport> {
    let messages = read_archive(path)?;
    let mut report = ImportReport::default();
    for chunk in messages.chunks(batch_size.max(1)) {
        let items: Vec<_> = chunk
            .iter()
            .map(|(place, raw)| {
                let origin = Origin::import(place, mailbox);
                (prepare(raw.clone(), pipeline.pec_box(&origin)), origin)
            })
            .collect();
        for outcome in pipeline.store_batch(conn, &items, None)? {
            report.add(&outcome);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_is_split_and_unquoted() {
        let mbox = b"From a@example.test Mon Mar  2 10:00:00 2026\nFrom: a@example.test\nSubject: uno\n\n>From here on\nbody\n\nFrom b@example.test Mon Mar  2 11:00:00 2026\nFrom: b@example.test\nSubject: due\n\ntwo\n";
        let msgs = split_mbox(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0],
            b"From: a@example.test\nSubject: uno\n\nFrom here on\nbody\n".to_vec()
        );
        assert!(msgs[1].starts_with(b"From: b@example.test"));
    }

    #[test]
    fn importing_twice_creates_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for name in ["plain.eml", "utf-8.eml", "malformed.eml"] {
            std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
        }
        let mut conn = crate::store::open_in_memory().unwrap();
        let mut pipeline = Pipeline::new(super::super::Settings {
            number_prefix: "URP".into(),
            deadline_days: 30,
            reopen_window_days: 60,
            own_addresses: vec![],
            pec_boxes: Default::default(),
            trusted_authserv_id: None,
            istruttoria: Default::default(),
        });
        let first = import(&mut conn, &mut pipeline, dir.path(), None, 2).unwrap();
        assert_eq!((first.created, first.quarantined), (2, 1));
        let second = import(&mut conn, &mut pipeline, dir.path(), None, 2).unwrap();
        assert_eq!(second.duplicates, 3);
    }
}
