//! The `builder` binary: configuration, telemetry, run until SIGTERM.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = handoff_runtime::config::config_arg("builder", "").map_err(anyhow::Error::msg)?;
    let settings =
        handoff_runtime::Settings::load(config.as_deref()).context("loading configuration")?;
    // Held to the end: dropping it flushes the spans not yet exported.
    let _telemetry = handoff_runtime::telemetry::init_worker("builder", &settings.telemetry)
        .context("starting telemetry")?;
    handoff_builder::run(settings, handoff_runtime::telemetry::shutdown_signal()).await
}
