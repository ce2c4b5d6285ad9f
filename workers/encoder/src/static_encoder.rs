//! Static token embeddings distilled from the full model: a text's embedding is the normalised
//! sum of its tokens' (already frequency-weighted) vectors. Cheap enough for every turn.

use std::cell::RefCell;
use std::path::Path;

use crate::distil::{self, StaticFileMeta};
use crate::files::{self, MODEL_NAME, VOCAB_FILE};
use crate::full::normalise;
use crate::wordpiece::WordPiece;
use crate::{EncoderError, DIM};

/// Token vectors distilled from all-MiniLM-L6-v2, looked up through its own WordPiece.
pub struct StaticEncoder {
    vocab: WordPiece,
    /// `vocab.len() × DIM`, row `id` is token `id`'s weighted vector (zero for special tokens).
    vectors: Vec<f32>,
    id: String,
}

impl std::fmt::Debug for StaticEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEncoder")
            .field("id", &self.id)
            .field("tokens", &self.vocab.len())
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Normalised text and token ids, reused so a turn allocates only its output vector.
    static BUFFERS: RefCell<(String, Vec<u32>)> = const { RefCell::new((String::new(), Vec::new())) };
}

impl StaticEncoder {
    /// Loads vocab.txt and the distilled `static-<sha8>.safetensors` from `dir`, checking that
    /// the vectors are intact and were distilled from these weights and this vocabulary.
    pub fn load(dir: &Path) -> Result<StaticEncoder, EncoderError> {
        let vocab_path = dir.join(VOCAB_FILE);
        let vocab_bytes = files::read(&vocab_path)?;
        let vocab = WordPiece::load(&vocab_path)?;
        let path = dir.join(files::static_file_name());
        let bytes = files::read(&path)?;
        let (meta, data) = distil::parse_static_file(&path, &bytes)?;
        check_meta(&path, &meta, &files::sha256_hex(&vocab_bytes))?;
        let expected = [vocab.len(), DIM];
        if meta.shape != expected {
            return Err(EncoderError::invalid(
                &path,
                format!(
                    "embeddings have shape {:?}, vocab.txt needs {expected:?}",
                    meta.shape
                ),
            ));
        }
        let actual = files::sha256_hex(data);
        if actual != meta.vectors_sha256 {
            return Err(EncoderError::WrongHash {
                path,
                expected: meta.vectors_sha256,
                actual,
            });
        }
        let vectors = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(StaticEncoder {
            vocab,
            vectors,
            id: format!("{MODEL_NAME}/static@{}", files::weights_tag()),
        })
    }

    /// Writes `text`'s unit-length embedding into `out` (`DIM` long); zero when no token of
    /// `text` carries a vector (empty, or only unknown or special tokens).
    pub fn embed_into(&self, text: &str, out: &mut [f32]) {
        assert_eq!(out.len(), DIM, "embedding buffer must be DIM long");
        out.fill(0.0);
        BUFFERS.with_borrow_mut(|(scratch, ids)| {
            self.vocab.tokenize_into(text, scratch, ids);
            for &id in ids.iter() {
                let row = &self.vectors[id as usize * DIM..(id as usize + 1) * DIM];
                out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
            }
        });
        normalise(out);
    }

    /// The WordPiece vocabulary the vectors are indexed by.
    pub fn vocab(&self) -> &WordPiece {
        &self.vocab
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl handoff_core::semantic::TextEncoder for StaticEncoder {
    fn embed(&self, text: &str) -> Vec<f32> {
        let mut out = vec![0.0; DIM];
        self.embed_into(text, &mut out);
        out
    }

    fn id(&self) -> &str {
        &self.id
    }
}

/// The static file was made by this distillation, from these weights and this vocabulary.
fn check_meta(path: &Path, meta: &StaticFileMeta, vocab_sha256: &str) -> Result<(), EncoderError> {
    let checks = [
        ("method", meta.method.as_str(), distil::METHOD),
        (
            "source weights",
            meta.weights_sha256.as_str(),
            files::WEIGHTS_SHA256,
        ),
        ("vocabulary", meta.vocab_sha256.as_str(), vocab_sha256),
    ];
    for (what, found, wanted) in checks {
        if found != wanted {
            return Err(EncoderError::invalid(
                path,
                format!("{what} is {found:?}, expected {wanted:?} (rerun infra/model.sh to distil again)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::semantic::TextEncoder;

    const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n##s\n!\n";

    /// A model dir with a tiny vocabulary and one-hot-ish vectors; returns it and the vectors.
    fn tiny_model() -> (tempfile::TempDir, Vec<f32>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(VOCAB_FILE), VOCAB).unwrap();
        let tokens = VOCAB.lines().count();
        let mut vectors = vec![0f32; tokens * DIM];
        for id in 4..tokens {
            vectors[id * DIM + id] = id as f32;
        }
        let vocab_sha = files::sha256_hex(VOCAB.as_bytes());
        let path = dir.path().join(files::static_file_name());
        distil::write_static_file(&path, &vectors, tokens, &vocab_sha).unwrap();
        (dir, vectors)
    }

    #[test]
    fn a_text_is_the_normalised_sum_of_its_token_vectors() {
        let (dir, _) = tiny_model();
        let encoder = StaticEncoder::load(dir.path()).unwrap();
        // hello(4) + world(5) + ##s(6) + !(7)
        let v = encoder.embed("Hello worlds!");
        let norm = (16.0f32 + 25.0 + 36.0 + 49.0).sqrt();
        for (id, expected) in [(4, 4.0), (5, 5.0), (6, 6.0), (7, 7.0)] {
            assert!(
                (v[id] - expected / norm).abs() < 1e-6,
                "dim {id}: {}",
                v[id]
            );
        }
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(encoder.id(), "all-MiniLM-L6-v2/static@53aa5117");
    }

    #[test]
    fn distilling_leaves_a_valid_static_file_alone() {
        let (dir, _) = tiny_model();
        let path = dir.path().join(files::static_file_name());
        let before = std::fs::read(&path).unwrap();
        // No weights in this directory: it would fail if it tried to distil again.
        let outcome = distil::ensure_static(dir.path()).unwrap();
        assert_eq!(outcome, distil::Distilled::AlreadyPresent(path.clone()));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn empty_and_unknown_texts_embed_as_zero() {
        let (dir, _) = tiny_model();
        let encoder = StaticEncoder::load(dir.path()).unwrap();
        for text in ["", "   ", "zebra", "[PAD]"] {
            let v = encoder.embed(text);
            assert_eq!(v.len(), DIM);
            assert!(v.iter().all(|x| *x == 0.0), "{text:?} should embed as zero");
        }
    }

    #[test]
    fn corrupted_vectors_are_refused_naming_the_file() {
        let (dir, _) = tiny_model();
        let path = dir.path().join(files::static_file_name());
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        let err = StaticEncoder::load(dir.path()).unwrap_err();
        assert!(
            matches!(&err, EncoderError::WrongHash { path: p, .. } if *p == path),
            "{err}"
        );
        assert!(
            err.to_string().contains("static-53aa5117.safetensors"),
            "{err}"
        );
    }

    #[test]
    fn vectors_for_another_vocabulary_are_refused() {
        let (dir, _) = tiny_model();
        std::fs::write(dir.path().join(VOCAB_FILE), format!("{VOCAB}extra\n")).unwrap();
        let err = StaticEncoder::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("vocabulary is"), "{err}");
    }

    #[test]
    fn a_missing_static_file_is_named() {
        let (dir, _) = tiny_model();
        std::fs::remove_file(dir.path().join(files::static_file_name())).unwrap();
        let err = StaticEncoder::load(dir.path()).unwrap_err();
        assert!(matches!(err, EncoderError::Missing { .. }), "{err}");
        assert!(
            err.to_string().contains("static-53aa5117.safetensors"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_safetensors_is_invalid() {
        let (dir, _) = tiny_model();
        std::fs::write(
            dir.path().join(files::static_file_name()),
            b"not a tensor file",
        )
        .unwrap();
        let err = StaticEncoder::load(dir.path()).unwrap_err();
        assert!(matches!(err, EncoderError::Invalid { .. }), "{err}");
    }
}
