//! Sentence embeddings from all-MiniLM-L6-v2, behind `handoff_core::semantic::TextEncoder`.
//!
//! Two encoders over the same weights (installed by `infra/model.sh` into `HANDOFF_MODEL_DIR`):
//! - [`TransformerEncoder`]: the full 6-layer BERT run with candle on the CPU, pooled the way
//!   sentence-transformers does for this model (mean over the attention mask, then L2
//!   normalisation; at most 256 tokens). Milliseconds per sentence.
//! - [`StaticEncoder`]: one vector per vocabulary token, distilled once from the full model
//!   (model2vec's method, [`distil`]); a text is the normalised sum of its tokens' vectors.
//!   Microseconds per turn, for every contact turn.
//!
//! Both check what they load (file present, weights' hash, shapes) and name the file at fault.

mod error;
mod files;
mod full;
mod static_encoder;
mod wordpiece;

pub mod distil;

pub use error::EncoderError;
pub use files::{model_dir_from_env, static_file_name, MODEL_DIR_ENV, MODEL_NAME, WEIGHTS_SHA256};
pub use full::{TransformerEncoder, MAX_SEQ_TOKENS};
pub use static_encoder::StaticEncoder;
pub use wordpiece::WordPiece;

pub use handoff_core::semantic::{TextEncoder, DIM};
