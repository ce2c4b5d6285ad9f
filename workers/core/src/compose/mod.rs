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

pub mod entities;
pub mod language;
pub mod rules;
mod settings;
pub mod summary;
pub mod template;
mod text;

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
use regex::Regex;
use rules::{Rules, Subject};
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use template::Vars;
use text::{count_words, single_spaced_words};

pub const COMPOSER_NAME: &str = "builtin-extractive";
pub const COMPOSER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The summary's hard limit.
pub const SUMMARY_MAX_WORDS: usize = 80;
/// At most this many open questions per payload.
const MAX_OPEN_QUESTIONS: usize = 4;
/// At most this many inferred facts taken from agent turns.
const MAX_AGENT_FACTS: usize = 8;

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
    max_words: usize,
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
        Builder::with_base_dir(&policy.builder, policy_path.and_then(Path::parent))
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
        let contact_turns: Vec<&Turn> = signal
            .transcript
            .iter()
            .filter(|t| t.actor == Actor::Contact && !t.text.trim().is_empty())
            .collect();
        let agent_turns: Vec<&Turn> = signal
            .transcript
            .iter()
            .filter(|t| t.actor == Actor::Agent && !t.text.trim().is_empty())
            .collect();
        let language = signal
            .language
            .as_deref()
            .map(language::primary)
            .filter(|l| !l.is_empty())
            .or_else(|| {
                language::guess(contact_turns.iter().map(|t| t.text.as_str())).map(String::from)
            });

        // Facts.
        let mut facts = Facts {
            confirmed: Vec::with_capacity(16),
            ..Facts::default()
        };
        // Every entity of every contact turn (with repeats), for scoring sentences.
        let per_turn: Vec<Vec<Entity>> = contact_turns
            .iter()
            .map(|t| entities::extract(&t.text))
            .collect();
        // The first of each (kind, value), with the event that stated it.
        let mut found: Vec<(&Entity, &str)> = Vec::with_capacity(16);
        for (t, ents) in contact_turns.iter().zip(&per_turn) {
            for e in ents {
                if !found
                    .iter()
                    .any(|(f, _)| f.kind == e.kind && f.value == e.value)
                {
                    facts.confirmed.push(Fact {
                        kind: e.kind.to_string(),
                        value: e.value.clone(),
                        event_id: Some(t.event_id.clone()),
                        source: "contact_turn".into(),
                    });
                    found.push((e, &t.event_id));
                }
            }
        }
        block_facts(signal, &mut facts.confirmed);
        let mut agent_found: Vec<Entity> = Vec::new();
        for t in &agent_turns {
            for e in entities::extract(&t.text) {
                let known = facts
                    .confirmed
                    .iter()
                    .any(|f| f.kind == e.kind && f.value == e.value)
                    || agent_found
                        .iter()
                        .any(|f| f.kind == e.kind && f.value == e.value);
                if known || agent_found.len() >= MAX_AGENT_FACTS {
                    continue;
                }
                facts.inferred.push(Fact {
                    kind: e.kind.to_string(),
                    value: e.value.clone(),
                    event_id: Some(t.event_id.clone()),
                    source: "agent_turn".into(),
                });
                agent_found.push(e);
            }
        }

        let (intent, classified) = self.intent_of(signal, &contact_turns);
        let subject =
            self.rules
                .subject(&intent.name, intent.sub_intent.as_deref(), &signal.reasons);
        let topic = self.rules.topic(&subject);
        let reasons = reasons_phrase(&signal.reasons);

        // Variables for the templates.
        let mut vars = Vars::new();
        let contact = signal.contact.as_ref();
        let name = contact
            .and_then(|c| c.name.as_deref())
            .map(squash)
            .unwrap_or_default();
        let first_name = name.split_whitespace().next().unwrap_or("").to_string();
        vars.set("name", name.as_str());
        vars.set("first_name", first_name.as_str());
        vars.set(
            "contact",
            if first_name.is_empty() {
                "the contact"
            } else {
                first_name.as_str()
            },
        );
        if let Some(c) = contact {
            vars.set(
                "company",
                c.company.as_deref().map(squash).unwrap_or_default(),
            );
            vars.set("plan", c.plan.as_deref().unwrap_or_default());
            if let Some(v) = c.value.filter(|v| v.is_finite()) {
                vars.set("value", format_value(v));
            }
        }
        let confirmed = &facts.confirmed;
        let first_of = |kind: &str| -> Option<&str> {
            confirmed
                .iter()
                .find(|f| f.kind == kind)
                .map(|f| f.value.as_str())
        };
        for kind in [
            "account_id",
            "order_id",
            "money",
            "invoice_id",
            "ticket_id",
            "tracking_id",
            "error_code",
            "email",
            "phone",
            "date",
            "time",
            "product",
            "card_last4",
        ] {
            if let Some(v) = first_of(kind).or_else(|| {
                agent_found
                    .iter()
                    .find(|e| e.kind == kind && matches!(kind, "card_last4" | "tracking_id"))
                    .map(|e| e.value.as_str())
            }) {
                vars.set(kind, v);
            }
        }
        // The largest quantity is the one a deal is about ("40 seats today ... 250 seats").
        if let Some(q) = found
            .iter()
            .filter(|(e, _)| e.kind == "quantity")
            .max_by_key(|(e, _)| leading_number(&e.value))
        {
            vars.set("quantity", q.0.value.as_str());
        }
        vars.set("topic", topic.as_str());
        vars.set("intent", intent.name.as_str());
        vars.set(
            "sub_intent",
            intent.sub_intent.as_deref().unwrap_or_default(),
        );
        vars.set("reasons", reasons.as_str());
        vars.set("channel", channel_phrase(&signal.channel));
        let account_note = account_note(contact, &self.policy.priority);
        vars.set("account_note", account_note.as_str());

        // The builder's own conclusions.
        if let Some((limit, source, over)) = approval_limit(signal, &found) {
            vars.set("approval_limit", limit.clone());
            vars.set("approval_source", source.clone());
            facts.inferred.push(Fact {
                kind: "approval_required".into(),
                value: format!("{over} is above the {limit} approval limit in {source}"),
                event_id: None,
                source: "builder".into(),
            });
        }
        if let Some((deadline, event_id)) = deadline(&contact_turns, &found) {
            vars.set("deadline", deadline.clone());
            facts.inferred.push(Fact {
                kind: "deadline".into(),
                value: deadline,
                event_id: Some(event_id),
                source: "builder".into(),
            });
        }
        if let Some(t) = contact_turns
            .iter()
            .find(|t| entities::is_repeat_contact(&t.text))
        {
            facts.inferred.push(Fact {
                kind: "repeat_contact".into(),
                value: "the contact says earlier answers did not solve it".into(),
                event_id: Some(t.event_id.clone()),
                source: "builder".into(),
            });
        }
        if let Some(trend) = sentiment_trend(&signal.sentiment) {
            facts.inferred.push(Fact {
                kind: "sentiment_trend".into(),
                value: trend,
                event_id: None,
                source: "builder".into(),
            });
        }
        if !account_note.is_empty() {
            facts.inferred.push(Fact {
                kind: "account_value".into(),
                value: account_note.clone(),
                event_id: None,
                source: "builder".into(),
            });
        }
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
        let draft_lang = language
            .as_deref()
            .filter(|l| self.rules.has_language(l))
            .map(String::from)
            .unwrap_or_else(|| language::primary(&self.policy.default_language));
        let draft_reply = self
            .rules
            .draft(&draft_lang, &subject, &vars)
            .or_else(|| {
                let fallback = language::primary(&self.policy.default_language);
                self.rules.draft(&fallback, &subject, &vars)
            })
            .unwrap_or_else(|| {
                if first_name.is_empty() {
                    "Hello,".to_string()
                } else {
                    format!("Hello {first_name},")
                }
            });
        let (action, reasoning) = self.rules.next_action(&subject, &vars).unwrap_or_else(|| {
            (
                "Reply to the contact".into(),
                format!("Escalated because {reasons}."),
            )
        });

        let summary = self.summary(
            signal,
            &name,
            &topic,
            &language,
            &found,
            (&contact_turns, &per_turn),
            &agent_turns,
        );

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
                language: signal.language.clone().or(language),
                sentiment: signal.sentiment.clone(),
                rule_ids: signal.reasons.iter().map(|r| r.rule_id.clone()).collect(),
            },
            intent,
            facts,
            citations: dedup_citations(&signal.citations),
            draft_reply,
            next_action: NextAction { action, reasoning },
            priority: self.priority_of(signal, &subject),
            composer: Composer {
                name: COMPOSER_NAME.into(),
                version: COMPOSER_VERSION.into(),
            },
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

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn summary(
        &self,
        signal: &StopSignal,
        name: &str,
        topic: &str,
        language: &Option<String>,
        found: &[(&Entity, &str)],
        (contact_turns, per_turn): (&[&Turn], &[Vec<Entity>]),
        agent_turns: &[&Turn],
    ) -> String {
        let contact = signal.contact.as_ref();
        let who = if name.is_empty() {
            "The contact".to_string()
        } else {
            first_words(name, 3)
        };
        let mut details: Vec<String> = Vec::new();
        if let Some(c) = contact {
            if let Some(company) = c.company.as_deref().filter(|s| !s.trim().is_empty()) {
                details.push(first_words(company, 4));
            }
            if let Some(plan) = c.plan.as_deref().filter(|s| !s.trim().is_empty()) {
                details.push(format!("{} plan", first_words(plan, 2)));
            }
            if c.vip {
                details.push("VIP".into());
            }
        }
        let mut lead = who;
        lead.reserve(96 + topic.len());
        if !details.is_empty() {
            lead.push_str(" (");
            for (i, d) in details.iter().enumerate() {
                if i > 0 {
                    lead.push_str(", ");
                }
                lead.push_str(d);
            }
            lead.push(')');
        }
        lead.push_str(" wrote via ");
        lead.push_str(&channel_phrase(&signal.channel));
        let english = language.as_deref().is_none_or(|l| l == "en");
        if let Some(l) = language.as_deref().filter(|l| *l != "en") {
            lead.push_str(" in ");
            lead.push_str(&language::english_name(l));
        }
        lead.push_str(" about ");
        lead.push_str(topic);
        let fraud = signal.reasons.iter().any(|r| r.kind == ReasonKind::Fraud);
        if fraud && !topic.contains("fraud") {
            lead.push_str(", reported as possible fraud");
        }
        lead.push('.');

        let mut parts = summary::Parts {
            lead,
            escalation: escalation_phrase(&signal.reasons, &signal.sentiment),
            ..Default::default()
        };
        for (e, _) in found {
            let m = mention(e.kind, &e.value);
            if entities::is_key_kind(e.kind) {
                parts.key_facts.push(m);
            } else if !matches!(e.kind, "email" | "phone") {
                parts.other_facts.push(m);
            }
        }
        if let Some(acc) = contact.and_then(|c| c.account_id.as_deref()) {
            let acc = squash(acc);
            if !acc.is_empty()
                && !found
                    .iter()
                    .any(|(e, _)| e.kind == "account_id" && e.value == acc)
            {
                parts.key_facts.push(mention("account_id", &acc));
            }
        }
        if english {
            parts.quote = best_sentence(contact_turns, per_turn, &signal.reasons).map(|s| {
                let mut q = String::with_capacity(s.len() + 18);
                q.push_str("In their words: \"");
                q.push_str(&s);
                q.push('"');
                q
            });
        }
        parts.agent = agent_phrase(agent_turns, &signal.citations);
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

/// "VIP account, enterprise plan, value 120,000" — what makes the account worth a raise.
#[inline(never)]
fn account_note(contact: Option<&Contact>, p: &PriorityPolicy) -> String {
    let Some(c) = contact else {
        return String::new();
    };
    let mut notes = Vec::new();
    if c.vip {
        notes.push("VIP account".to_string());
    }
    if let Some(plan) = c.plan.as_deref() {
        if p.raise_plans
            .iter()
            .any(|r| r.eq_ignore_ascii_case(plan.trim()))
        {
            notes.push(format!("{} plan", first_words(plan, 2)));
        }
    }
    if let (Some(v), Some(t)) = (c.value, p.value_threshold) {
        if v.is_finite() && v >= t {
            notes.push(format!("contact value {}", format_value(v)));
        }
    }
    notes.join(", ")
}

#[inline(never)]
fn block_facts(signal: &StopSignal, out: &mut Vec<Fact>) {
    let mut add = |kind: &str, value: &str, source: &str| {
        let value = squash(value);
        if value.is_empty() || out.iter().any(|f| f.kind == kind && f.value == value) {
            return;
        }
        out.push(Fact {
            kind: kind.to_string(),
            value,
            event_id: None,
            source: source.to_string(),
        });
    };
    if let Some(c) = &signal.contact {
        let s = "contact_block";
        for (kind, v) in [
            ("name", &c.name),
            ("email", &c.email),
            ("phone", &c.phone),
            ("company", &c.company),
            ("role", &c.role),
            ("account_id", &c.account_id),
            ("plan", &c.plan),
        ] {
            if let Some(v) = v {
                add(kind, v, s);
            }
        }
        if let Some(v) = c.value.filter(|v| v.is_finite()) {
            add("contact_value", &format_value(v), s);
        }
        if c.vip {
            add("vip", "yes", s);
        }
        for t in &c.tags {
            add("tag", t, s);
        }
    }
    if let Some(e) = &signal.entry {
        let s = "entry_block";
        if let Some(v) = &e.source_url {
            add("entry_page", v, s);
        }
        if let Some(v) = &e.campaign {
            add("campaign", v, s);
        }
        if let Some(v) = &e.referrer {
            add("referrer", v, s);
        }
        for (k, v) in &e.form_fields {
            add("form_field", &format!("{k}: {v}"), s);
        }
    }
}

/// The limit a cited policy sets for approval ("Refunds above 500 EUR require approval.") when
/// an amount the contact stated exceeds it: (limit, source id, the amount).
#[inline(never)]
fn approval_limit(
    signal: &StopSignal,
    found: &[(&Entity, &str)],
) -> Option<(String, String, String)> {
    let amounts: Vec<&Entity> = found
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| e.amount.is_some())
        .collect();
    if amounts.is_empty() {
        return None;
    }
    for c in &signal.citations {
        let Some(snippet) = c.snippet.as_deref() else {
            continue;
        };
        let lower = snippet.to_lowercase();
        if !["approv", "aprob", "genehmig", "freigabe"]
            .iter()
            .any(|w| lower.contains(w))
        {
            continue;
        }
        for limit in entities::extract(snippet)
            .into_iter()
            .filter(|e| e.amount.is_some())
        {
            let before = &lower[..limit.start.min(lower.len())];
            let comparator = [
                "above",
                "over",
                "exceed",
                "more than",
                "greater than",
                "über",
                "más de",
                "superior",
            ]
            .iter()
            .any(|w| before.trim_end().ends_with(w) || before.ends_with(&format!("{w} ")));
            if !comparator {
                continue;
            }
            let (code, max) = limit.amount.expect("filtered");
            if let Some(over) = amounts
                .iter()
                .find(|a| a.amount.is_some_and(|(c2, v)| c2 == code && v > max))
            {
                return Some((limit.value.clone(), c.source_id.clone(), over.value.clone()));
            }
        }
    }
    None
}

/// What a contact writes before a date or time they need something by, in order of preference.
const CUES: &[&str] = &[
    "by ",
    "before ",
    "deadline",
    "no later than ",
    "bis ",
    "vor dem ",
    "um ",
    "antes del ",
    "antes de ",
    "para el ",
    "para ",
];

/// For each byte, the cues (bits by index into [`CUES`]) that start with it.
static CUE_STARTS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < CUES.len() {
        t[CUES[i].as_bytes()[0] as usize] |= 1 << i;
        i += 1;
    }
    t
};

/// A date or time the contact needs something by ("before 15 December", "um 14:00").
#[inline(never)]
fn deadline(contact_turns: &[&Turn], found: &[(&Entity, &str)]) -> Option<(String, String)> {
    for (e, event_id) in found {
        if !matches!(e.kind, "date" | "time") {
            continue;
        }
        let Some(turn) = contact_turns.iter().find(|t| t.event_id == *event_id) else {
            continue;
        };
        let text = &turn.text;
        if e.start > text.len() {
            continue;
        }
        let mut from = e.start.saturating_sub(24);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let window = text[from..e.start].to_lowercase();
        // The first cue (in list order) anywhere in a window of a few dozen bytes: one pass
        // over it, looking only at the cues that start with each byte.
        let w = window.as_bytes();
        let mut first = CUES.len();
        for i in 0..w.len() {
            // The cues (before the best so far) that start with this byte.
            let mut maybe = CUE_STARTS[w[i] as usize] & ((1 << first) - 1);
            while maybe != 0 {
                let ci = maybe.trailing_zeros() as usize;
                if w[i..].starts_with(CUES[ci].as_bytes()) {
                    first = ci;
                    break;
                }
                maybe &= maybe - 1;
            }
        }
        if let Some(cue) = CUES.get(first) {
            let prefix = match cue.trim() {
                "by" | "bis" | "para" | "para el" => "by",
                "um" => "at",
                _ => "before",
            };
            let mut value = String::with_capacity(prefix.len() + 1 + e.value.len());
            value.push_str(prefix);
            value.push(' ');
            value.push_str(&e.value);
            return Some((value, event_id.to_string()));
        }
    }
    None
}

#[inline(never)]
fn sentiment_trend(s: &[f64]) -> Option<String> {
    let s: Vec<f64> = s.iter().copied().filter(|v| v.is_finite()).collect();
    let (first, last) = (*s.first()?, *s.last()?);
    if s.len() >= 2 && last <= first - 0.3 {
        Some(format!(
            "sentiment worsened from {first:.2} to {last:.2} over {} contact turns",
            s.len()
        ))
    } else if last <= -0.5 {
        Some(format!("sentiment is very negative ({last:.2})"))
    } else {
        None
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

/// Sentences: a `.`, `!`, `?` or `…` followed by white space or the end closes one, so "EUR
/// 89.90" and "e.g." inside a word run stay whole; a line break always does.
fn split_sentences(text: &str) -> Sentences<'_> {
    Sentences {
        text,
        start: 0,
        done: false,
    }
}

/// The bytes that may close a sentence: line break, `.`, `!`, `?`, and the lead byte of `…`.
static SENTENCE_MARK: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'.' as usize] = true;
    t[b'!' as usize] = true;
    t[b'?' as usize] = true;
    t[0xE2] = true;
    t
};

/// The iterator of [`split_sentences`]: trimmed, non-empty pieces.
struct Sentences<'a> {
    text: &'a str,
    /// Where the next piece starts.
    start: usize,
    done: bool,
}

impl<'a> Sentences<'a> {
    /// The end of the piece starting at `self.start` (just after its closing mark), if a mark
    /// closes it.
    fn next_end(&self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let followed_by_space_or_end = |at: usize| match bytes.get(at) {
            None => true,
            Some(&b) if b < 0x80 => (b as char).is_whitespace(),
            Some(_) => self.text[at..]
                .chars()
                .next()
                .is_some_and(char::is_whitespace),
        };
        let mut i = self.start;
        while i < bytes.len() {
            if !SENTENCE_MARK[bytes[i] as usize] {
                i += 1;
                continue;
            }
            match bytes[i] {
                b'\n' => return Some(i + 1),
                b'.' | b'!' | b'?' if followed_by_space_or_end(i + 1) => return Some(i + 1),
                // '…' is E2 80 A6.
                0xE2 if bytes[i + 1..].starts_with(&[0x80, 0xA6])
                    && followed_by_space_or_end(i + 3) =>
                {
                    return Some(i + 3)
                }
                _ => i += 1,
            }
        }
        None
    }
}

impl<'a> Iterator for Sentences<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.done {
            let piece = match self.next_end() {
                Some(end) => {
                    let piece = &self.text[self.start..end];
                    self.start = end;
                    piece
                }
                None => {
                    self.done = true;
                    &self.text[self.start..]
                }
            };
            let piece = piece.trim();
            if !piece.is_empty() {
                return Some(piece);
            }
        }
        None
    }
}

/// Drops a leading greeting ("Hi, ", "Hola, ", "Guten Tag, ").
fn without_greeting(s: &str) -> &str {
    const GREETINGS: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "dear",
        "good morning",
        "good afternoon",
        "hola",
        "buenos días",
        "buenas",
        "hallo",
        "guten tag",
        "guten morgen",
        "ok",
        "okay",
        "thanks",
        "thank you",
        "great",
        "good",
    ];
    // Greetings are at most 14 bytes: when the first 16 are ASCII, lower-casing them is all
    // the comparison needs.
    let head = &s.as_bytes()[..s.len().min(16)];
    if head.is_ascii() {
        // Every greeting starts with one of these letters.
        if !head.first().is_some_and(|c| {
            matches!(
                c.to_ascii_lowercase(),
                b'h' | b'd' | b'g' | b'b' | b'o' | b't'
            )
        }) {
            return s;
        }
        for g in GREETINGS {
            if head.len() >= g.len() && head[..g.len()].eq_ignore_ascii_case(g.as_bytes()) {
                let rest = &s[g.len()..];
                if let Some(r) = rest.strip_prefix(|c: char| c == ',' || c == '!' || c == '.') {
                    let r = r.trim_start();
                    if count_words(r) >= 4 {
                        return r;
                    }
                }
            }
        }
        return s;
    }
    let lower = s.to_lowercase();
    for g in GREETINGS {
        if lower.starts_with(g) {
            let rest = &s[g.len().min(s.len())..];
            if let Some(r) = rest.strip_prefix(|c: char| c == ',' || c == '!' || c == '.') {
                let r = r.trim_start();
                if count_words(r) >= 4 {
                    return r;
                }
            }
        }
    }
    s
}

/// The contact's most informative sentence: facts, a question or a problem statement, not a
/// greeting or a bare request for a human.
#[inline(never)]
fn best_sentence(
    contact_turns: &[&Turn],
    per_turn: &[Vec<Entity>],
    reasons: &[Reason],
) -> Option<String> {
    let mut best: Option<(i32, &str)> = None;
    for (ti, t) in contact_turns.iter().enumerate() {
        let is_evidence = reasons.iter().any(|r| r.evidence_event_id == t.event_id);
        // Only a turn that triggered an explicit request can hold a bare "get me a human".
        let asked_for_human = is_evidence
            && reasons.iter().any(|r| {
                r.kind == ReasonKind::ExplicitRequest && r.evidence_event_id == t.event_id
            });
        let base = t.text.as_ptr() as usize;
        for s in split_sentences(&t.text) {
            let start = s.as_ptr() as usize - base;
            let end = start + s.len();
            let s = without_greeting(s);
            let n = count_words(s);
            if !(5..=24).contains(&n) || s.contains('"') {
                continue;
            }
            let mut score = per_turn[ti]
                .iter()
                .filter(|e| e.start >= start && e.end <= end)
                .map(|e| if entities::is_key_kind(e.kind) { 2 } else { 1 })
                .sum::<i32>();
            if s.ends_with('?') {
                score += 1;
            }
            if n >= 8 {
                score += 1;
            }
            if ti == 0 {
                score += 1;
            }
            if is_evidence {
                score += 2;
            }
            // A problem and a request add two each: a sentence that cannot reach the best
            // even with both is left out before the word searches.
            let out_of_reach = |score: i32, more: i32| best.is_some_and(|(b, _)| score + more < b);
            if out_of_reach(score, 4) {
                continue;
            }
            if asked_for_human && crate::detect::is_explicit_request(s) {
                continue;
            }
            let lower = s.to_lowercase();
            if PROBLEM_WORDS.is_match(&lower) {
                score += 2;
            }
            if out_of_reach(score, 2) {
                continue;
            }
            if REQUEST_WORDS.is_match(&lower) {
                score += 2;
            }
            // Later sentences win ties: the conversation has moved on to them.
            if best.is_none_or(|(b, _)| score >= b) {
                best = Some((score, s));
            }
        }
    }
    best.filter(|(score, _)| *score >= 2).map(|(_, s)| {
        let mut quote = squash(s);
        if let Some(first) = quote.chars().next().filter(|c| c.is_lowercase()) {
            quote.replace_range(..first.len_utf8(), &first.to_uppercase().to_string());
        }
        quote
    })
}

/// A sentence (lower-cased) that states a problem contains one of these.
const PROBLEM: &[&str] = &[
    " not ", "n't", " never", " still", " no ", "wrong", "broken", "stolen", "lost", "failed",
    "cannot", "error",
];
/// A sentence (lower-cased) that asks for something contains one of these.
const REQUEST: &[&str] = &[
    "please",
    "need",
    "want",
    "can you",
    "could you",
    "would like",
    "quiero",
    "necesito",
    "möchte",
    "bitte",
    "brauche",
];

/// Whether a text contains any of the words: one pass instead of one search per word.
fn any_of(words: &[&str]) -> Regex {
    let alternation: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    Regex::new(&alternation.join("|")).expect("literal alternation")
}

static PROBLEM_WORDS: LazyLock<Regex> = LazyLock::new(|| any_of(PROBLEM));
static REQUEST_WORDS: LazyLock<Regex> = LazyLock::new(|| any_of(REQUEST));

#[inline(never)]
fn agent_phrase(agent_turns: &[&Turn], citations: &[Citation]) -> Option<String> {
    if agent_turns.is_empty() {
        return None;
    }
    let mut s = String::with_capacity(96);
    s.push_str("The agent answered ");
    match agent_turns.len() {
        1 => s.push_str("once"),
        2 => s.push_str("twice"),
        n => {
            s.push_str(&n.to_string());
            s.push_str(" times");
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for c in citations {
        if !seen.contains(&c.source_id.as_str()) {
            seen.push(&c.source_id);
        }
    }
    if let Some(first) = citations.first() {
        let title = first_words(&first.title, 6);
        s.push_str(", citing ");
        s.push_str(&first.source_id);
        if !title.is_empty() {
            s.push_str(" \"");
            s.push_str(&title);
            s.push('"');
        }
        if seen.len() > 1 {
            s.push_str(&format!(
                " and {} more source{}",
                seen.len() - 1,
                if seen.len() > 2 { "s" } else { "" }
            ));
        }
    }
    s.push('.');
    Some(s)
}

/// "Escalated because the agent asked for a human (refund approval over limit)."
#[inline(never)]
fn escalation_phrase(reasons: &[Reason], sentiment: &[f64]) -> String {
    let mut phrase = reasons_phrase(reasons);
    for r in reasons {
        match r.kind {
            ReasonKind::ToolCall => {
                if let Some(why) = tool_call_reason(&r.evidence_text) {
                    phrase.push_str(&format!(" ({})", first_words(&why, 6)));
                    break;
                }
            }
            ReasonKind::Sentiment => {
                if let (Some(a), Some(b)) = (sentiment.first(), sentiment.last()) {
                    if sentiment.len() >= 2 && a.is_finite() && b.is_finite() {
                        phrase.push_str(&format!(" (sentiment {a:.2} to {b:.2})"));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut s = String::with_capacity(phrase.len() + 18);
    s.push_str("Escalated because ");
    s.push_str(&phrase);
    s.push('.');
    s
}

/// The `reason` argument of a tool call's evidence `name({...json...})`.
fn tool_call_reason(evidence: &str) -> Option<String> {
    let start = evidence.find('(')?;
    let end = evidence.rfind(')')?;
    if end <= start {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&evidence[start + 1..end]).ok()?;
    v.get("reason")?
        .as_str()
        .map(squash)
        .filter(|s| !s.is_empty())
}

/// Human words for the reasons, e.g. "the contact asked for a human" (at most two, then "and N
/// more").
pub fn reasons_phrase(reasons: &[Reason]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for r in reasons {
        let p = match r.kind {
            ReasonKind::ExplicitRequest => "the contact asked for a human",
            ReasonKind::ToolCall => "the agent asked for a human",
            ReasonKind::Sentiment => "the contact is frustrated",
            ReasonKind::Threat => "the contact threatened to leave or take action",
            ReasonKind::Keyword => "a compliance keyword matched",
            ReasonKind::LowConfidence => "the agent was not confident",
            ReasonKind::OutOfScope => "the request is out of scope",
            ReasonKind::Sales => "a sales opportunity needs a person",
            ReasonKind::Fraud => "a fraud or security signal",
            ReasonKind::Manual => "an operator took over",
            ReasonKind::HandoffDisabledByPlan => "handoff is disabled for this plan",
            ReasonKind::SlaBreach => "the claim deadline passed",
            ReasonKind::Other => "a policy rule fired",
        };
        if !parts.contains(&p) {
            parts.push(p);
        }
    }
    match parts.len() {
        0 => "a policy rule fired".into(),
        1 | 2 => parts.join(" and "),
        n => format!("{}, {} and {} more", parts[0], parts[1], n - 2),
    }
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
