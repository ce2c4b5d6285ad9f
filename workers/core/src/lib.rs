//! handoff-core: the pure domain of handoff, with no Kafka, database or network imports.
//!
//! - [`records`]: the Avro records as Rust types (the contract between workers).
//! - [`policy`]: the versioned TOML policy every decision is made and stamped with.
//! - [`detect`]: stop conditions and the conversation control state machine (detector).
//! - [`compose`]: the handoff payload a human acts on (builder).
//! - [`route`]: ordered routing rules (router).
//! - [`replay`] and [`pipeline`]: the JSON Lines replay format and all stages in one process,
//!   for `handoff replay`, evaluation and tests.
//! - [`semantic`]: the sentence-encoder contract the learned detectors read.
//! - [`validate`]: bounds on input records (ids, sizes, timestamps) checked before any state.
//!
//! Every stage is a plain function over plain types: the workers, the CLI and the tests call the
//! same code.

pub mod classify;
pub mod compose;
pub mod detect;
pub mod ids;
pub mod pipeline;
pub mod policy;
pub mod records;
pub mod replay;
pub mod route;
pub mod semantic;
pub mod time;
pub mod validate;

pub use policy::Policy;
