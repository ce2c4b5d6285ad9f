//! `console [--config FILE]`: the operator console (see the library docs).

use anyhow::Context;
use handoff_console::ConsoleSettings;
use handoff_runtime::{telemetry, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First: a SIGTERM during start-up must stop the worker cleanly, not kill it.
    let shutdown = handoff_runtime::Shutdown::install().context("installing signal handlers")?;
    let file = handoff_runtime::config::config_arg(
        "console",
        "; [console] listen, operators, operators_file",
    )
    .map_err(anyhow::Error::msg)?;
    let settings = Settings::load(file.as_deref())?;
    let console = ConsoleSettings::load(file.as_deref())?;
    let _telemetry =
        telemetry::init_worker("console", &settings.telemetry).context("starting telemetry")?;
    handoff_console::run(settings, console, shutdown.wait()).await
}
