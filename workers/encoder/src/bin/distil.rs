//! `handoff-distil [MODEL_DIR]`: distils the static embeddings into the model directory once
//! (infra/model.sh runs it after installing the weights). Does nothing when a valid file is
//! there already.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use handoff_encoder::distil::{ensure_static, Distilled};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(handoff_encoder::model_dir_from_env)
        .context("usage: handoff-distil MODEL_DIR (or set HANDOFF_MODEL_DIR)")?;
    let started = Instant::now();
    match ensure_static(&dir)? {
        Distilled::AlreadyPresent(path) => println!("static embeddings: {}", path.display()),
        Distilled::Written(path) => println!(
            "static embeddings distilled in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            path.display()
        ),
    }
    Ok(())
}
