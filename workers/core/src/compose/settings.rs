//! The builder's part of the policy file (`[builder]`).
//!
//! Every key has a default, so a policy without `[builder]` works. Rules given in the policy
//! (`[[builder.drafts]]`, `[[builder.next_actions]]`, `[[builder.open_questions]]`) are tried
//! *before* the built-in ones (`compose/defaults.toml`), so a deployment overrides a text by adding
//! a rule for the same intent or reason, and adds languages by adding drafts with a new `lang`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// How payloads are composed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BuilderPolicy {
    /// The summary's word limit; at most 80 (the contract), lower to make summaries terser.
    pub summary_max_words: usize,
    /// Draft language when the conversation's has no templates.
    pub default_language: String,
    /// Phrases no draft reply may contain (case-insensitive), in any language: what the
    /// policy forbids the team to promise before a person has decided.
    pub forbidden_promises: Vec<String>,
    /// Extra intent and sub-intent aliases for template matching (`shipping = "orders"`), on
    /// top of the built-in ones. The payload keeps the original names.
    pub intent_aliases: BTreeMap<String, String>,
    pub classifier: ClassifierPolicy,
    pub priority: PriorityPolicy,
    pub drafts: Vec<DraftRule>,
    pub next_actions: Vec<ActionRule>,
    pub open_questions: Vec<QuestionRule>,
    /// The optional LLM composer (used by the builder worker only; core stays pure).
    pub llm: LlmPolicy,
}

impl Default for BuilderPolicy {
    fn default() -> Self {
        BuilderPolicy {
            summary_max_words: super::SUMMARY_MAX_WORDS,
            default_language: "en".into(),
            forbidden_promises: default_forbidden_promises(),
            intent_aliases: BTreeMap::new(),
            classifier: ClassifierPolicy::default(),
            priority: PriorityPolicy::default(),
            drafts: Vec::new(),
            next_actions: Vec::new(),
            open_questions: Vec::new(),
            llm: LlmPolicy::default(),
        }
    }
}

/// The built-in list: approvals, guarantees and compensation are for a person to decide.
pub fn default_forbidden_promises() -> Vec<String> {
    [
        "refund approved",
        "refund has been approved",
        "approved your refund",
        "guarantee",
        "guaranteed",
        "compensation",
        "we will compensate",
        "free of charge",
        "reembolso aprobado",
        "garantizamos",
        "garantizado",
        "compensación",
        "erstattung genehmigt",
        "garantieren",
        "garantiert",
        "entschädigung",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The intent classifier used when the agent supplied no intent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierPolicy {
    /// Example sets: `builtin:default` (compiled in) and/or `text,intent` CSV paths, relative to
    /// the policy file's directory. Empty disables the classifier (intent `unknown`).
    pub examples: Vec<String>,
    /// Renames example labels (`get_refund = "billing/refund"`); mapping to `""` drops them.
    pub label_map: BTreeMap<String, String>,
    /// Below this confidence the intent is `unknown` (the router's fallback team takes it).
    pub min_confidence: f64,
    /// Weight-matrix columns are `2^hash_bits` (12–22).
    pub hash_bits: u32,
    pub epochs: usize,
    /// Characters of the contact's turns read per conversation.
    pub max_chars: usize,
}

impl Default for ClassifierPolicy {
    fn default() -> Self {
        ClassifierPolicy {
            examples: vec![crate::classify::examples::BUILTIN_DEFAULT.to_string()],
            label_map: BTreeMap::new(),
            min_confidence: 0.25,
            hash_bits: 16,
            epochs: 12,
            max_chars: 1200,
        }
    }
}

/// How the priority is set: urgency gives the base, reasons set a floor, account value raises.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityPolicy {
    /// Reason kind → the lowest priority a handoff with that reason gets (`urgent`, `high`,
    /// `normal`, `low`).
    pub reason_floor: BTreeMap<String, String>,
    /// Intent or sub-intent (the payload's, after aliasing) → the lowest priority it gets.
    pub intent_floor: BTreeMap<String, String>,
    /// A VIP contact raises the priority one step.
    pub raise_vip: bool,
    /// Plans (case-insensitive) that raise the priority one step.
    pub raise_plans: Vec<String>,
    /// A contact value at or above this raises the priority one step (absent: never).
    pub value_threshold: Option<f64>,
}

impl Default for PriorityPolicy {
    fn default() -> Self {
        PriorityPolicy {
            reason_floor: [
                ("fraud", "urgent"),
                ("threat", "urgent"),
                ("sla_breach", "high"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            intent_floor: [("fraud".to_string(), "urgent".to_string())].into(),
            raise_vip: true,
            raise_plans: vec!["enterprise".into()],
            value_threshold: Some(10_000.0),
        }
    }
}

/// Selectors a rule's `when` may hold (any one matching is enough):
/// `*`; `reason:<kind>`; `intent/sub_intent`; `intent` or `sub_intent` alone. Intent names are
/// compared after aliasing, case-insensitively.
pub type Selectors = Vec<String>;

/// A draft reply template for one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DraftRule {
    pub lang: String,
    pub when: Selectors,
    pub text: String,
    /// Tenant domains the text fits (`banking`, `retail`, ...); empty: every domain.
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// The voice the text is written in; absent: fits both.
    #[serde(default)]
    pub voice: Option<Voice>,
}

/// A recommended next action with its reasoning (English, for the operator).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionRule {
    pub when: Selectors,
    pub action: String,
    pub reasoning: String,
    /// Tenant domains the action fits; empty: every domain.
    #[serde(default)]
    pub domains: Vec<Domain>,
}

/// An open question for the operator; every matching rule contributes, unless a fact of one of
/// the `unless` kinds was found.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuestionRule {
    pub when: Selectors,
    #[serde(default)]
    pub unless: Vec<String>,
    pub question: String,
    /// Tenant domains the question fits; empty: every domain.
    #[serde(default)]
    pub domains: Vec<Domain>,
}

/// The OpenAI-compatible chat-completions composer. The API key is never in the policy: it is
/// read from the environment variable named by `api_key_env` (or the file named by
/// `<api_key_env>_FILE`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmPolicy {
    pub enabled: bool,
    /// The chat-completions URL, e.g. `http://127.0.0.1:8000/v1/chat/completions`.
    pub endpoint: String,
    pub model: String,
    pub timeout_ms: u64,
    pub max_tokens: u32,
    pub temperature: f64,
    /// Ask for `response_format: {"type": "json_object"}` (vLLM, Ollama, llama.cpp, OpenAI).
    pub json_mode: bool,
    pub api_key_env: String,
}

impl Default for LlmPolicy {
    fn default() -> Self {
        LlmPolicy {
            enabled: false,
            endpoint: "http://127.0.0.1:8000/v1/chat/completions".into(),
            model: "default".into(),
            timeout_ms: 3000,
            max_tokens: 400,
            temperature: 0.0,
            json_mode: true,
            api_key_env: "HANDOFF_LLM_API_KEY".into(),
        }
    }
}

/// What kind of business a tenant is: it picks the built-in texts (a bank's next action never
/// holds an order before it ships).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Retail,
    Banking,
    Saas,
    Travel,
    Telecom,
    #[default]
    General,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Retail => "retail",
            Domain::Banking => "banking",
            Domain::Saas => "saas",
            Domain::Travel => "travel",
            Domain::Telecom => "telecom",
            Domain::General => "general",
        }
    }
}

/// How drafts address the contact: `formal` (Sie, usted, "Hello Ana Ruiz,") or `friendly`
/// (first name; du only where the tenant asks for it through its own drafts).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Voice {
    Formal,
    #[default]
    Friendly,
}

impl Voice {
    pub fn as_str(self) -> &'static str {
        match self {
            Voice::Formal => "formal",
            Voice::Friendly => "friendly",
        }
    }
}

/// A tenant profile (`[tenant]` for the default, `[tenants.<id>]` per tenant): who the drafts,
/// next actions and notices speak for. Without a name the texts say "our team" / "we"; no
/// built-in text names a company.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TenantProfile {
    /// The name the contact knows ("Northwind Bank").
    pub name: Option<String>,
    pub domain: Domain,
    pub voice: Voice,
    /// The contact notice by language (`en`, `es`, ..., or `default`), instead of `[handoff]`'s.
    pub contact_notices: BTreeMap<String, String>,
}
