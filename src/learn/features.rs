//! Features: stemmed words, pairs of stemmed words, and character n-grams inside words, weighted
//! by sublinear tf × idf and L2-normalised per block.
//!
//! **A vocabulary, not the hashing trick.** Features are identified while counting by a 64-bit
//! FNV-1a hash of their text (no string is built per occurrence, which keeps training on 100,000
//! tickets fast), but only the features kept in the vocabulary — those seen in at least
//! `min_df` training messages, at most `max_features` of them, most frequent first — get a
//! column, and the model stores their text. So: no collisions between columns; a feature seen in
//! one message only (a typo, a name that escaped scrubbing) is never learnt; an administrator can
//! read what the model knows; and the model's size is bounded by `max_features`, whatever the
//! training set's size. Explanations do not need the stored text: they go back to the words of
//! the message being explained.
//!
//! **Two blocks.** Words and word pairs carry meaning; character n-grams (3–5 characters, inside
//! a word padded with `<` `>`) carry what stemming misses: typos ("aspetatto"), dialect and
//! spelling variants, compounds, the English of a tourist. Each block is normalised on its own
//! and the two are mixed with fixed weights, so a long message's many n-grams do not drown its
//! words.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::text::{Origin, Token};

pub(crate) const BLOCK_WORDS: u8 = 0;
pub(crate) const BLOCK_CHARS: u8 = 1;

/// How text becomes features. Stored in the model, so prediction repeats training exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Pairs of consecutive content words in the same sentence.
    pub bigrams: bool,
    /// Character n-gram lengths inside words, inclusive; `min > max` disables them.
    pub char_min: usize,
    pub char_max: usize,
    /// How much a subject word counts against a body word.
    pub subject_weight: f32,
    /// How much a word in quoted earlier mail counts.
    pub quoted_weight: f32,
    /// Share of the character block in the vector (the word block has the rest).
    pub char_block_weight: f32,
    /// A feature must appear in at least this many training messages.
    pub min_df: u32,
    /// At most this many features (the most frequent), which bounds the model's size.
    pub max_features: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bigrams: true,
            char_min: 3,
            char_max: 5,
            subject_weight: 2.0,
            quoted_weight: 0.5,
            char_block_weight: 0.5,
            min_df: 2,
            max_features: 100_000,
        }
    }
}

/// One occurrence of a feature in a message, with where it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Occurrence {
    pub hash: u64,
    pub block: u8,
    pub weight: f32,
    /// The token(s) it was made from: one, or two for a word pair.
    pub first: usize,
    pub second: Option<usize>,
    /// For a character n-gram: its character range inside `<norm>`.
    pub chars: Option<(usize, usize)>,
}

/// A message's features, merged by hash: what training and prediction need.
#[derive(Clone, Debug, Default)]
pub(crate) struct DocFeatures {
    /// (hash, block, weighted count), sorted by hash.
    pub feats: Vec<(u64, u8, f32)>,
    /// The distinct content words (stop words aside), as unigram hashes: a message with too few
    /// words the model knows is too little to decide on.
    pub words: Vec<u64>,
}

/// Maps keyed by feature hashes need no second hashing: one multiply spreads the bits for the
/// table (SipHash, the default, was a third of the time of classifying a message).
#[derive(Default)]
pub(crate) struct PremixedHasher(u64);

impl Hasher for PremixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; this is here for completeness.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by feature hash.
pub(crate) type HashMap64<V> = HashMap<u64, V, BuildHasherDefault<PremixedHasher>>;

struct Fnv(u64);

impl Fnv {
    fn new(namespace: u8) -> Fnv {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.write(&[namespace]);
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

const NS_WORD: u8 = b'w';
const NS_PAIR: u8 = b'b';
const NS_CHAR: u8 = b'c';

fn origin_weight(origin: Origin, cfg: &FeatureConfig) -> f32 {
    match origin {
        Origin::Subject => cfg.subject_weight,
        Origin::Body => 1.0,
        Origin::Quoted => cfg.quoted_weight,
    }
}

/// Calls `sink` for every feature occurrence of `tokens`.
pub(crate) fn for_each_occurrence(
    tokens: &[Token],
    cfg: &FeatureConfig,
    mut sink: impl FnMut(Occurrence),
) {
    let mut previous: Option<usize> = None;
    let mut padded: Vec<char> = Vec::with_capacity(40);
    let mut buf = [0u8; 4];
    for (i, t) in tokens.iter().enumerate() {
        if t.stop {
            continue;
        }
        let weight = origin_weight(t.origin, cfg);
        let mut h = Fnv::new(NS_WORD);
        h.write(t.stem.as_bytes());
        sink(Occurrence {
            hash: h.0,
            block: BLOCK_WORDS,
            weight,
            first: i,
            second: None,
            chars: None,
        });

        if cfg.bigrams {
            if let Some(p) = previous.filter(|&p| tokens[p].sentence == t.sentence) {
                let mut h = Fnv::new(NS_PAIR);
                h.write(tokens[p].stem.as_bytes());
                h.write(b" ");
                h.write(t.stem.as_bytes());
                let weight = weight.min(origin_weight(tokens[p].origin, cfg));
                sink(Occurrence {
                    hash: h.0,
                    block: BLOCK_WORDS,
                    weight,
                    first: p,
                    second: Some(i),
                    chars: None,
                });
            }
        }
        previous = Some(i);

        if cfg.char_min <= cfg.char_max && cfg.char_min > 0 {
            padded.clear();
            padded.push('<');
            padded.extend(t.norm.chars());
            padded.push('>');
            for n in cfg.char_min..=cfg.char_max {
                for start in 0..padded.len().saturating_sub(n - 1) {
                    let mut h = Fnv::new(NS_CHAR);
                    for c in &padded[start..start + n] {
                        h.write(c.encode_utf8(&mut buf).as_bytes());
                    }
                    sink(Occurrence {
                        hash: h.0,
                        block: BLOCK_CHARS,
                        weight,
                        first: i,
                        second: None,
                        chars: Some((start, start + n)),
                    });
                }
            }
        }
    }
}

/// The readable text of a feature, as stored in the vocabulary: `w:stem`, `b:stem stem`,
/// `c:<gram`.
pub(crate) fn feature_name(tokens: &[Token], occ: &Occurrence) -> String {
    match (occ.second, occ.chars) {
        (Some(second), _) => format!("b:{} {}", tokens[occ.first].stem, tokens[second].stem),
        (None, Some((a, b))) => {
            let padded: Vec<char> = std::iter::once('<')
                .chain(tokens[occ.first].norm.chars())
                .chain(std::iter::once('>'))
                .collect();
            format!("c:{}", padded[a..b].iter().collect::<String>())
        }
        (None, None) => format!("w:{}", tokens[occ.first].stem),
    }
}

/// The features of a message; when `names` is given, the text of every feature not yet in it is
/// added (training only: the vocabulary needs it).
pub(crate) fn extract(
    tokens: &[Token],
    cfg: &FeatureConfig,
    mut names: Option<&mut HashMap64<String>>,
) -> DocFeatures {
    let mut raw: Vec<(u64, u8, f32)> = Vec::with_capacity(tokens.len() * 12);
    let mut words = Vec::new();
    for_each_occurrence(tokens, cfg, |occ| {
        raw.push((occ.hash, occ.block, occ.weight));
        if occ.block == BLOCK_WORDS && occ.second.is_none() {
            words.push(occ.hash);
        }
        if let Some(names) = names.as_deref_mut() {
            names
                .entry(occ.hash)
                .or_insert_with(|| feature_name(tokens, &occ));
        }
    });
    raw.sort_unstable_by_key(|f| f.0);
    let mut feats: Vec<(u64, u8, f32)> = Vec::with_capacity(raw.len());
    for f in raw {
        match feats.last_mut() {
            Some(last) if last.0 == f.0 => last.2 += f.2,
            _ => feats.push(f),
        }
    }
    words.sort_unstable();
    words.dedup();
    DocFeatures { feats, words }
}

/// A sparse row: (column, value), sorted by column.
pub(crate) type Row = Vec<(u32, f32)>;

/// The columns of the model and their idf.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Vocab {
    pub index: HashMap64<u32>,
    pub names: Vec<String>,
    pub blocks: Vec<u8>,
    pub idf: Vec<f32>,
}

impl Vocab {
    /// The vocabulary of `docs` (the training messages only: a test message must not shape it).
    pub(crate) fn build(
        docs: &[&DocFeatures],
        names: &HashMap64<String>,
        cfg: &FeatureConfig,
    ) -> Vocab {
        let mut df: HashMap64<(u32, u8)> = HashMap64::default();
        for d in docs {
            for &(h, block, _) in &d.feats {
                df.entry(h).or_insert((0, block)).0 += 1;
            }
        }
        let mut kept: Vec<(u64, u32, u8)> = df
            .into_iter()
            .filter(|(_, (n, _))| *n >= cfg.min_df)
            .map(|(h, (n, b))| (h, n, b))
            .collect();
        // Most frequent first; the hash breaks ties so the choice does not depend on map order.
        kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        kept.truncate(cfg.max_features);
        // Columns in name order: a deterministic, readable layout.
        kept.sort_unstable_by(|a, b| names[&a.0].cmp(&names[&b.0]));
        let n_docs = docs.len() as f32;
        let mut vocab = Vocab::default();
        for (column, (h, n, block)) in kept.into_iter().enumerate() {
            vocab.index.insert(h, column as u32);
            vocab.names.push(names[&h].clone());
            vocab.blocks.push(block);
            vocab
                .idf
                .push(((1.0 + n_docs) / (1.0 + n as f32)).ln() + 1.0);
        }
        vocab
    }

    /// Rebuilds a vocabulary from its stored parts (the hashes are recomputed from the names).
    pub(crate) fn from_parts(names: Vec<String>, blocks: Vec<u8>, idf: Vec<f32>) -> Vocab {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, name)| (hash_of_name(name), i as u32))
            .collect();
        Vocab {
            index,
            names,
            blocks,
            idf,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// How many of the message's distinct content words have a column.
    pub(crate) fn known_words(&self, doc: &DocFeatures) -> usize {
        doc.words
            .iter()
            .filter(|h| self.index.contains_key(h))
            .count()
    }

    /// Sublinear tf × idf, each block L2-normalised and weighted, so the whole row has norm 1.
    pub(crate) fn vectorize(&self, doc: &DocFeatures, cfg: &FeatureConfig) -> Row {
        let mut row: Row = Vec::with_capacity(doc.feats.len());
        let mut norms = [0f32; 2];
        for &(h, block, count) in &doc.feats {
            if let Some(&col) = self.index.get(&h) {
                let tf = if count > 1.0 { 1.0 + count.ln() } else { count };
                let v = tf * self.idf[col as usize];
                norms[block as usize] += v * v;
                row.push((col, v));
            }
        }
        let char_share = if cfg.char_min <= cfg.char_max && cfg.char_min > 0 {
            cfg.char_block_weight
        } else {
            0.0
        };
        // Block weights on squared norms: a block with nothing in it gives its share to the other.
        let shares = match (norms[0] > 0.0, norms[1] > 0.0) {
            (true, true) => [1.0 - char_share, char_share],
            (true, false) => [1.0, 0.0],
            (false, true) => [0.0, 1.0],
            (false, false) => return Vec::new(),
        };
        let scale = [
            (shares[0] / norms[0].max(f32::MIN_POSITIVE)).sqrt(),
            (shares[1] / norms[1].max(f32::MIN_POSITIVE)).sqrt(),
        ];
        for (col, v) in &mut row {
            *v *= scale[self.blocks[*col as usize] as usize];
        }
        row.sort_unstable_by_key(|e| e.0);
        row
    }
}

/// The hash a stored feature name stands for (see [`feature_name`]).
pub(crate) fn hash_of_name(name: &str) -> u64 {
    let (ns, text) = name.split_at(2);
    match ns {
        "w:" => {
            let mut h = Fnv::new(NS_WORD);
            h.write(text.as_bytes());
            h.0
        }
        "b:" => {
            let mut h = Fnv::new(NS_PAIR);
            h.write(text.as_bytes());
            h.0
        }
        _ => {
            let mut h = Fnv::new(NS_CHAR);
            h.write(text.as_bytes());
            h.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::text::tokenize;

    #[test]
    fn stored_names_hash_back_to_their_features() {
        let tokens = tokenize("Attesa infinita", "al pronto soccorso, città");
        let mut names = HashMap64::default();
        let doc = extract(&tokens, &FeatureConfig::default(), Some(&mut names));
        assert!(!doc.feats.is_empty());
        for (h, _, _) in &doc.feats {
            assert_eq!(hash_of_name(&names[h]), *h, "{}", names[h]);
        }
        assert!(
            names
                .values()
                .any(|n| n == "b:pront socc" || n == "b:pront soccors"),
            "{names:?}"
        );
        assert!(names.values().any(|n| n == "c:<citt"));
    }

    #[test]
    fn rows_have_unit_norm_and_rare_features_no_column() {
        let cfg = FeatureConfig::default();
        let mut names = HashMap64::default();
        let texts = [
            "bagno sporco reparto",
            "bagno sporco corridoio",
            "cibo freddo reparto",
        ];
        let docs: Vec<DocFeatures> = texts
            .iter()
            .map(|t| extract(&tokenize("", t), &cfg, Some(&mut names)))
            .collect();
        let refs: Vec<&DocFeatures> = docs.iter().collect();
        let vocab = Vocab::build(&refs, &names, &cfg);
        assert!(vocab.names.contains(&"b:bagn sporc".to_string()));
        assert!(!vocab.names.iter().any(|n| n.contains("corridoi")));
        let row = vocab.vectorize(&docs[0], &cfg);
        let norm: f32 = row.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert!(vocab.vectorize(&DocFeatures::default(), &cfg).is_empty());
    }
}
