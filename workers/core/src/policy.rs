//! The versioned policy: which stop conditions exist, their thresholds, how to route, the SLA.
//!
//! Parsed from TOML with unknown keys refused, then validated (every team a rule names exists,
//! and so on). A bad file is refused at start-up with an error that names the line and key.

use crate::records::Urgency;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    pub working_hours: WorkingHours,
    #[serde(default)]
    pub plans: Plans,
    pub rules: Rules,
    pub routing: RoutingPolicy,
    pub sla: Sla,
    /// How the builder composes payloads.
    #[serde(default)]
    pub builder: crate::compose::BuilderPolicy,
    /// The tenant profile drafts, next actions and notices speak for when a tenant has none of
    /// its own (no profile: "our team", domain `general`).
    #[serde(default)]
    pub tenant: crate::compose::TenantProfile,
    /// Tenant id → its profile (`[tenants.<id>]`).
    #[serde(default)]
    pub tenants: BTreeMap<String, crate::compose::TenantProfile>,
    /// The encoder, learned heads and embedded tenant domains the learned rules read; `None`
    /// until [`Policy::with_semantic`] (the learned rules are then inert).
    #[serde(skip)]
    pub semantic: Option<crate::semantic::Semantic>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    pub contact_notice: String,
    /// The notice by conversation language (`es`, `de`, ...); `contact_notice` otherwise.
    #[serde(default)]
    pub contact_notices: BTreeMap<String, String>,
    #[serde(default = "default_transcript_window")]
    pub transcript_window: usize,
    #[serde(default = "default_cooldown_turns")]
    pub cooldown_turns: u32,
    #[serde(default = "default_cooldown_minutes")]
    pub cooldown_minutes: u32,
    #[serde(default = "default_idle_eviction_minutes")]
    pub idle_eviction_minutes: u32,
}

impl HandoffSettings {
    /// The contact notice in the conversation's language, when the policy has one.
    pub fn notice_for(&self, language: Option<&str>) -> &str {
        language
            .map(|l| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase())
            .and_then(|l| self.contact_notices.get(&l))
            .map(String::as_str)
            .unwrap_or(&self.contact_notice)
    }
}

fn default_transcript_window() -> usize {
    20
}
fn default_cooldown_turns() -> u32 {
    3
}
fn default_cooldown_minutes() -> u32 {
    15
}
fn default_idle_eviction_minutes() -> u32 {
    1440
}

/// When humans are around, in the tenant's time zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    pub time_zone: String,
    pub days: Vec<String>,
    pub open: String,
    pub close: String,
    #[serde(skip)]
    parsed: Option<ParsedHours>,
}

#[derive(Debug, Clone)]
struct ParsedHours {
    tz: chrono_tz::Tz,
    days: Vec<chrono::Weekday>,
    open: chrono::NaiveTime,
    close: chrono::NaiveTime,
}

impl WorkingHours {
    fn parse(&mut self) -> Result<(), String> {
        let tz: chrono_tz::Tz = self.time_zone.parse().map_err(|_| {
            format!(
                "working_hours.time_zone: unknown time zone {:?}",
                self.time_zone
            )
        })?;
        let days = self
            .days
            .iter()
            .map(|d| {
                d.parse::<chrono::Weekday>().map_err(|_| {
                    format!("working_hours.days: {d:?} is not a weekday (mon, tue, ...)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time = |key: &str, v: &str| {
            chrono::NaiveTime::parse_from_str(v, "%H:%M")
                .map_err(|_| format!("working_hours.{key}: {v:?} is not HH:MM"))
        };
        let open = time("open", &self.open)?;
        let close = time("close", &self.close)?;
        if close <= open {
            return Err("working_hours: close must be after open".into());
        }
        self.parsed = Some(ParsedHours {
            tz,
            days,
            open,
            close,
        });
        Ok(())
    }

    /// Whether `at` falls inside working hours.
    pub fn contains(&self, at: chrono::DateTime<chrono::Utc>) -> bool {
        use chrono::{Datelike, Timelike};
        let Some(p) = &self.parsed else { return true };
        let local = at.with_timezone(&p.tz);
        let t = chrono::NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
            .unwrap_or_default();
        p.days.contains(&local.weekday()) && t >= p.open && t < p.close
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Plans {
    /// Plan tiers for which handoff is off.
    #[serde(default)]
    pub handoff_disabled: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub explicit_request: RuleBase,
    pub sentiment: SentimentRule,
    pub threat: RuleBase,
    pub keyword: KeywordRule,
    pub tool_call: ToolCallRule,
    pub low_confidence: LowConfidenceRule,
    pub out_of_scope: OutOfScopeRule,
    pub sales: SalesRule,
    pub fraud: RuleBase,
    /// The learned detectors (`[rules.semantic.<detector>]`).
    #[serde(default)]
    pub semantic: crate::semantic::config::SemanticRules,
}

/// A rule table: the common keys of [`RuleBase`] (`id`, `enabled`, `urgency`) beside the rule's
/// own, and every other key refused with its name. (serde's `flatten` would pass unknown keys to
/// the flattened `RuleBase`, which cannot see them, so a typo such as `bogus_key = 1` was
/// accepted silently; the rule is read through a flat twin with `deny_unknown_fields` instead.)
macro_rules! rule_table {
    ($module:ident: $(#[$meta:meta])* pub struct $name:ident {
        pub base: RuleBase,
        $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
    }) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct Flat {
                id: String,
                #[serde(default = "yes")]
                enabled: bool,
                #[serde(default = "normal")]
                urgency: Urgency,
                $($(#[$fmeta])* $field: $ty,)*
            }

            $(#[$meta])*
            #[derive(Debug, Clone, Deserialize)]
            #[serde(from = "Flat")]
            pub struct $name {
                pub base: RuleBase,
                $($(#[$fmeta])* $fvis $field: $ty,)*
            }

            impl From<Flat> for $name {
                fn from(f: Flat) -> $name {
                    $name {
                        base: RuleBase { id: f.id, enabled: f.enabled, urgency: f.urgency },
                        $($field: f.$field,)*
                    }
                }
            }
        }
        pub use $module::$name;
    };
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

rule_table! {
sentiment_rule: pub struct SentimentRule {
    pub base: RuleBase,
    pub turn_threshold: f64,
    pub trajectory_window: usize,
    pub trajectory_threshold: f64,
}
}

rule_table! {
keyword_rule: pub struct KeywordRule {
    pub base: RuleBase,
    pub keywords: Vec<String>,
    /// Keywords that count only as the whole message (a bare "STOP").
    #[serde(default)]
    pub exact: Vec<String>,
    /// Tenant id → extra keywords.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantKeywords>,
    #[serde(skip)]
    pub(crate) matchers: Option<KeywordMatchers>,
}
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantKeywords {
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeywordMatchers {
    default: regex::Regex,
    tenants: BTreeMap<String, regex::Regex>,
}

fn keyword_regex(words: &[String]) -> Result<regex::Regex, String> {
    // Word boundaries on both sides; inner spaces match any run of white space, and an
    // apostrophe either the straight or the typographic one ("don't", "don’t").
    let alternatives: Vec<String> = words
        .iter()
        .filter(|w| !w.trim().is_empty())
        .map(|w| {
            w.split_whitespace()
                .map(|part| regex::escape(part).replace(['\'', '’'], "['’]"))
                .collect::<Vec<_>>()
                .join(r"\s+")
        })
        .collect();
    regex::Regex::new(&format!(r"(?i)\b(?:{})\b", alternatives.join("|")))
        .map_err(|e| e.to_string())
}

impl KeywordRule {
    fn compile(&mut self) -> Result<(), String> {
        let default =
            keyword_regex(&self.keywords).map_err(|e| format!("rules.keyword.keywords: {e}"))?;
        let mut tenants = BTreeMap::new();
        for (tenant, extra) in &self.tenants {
            let mut all = self.keywords.clone();
            all.extend(extra.keywords.iter().cloned());
            tenants.insert(
                tenant.clone(),
                keyword_regex(&all).map_err(|e| format!("rules.keyword.tenants.{tenant}: {e}"))?,
            );
        }
        self.matchers = Some(KeywordMatchers { default, tenants });
        Ok(())
    }

    /// The first keyword in `text`, for this tenant's list.
    pub fn find<'t>(&self, tenant: &str, text: &'t str) -> Option<&'t str> {
        let bare = text
            .trim()
            .trim_matches(|c: char| c.is_ascii_punctuation())
            .trim();
        if self.exact.iter().any(|e| e.eq_ignore_ascii_case(bare)) {
            return Some(bare);
        }
        let m = self.matchers.as_ref()?;
        let re = m.tenants.get(tenant).unwrap_or(&m.default);
        re.find(text).map(|x| x.as_str())
    }
}

rule_table! {
tool_call_rule: pub struct ToolCallRule {
    pub base: RuleBase,
    pub names: Vec<String>,
}
}

rule_table! {
low_confidence_rule: pub struct LowConfidenceRule {
    pub base: RuleBase,
    pub threshold: f64,
    pub consecutive: u32,
}
}

rule_table! {
out_of_scope_rule: pub struct OutOfScopeRule {
    pub base: RuleBase,
    /// Honour the agent's own `out_of_scope` flag.
    #[serde(default = "yes")]
    pub agent_flag: bool,
    /// Topics outside every tenant's domain unless the tenant brings them in scope.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantScope>,
    /// The tenant's domain by examples (`text,intent` CSV files, relative to the policy file's
    /// directory): a contact turn whose nearest example is less similar than
    /// `domain_similarity` is out of scope. Per tenant in `[rules.out_of_scope.tenants.<id>]`.
    #[serde(default)]
    pub domain_examples: Vec<String>,
    #[serde(default = "default_domain_similarity")]
    pub domain_similarity: f64,
    /// The rows of every domain file, read at load: tenant id (`""` policy-wide) → rows.
    #[serde(skip)]
    pub domain_rows: BTreeMap<String, Vec<(String, String)>>,
}
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantScope {
    /// Topics this tenant handles itself.
    #[serde(default)]
    pub in_scope: Vec<String>,
    /// This tenant's domain by examples (replaces the policy-wide `domain_examples`).
    #[serde(default)]
    pub domain_examples: Vec<String>,
}

fn default_domain_similarity() -> f64 {
    0.45
}

impl OutOfScopeRule {
    /// Reads every domain file; an unreadable or malformed one names the key and the file.
    fn load_domains(&mut self, base_dir: Option<&Path>) -> Result<(), String> {
        let mut sets: Vec<(String, String, Vec<String>)> = vec![(
            String::new(),
            "rules.out_of_scope.domain_examples".into(),
            self.domain_examples.clone(),
        )];
        for (tenant, scope) in &self.tenants {
            sets.push((
                tenant.clone(),
                format!("rules.out_of_scope.tenants.{tenant}.domain_examples"),
                scope.domain_examples.clone(),
            ));
        }
        for (tenant, key, files) in sets {
            let mut rows = Vec::new();
            for file in &files {
                let path = crate::classify::examples::resolve(file, base_dir)
                    .ok_or_else(|| format!("{key}: {file:?} is not a file"))?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))?;
                let parsed =
                    crate::classify::examples::parse_csv(&text, &path.display().to_string())
                        .map_err(|e| format!("{key}: {e}"))?;
                if parsed.is_empty() {
                    return Err(format!("{key}: {} has no examples", path.display()));
                }
                rows.extend(parsed);
            }
            if !rows.is_empty() {
                self.domain_rows.insert(tenant, rows);
            }
        }
        Ok(())
    }

    /// The out-of-scope topics for a tenant.
    pub fn topics_for<'a>(&'a self, tenant: &str) -> impl Iterator<Item = &'a str> + 'a {
        let in_scope: Vec<&str> = self
            .tenants
            .get(tenant)
            .map(|t| t.in_scope.iter().map(String::as_str).collect())
            .unwrap_or_default();
        self.topics
            .iter()
            .map(String::as_str)
            .filter(move |t| !in_scope.contains(t))
    }
}

rule_table! {
sales_rule: pub struct SalesRule {
    pub base: RuleBase,
    pub min_seats: u32,
    pub min_budget: f64,
    pub min_value: f64,
}
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicy {
    pub fallback_team: String,
    /// Where an SLA breach re-routes (the same team when absent).
    #[serde(default)]
    pub sla_escalation_team: Option<String>,
    pub teams: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

/// One routing rule. All conditions given must hold; an empty rule matches everything.
///
/// The router decides in stages (`route.rs`): rules with `reasons` first, then rules with
/// `intents` against the agent's own intent, then the same rules against the builder's
/// classified intent, then rules on account context (`plans`, `tags`); within a stage the first
/// matching rule in file order wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub id: String,
    pub team: String,
    /// Matches the intent or sub-intent (case-insensitive).
    #[serde(default)]
    pub intents: Vec<String>,
    /// Matches when any reason has one of these kinds (`fraud`, `sales`, ...).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Matches the contact's plan (case-insensitive).
    #[serde(default)]
    pub plans: Vec<String>,
    /// Matches when the contact carries one of these tags (case-insensitive).
    #[serde(default)]
    pub tags: Vec<String>,
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
        Policy::from_toml_in(text, origin, None)
    }

    /// Like [`Policy::from_toml`], resolving relative file names (domain examples) against
    /// `base_dir` (the policy file's directory; the working directory when `None`).
    pub fn from_toml_in(
        text: &str,
        origin: &str,
        base_dir: Option<&Path>,
    ) -> Result<Policy, PolicyError> {
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
        policy
            .prepare()
            .and_then(|()| policy.rules.out_of_scope.load_domains(base_dir))
            .and_then(|()| policy.validate())
            .map_err(|message| PolicyError::Invalid {
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
        Policy::from_toml_in(&text, &path.display().to_string(), path.parent())
    }

    /// The policy with its learned rules switched on: the encoder and heads they read, and each
    /// tenant's domain examples embedded once. Refuses heads trained on another encoder, and a
    /// heads file without a head an enabled rule needs (naming the file and the rule).
    pub fn with_semantic(
        mut self,
        encoder: std::sync::Arc<dyn crate::semantic::TextEncoder>,
        heads: crate::semantic::Heads,
        heads_origin: &str,
    ) -> Result<Policy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            origin: heads_origin.to_string(),
            message,
        };
        if heads.encoder_id != encoder.id() {
            return Err(invalid(format!(
                "trained on encoder {:?}, but the loaded encoder is {:?}",
                heads.encoder_id,
                encoder.id()
            )));
        }
        for (key, head) in self.rules.semantic.needed_heads() {
            if heads.get(head).is_none() {
                return Err(invalid(format!(
                    "no head {head:?}, which rules.semantic.{key} needs (retrain with `handoff train`)"
                )));
            }
        }
        let domains = self
            .rules
            .out_of_scope
            .domain_rows
            .iter()
            .map(|(tenant, rows)| {
                (
                    tenant.clone(),
                    crate::semantic::DomainIndex::new(rows, encoder.as_ref()),
                )
            })
            .collect();
        self.semantic = Some(crate::semantic::Semantic {
            encoder,
            heads: std::sync::Arc::new(heads),
            domains,
        });
        Ok(self)
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

    /// The profile of a tenant: its own `[tenants.<id>]`, else the `[tenant]` default.
    pub fn tenant_profile(&self, tenant_id: &str) -> &crate::compose::TenantProfile {
        self.tenants.get(tenant_id).unwrap_or(&self.tenant)
    }

    /// The contact notice for a tenant and language: the tenant's own `contact_notices` when its
    /// profile has one for the language (or a `default`), else `[handoff]`'s.
    pub fn notice_for_tenant(&self, tenant_id: &str, language: Option<&str>) -> &str {
        let own = &self.tenant_profile(tenant_id).contact_notices;
        language
            .map(crate::compose::language::primary)
            .and_then(|l| own.get(&l))
            .or_else(|| own.get("default"))
            .map(String::as_str)
            .unwrap_or_else(|| self.handoff.notice_for(language))
    }

    /// Compiles what the rules need at run time (keyword matchers, time zone).
    fn prepare(&mut self) -> Result<(), String> {
        self.working_hours.parse()?;
        self.rules.keyword.compile()
    }

    /// Whether handoff is off for this plan tier.
    pub fn handoff_disabled_for(&self, plan: Option<&str>) -> bool {
        plan.is_some_and(|p| {
            self.plans
                .handoff_disabled
                .iter()
                .any(|d| d.eq_ignore_ascii_case(p))
        })
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
        if let Some(t) = &self.routing.sla_escalation_team {
            if !self.has_team(t) {
                return Err(format!(
                    "routing.sla_escalation_team: {t:?} is not one of routing.teams"
                ));
            }
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
        for (id, profile) in std::iter::once(("tenant".to_string(), &self.tenant)).chain(
            self.tenants
                .iter()
                .map(|(id, p)| (format!("tenants.{id}"), p)),
        ) {
            if profile.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(format!(
                    "{id}.name: empty; leave it out to say \"our team\""
                ));
            }
        }
        if self.handoff.transcript_window == 0 {
            return Err("handoff.transcript_window: must be at least 1".into());
        }
        if self.rules.tool_call.names.is_empty() {
            return Err("rules.tool_call.names: name at least one tool".into());
        }
        let r = &self.rules;
        if !(-1.0..=1.0).contains(&r.sentiment.turn_threshold)
            || !(-1.0..=1.0).contains(&r.sentiment.trajectory_threshold)
        {
            return Err("rules.sentiment: thresholds are scores in [-1, 1]".into());
        }
        if r.sentiment.trajectory_window < 2 {
            return Err(
                "rules.sentiment.trajectory_window: at least 2 turns make a trajectory".into(),
            );
        }
        if !(0.0..=1.0).contains(&r.low_confidence.threshold) || r.low_confidence.consecutive == 0 {
            return Err("rules.low_confidence: threshold in [0, 1] and consecutive >= 1".into());
        }
        r.semantic.validate()?;
        if !(-1.0..=1.0).contains(&r.out_of_scope.domain_similarity) {
            return Err("rules.out_of_scope.domain_similarity: a cosine in [-1, 1]".into());
        }
        for t in &r.out_of_scope.topics {
            if !crate::detect::scope::KNOWN_TOPICS.contains(&t.as_str()) {
                return Err(format!(
                    "rules.out_of_scope.topics: unknown topic {t:?} (known: {})",
                    crate::detect::scope::KNOWN_TOPICS.join(", ")
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for id in [
            &r.explicit_request.id,
            &r.sentiment.base.id,
            &r.threat.id,
            &r.keyword.base.id,
            &r.tool_call.base.id,
            &r.low_confidence.base.id,
            &r.out_of_scope.base.id,
            &r.sales.base.id,
            &r.fraud.id,
        ]
        .into_iter()
        .chain(r.semantic.ids())
        {
            if !ids.insert(id) {
                return Err(format!(
                    "rules: rule id {id:?} is used twice; ids must identify one rule"
                ));
            }
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
    fn unknown_key_inside_a_rule_table_is_refused() {
        // Every table that shares RuleBase's keys, not only the top level.
        for (table, line) in [
            (
                "[rules.out_of_scope]",
                "[rules.out_of_scope]\nbogus_key = 1",
            ),
            ("[rules.sentiment]", "[rules.sentiment]\nbogus_key = 1"),
            ("[rules.keyword]", "[rules.keyword]\nbogus_key = 1"),
            ("[rules.tool_call]", "[rules.tool_call]\nbogus_key = 1"),
            (
                "[rules.low_confidence]",
                "[rules.low_confidence]\nbogus_key = 1",
            ),
            ("[rules.sales]", "[rules.sales]\nbogus_key = 1"),
            ("[rules.fraud]", "[rules.fraud]\nbogus_key = 1"),
            (
                "[rules.semantic.fraud]",
                "[rules.semantic.fraud]\nbogus_key = 1",
            ),
        ] {
            let text = DEFAULT_POLICY_TOML.replacen(table, line, 1);
            assert_ne!(
                text, DEFAULT_POLICY_TOML,
                "{table} is in the default policy"
            );
            let err = Policy::from_toml(&text, "policy.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("policy.toml") && err.contains("bogus_key"),
                "{table}: {err}"
            );
        }
    }

    #[test]
    fn unknown_learned_rule_is_refused() {
        let text = format!("{DEFAULT_POLICY_TOML}\n[rules.semantic.telepathy]\nid = \"x\"\n");
        let err = Policy::from_toml(&text, "policy.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("telepathy"), "{err}");
    }

    #[test]
    fn a_missing_domain_file_names_the_key_and_the_file() {
        let text = DEFAULT_POLICY_TOML.replacen(
            "domain_examples = []",
            "domain_examples = [\"no-such-domain.csv\"]",
            1,
        );
        assert_ne!(text, DEFAULT_POLICY_TOML);
        let err = Policy::from_toml_in(&text, "p.toml", Some(Path::new("/nonexistent")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules.out_of_scope.domain_examples"), "{err}");
        assert!(err.contains("/nonexistent/no-such-domain.csv"), "{err}");
    }

    #[test]
    fn domain_files_resolve_against_the_policy_directory_per_tenant() {
        let dir = std::env::temp_dir().join(format!("policy-domain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("bank.csv"),
            "text,intent\nmy card is blocked,cards\n",
        )
        .unwrap();
        let text = DEFAULT_POLICY_TOML.replacen(
            "[rules.out_of_scope.tenants.acme]",
            "[rules.out_of_scope.tenants.acme]\ndomain_examples = [\"bank.csv\"]",
            1,
        );
        std::fs::write(dir.join("policy.toml"), &text).unwrap();
        let p = Policy::from_file(&dir.join("policy.toml")).unwrap();
        assert_eq!(
            p.rules.out_of_scope.domain_rows.get("acme"),
            Some(&vec![(
                "my card is blocked".to_string(),
                "cards".to_string()
            )])
        );
        assert!(!p.rules.out_of_scope.domain_rows.contains_key(""));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn learned_rule_thresholds_are_probabilities() {
        let text = DEFAULT_POLICY_TOML.replacen(
            "id = \"semantic.threat.v1\"\nenabled = false\nthreshold = 0.97",
            "id = \"semantic.threat.v1\"\nenabled = false\nthreshold = 1.7",
            1,
        );
        assert_ne!(text, DEFAULT_POLICY_TOML);
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(err.contains("rules.semantic.threat.threshold"), "{err}");
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
    fn bad_time_zone_and_hours_are_refused() {
        let text = DEFAULT_POLICY_TOML.replace("Europe/Madrid", "Mars/Olympus");
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(err.contains("working_hours.time_zone"), "{err}");
        let text = DEFAULT_POLICY_TOML.replace("close = \"18:00\"", "close = \"08:00\"");
        assert!(Policy::from_toml(&text, "p").is_err());
    }

    #[test]
    fn working_hours_follow_the_time_zone() {
        use chrono::TimeZone;
        let p = Policy::builtin();
        // Friday 2026-11-20, 08:30 UTC = 09:30 in Madrid: open.
        assert!(p.working_hours.contains(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 8, 30, 0)
                .unwrap()
        ));
        // 07:30 UTC = 08:30 in Madrid: not yet.
        assert!(!p.working_hours.contains(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 7, 30, 0)
                .unwrap()
        ));
        // Saturday.
        assert!(!p.working_hours.contains(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
                .unwrap()
        ));
    }

    #[test]
    fn keywords_match_whole_words_per_tenant() {
        let p = Policy::builtin();
        let k = &p.rules.keyword;
        assert_eq!(
            k.find("other", "please UNSUBSCRIBE me"),
            Some("UNSUBSCRIBE")
        );
        assert_eq!(
            k.find("other", "I want to opt   out now"),
            Some("opt   out")
        );
        assert_eq!(k.find("other", "the bus stopped"), None, "word boundary");
        assert_eq!(
            k.find("other", "STOP!"),
            Some("STOP"),
            "a bare STOP opts out"
        );
        assert_eq!(
            k.find("other", "please stop the shipment"),
            None,
            "stop is exact-only"
        );
        assert_eq!(
            k.find("other", "Please stop messaging me."),
            Some("stop messaging me"),
            "stop as a request to stop contact"
        );
        assert_eq!(
            k.find("other", "Don’t contact me again"),
            Some("Don’t contact me"),
            "typographic apostrophe"
        );
        assert_eq!(k.find("other", "this is a data protection request"), None);
        assert_eq!(
            k.find("acme", "this is a data protection request"),
            Some("data protection request")
        );
    }

    #[test]
    fn duplicate_rule_ids_are_refused() {
        let text = DEFAULT_POLICY_TOML.replace("id = \"fraud.v1\"", "id = \"threat.v1\"");
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");
    }

    #[test]
    fn notices_by_language() {
        let p = Policy::builtin();
        assert!(p.handoff.notice_for(Some("es-ES")).starts_with("Gracias"));
        assert!(p.handoff.notice_for(Some("fr")).starts_with("Thanks"));
        assert!(p.handoff.notice_for(None).starts_with("Thanks"));
        assert!(p.handoff_disabled_for(Some("Starter")));
        assert!(!p.handoff_disabled_for(Some("growth")));
    }

    #[test]
    fn tenant_profiles_are_read_and_unknown_keys_refused_with_file_and_key() {
        let text = format!(
            "{DEFAULT_POLICY_TOML}\n[tenants.northwind]\nname = \"Northwind Bank\"\ndomain = \"banking\"\nvoice = \"formal\"\n"
        );
        let p = Policy::from_toml(&text, "p.toml").unwrap();
        let t = p.tenant_profile("northwind");
        assert_eq!(t.name.as_deref(), Some("Northwind Bank"));
        assert_eq!(t.domain, crate::compose::Domain::Banking);
        assert_eq!(t.voice, crate::compose::Voice::Formal);
        assert_eq!(p.tenant_profile("other").name, None, "the [tenant] default");
        let bad = format!("{text}colour = \"blue\"\n");
        let err = Policy::from_toml(&bad, "p.toml").unwrap_err().to_string();
        assert!(err.contains("p.toml") && err.contains("colour"), "{err}");
        let bad = text.replace("\"banking\"", "\"casino\"");
        let err = Policy::from_toml(&bad, "p.toml").unwrap_err().to_string();
        assert!(err.contains("casino") && err.contains("banking"), "{err}");
    }

    #[test]
    fn a_tenant_notice_replaces_the_default_one() {
        let text = format!(
            "{DEFAULT_POLICY_TOML}\n[tenants.t1]\ncontact_notices = {{ es = \"Un momento\", default = \"One moment\" }}\n"
        );
        let p = Policy::from_toml(&text, "p").unwrap();
        assert_eq!(p.notice_for_tenant("t1", Some("es-ES")), "Un momento");
        assert_eq!(p.notice_for_tenant("t1", Some("de")), "One moment");
        assert!(p.notice_for_tenant("t2", Some("de")).starts_with("Danke"));
    }

    #[test]
    fn wrong_type_is_refused() {
        let text = DEFAULT_POLICY_TOML.replace("normal_minutes = 30", "normal_minutes = \"soon\"");
        let err = Policy::from_toml(&text, "p").unwrap_err().to_string();
        assert!(err.contains("normal_minutes"), "{err}");
    }
}
