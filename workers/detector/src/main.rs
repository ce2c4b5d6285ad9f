//! The `detector` binary: configuration, telemetry, run until SIGTERM.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First: a SIGTERM during start-up must stop the worker cleanly, not kill it.
    let shutdown = handoff_runtime::Shutdown::install().context("installing signal handlers")?;
    let config = handoff_runtime::config::config_arg("detector", "").map_err(anyhow::Error::msg)?;
    let settings =
        handoff_runtime::Settings::load(config.as_deref()).context("loading configuration")?;
    // Held to the end: dropping it flushes the spans not yet exported.
    let _telemetry = handoff_runtime::telemetry::init_worker("detector", &settings.telemetry)
        .context("starting telemetry")?;
    handoff_detector::run(settings, shutdown.wait()).await
}
