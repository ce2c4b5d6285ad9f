//! `console [--config FILE]`: the operator console (see the library docs).

use anyhow::Context;
use handoff_console::ConsoleSettings;
use handoff_runtime::{telemetry, Settings};
use std::path::PathBuf;

fn config_arg() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    while let Some(arg) = args.next() {
        if arg == "--config" {
            config = Some(PathBuf::from(args.next().context("--config needs a file")?));
        } else if let Some(v) = arg.strip_prefix("--config=") {
            config = Some(PathBuf::from(v));
        } else if arg == "--help" || arg == "-h" {
            println!("usage: console [--config FILE]\nsettings: defaults, then FILE (or HANDOFF_CONFIG), then HANDOFF_* variables; [console] listen, operators, operators_file");
            std::process::exit(0);
        } else {
            anyhow::bail!("unexpected argument {arg:?} (usage: console [--config FILE])");
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = config_arg()?;
    let settings = Settings::load(file.as_deref())?;
    let console = ConsoleSettings::load(file.as_deref())?;
    let _telemetry =
        telemetry::init_worker("console", &settings.telemetry).context("starting telemetry")?;
    handoff_console::run(settings, console, telemetry::shutdown_signal()).await
}
