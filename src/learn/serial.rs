//! The model as bytes, for a BLOB in SQLite.
//!
//! Layout (all integers and floats little-endian):
//!
//! ```text
//! magic "ASCOLTO-LEARN\n" · u32 format version · u32 header length · header (JSON)
//! vocabulary: per feature  u8 block · u16 name length · name (UTF-8) · f32 idf
//! per field, in header order: f32 weights [features × classes] · f32 bias [classes]
//! ```
//!
//! The header (configuration, labels, thresholds) is JSON because it is small and a person may
//! want to read it; the weights are raw `f32` because as JSON they would be five times larger
//! and slow to parse. Bumping [`FORMAT_VERSION`] makes an old model fail to load with a clear
//! error, and the caller retrains from the stored examples.

use serde::{Deserialize, Serialize};

use super::features::{FeatureConfig, Vocab};
use super::linear::{Linear, LinearConfig};
use super::model::{Field, FieldModel, LearnError, Model, ModelInfo};

const MAGIC: &[u8] = b"ASCOLTO-LEARN\n";

/// The version of the byte layout and of everything that shapes features (tokeniser, stop
/// words, hashing): a model is only valid with the code that trained it.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    features: FeatureConfig,
    /// Version 2: the macro-category model's share (0 when there is none).
    #[serde(default)]
    macro_share: f32,
    linear: LinearConfig,
    info: ModelInfo,
    vocabulary: usize,
    fields: Vec<FieldHeader>,
}

#[derive(Serialize, Deserialize)]
struct FieldHeader {
    field: Field,
    labels: Vec<String>,
    temperature: f32,
    threshold: Option<f32>,
    macro_threshold: Option<f32>,
}

impl Model {
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            features: self.features.clone(),
            macro_share: self.macro_share,
            linear: self.linear.clone(),
            info: self.info.clone(),
            vocabulary: self.vocab.len(),
            fields: self
                .fields
                .iter()
                .map(|f| FieldHeader {
                    field: f.field,
                    labels: f.labels.clone(),
                    temperature: f.temperature,
                    threshold: f.threshold,
                    macro_threshold: f.macro_threshold,
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header).expect("a model header is always serialisable");
        let weights: usize = self
            .fields
            .iter()
            .map(|f| f.linear.weights.len() + f.linear.bias.len())
            .sum();
        let mut out =
            Vec::with_capacity(MAGIC.len() + 8 + json.len() + self.vocab.len() * 16 + weights * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for ((name, block), idf) in self
            .vocab
            .names
            .iter()
            .zip(&self.vocab.blocks)
            .zip(&self.vocab.idf)
        {
            out.push(*block);
            // Feature names are at most a few dozen bytes (words are capped at 30 characters).
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&idf.to_le_bytes());
        }
        for f in &self.fields {
            for w in f.linear.weights.iter().chain(&f.linear.bias) {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, LearnError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(LearnError::Format(
                "it does not start with the model's magic bytes".into(),
            ));
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(LearnError::Version {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let len = r.u32()? as usize;
        let header: Header = serde_json::from_slice(r.take(len)?)
            .map_err(|e| LearnError::Format(format!("header: {e}")))?;
        let n = header.vocabulary;
        let (mut names, mut blocks, mut idf) =
            (Vec::with_capacity(n.min(1 << 20)), Vec::new(), Vec::new());
        for _ in 0..n {
            let block = r.take(1)?[0];
            if block > 1 {
                return Err(LearnError::Format(format!("feature block {block}")));
            }
            let len = u16::from_le_bytes(r.array()?) as usize;
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| LearnError::Format("a feature name is not UTF-8".into()))?;
            if name.len() < 2 {
                return Err(LearnError::Format("an empty feature name".into()));
            }
            names.push(name.to_string());
            blocks.push(block);
            idf.push(r.f32()?);
        }
        let vocab = Vocab::from_parts(names, blocks, idf);
        let mut fields = Vec::new();
        for h in header.fields {
            let c = h.labels.len();
            if c < 2 {
                return Err(LearnError::Format(format!(
                    "field {} has {c} labels",
                    h.field.as_str()
                )));
            }
            let weights = r.f32s(n * c)?;
            let bias = r.f32s(c)?;
            fields.push(FieldModel {
                field: h.field,
                labels: h.labels,
                linear: Linear {
                    n_classes: c,
                    weights,
                    bias,
                },
                temperature: h.temperature,
                threshold: h.threshold,
                macro_threshold: h.macro_threshold,
            });
        }
        if r.at != bytes.len() {
            return Err(LearnError::Format(format!(
                "{} bytes after the end",
                bytes.len() - r.at
            )));
        }
        Ok(Model {
            features: header.features,
            macro_share: header.macro_share,
            linear: header.linear,
            vocab,
            fields,
            info: header.info,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LearnError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                LearnError::Format(format!("truncated: {n} bytes wanted at offset {}", self.at))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], LearnError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }
    fn u32(&mut self) -> Result<u32, LearnError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, LearnError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, LearnError> {
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| LearnError::Format("size overflow".into()))?,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect())
    }
}
