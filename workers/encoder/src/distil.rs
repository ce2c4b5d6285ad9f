//! Static embeddings distilled from the full model, after model2vec (Tulkens and van Dongen,
//! MinishLab, 2024), reimplemented here:
//! 1. every vocabulary token goes through the transformer alone, as `[SEP] token [CLS]` (the
//!    order model2vec found to work best), and the mean of the three output states is its vector;
//! 2. the vectors are centred on their mean. model2vec runs PCA here; kept at full dimension,
//!    PCA is centring plus a rotation, and a rotation changes no cosine, so centring is all of
//!    it that matters for us (it removes the direction every output shares);
//! 3. each vector is scaled by SIF weight `a / (a + p)`, with `p` the token's probability
//!    estimated from its rank by Zipf's law (vocab.txt lists word pieces roughly by frequency),
//!    so frequent tokens count less in a text's sum.
//!
//! Special and `[unusedN]` tokens get zero vectors: they never stand for text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use crate::files::{self, VOCAB_FILE};
use crate::full::TransformerEncoder;
use crate::wordpiece::WordPiece;
use crate::{EncoderError, StaticEncoder, DIM};

/// Names the recipe below; stored in the file, so a file from another recipe is refused.
pub const METHOD: &str =
    "model2vec-1: mean([SEP] t [CLS]) of the full model, centred, SIF 1e-4 by Zipf rank";

/// model2vec's default SIF coefficient.
const SIF_COEFFICIENT: f64 = 1e-4;
/// Tokens per forward pass: large enough to keep the matrix kernels busy, small in memory.
const BATCH: usize = 512;
const TENSOR_NAME: &str = "embeddings";

/// What a static file says about itself (its safetensors metadata).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StaticFileMeta {
    pub method: String,
    pub weights_sha256: String,
    pub vocab_sha256: String,
    pub vectors_sha256: String,
    pub shape: Vec<usize>,
}

/// What [`ensure_static`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distilled {
    /// A valid file was already there.
    AlreadyPresent(PathBuf),
    /// Distilled and written now.
    Written(PathBuf),
}

/// Makes sure `dir` holds static embeddings for its model: loads them if they are valid,
/// otherwise distils them from the full model and writes them (atomically, by rename).
pub fn ensure_static(dir: &Path) -> Result<Distilled, EncoderError> {
    let path = dir.join(files::static_file_name());
    if StaticEncoder::load(dir).is_ok() {
        return Ok(Distilled::AlreadyPresent(path));
    }
    let full = TransformerEncoder::load(dir)?;
    let vocab_path = dir.join(VOCAB_FILE);
    let vocab = WordPiece::load(&vocab_path)?;
    let vocab_sha256 = files::sha256_hex(&files::read(&vocab_path)?);
    let vectors = distil_vectors(&full, &vocab)?;
    write_static_file(&path, &vectors, vocab.len(), &vocab_sha256)?;
    // Read back through the loader, so what we leave behind is known to load.
    StaticEncoder::load(dir)?;
    Ok(Distilled::Written(path))
}

/// The weighted token vectors, `vocab.len() × DIM`, row = token id.
pub fn distil_vectors(
    full: &TransformerEncoder,
    vocab: &WordPiece,
) -> Result<Vec<f32>, EncoderError> {
    let sep = special_id(vocab, "[SEP]")?;
    let cls = special_id(vocab, "[CLS]")?;
    let n = vocab.len();
    let mut vectors = Vec::with_capacity(n * DIM);
    let ids: Vec<u32> = (0..n as u32).collect();
    for chunk in ids.chunks(BATCH) {
        let input: Vec<u32> = chunk.iter().flat_map(|&t| [sep, t, cls]).collect();
        let mask = vec![1u32; input.len()];
        let pooled = full
            .forward_mean_pooled(input, mask, (chunk.len(), 3))
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| EncoderError::Inference(e.to_string()))?;
        vectors.extend(pooled);
    }
    let keep: Vec<bool> = (0..n as u32)
        .map(|id| vocab.token(id).is_some_and(|t| !is_special(t)))
        .collect();
    centre_and_weight(&mut vectors, &keep);
    Ok(vectors)
}

/// Step 2 and 3 of the recipe, over the rows `keep` marks; the other rows become zero.
fn centre_and_weight(vectors: &mut [f32], keep: &[bool]) {
    let kept = keep.iter().filter(|k| **k).count().max(1);
    let mut mean = [0f64; DIM];
    for (row, _) in vectors.chunks_exact(DIM).zip(keep).filter(|(_, k)| **k) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += f64::from(*v));
    }
    mean.iter_mut().for_each(|m| *m /= kept as f64);
    // Zipf: p(rank) ∝ 1 / (rank + 2), ranks counted over the kept tokens in vocab order.
    let total: f64 = (0..kept).map(|r| 1.0 / (r as f64 + 2.0)).sum();
    let mut rank = 0usize;
    for (row, keep) in vectors.chunks_exact_mut(DIM).zip(keep) {
        if !keep {
            row.fill(0.0);
            continue;
        }
        let p = 1.0 / (rank as f64 + 2.0) / total;
        let weight = SIF_COEFFICIENT / (SIF_COEFFICIENT + p);
        row.iter_mut()
            .zip(&mean)
            .for_each(|(v, m)| *v = ((f64::from(*v) - m) * weight) as f32);
        rank += 1;
    }
}

/// `[PAD]`, `[CLS]`, `[unused12]`...: bracketed names, unlike the plain `[` token.
fn is_special(token: &str) -> bool {
    token.len() > 2 && token.starts_with('[') && token.ends_with(']')
}

fn special_id(vocab: &WordPiece, token: &str) -> Result<u32, EncoderError> {
    vocab
        .token_id(token)
        .ok_or_else(|| EncoderError::Inference(format!("vocab.txt has no {token}")))
}

/// Writes the vectors and what they were made from, via a temporary file and a rename.
pub(crate) fn write_static_file(
    path: &Path,
    vectors: &[f32],
    tokens: usize,
    vocab_sha256: &str,
) -> Result<(), EncoderError> {
    let data: Vec<u8> = vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
    let metadata: HashMap<String, String> = [
        ("method", METHOD.to_string()),
        ("source_weights_sha256", files::WEIGHTS_SHA256.to_string()),
        ("vocab_sha256", vocab_sha256.to_string()),
        ("vectors_sha256", files::sha256_hex(&data)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let view = safetensors::tensor::TensorView::new(Dtype::F32, vec![tokens, DIM], &data)
        .map_err(|e| EncoderError::invalid(path, e))?;
    let bytes = safetensors::serialize([(TENSOR_NAME, view)], Some(metadata))
        .map_err(|e| EncoderError::invalid(path, e))?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).map_err(|source| EncoderError::Write {
        path: partial.clone(),
        source,
    })?;
    std::fs::rename(&partial, path).map_err(|source| EncoderError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The metadata and the raw little-endian f32 data of a static file.
pub(crate) fn parse_static_file<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(StaticFileMeta, &'a [u8]), EncoderError> {
    let invalid = |e: &dyn std::fmt::Display| EncoderError::invalid(path, e);
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| invalid(&e))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| invalid(&e))?;
    let tensor = tensors.tensor(TENSOR_NAME).map_err(|e| invalid(&e))?;
    if tensor.dtype() != Dtype::F32 {
        return Err(invalid(&format!(
            "{TENSOR_NAME} is {:?}, not F32",
            tensor.dtype()
        )));
    }
    let info = header.metadata().clone().unwrap_or_default();
    let field = |k: &str| {
        info.get(k)
            .cloned()
            .ok_or_else(|| invalid(&format!("no {k} in its metadata")))
    };
    let meta = StaticFileMeta {
        method: field("method")?,
        weights_sha256: field("source_weights_sha256")?,
        vocab_sha256: field("vocab_sha256")?,
        vectors_sha256: field("vectors_sha256")?,
        shape: tensor.shape().to_vec(),
    };
    Ok((meta, tensor.data()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_bracketed_names_not_the_bracket_token() {
        assert!(is_special("[PAD]"));
        assert!(is_special("[unused17]"));
        assert!(!is_special("["));
        assert!(!is_special("]"));
        assert!(!is_special("hello"));
    }

    #[test]
    fn centring_removes_the_shared_direction_and_sif_favours_rare_tokens() {
        // Three kept rows sharing a large common component, one special row.
        let mut v = vec![0f32; 4 * DIM];
        for (r, row) in v.chunks_exact_mut(DIM).enumerate() {
            row.fill(5.0);
            row[r] += 1.0;
        }
        let keep = [true, true, false, true];
        centre_and_weight(&mut v, &keep);
        let row = |r: usize| &v[r * DIM..(r + 1) * DIM];
        assert!(row(2).iter().all(|x| *x == 0.0), "special row zeroed");
        // After centring, the shared 5.0 is gone: the far dimensions are ~0.
        assert!(row(0)[DIM - 1].abs() < 1e-6);
        let norm = |r: usize| row(r).iter().map(|x| x * x).sum::<f32>().sqrt();
        // Same centred magnitude before weighting; the later (rarer) rank weighs more.
        assert!(norm(3) > norm(0), "{} vs {}", norm(3), norm(0));
    }
}
