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
