//! `auditor [--config FILE]`: the audit worker (see the library docs).

use anyhow::Context;
use handoff_runtime::telemetry;
use handoff_runtime::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First: a SIGTERM during start-up must stop the worker cleanly, not kill it.
    let shutdown = handoff_runtime::Shutdown::install().context("installing signal handlers")?;
    let settings = Settings::load(
        handoff_runtime::config::config_arg("auditor", "")
            .map_err(anyhow::Error::msg)?
            .as_deref(),
    )?;
    // Held to the end: dropping it flushes the spans not yet exported.
    let _telemetry =
        telemetry::init_worker("auditor", &settings.telemetry).context("starting telemetry")?;
    handoff_auditor::run(settings, shutdown.wait()).await
}
