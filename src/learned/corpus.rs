//! The shipped corpus (`data/corpus/*.jsonl`, see its GUIDE.md), embedded at build time: an
//! installed binary needs no data files to train its first model.

use anyhow::{Context, Result};

use crate::learn::{read_corpus, CorpusEntry};

/// (file name, contents) of every corpus file, in name order.
const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/corpus_files.rs"));

/// The shipped corpus's entries.
pub fn shipped() -> Result<Vec<CorpusEntry>> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        out.extend(read_corpus(text.as_bytes(), name).context("the embedded corpus")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_corpus_is_the_shipped_one() {
        let embedded = super::shipped().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
        let on_disk = crate::learn::read_corpus_path(&dir).unwrap();
        assert_eq!(embedded.len(), on_disk.len());
        assert!(embedded.len() >= 1200);
    }
}
