//! The versioned policy: which stop conditions exist, their thresholds, how to route, the SLA.
//!
//! Parsed from TOML with unknown keys refused, then validated (every team a rule names exists,
//! and so on). A bad file is refused at start-up with an error that names the line and key.

use crate::records::Urgency;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The policy that ships with the project (`infra/policy/default.toml`).
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../../infra/policy/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid policy {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("invalid policy {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Explicit version; when absent the version is `sha256:<first 12 hex of the file>`.
    #[serde(default)]
    version: Option<String>,
    #[serde(skip)]
    resolved_version: String,
    pub handoff: HandoffSettings,
    pub rules: Rules,
    pub routing: RoutingPolicy,
    pub sla: Sla,
    /// How the builder composes payloads.
    #[serde(default)]
    pub builder: crate::build::BuilderPolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    pub contact_notice: String,
    #[serde(default = "default_transcript_window")]
    pub transcript_window: usize,
}

fn default_transcript_window() -> usize {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub explicit_request: RuleBase,
    pub tool_call: ToolCallRule,
}

/// What every rule has: an id recorded on each decision, a switch, and the urgency it implies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBase {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
}

fn yes() -> bool {
    true
}

fn normal() -> Urgency {
    Urgency::Normal
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallRule {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicy {
    pub fallback_team: String,
    pub teams: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

/// One ordered routing rule. All conditions given must hold; an empty rule matches everything.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub id: String,
    pub team: String,
    /// Matches the payload's intent or sub-intent (case-insensitive).
    #[serde(default)]
    pub intents: Vec<String>,
    /// Matches when any reason has one of these kinds (`fraud`, `sales`, ...).
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    pub immediate_minutes: u32,
    pub normal_minutes: u32,
    pub nurture_minutes: u32,
}

impl Sla {
    pub fn claim_within(&self, urgency: Urgency) -> chrono::Duration {
        let minutes = match urgency {
            Urgency::Immediate => self.immediate_minutes,
            Urgency::Normal => self.normal_minutes,
            Urgency::Nurture => self.nurture_minutes,
        };
        chrono::Duration::minutes(i64::from(minutes))
    }
}

impl Policy {
    /// Parses and validates policy text; `origin` names it in errors (a path, or `built-in`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let mut policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        policy.resolved_version = match &policy.version {
            Some(v) if !v.trim().is_empty() => v.clone(),
            _ => {
                let digest = Sha256::digest(text.as_bytes());
                format!("sha256:{}", &hex::encode(digest)[..12])
            }
        };
        policy.validate().map_err(|message| PolicyError::Invalid {
            origin: origin.to_string(),
            message,
        })?;
        Ok(policy)
    }

    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// The built-in default policy.
    pub fn builtin() -> Policy {
        Policy::from_toml(DEFAULT_POLICY_TOML, "built-in").expect("the shipped policy is valid")
    }

    /// The version stamped on every decision.
    pub fn version(&self) -> &str {
        &self.resolved_version
    }

    pub fn has_team(&self, team: &str) -> bool {
        self.routing.teams.iter().any(|t| t == team)
    }

    fn validate(&self) -> Result<(), String> {
        let team_name = regex::Regex::new(r"^[a-z0-9][a-z0-9_-]*$").expect("static regex");
        if self.routing.teams.is_empty() {
            return Err("routing.teams: at least one team is needed".into());
        }
        for team in &self.routing.teams {
            if !team_name.is_match(team) {
                return Err(format!(
                    "routing.teams: team name {team:?} must be lowercase letters, digits, '-' or '_' (it names a topic)"
                ));
            }
        }
        if !self.has_team(&self.routing.fallback_team) {
            return Err(format!(
                "routing.fallback_team: {:?} is not one of routing.teams",
                self.routing.fallback_team
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in self.routing.rules.iter().enumerate() {
            if !self.has_team(&rule.team) {
                return Err(format!(
                    "routing.rules[{i}] (id {:?}): team {:?} is not one of routing.teams",
                    rule.id, rule.team
                ));
            }
            if !seen.insert(rule.id.as_str()) {
                return Err(format!(
                    "routing.rules[{i}]: duplicate rule id {:?}",
                    rule.id
                ));
            }
        }
        if self.handoff.transcript_window == 0 {
            return Err("handoff.transcript_window: must be at least 1".into());
        }
        if self.rules.tool_call.names.is_empty() {
            return Err("rules.tool_call.names: name at least one tool".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_is_valid_and_versioned() {
        let p = Policy::builtin();
        assert_eq!(p.version(), "default-2026-11-21");
        assert!(p.has_team("general"));
    }

    #[test]
    fn unversioned_policy_gets_a_content_hash() {
        let text = DEFAULT_POLICY_TOML.replace("version = \"default-2026-11-21\"", "");
        let p = Policy::from_toml(&text, "t").unwrap();
        assert!(p.version().starts_with("sha256:"), "{}", p.version());
        assert_eq!(p.version().len(), "sha256:".len() + 12);
    }

    #[test]
    fn unknown_key_is_refused_with_line_and_key() {
        let text = DEFAULT_POLICY_TOML.replace("transcript_window = 20", "transcript_windw = 20");
        let err = Policy::from_toml(&text, "policy.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("policy.toml"), "{err}");
        assert!(err.contains("transcript_windw"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn unknown_team_in_rule_is_refused() {
        let text = DEFAULT_POLICY_TOML.replace("team = \"billing\"", "team = \"billling\"");
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(
            err.contains("\"billling\" is not one of routing.teams"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        let text = DEFAULT_POLICY_TOML.replace("normal_minutes = 30", "normal_minutes = \"soon\"");
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(err.contains("normal_minutes"), "{err}");
    }
}
