//! The builder: turns a StopSignal into the HandoffPayload a human acts on in seconds.
//!
//! This is the built-in, deterministic composer: it needs nothing outside the process. A
//! [`Builder`] is made once from the policy's `[builder]` section (it compiles the templates and
//! trains or loads the intent classifier) and then [`Builder::build`] is a pure function of the
//! signal:
//!
//! - **facts** ([`entities`]): money, ids, emails, phones, dates, quantities... from the contact's
//!   turns are *confirmed* with their event id; the contact and entry blocks are confirmed with
//!   source `contact_block` / `entry_block`. What only the agent said is *inferred* (source
//!   `agent_turn`): the agent's words are not the customer's facts, but the human should see them.
//!   The builder's own conclusions (an approval limit exceeded, a repeat contact, a worsening
//!   mood, a deadline, a high-value account) are *inferred* with source `builder`. Open questions
//!   come from rules per intent and reason, minus those the facts already answer.
//! - **intent**: the agent's when it supplied one; otherwise the [`IntentClassifier`] over the
//!   contact's turns (sentences that only ask for a human are left out).
//! - **summary** ([`summary`]): one English paragraph, at most 80 words, carrying every money
//!   amount and id that fits.
//! - **draft reply, next action, open questions** ([`rules`], [`template`]): the policy's rules
//!   first, then the built-in ones (`defaults.toml`), per language and per intent or reason;
//!   drafts are checked against `forbidden_promises`.
//! - **priority**: urgency, then a floor per reason kind (fraud and threats are urgent), then one
//!   step up for account value (VIP, an enterprise-class plan, or a contact value at or above a
//!   threshold).

mod conclusions;
pub mod entities;
pub mod language;
mod phrases;
mod reading;
pub mod rules;
pub mod safety;
mod sentences;
mod settings;
pub mod summary;
pub mod template;
mod text;

#[cfg(test)]
mod behaviour;
#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

pub use settings::{
    ActionRule, BuilderPolicy, ClassifierPolicy, Domain, DraftRule, LlmPolicy, PriorityPolicy,
    QuestionRule, TenantProfile, Voice,
};

use crate::classify::examples::{self, ExamplesError};
use crate::classify::{IntentClassifier, IntentSource, TrainConfig};
use crate::policy::Policy;
use crate::records::*;
use entities::Entity;
pub use phrases::reasons_phrase;
use phrases::{agent_phrase, escalation_phrase};
use reading::{contact_vars, fact_vars, lead_phrase, stated_facts, Reading};
use rules::{Rules, Subject};
use sentences::split_sentences;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use template::Vars;
use text::single_spaced_words;

pub const COMPOSER_NAME: &str = "builtin-extractive";
pub const COMPOSER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The summary's hard limit.
pub const SUMMARY_MAX_WORDS: usize = 80;
/// At most this many open questions per payload.
const MAX_OPEN_QUESTIONS: usize = 4;
/// The pseudo reason kind rules select a possible emergency with (`when = ["reason:harm"]`).
const HARM_SELECTOR: &str = "harm";

#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    #[error(transparent)]
    Examples(#[from] ExamplesError),
    #[error("invalid builder policy: {0}")]
    Invalid(String),
}

/// The composer, made once per policy. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct Builder {
    policy: BuilderPolicy,
    rules: Arc<Rules>,
    classifier: Option<Arc<IntentClassifier>>,
    /// Consulted in order for the contact's intent (the lexical classifier by default).
    intent_sources: Vec<Arc<dyn IntentSource>>,
    tenants: Arc<Tenants>,
    max_words: usize,
}

/// The tenant profiles drafts and next actions speak for.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    /// `[tenant]`: for every tenant without its own profile.
    pub default: TenantProfile,
    /// `[tenants.<id>]`.
    pub by_id: BTreeMap<String, TenantProfile>,
}

impl Tenants {
    pub fn profile(&self, tenant_id: &str) -> &TenantProfile {
        self.by_id.get(tenant_id).unwrap_or(&self.default)
    }
}

/// Where [`Builder::with_intent_source`] puts a new source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentSourceUse {
    /// Consulted first; the existing sources still decide where it is unsure.
    Before,
    /// Replaces every existing source.
    Instead,
}

/// Classifiers trained from the built-in examples only, per training configuration: every
/// `Builder` of a process (pipelines in tests, the worker) shares one instead of retraining.
static BUILTIN_CLASSIFIERS: Mutex<Vec<(TrainConfig, Arc<IntentClassifier>)>> =
    Mutex::new(Vec::new());

fn train_config(p: &ClassifierPolicy) -> TrainConfig {
    TrainConfig {
        hash_bits: p.hash_bits,
        epochs: p.epochs,
        max_chars: p.max_chars,
        ..TrainConfig::default()
    }
}

impl Builder {
    /// Makes a builder; relative example paths resolve against the working directory.
    pub fn new(policy: &BuilderPolicy) -> Result<Builder, BuilderError> {
        Builder::with_base_dir(policy, None)
    }

    /// Makes a builder for a whole policy loaded from `policy_path` (`None`: built-in policy),
    /// resolving example paths against the policy file's directory.
    pub fn for_policy(
        policy: &Policy,
        policy_path: Option<&Path>,
    ) -> Result<Builder, BuilderError> {
        Ok(
            Builder::with_base_dir(&policy.builder, policy_path.and_then(Path::parent))?
                .with_tenants(Tenants {
                    default: policy.tenant.clone(),
                    by_id: policy.tenants.clone(),
                }),
        )
    }

    /// Uses these tenant profiles (a builder made from `[builder]` alone speaks for "our team").
    pub fn with_tenants(mut self, tenants: Tenants) -> Builder {
        self.tenants = Arc::new(tenants);
        self
    }

    /// Makes a builder; relative example paths resolve against `base_dir`.
    pub fn with_base_dir(
        policy: &BuilderPolicy,
        base_dir: Option<&Path>,
    ) -> Result<Builder, BuilderError> {
        if policy.summary_max_words == 0 || policy.summary_max_words > SUMMARY_MAX_WORDS {
            return Err(BuilderError::Invalid(format!(
                "builder.summary_max_words must be 1..={SUMMARY_MAX_WORDS}, not {}",
                policy.summary_max_words
            )));
        }
        let c = &policy.classifier;
        if !(8..=22).contains(&c.hash_bits) {
            return Err(BuilderError::Invalid(format!(
                "builder.classifier.hash_bits must be 8..=22, not {}",
                c.hash_bits
            )));
        }
        if !(0.0..=1.0).contains(&c.min_confidence) {
            return Err(BuilderError::Invalid(
                "builder.classifier.min_confidence must be within 0..=1".into(),
            ));
        }
        for (table, floors) in [
            ("reason_floor", &policy.priority.reason_floor),
            ("intent_floor", &policy.priority.intent_floor),
        ] {
            for (kind, p) in floors {
                if parse_priority(p).is_none() {
                    return Err(BuilderError::Invalid(format!(
                        "builder.priority.{table}.{kind}: {p:?} is not urgent, high, normal or low"
                    )));
                }
            }
        }
        let rules = Rules::compile(policy).map_err(BuilderError::Invalid)?;
        let classifier = if c.examples.is_empty() {
            None
        } else {
            let config = train_config(c);
            let builtin_only =
                c.label_map.is_empty() && c.examples.iter().all(|e| e == examples::BUILTIN_DEFAULT);
            if builtin_only {
                let mut cache = BUILTIN_CLASSIFIERS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match cache.iter().find(|(k, _)| *k == config) {
                    Some((_, m)) => Some(m.clone()),
                    None => {
                        let m = Arc::new(IntentClassifier::train_with(
                            &examples::default_examples(),
                            &config,
                        ));
                        cache.push((config, m.clone()));
                        Some(m)
                    }
                }
            } else {
                let rows = examples::load(&c.examples, base_dir, &c.label_map)?;
                if rows.is_empty() {
                    return Err(BuilderError::Invalid(
                        "builder.classifier.examples: the files hold no examples".into(),
                    ));
                }
                Some(Arc::new(IntentClassifier::train_with(&rows, &config)))
            }
        };
        Ok(Builder {
            policy: policy.clone(),
            rules: Arc::new(rules),
            intent_sources: classifier
                .iter()
                .map(|c| c.clone() as Arc<dyn IntentSource>)
                .collect(),
            classifier,
            tenants: Arc::default(),
            max_words: policy.summary_max_words,
        })
    }

    /// Plugs in another intent source (e.g. a learned head on sentence embeddings): `Before`
    /// consults it ahead of the lexical classifier, `Instead` replaces the classifier.
    pub fn with_intent_source(
        mut self,
        source: Arc<dyn IntentSource>,
        how: IntentSourceUse,
    ) -> Builder {
        if how == IntentSourceUse::Instead {
            self.intent_sources.clear();
        }
        self.intent_sources.insert(0, source);
        self
    }

    /// The intent sources, in the order they are consulted.
    pub fn intent_sources(&self) -> &[Arc<dyn IntentSource>] {
        &self.intent_sources
    }

    pub fn policy(&self) -> &BuilderPolicy {
        &self.policy
    }

    /// The trained classifier (`None` when the policy lists no examples).
    pub fn classifier(&self) -> Option<&IntentClassifier> {
        self.classifier.as_deref()
    }

    /// The forbidden promise `text` contains, if any (the LLM composer checks its drafts too).
    pub fn forbidden_phrase(&self, text: &str) -> Option<String> {
        self.rules.forbidden_phrase(text)
    }

    /// Builds the payload for a signal.
    pub fn build(&self, signal: &StopSignal) -> HandoffPayload {
        let reading = Reading::of(signal);
        let found = reading.found();
        let tenant = self.tenants.profile(&signal.tenant_id);

        // Facts: what the contact and the blocks state, then the builder's own conclusions.
        let mut facts = Facts {
            confirmed: Vec::with_capacity(16),
            ..Facts::default()
        };
        let agent_ids = stated_facts(signal, &reading, &found, &mut facts);
        let (intent, classified) = self.intent_of(signal, &reading.contact_turns);
        let mut subject =
            self.rules
                .subject(&intent.name, intent.sub_intent.as_deref(), &signal.reasons);
        subject.domain = tenant.domain;
        subject.voice = tenant.voice;
        if reading.harm.is_some() {
            subject.reason_kinds.insert(0, HARM_SELECTOR);
        }
        let topic = self.rules.topic(&subject);
        let reasons = reasons_phrase(&signal.reasons);
        let draft_lang = self.draft_language(reading.language.as_deref());

        // Variables for the templates.
        let mut vars = Vars::new();
        let names = contact_vars(&mut vars, signal, tenant, &draft_lang);
        fact_vars(&mut vars, &facts.confirmed, &agent_ids, &found);
        vars.set("topic", topic.as_str());
        vars.set("intent", intent.name.as_str());
        vars.set(
            "sub_intent",
            intent.sub_intent.as_deref().unwrap_or_default(),
        );
        vars.set("reasons", reasons.as_str());
        let account_note =
            conclusions::account_note(signal.contact.as_ref(), &self.policy.priority);
        vars.set("account_note", account_note.as_str());
        if let Some((harm, _)) = &reading.harm {
            vars.set("harm", harm.phrase());
        }
        self.conclude(
            signal,
            &reading,
            &found,
            &account_note,
            &mut vars,
            &mut facts,
        );
        if classified.name != "unknown" {
            facts.inferred.push(classified_intent_fact(&classified));
        }

        // Open questions, draft, next action.
        let has_kind = |k: &str| {
            facts.confirmed.iter().any(|f| f.kind == k)
                || (k == "deadline" && vars.get("deadline").is_some())
        };
        facts.open_questions = self
            .rules
            .questions(&subject, &vars, has_kind, MAX_OPEN_QUESTIONS);
        let draft_reply = self.draft(&draft_lang, &subject, &vars, &reading, tenant.voice);
        let (action, reasoning) = self.rules.next_action(&subject, &vars).unwrap_or_else(|| {
            (
                "Reply to the contact".into(),
                format!("Escalated because {reasons}."),
            )
        });

        let summary = self.summary(signal, &names.0, &topic, &reading, &found);
        let mut priority = self.priority_of(signal, &subject);
        if reading.harm.is_some() {
            priority = Priority::Urgent;
        }
        HandoffPayload {
            handoff_id: signal.handoff_id.clone(),
            signal_id: signal.signal_id.clone(),
            conversation_id: signal.conversation_id.clone(),
            tenant_id: signal.tenant_id.clone(),
            trigger_event_id: signal.trigger_event_id.clone(),
            created_at: signal.decided_at,
            policy_version: signal.policy_version.clone(),
            decision: signal.decision,
            urgency: signal.urgency,
            reasons: signal.reasons.clone(),
            summary,
            transcript: signal.transcript.clone(),
            context: CapturedContext {
                contact: signal.contact.clone(),
                entry: signal.entry.clone(),
                channel: signal.channel.clone(),
                language: signal.language.clone().or(reading.language),
                sentiment: signal.sentiment.clone(),
                rule_ids: signal.reasons.iter().map(|r| r.rule_id.clone()).collect(),
            },
            intent,
            facts,
            citations: dedup_citations(&signal.citations),
            draft_reply,
            next_action: NextAction { action, reasoning },
            priority,
            composer: Composer {
                name: COMPOSER_NAME.into(),
                version: COMPOSER_VERSION.into(),
            },
        }
    }

    /// The draft's language: the conversation's when drafts exist in it, else the default.
    fn draft_language(&self, language: Option<&str>) -> String {
        language
            .filter(|l| self.rules.has_language(l))
            .map(String::from)
            .unwrap_or_else(|| language::primary(&self.policy.default_language))
    }

    /// The draft reply; with a possible emergency it leads with the emergency instruction.
    fn draft(
        &self,
        lang: &str,
        subject: &Subject,
        vars: &Vars<'_>,
        reading: &Reading<'_>,
        voice: Voice,
    ) -> String {
        let text = self
            .rules
            .draft(lang, subject, vars)
            .or_else(|| {
                let fallback = language::primary(&self.policy.default_language);
                self.rules.draft(&fallback, subject, vars)
            })
            .unwrap_or_else(|| vars.get("greeting").unwrap_or("Hello,").to_string());
        match &reading.harm {
            Some((harm, _)) => {
                let instruction =
                    self.rules
                        .emergency_instruction(lang, *harm == safety::Harm::SelfHarm, voice);
                format!("{instruction} {text}")
            }
            None => text,
        }
    }

    /// The builder's conclusions about the case, as inferred facts (and template variables).
    fn conclude(
        &self,
        signal: &StopSignal,
        reading: &Reading<'_>,
        found: &[(&Entity, &str)],
        account_note: &str,
        vars: &mut Vars<'_>,
        facts: &mut Facts,
    ) {
        let mut conclude = |kind: &str, value: String, event_id: Option<String>| {
            facts.inferred.push(Fact {
                kind: kind.into(),
                value,
                event_id,
                source: "builder".into(),
            });
        };
        if let Some((harm, event_id)) = &reading.harm {
            conclude(
                "safety_risk",
                format!("possible harm to a person: {}", harm.phrase()),
                Some(event_id.clone()),
            );
        }
        if let Some((limit, source, over)) = conclusions::approval_limit(signal, found) {
            conclude(
                "approval_required",
                format!("{over} is above the {limit} approval limit in {source}"),
                None,
            );
            vars.set("approval_limit", limit);
            vars.set("approval_source", source);
        }
        if let Some((deadline, event_id)) = conclusions::deadline(&reading.contact_turns, found) {
            vars.set("deadline", deadline.clone());
            conclude("deadline", deadline, Some(event_id));
        }
        if let Some(t) = reading
            .contact_turns
            .iter()
            .find(|t| entities::is_repeat_contact(&t.text))
        {
            conclude(
                "repeat_contact",
                "the contact says earlier answers did not solve it".into(),
                Some(t.event_id.clone()),
            );
        }
        if let Some(trend) = conclusions::sentiment_trend(&signal.sentiment) {
            conclude("sentiment_trend", trend, None);
        }
        if !account_note.is_empty() {
            conclude("account_value", account_note.to_string(), None);
        }
    }

    /// The payload's intent (the agent's when it gave one, else the classified one) and the
    /// classified reading itself (recorded as a fact so the router can fall back on it).
    #[inline(never)]
    fn intent_of(&self, signal: &StopSignal, contact_turns: &[&Turn]) -> (Intent, Intent) {
        let classified = self.classify(signal, contact_turns);
        let Some(name) = signal
            .agent_intent
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        else {
            return (classified.clone(), classified);
        };
        let agent = Intent {
            name: name.to_string(),
            sub_intent: signal
                .agent_sub_intent
                .clone()
                .filter(|s| !s.trim().is_empty()),
            confidence: signal
                .agent_intent_confidence
                .filter(|c| c.is_finite())
                .unwrap_or(0.5)
                .clamp(0.0, 1.0),
            source: "agent".into(),
        };
        (agent, classified)
    }

    /// The intent sources' reading of the contact's turns: the first confident one wins.
    fn classify(&self, signal: &StopSignal, contact_turns: &[&Turn]) -> Intent {
        let unknown = |confidence: f64, source: &str| Intent {
            name: "unknown".into(),
            sub_intent: None,
            confidence,
            source: source.into(),
        };
        if self.intent_sources.is_empty() {
            return unknown(0.0, "none");
        }
        let parts = topic_parts(signal, contact_turns);
        if parts.is_empty() {
            return unknown(0.0, self.intent_sources[0].name());
        }
        let mut best = unknown(0.0, self.intent_sources[0].name());
        for source in &self.intent_sources {
            let Some(p) = source.predict_parts(&parts) else {
                continue;
            };
            if p.confidence >= self.policy.classifier.min_confidence {
                return Intent {
                    name: p.intent,
                    sub_intent: p.sub_intent,
                    confidence: p.confidence,
                    source: source.name().into(),
                };
            }
            if p.confidence > best.confidence {
                best = unknown(p.confidence, source.name());
            }
        }
        best
    }

    /// The ≤ 80-word paragraph (see [`summary`]).
    #[inline(never)]
    fn summary(
        &self,
        signal: &StopSignal,
        name: &str,
        topic: &str,
        reading: &Reading<'_>,
        found: &[(&Entity, &str)],
    ) -> String {
        let mut parts = summary::Parts {
            emergency: reading
                .harm
                .as_ref()
                .map(|(h, _)| format!("POSSIBLE EMERGENCY: {}.", h.phrase())),
            lead: lead_phrase(signal, name, topic, reading.language.as_deref()),
            escalation: escalation_phrase(&signal.reasons, &signal.sentiment),
            ..Default::default()
        };
        for (e, _) in found {
            let m = mention(e.kind, &e.value);
            if entities::is_key_kind(e.kind) || e.kind == "date" {
                parts.key_facts.push(m);
            } else if !matches!(e.kind, "email" | "phone") {
                parts.other_facts.push(m);
            }
        }
        if let Some(acc) = signal
            .contact
            .as_ref()
            .and_then(|c| c.account_id.as_deref())
        {
            let acc = squash(acc);
            if !acc.is_empty()
                && !found
                    .iter()
                    .any(|(e, _)| e.kind == "account_id" && e.value == acc)
            {
                parts.key_facts.push(mention("account_id", &acc));
            }
        }
        let english = reading.language.as_deref().is_none_or(|l| l == "en");
        if english {
            parts.quotes =
                summary::quotes(&reading.contact_turns, &reading.per_turn, &signal.reasons);
        }
        parts.agent = agent_phrase(&reading.agent_turns, &signal.citations);
        summary::compose(&parts, self.max_words)
    }

    #[inline(never)]
    fn priority_of(&self, signal: &StopSignal, subject: &Subject) -> Priority {
        let p = &self.policy.priority;
        let mut priority = match signal.urgency {
            Urgency::Immediate => Priority::Urgent,
            Urgency::Normal => Priority::Normal,
            Urgency::Nurture => Priority::Low,
        };
        let reason_floors = signal
            .reasons
            .iter()
            .filter_map(|r| p.reason_floor.get(r.kind.as_str()));
        let intent_floors = [
            &subject.canon_intent,
            &subject.intent,
            &subject.canon_sub,
            &subject.sub,
        ]
        .into_iter()
        .filter(|n| !n.is_empty())
        .filter_map(|n| p.intent_floor.get(n.as_str()));
        for floor in reason_floors
            .chain(intent_floors)
            .filter_map(|s| parse_priority(s))
        {
            if floor.rank() < priority.rank() {
                priority = floor;
            }
        }
        if let Some(c) = &signal.contact {
            let plan_raises = c.plan.as_deref().is_some_and(|plan| {
                p.raise_plans
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(plan.trim()))
            });
            let value_raises = matches!((c.value, p.value_threshold), (Some(v), Some(t)) if v >= t);
            if (p.raise_vip && c.vip) || plan_raises || value_raises {
                priority = priority.raised();
            }
        }
        priority
    }
}

fn parse_priority(s: &str) -> Option<Priority> {
    match s.trim().to_ascii_lowercase().as_str() {
        "urgent" => Some(Priority::Urgent),
        "high" => Some(Priority::High),
        "normal" => Some(Priority::Normal),
        "low" => Some(Priority::Low),
        _ => None,
    }
}

/// The contact's words that say what the case is about: a sentence that only asks for a human
/// says nothing about the topic.
fn topic_parts<'t>(signal: &StopSignal, contact_turns: &[&'t Turn]) -> Vec<&'t str> {
    let mut parts: Vec<&str> = Vec::with_capacity(contact_turns.len());
    for t in contact_turns {
        let asked_for_human = signal
            .reasons
            .iter()
            .any(|r| r.kind == ReasonKind::ExplicitRequest && r.evidence_event_id == t.event_id);
        if asked_for_human && crate::detect::is_explicit_request(&t.text) {
            parts.extend(
                split_sentences(&t.text).filter(|s| !crate::detect::is_explicit_request(s)),
            );
        } else {
            parts.push(&t.text);
        }
    }
    if parts.is_empty() {
        parts.extend(contact_turns.iter().map(|t| t.text.as_str()));
    }
    parts
}

/// The inferred fact that records the builder's classified reading of the case.
const CLASSIFIED_INTENT_FACT: &str = "intent";

/// How the classified reading is written as a fact: `orders/shipping_delay (classifier,
/// confidence 0.83)`; [`classified_intent`] reads it back.
fn classified_intent_fact(intent: &Intent) -> Fact {
    Fact {
        kind: CLASSIFIED_INTENT_FACT.into(),
        value: format!(
            "{}{} ({}, confidence {:.2})",
            intent.name,
            intent
                .sub_intent
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            intent.source,
            intent.confidence
        ),
        event_id: None,
        source: "builder".into(),
    }
}

/// The builder's classified intent and sub-intent of a payload (from its `intent` fact), for
/// routing when the agent's own intent names no team.
pub fn classified_intent(payload: &HandoffPayload) -> Option<(&str, Option<&str>)> {
    let fact = payload
        .facts
        .inferred
        .iter()
        .find(|f| f.kind == CLASSIFIED_INTENT_FACT && f.source == "builder")?;
    let label = fact.value.split(" (").next()?.trim();
    let (name, sub) = match label.split_once('/') {
        Some((n, s)) => (n, Some(s)),
        None => (label, None),
    };
    (!name.is_empty() && name != "unknown").then_some((name, sub))
}

/// The process-wide builder of the built-in policy section.
pub fn default_builder() -> &'static Builder {
    static DEFAULT: OnceLock<Builder> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Builder::new(&BuilderPolicy::default()).expect("the built-in builder policy is valid")
    })
}

/// Builds the payload for a signal with the built-in `[builder]` defaults.
pub fn build(signal: &StopSignal) -> HandoffPayload {
    default_builder().build(signal)
}

/// How a fact is written in the summary ("order 55120", "EUR 640").
pub fn mention(kind: &str, value: &str) -> String {
    let label = match kind {
        "order_id" => "order ",
        "account_id" => "account ",
        "invoice_id" => "invoice ",
        "ticket_id" => "ticket ",
        "tracking_id" => "tracking ",
        "error_code" => "error ",
        "size" => "size ",
        "card_last4" => "card ending ",
        _ => "",
    };
    let mut m = String::with_capacity(label.len() + value.len());
    m.push_str(label);
    m.push_str(value);
    m
}

/// The money and id facts of a payload that its summary carries: what any other composer's
/// summary must keep too.
pub fn key_facts_in_summary(payload: &HandoffPayload) -> Vec<&Fact> {
    payload
        .facts
        .confirmed
        .iter()
        .filter(|f| entities::is_key_kind(&f.kind) && payload.summary.contains(&f.value))
        .collect()
}

/// Whether `text` mentions the fact: its canonical value, or for money the same amount (digits
/// and decimals) with the currency written as code or symbol ("€640" for `EUR 640`).
pub fn mentions(text: &str, fact: &Fact) -> bool {
    if text.contains(&fact.value) {
        return true;
    }
    if fact.kind == "money" {
        let Some((code, amount)) = fact.value.split_once(' ') else {
            return false;
        };
        let Some((want, _)) = entities::parse_amount(amount) else {
            return false;
        };
        return entities::extract(text).iter().any(|e| {
            e.amount
                .is_some_and(|(c, a)| c == code && (a - want).abs() < 0.005)
        });
    }
    text.to_uppercase().contains(&fact.value.to_uppercase())
}

/// The words of `s` joined by single spaces.
fn squash(s: &str) -> String {
    if single_spaced_words(s).is_some() {
        return s.to_string();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `n` words of `s`, joined by single spaces.
fn first_words(s: &str, n: usize) -> String {
    if let Some(count) = single_spaced_words(s) {
        if count <= n {
            return s.to_string();
        }
        // Single-spaced: the first `n` words end before the `n`-th space.
        let end = s
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b' ')
            .nth(n.saturating_sub(1))
            .map_or(s.len(), |(i, _)| i);
        return if n == 0 {
            String::new()
        } else {
            s[..end].to_string()
        };
    }
    s.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

fn leading_number(s: &str) -> u64 {
    s.split_whitespace()
        .next()
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn format_value(v: f64) -> String {
    let whole = v.round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if whole < 0 {
        out.insert(0, '-');
    }
    out
}

fn channel_phrase(channel: &str) -> String {
    match channel.trim().to_ascii_lowercase().as_str() {
        "" | "web" | "chat" | "webchat" => "web chat".into(),
        "whatsapp" => "WhatsApp".into(),
        "email" | "mail" => "email".into(),
        "sms" => "SMS".into(),
        "phone" | "voice" => "phone".into(),
        other => first_words(other, 2),
    }
}

#[inline(never)]
fn dedup_citations(citations: &[Citation]) -> Vec<Citation> {
    let mut out: Vec<Citation> = Vec::with_capacity(citations.len());
    for c in citations {
        if !out.iter().any(|o| o.source_id == c.source_id) {
            out.push(c.clone());
        }
    }
    out
}

/// At most `max` words, ending with an ellipsis when cut.
pub fn truncate_words(text: &str, max: usize) -> String {
    if single_spaced_words(text).is_some_and(|n| n <= max) {
        return text.to_string();
    }
    truncate_words_slow(text, max)
}

/// [`truncate_words`] of an owned text: the text itself when it needs no change.
fn truncate_words_owned(text: String, max: usize) -> String {
    if single_spaced_words(&text).is_some_and(|n| n <= max) {
        return text;
    }
    truncate_words_slow(&text, max)
}

fn truncate_words_slow(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= max {
        return words.join(" ");
    }
    let mut out = words[..max].join(" ");
    out.push('…');
    out
}
