//! The labelled corpus as JSON lines (`data/corpus/*.jsonl`, described in `data/corpus/GUIDE.md`).

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::Example;

/// One labelled message of the corpus.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CorpusEntry {
    pub id: String,
    #[serde(default)]
    pub subject: String,
    pub body: String,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    /// The writing style (`formal`, `angry`, `english`, …): for the corpus's own statistics.
    #[serde(default)]
    pub style: Option<String>,
}

impl CorpusEntry {
    pub fn example(&self, weight: f32) -> Example<'_> {
        Example {
            subject: &self.subject,
            body: &self.body,
            sender_name: None,
            kind: self.kind.clone(),
            category: self.category.clone(),
            service: self.service.clone(),
            weight,
        }
    }
}

/// A corpus that cannot be read, with the place to fix.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}, line {line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
}

/// Reads JSON lines; `file` names the source in errors. Blank lines are skipped; every other
/// line must be one entry with an `id` (unique), a `body`, and label fields that are strings or
/// null.
pub fn read_corpus(reader: impl BufRead, file: &str) -> Result<Vec<CorpusEntry>, CorpusError> {
    let mut seen = HashSet::new();
    read_into(reader, file, &mut seen)
}

fn read_into(
    reader: impl BufRead,
    file: &str,
    seen: &mut HashSet<String>,
) -> Result<Vec<CorpusEntry>, CorpusError> {
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line_no = n + 1;
        let err = |message: String| CorpusError::Line {
            file: file.to_string(),
            line: line_no,
            message,
        };
        let line = line.map_err(|e| err(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: CorpusEntry = serde_json::from_str(&line).map_err(|e| err(e.to_string()))?;
        if entry.id.trim().is_empty() {
            return Err(err("empty id".into()));
        }
        for (name, value) in [
            ("kind", &entry.kind),
            ("category", &entry.category),
            ("service", &entry.service),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(err(format!("empty {name} (write null for none)")));
            }
        }
        if !seen.insert(entry.id.clone()) {
            return Err(err(format!("id {:?} appears twice", entry.id)));
        }
        out.push(entry);
    }
    Ok(out)
}

/// Reads a corpus from a file, or from every `*.jsonl` file of a directory (in name order), with
/// ids unique across files.
pub fn read_corpus_path(path: &Path) -> Result<Vec<CorpusEntry>, CorpusError> {
    let io = |file: &Path, source| CorpusError::Io {
        file: file.display().to_string(),
        source,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let reader = std::io::BufReader::new(std::fs::File::open(&f).map_err(|e| io(&f, e))?);
        out.extend(read_into(reader, &f.display().to_string(), &mut seen)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_line_is_named() {
        let text = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"kind\":\"reclamo\",\"category\":\"ALT\",\"service\":null}\n\n{\"id\":\"b\",\"body\":\"x\",\n";
        let err = read_corpus(text.as_bytes(), "t.jsonl").unwrap_err();
        assert!(err.to_string().starts_with("t.jsonl, line 3:"), "{err}");
    }

    #[test]
    fn duplicates_and_empty_labels_are_refused() {
        let dup =
            "{\"id\":\"a\",\"body\":\"b\",\"kind\":null,\"category\":null,\"service\":null}\n"
                .repeat(2);
        let err = read_corpus(dup.as_bytes(), "d").unwrap_err();
        assert!(
            err.to_string().contains("line 2") && err.to_string().contains("twice"),
            "{err}"
        );
        let empty =
            "{\"id\":\"a\",\"body\":\"b\",\"kind\":\"\",\"category\":null,\"service\":null}";
        assert!(read_corpus(empty.as_bytes(), "e")
            .unwrap_err()
            .to_string()
            .contains("empty kind"));
    }

    #[test]
    fn the_shipped_corpus_reads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
        let corpus = read_corpus_path(&dir).unwrap();
        assert!(corpus.len() >= 1200, "{}", corpus.len());
        assert!(corpus
            .iter()
            .all(|e| e.kind.is_some() && e.category.is_some()));
    }
}
