//! The semantic layer's contract: sentence embeddings from a pretrained encoder, read by the
//! learned detectors, the tenant-domain out-of-scope check and the intent classifier.
//!
//! The core stays free of any model runtime: it names only this trait. The `handoff-encoder`
//! crate implements it on the all-MiniLM-L6-v2 weights (the full transformer, and static token
//! embeddings distilled from it); the workers and the CLI load one and hand it to the policy, so
//! the live detector, `handoff replay` and `handoff eval` score with the same model.

/// Dimension of an all-MiniLM-L6-v2 sentence embedding.
pub const DIM: usize = 384;

/// Text in, unit-length sentence embedding out.
pub trait TextEncoder: Send + Sync + std::fmt::Debug {
    /// The embedding of `text`, L2-normalised to length 1 (so a dot product is a cosine), `DIM`
    /// long. An empty or all-unknown text embeds as the zero vector.
    fn embed(&self, text: &str) -> Vec<f32>;

    /// Which encoder and weights this is, e.g. `all-MiniLM-L6-v2/static@53aa5117`. Learned heads
    /// record the id they were trained on and refuse to load against another.
    fn id(&self) -> &str;
}

pub mod config;
pub mod heads;

pub use heads::{Head, Heads, HeadsError};

use std::collections::BTreeMap;
use std::sync::Arc;

/// One tenant's domain, declared by examples: their embeddings (row-major, `DIM` each) and
/// intents, embedded once when the policy is loaded.
#[derive(Clone, Default)]
pub struct DomainIndex {
    vectors: Vec<f32>,
    intents: Vec<String>,
}

impl std::fmt::Debug for DomainIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DomainIndex({} examples)", self.intents.len())
    }
}

/// How close a turn came to a tenant's domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// The highest cosine to any in-domain example.
    pub similarity: f32,
    /// The intents of the closest examples, closest first, distinct, at most three.
    pub intents: Vec<(String, f32)>,
}

impl DomainIndex {
    pub fn new(examples: &[(String, String)], encoder: &dyn TextEncoder) -> DomainIndex {
        let mut vectors = Vec::with_capacity(examples.len() * DIM);
        let mut intents = Vec::with_capacity(examples.len());
        for (text, intent) in examples {
            let v = encoder.embed(text);
            if v.iter().all(|x| *x == 0.0) {
                continue; // all-unknown text: no direction to compare with
            }
            vectors.extend_from_slice(&v);
            intents.push(intent.clone());
        }
        DomainIndex { vectors, intents }
    }

    pub fn len(&self) -> usize {
        self.intents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    /// The nearest in-domain examples to `x` (a unit embedding).
    pub fn nearest(&self, x: &[f32]) -> Nearest {
        let mut scored: Vec<(f32, usize)> = self
            .vectors
            .chunks_exact(x.len().max(1))
            .enumerate()
            .map(|(i, v)| (heads::dot(v, x), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut intents: Vec<(String, f32)> = Vec::new();
        for (s, i) in &scored {
            if intents.len() == 3 {
                break;
            }
            if !intents.iter().any(|(n, _)| *n == self.intents[*i]) {
                intents.push((self.intents[*i].clone(), *s));
            }
        }
        Nearest {
            similarity: scored.first().map_or(0.0, |s| s.0),
            intents,
        }
    }
}

/// The semantic layer the rules read: the encoder, the learned heads, and each tenant's domain.
#[derive(Clone)]
pub struct Semantic {
    pub encoder: Arc<dyn TextEncoder>,
    pub heads: Arc<Heads>,
    /// Tenant id → its domain; `""` is the policy-wide domain.
    pub domains: BTreeMap<String, DomainIndex>,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semantic")
            .field("encoder", &self.encoder.id())
            .field("heads", &self.heads.heads.keys().collect::<Vec<_>>())
            .field("domains", &self.domains)
            .finish()
    }
}

impl Semantic {
    /// The domain a tenant declared, or the policy-wide one.
    pub fn domain(&self, tenant: &str) -> Option<&DomainIndex> {
        self.domains
            .get(tenant)
            .or_else(|| self.domains.get(""))
            .filter(|d| !d.is_empty())
    }
}

/// Words of a sketch: 384 sign bits of an embedding.
pub const SKETCH_WORDS: usize = DIM / 64;

/// A 48-byte sketch of an embedding: the sign of each coordinate. The conversation state keeps
/// the last contact turn's sketch (not its 1.5 KB embedding) to tell a rephrased question.
pub fn sketch(x: &[f32]) -> Vec<i64> {
    let mut words = vec![0u64; x.len().div_ceil(64)];
    for (i, v) in x.iter().enumerate() {
        if *v > 0.0 {
            words[i / 64] |= 1 << (i % 64);
        }
    }
    words.into_iter().map(|w| w as i64).collect()
}

/// The cosine two sketches suggest: `cos(π · differing bits / bits)`, the angle a share of
/// disagreeing signs implies for directions spread over the coordinates.
pub fn sketch_cosine(a: &[i64], b: &[i64]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let differing: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
    let bits = (a.len() * 64) as f64;
    (std::f64::consts::PI * f64::from(differing) / bits).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketches_of_close_vectors_agree_and_of_opposite_ones_do_not() {
        let a: Vec<f32> = (0..DIM)
            .map(|i| ((i * 37 % 11) as f32 - 5.5) / 5.5)
            .collect();
        let mut b = a.clone();
        b[3] = -b[3];
        let neg: Vec<f32> = a.iter().map(|v| -v).collect();
        assert!(sketch_cosine(&sketch(&a), &sketch(&a)) > 0.999);
        assert!(sketch_cosine(&sketch(&a), &sketch(&b)) > 0.99);
        assert!(sketch_cosine(&sketch(&a), &sketch(&neg)) < -0.99);
        assert_eq!(sketch(&a).len(), SKETCH_WORDS);
    }
}
