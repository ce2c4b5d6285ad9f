//! The console's own settings, `[console]` in the shared settings file or `HANDOFF_CONSOLE__*`
//! variables (the shared `kafka`, `registry`, `database`, `policy` and `telemetry` sections are
//! the workers' [`handoff_runtime::Settings`]).
//!
//! Operators come from `console.operators` (the settings file, or `HANDOFF_CONSOLE__OPERATORS`
//! as an inline array `[{id="u-3", name="Sam", team="billing", token="..."}]`) and/or
//! `console.operators_file` (`HANDOFF_CONSOLE__OPERATORS_FILE`, a TOML file of `[[operators]]`),
//! so tokens can live in a secret store's mounted file rather than in the main configuration. Tokens are
//! [`SecretString`]s: they never print.

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:19100";

#[derive(Debug, Clone, Deserialize)]
pub struct ConsoleSettings {
    /// Where the console listens. Loopback by default: put an authenticating proxy (TLS) in
    /// front of it before exposing it further.
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub operators: Vec<OperatorEntry>,
    #[serde(default)]
    pub operators_file: Option<PathBuf>,
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

/// One operator allowed to use the console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    pub id: String,
    pub name: String,
    /// The team whose handoffs this operator may act on.
    pub team: String,
    /// The bearer token the operator signs in with.
    pub token: SecretString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorsFile {
    #[serde(default)]
    operators: Vec<OperatorEntry>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid console configuration: {0}")]
pub struct ConsoleConfigError(pub String);

impl ConsoleSettings {
    /// `[console]` from `file` (or `HANDOFF_CONFIG`), then `HANDOFF_CONSOLE__*`, then the
    /// operators file appended to the inline operators.
    pub fn load(file: Option<&Path>) -> Result<ConsoleSettings, ConsoleConfigError> {
        let mut figment = Figment::new();
        let from_env = std::env::var_os("HANDOFF_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(from_env) {
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("HANDOFF_CONSOLE__").map(|k| format!("console.{k}").into()));
        let mut settings: ConsoleSettings = figment
            .focus("console")
            .extract()
            .map_err(|e| ConsoleConfigError(e.to_string()))?;
        if let Some(path) = &settings.operators_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConsoleConfigError(format!("console.operators_file {}: {e}", path.display()))
            })?;
            let parsed: OperatorsFile = toml_from_str(&text).map_err(|e| {
                ConsoleConfigError(format!("console.operators_file {}: {e}", path.display()))
            })?;
            settings.operators.extend(parsed.operators);
        }
        Ok(settings)
    }
}

fn toml_from_str(text: &str) -> Result<OperatorsFile, String> {
    Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod tests {
    use super::*;

    #[test]
    fn defaults_to_loopback_and_no_operators() {
        figment::Jail::expect_with(|_jail| {
            let s = ConsoleSettings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "127.0.0.1:19100");
            assert!(s.operators.is_empty());
            Ok(())
        });
    }

    #[test]
    fn operators_from_the_settings_file_and_the_operators_file_tokens_never_print() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "h.toml",
                "[kafka]\nbrokers = \"x:1\"\n[console]\nlisten = \"127.0.0.1:1\"\n[[console.operators]]\nid = \"u-3\"\nname = \"Sam\"\nteam = \"billing\"\ntoken = \"sam-secret-token\"\n",
            )?;
            jail.create_file(
                "ops.toml",
                "[[operators]]\nid = \"u-7\"\nname = \"Mia\"\nteam = \"general\"\ntoken = \"mia-secret-token\"\n",
            )?;
            jail.set_env("HANDOFF_CONSOLE__OPERATORS_FILE", "ops.toml");
            jail.set_env("HANDOFF_CONSOLE__LISTEN", "127.0.0.1:2");
            let s = ConsoleSettings::load(Some(Path::new("h.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "127.0.0.1:2");
            let ids: Vec<_> = s.operators.iter().map(|o| o.id.as_str()).collect();
            assert_eq!(ids, ["u-3", "u-7"]);
            let debug = format!("{s:?}");
            assert!(
                !debug.contains("sam-secret-token") && !debug.contains("mia-secret-token"),
                "{debug}"
            );
            Ok(())
        });
    }

    #[test]
    fn operators_from_one_environment_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "HANDOFF_CONSOLE__OPERATORS",
                r#"[{id="u-3", name="Sam", team="billing", token="sam-secret-token"}]"#,
            );
            let s = ConsoleSettings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.operators.len(), 1);
            assert_eq!(s.operators[0].team, "billing");
            Ok(())
        });
    }

    #[test]
    fn a_missing_operators_file_is_a_clear_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HANDOFF_CONSOLE__OPERATORS_FILE", "/nonexistent/ops.toml");
            let err = ConsoleSettings::load(None).unwrap_err().to_string();
            assert!(err.contains("/nonexistent/ops.toml"), "{err}");
            Ok(())
        });
    }
}
