//! Typed settings: built-in defaults, then an optional TOML file (`--config FILE` or
//! `HANDOFF_CONFIG`), then `HANDOFF_*` environment variables with `__` between levels
//! (`HANDOFF_KAFKA__BROKERS=host:9092`, `HANDOFF_DATABASE__URL=postgres://...`).
//!
//! Secrets (database URL, SASL and registry passwords) are `SecretString`s: they never print in
//! `Debug` output or logs.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a worker binary's command line asks for: a settings file, or the usage text.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandLine {
    Run { config: Option<PathBuf> },
    Help(String),
}

/// Parses `[--config FILE | --config=FILE] [--help]`, the whole command line of every worker
/// binary; `settings` names the binary's own settings sections for the usage text.
pub fn parse_command_line(
    binary: &str,
    settings: &str,
    args: impl IntoIterator<Item = String>,
) -> Result<CommandLine, String> {
    let usage = format!("usage: {binary} [--config FILE]");
    let mut args = args.into_iter();
    let mut config = None;
    while let Some(arg) = args.next() {
        if arg == "--config" {
            let file = args
                .next()
                .ok_or_else(|| format!("--config needs a file ({usage})"))?;
            config = Some(PathBuf::from(file));
        } else if let Some(v) = arg.strip_prefix("--config=") {
            config = Some(PathBuf::from(v));
        } else if arg == "--help" || arg == "-h" {
            return Ok(CommandLine::Help(format!(
                "{usage}\nsettings: defaults, then FILE (or HANDOFF_CONFIG), then HANDOFF_* variables{settings}"
            )));
        } else {
            return Err(format!("unexpected argument {arg:?} ({usage})"));
        }
    }
    Ok(CommandLine::Run { config })
}

/// The settings file named on this process's command line, if any; prints the usage and exits
/// on `--help`.
pub fn config_arg(binary: &str, settings: &str) -> Result<Option<PathBuf>, String> {
    match parse_command_line(binary, settings, std::env::args().skip(1))? {
        CommandLine::Run { config } => Ok(config),
        CommandLine::Help(text) => {
            println!("{text}");
            std::process::exit(0)
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub database: DatabaseSettings,
    pub policy: PolicySettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Prepended to every topic name (tests use a unique one per test; production leaves it empty).
    pub topic_prefix: String,
    /// Consumer groups are `<group_prefix>.<worker>`.
    pub group_prefix: String,
    /// Partitions of the topics workers create. Co-partitioned topics must agree: keep one value.
    pub partitions: i32,
    pub team_partitions: i32,
    pub replication_factor: i32,
    /// Create missing topics at start-up (off where topics are managed elsewhere).
    pub create_topics: bool,
    /// The largest record a worker produces; larger outputs send the input to the DLQ instead.
    pub max_message_bytes: usize,
    /// Deliveries in flight before the consumer waits (the producer's back-pressure window).
    pub max_in_flight: usize,
    /// How long a stateful worker (the detector) gathers handled events before writing their
    /// state changelog, one record per conversation for all of them, and storing their offsets.
    /// Outputs are never delayed by it; a crash redoes at most this much more input. 0 writes
    /// after every event (or queued run of events).
    pub state_flush_ms: u64,
    /// `security.protocol` (plaintext, ssl, sasl_plaintext, sasl_ssl).
    pub security_protocol: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    #[serde(skip_serializing)]
    pub sasl_password: Option<SecretString>,
    /// `ssl.ca.location`: the CA certificate(s) (PEM) that signed the brokers' certificates.
    /// Absent: the system's trusted CAs.
    pub ssl_ca_location: Option<String>,
    /// How long a worker waits at start for the cluster to answer before it gives up. Errors
    /// that waiting cannot cure (a refused SASL login, a certificate that does not verify) stop
    /// it at once, naming the cause.
    pub connect_timeout_ms: u64,
    /// Raw librdkafka options passed through to every client, after ours. Their names contain
    /// dots, so they come from the config file (`[kafka.options]`, quoted keys), not the env.
    pub options: BTreeMap<String, String>,
    /// Raw librdkafka options for consumers only (`[kafka.consumer_options]`), after `options`:
    /// consumer properties such as `session.timeout.ms`, which a producer would warn about.
    pub consumer_options: BTreeMap<String, String>,
    /// Raw librdkafka options for producers only (`[kafka.producer_options]`), after `options`.
    pub producer_options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RegistrySettings {
    pub url: String,
    pub username: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    #[serde(skip_serializing)]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    /// Rows per audit transaction at most.
    pub batch_size: usize,
    /// How long the auditor waits to fill a batch.
    pub batch_linger_ms: u64,
    /// Delete audit rows older than this many days (0 keeps everything).
    pub retention_days: u32,
    /// Blank PII (name, email, phone) before it reaches the audit store.
    pub redact_pii: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PolicySettings {
    /// The policy file; absent means the built-in default policy.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TelemetrySettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing `EnvFilter` directive, e.g. `info,handoff=debug`. `RUST_LOG` overrides it.
    /// It filters the log lines only: exported spans are not subject to it.
    pub filter: String,
    /// Where to export traces over OTLP/gRPC, e.g. `http://127.0.0.1:4317`
    /// (`HANDOFF_TELEMETRY__OTLP_ENDPOINT`). Absent: no spans are exported, and the trace
    /// context in Kafka headers is passed through unchanged.
    pub otlp_endpoint: Option<String>,
    /// Serve Prometheus metrics on `http://<this address>/metrics`, e.g. `127.0.0.1:19101`
    /// (`HANDOFF_TELEMETRY__METRICS_LISTEN`). Absent: no endpoint and no metrics recorded.
    pub metrics_listen: Option<String>,
    /// librdkafka `statistics.interval.ms` of the workers' consumers, the source of the
    /// consumer-lag gauge; 0 turns the statistics off.
    pub kafka_stats_interval_ms: u64,
}

#[derive(Serialize)]
struct Defaults {
    kafka: KafkaSettings,
    registry: RegistrySettings,
    database: DatabaseSettings,
    policy: PolicySettings,
    telemetry: TelemetrySettings,
}

fn defaults() -> Defaults {
    Defaults {
        kafka: KafkaSettings {
            brokers: "127.0.0.1:19092".into(),
            topic_prefix: String::new(),
            group_prefix: "handoff".into(),
            partitions: 6,
            team_partitions: 3,
            replication_factor: 1,
            create_topics: true,
            max_message_bytes: 1_000_000,
            max_in_flight: 2_000,
            state_flush_ms: 250,
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            connect_timeout_ms: 30_000,
            options: BTreeMap::new(),
            consumer_options: BTreeMap::new(),
            producer_options: BTreeMap::new(),
        },
        registry: RegistrySettings {
            url: "http://127.0.0.1:18081".into(),
            username: None,
            password: None,
        },
        database: DatabaseSettings {
            url: None,
            max_connections: 5,
            batch_size: 500,
            batch_linger_ms: 50,
            retention_days: 0,
            redact_pii: false,
        },
        policy: PolicySettings { path: None },
        telemetry: TelemetrySettings {
            format: "text".into(),
            filter: "info".into(),
            otlp_endpoint: None,
            metrics_listen: None,
            kafka_stats_interval_ms: 5_000,
        },
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Defaults, then `file` (or `HANDOFF_CONFIG`), then `HANDOFF_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(defaults()));
        let from_env = std::env::var_os("HANDOFF_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(from_env) {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("HANDOFF_").split("__").ignore(&[
            "config",
            "run_dir",
            "bin_dir",
            "kafka_port",
            "kafka_sasl_port",
            "kafka_controller_port",
            "registry_port",
            "pg_port",
        ]));
        figment.extract().map_err(|e| ConfigError(e.to_string()))
    }

    /// Defaults and environment only (tests and the CLI).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::load(None)
    }

    pub fn topics(&self) -> crate::topics::Topics {
        crate::topics::Topics::new(&self.kafka.topic_prefix)
    }

    /// The loaded policy: the configured file, or the built-in default.
    pub fn load_policy(&self) -> Result<handoff_core::Policy, handoff_core::policy::PolicyError> {
        match &self.policy.path {
            Some(p) => handoff_core::Policy::from_file(p),
            None => Ok(handoff_core::Policy::builtin()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults_and_secrets_do_not_print() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HANDOFF_KAFKA__BROKERS", "k1:9092,k2:9092");
            jail.set_env("HANDOFF_DATABASE__URL", "postgres://u:hunter2@db/handoff");
            let s = Settings::from_env().map_err(|e| e.to_string())?;
            assert_eq!(s.kafka.brokers, "k1:9092,k2:9092");
            assert_eq!(s.kafka.partitions, 6);
            assert!(!format!("{s:?}").contains("hunter2"));
            assert_eq!(s.telemetry.otlp_endpoint, None);
            assert_eq!(s.telemetry.metrics_listen, None);
            Ok(())
        });
    }

    #[test]
    fn telemetry_endpoints_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HANDOFF_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:4317");
            jail.set_env("HANDOFF_TELEMETRY__METRICS_LISTEN", "127.0.0.1:19101");
            let s = Settings::from_env().map_err(|e| e.to_string())?;
            assert_eq!(
                s.telemetry.otlp_endpoint.as_deref(),
                Some("http://127.0.0.1:4317")
            );
            assert_eq!(
                s.telemetry.metrics_listen.as_deref(),
                Some("127.0.0.1:19101")
            );
            assert_eq!(s.telemetry.kafka_stats_interval_ms, 5_000);
            Ok(())
        });
    }

    #[test]
    fn file_then_env() {
        figment::Jail::expect_with(|jail| {
            // librdkafka option names contain dots: in TOML they are quoted keys.
            jail.create_file(
                "h.toml",
                "[kafka]\nbrokers = \"file:1\"\ntopic_prefix = \"x.\"\n[kafka.options]\n\"socket.keepalive.enable\" = \"true\"\n[kafka.consumer_options]\n\"session.timeout.ms\" = \"45000\"\n",
            )?;
            jail.set_env("HANDOFF_KAFKA__BROKERS", "env:2");
            let s = Settings::load(Some(Path::new("h.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.kafka.brokers, "env:2");
            assert_eq!(s.kafka.topic_prefix, "x.");
            assert_eq!(
                s.kafka
                    .options
                    .get("socket.keepalive.enable")
                    .map(String::as_str),
                Some("true")
            );
            assert_eq!(
                s.kafka
                    .consumer_options
                    .get("session.timeout.ms")
                    .map(String::as_str),
                Some("45000")
            );
            assert!(s.kafka.producer_options.is_empty());
            Ok(())
        });
    }

    #[test]
    fn command_line_takes_a_config_file_in_either_form_help_or_nothing_else() {
        let parse =
            |args: &[&str]| parse_command_line("detector", "", args.iter().map(|a| a.to_string()));
        assert_eq!(parse(&[]), Ok(CommandLine::Run { config: None }));
        let file = Some(PathBuf::from("h.toml"));
        assert_eq!(
            parse(&["--config", "h.toml"]),
            Ok(CommandLine::Run {
                config: file.clone()
            })
        );
        assert_eq!(
            parse(&["--config=h.toml"]),
            Ok(CommandLine::Run { config: file })
        );
        assert!(
            matches!(parse(&["-h"]), Ok(CommandLine::Help(t)) if t.starts_with("usage: detector"))
        );
        assert!(parse(&["--config"]).unwrap_err().contains("needs a file"));
        assert!(parse(&["--cofig", "h.toml"])
            .unwrap_err()
            .contains("unexpected argument \"--cofig\""));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = Settings::load(Some(Path::new("/nonexistent/h.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/h.toml"));
    }
}
