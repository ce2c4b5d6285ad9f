//! `auditor [--config FILE]`: the audit worker (see the library docs).

use anyhow::Context;
use handoff_runtime::telemetry;
use handoff_runtime::Settings;
use std::path::PathBuf;

/// The value of `--config FILE` / `--config=FILE`, if given.
fn config_arg() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    while let Some(arg) = args.next() {
        if arg == "--config" {
            config = Some(PathBuf::from(args.next().context("--config needs a file")?));
        } else if let Some(v) = arg.strip_prefix("--config=") {
            config = Some(PathBuf::from(v));
        } else if arg == "--help" || arg == "-h" {
            println!("usage: auditor [--config FILE]\nsettings: defaults, then FILE (or HANDOFF_CONFIG), then HANDOFF_* variables");
            std::process::exit(0);
        } else {
            anyhow::bail!("unexpected argument {arg:?} (usage: auditor [--config FILE])");
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(config_arg()?.as_deref())?;
    // Held to the end: dropping it flushes the spans not yet exported.
    let _telemetry =
        telemetry::init_worker("auditor", &settings.telemetry).context("starting telemetry")?;
    handoff_auditor::run(settings, telemetry::shutdown_signal()).await
}
