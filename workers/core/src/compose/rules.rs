//! Compiled rules: the policy's `[builder]` drafts, next actions and open questions, then the
//! built-in ones (`defaults.toml`), with their selectors and parsed templates.

use super::settings::{ActionRule, BuilderPolicy, Domain, DraftRule, QuestionRule, Voice};
use super::template::{Template, Vars};
use crate::records::Reason;
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The built-in rules, aliases and topic phrases.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    emergency: BTreeMap<String, EmergencyTexts>,
    aliases: BTreeMap<String, String>,
    topics: BTreeMap<String, String>,
    drafts: Vec<DraftRule>,
    next_actions: Vec<ActionRule>,
    open_questions: Vec<QuestionRule>,
}

/// The emergency instruction a draft leads with, in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyTexts {
    /// Harm to a person (a swallowed battery, chest pain, gas...).
    pub harm: String,
    /// A risk of self-harm.
    pub self_harm: String,
    /// The same in the formal voice, where the language has one.
    #[serde(default)]
    pub harm_formal: Option<String>,
    #[serde(default)]
    pub self_harm_formal: Option<String>,
}

/// One `when` entry.
#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Any,
    Reason(String),
    IntentSub(String, String),
    Name(String),
}

fn parse_selectors(when: &[String], rule: &str) -> Result<Vec<Selector>, String> {
    if when.is_empty() {
        return Err(format!(
            "{rule}: `when` needs at least one selector (`*` for any)"
        ));
    }
    when.iter()
        .map(|w| {
            let w = w.trim().to_lowercase();
            Ok(if w == "*" {
                Selector::Any
            } else if let Some(kind) = w.strip_prefix("reason:") {
                Selector::Reason(kind.to_string())
            } else if let Some((i, s)) = w.split_once('/') {
                if i.is_empty() || s.is_empty() {
                    return Err(format!("{rule}: bad selector {w:?}"));
                }
                Selector::IntentSub(i.to_string(), s.to_string())
            } else if w.is_empty() {
                return Err(format!("{rule}: empty selector"));
            } else {
                Selector::Name(w)
            })
        })
        .collect()
}

/// What a payload is about, for matching selectors.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub intent: String,
    pub sub: String,
    pub canon_intent: String,
    pub canon_sub: String,
    pub reason_kinds: Vec<&'static str>,
    /// The tenant's domain and voice: rules for other domains or the other voice do not apply.
    pub domain: Domain,
    pub voice: Voice,
}

impl Subject {
    fn matches(&self, sel: &Selector) -> bool {
        match sel {
            Selector::Any => true,
            Selector::Reason(k) => self.reason_kinds.iter().any(|r| r == k),
            Selector::IntentSub(i, s) => {
                (self.canon_intent == *i && self.canon_sub == *s)
                    || (self.intent == *i && self.sub == *s)
            }
            Selector::Name(n) => {
                !n.is_empty()
                    && (self.canon_intent == *n
                        || self.canon_sub == *n
                        || self.intent == *n
                        || self.sub == *n)
            }
        }
    }

    fn any(&self, sels: &[Selector]) -> bool {
        sels.iter().any(|s| self.matches(s))
    }
}

#[derive(Debug, Clone)]
struct Draft {
    lang: String,
    when: Vec<Selector>,
    text: Template,
    domains: Vec<Domain>,
    voice: Option<Voice>,
}

#[derive(Debug, Clone)]
struct Action {
    when: Vec<Selector>,
    action: Template,
    reasoning: Template,
    domains: Vec<Domain>,
}

#[derive(Debug, Clone)]
struct Question {
    when: Vec<Selector>,
    unless: Vec<String>,
    question: Template,
    domains: Vec<Domain>,
}

impl Subject {
    /// Whether a rule written for `domains` (empty: all) fits the tenant.
    fn fits(&self, domains: &[Domain]) -> bool {
        domains.is_empty() || domains.contains(&self.domain)
    }
}

/// Everything the composer looks up by intent and reason.
#[derive(Debug, Clone)]
pub struct Rules {
    drafts: Vec<Draft>,
    actions: Vec<Action>,
    questions: Vec<Question>,
    aliases: HashMap<String, String>,
    topics: HashMap<String, String>,
    /// Lower-cased forbidden phrases.
    forbidden: Vec<String>,
    /// Whether a lower-cased text contains any of them, in one pass (`None`: there are none).
    forbidden_any: Option<Regex>,
    languages: Vec<String>,
    emergency: BTreeMap<String, EmergencyTexts>,
}

fn forbidden_in(text_lower: &str, forbidden: &[String]) -> Option<String> {
    forbidden
        .iter()
        .find(|f| !f.is_empty() && text_lower.contains(f.as_str()))
        .cloned()
}

impl Rules {
    pub fn compile(policy: &BuilderPolicy) -> Result<Rules, String> {
        let defaults: Defaults =
            toml::from_str(DEFAULTS_TOML).map_err(|e| format!("built-in defaults: {e}"))?;
        let forbidden: Vec<String> = policy
            .forbidden_promises
            .iter()
            .map(|f| f.trim().to_lowercase())
            .filter(|f| !f.is_empty())
            .collect();
        let mut drafts = Vec::new();
        for (builtin, list) in [(false, &policy.drafts), (true, &defaults.drafts)] {
            for (i, d) in list.iter().enumerate() {
                let name = if builtin {
                    format!("built-in drafts[{i}]")
                } else {
                    format!("builder.drafts[{i}]")
                };
                let text = Template::parse(&d.text).map_err(|e| format!("{name}: {e}"))?;
                if let Some(f) = forbidden_in(text.literal_lower(), &forbidden) {
                    if builtin {
                        // The deployment forbids a phrase a built-in text uses: skip that text.
                        continue;
                    }
                    return Err(format!(
                        "{name}: the text contains {f:?}, which builder.forbidden_promises forbids"
                    ));
                }
                let lang = super::language::primary(&d.lang);
                if lang.is_empty() {
                    return Err(format!("{name}: `lang` is empty"));
                }
                drafts.push(Draft {
                    lang,
                    when: parse_selectors(&d.when, &name)?,
                    text,
                    domains: d.domains.clone(),
                    voice: d.voice,
                });
            }
        }
        let mut actions = Vec::new();
        for (builtin, list) in [
            (false, &policy.next_actions),
            (true, &defaults.next_actions),
        ] {
            for (i, a) in list.iter().enumerate() {
                let name = if builtin {
                    format!("built-in next_actions[{i}]")
                } else {
                    format!("builder.next_actions[{i}]")
                };
                actions.push(Action {
                    when: parse_selectors(&a.when, &name)?,
                    action: Template::parse(&a.action).map_err(|e| format!("{name}: {e}"))?,
                    reasoning: Template::parse(&a.reasoning).map_err(|e| format!("{name}: {e}"))?,
                    domains: a.domains.clone(),
                });
            }
        }
        let mut questions = Vec::new();
        let policy_questions = &policy.open_questions;
        for (builtin, list) in [(false, policy_questions), (true, &defaults.open_questions)] {
            for (i, q) in list.iter().enumerate() {
                let name = if builtin {
                    format!("built-in open_questions[{i}]")
                } else {
                    format!("builder.open_questions[{i}]")
                };
                questions.push(Question {
                    when: parse_selectors(&q.when, &name)?,
                    unless: q.unless.clone(),
                    question: Template::parse(&q.question).map_err(|e| format!("{name}: {e}"))?,
                    domains: q.domains.clone(),
                });
            }
        }
        let mut aliases: HashMap<String, String> = defaults
            .aliases
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
            .collect();
        for (k, v) in &policy.intent_aliases {
            aliases.insert(k.to_lowercase(), v.to_lowercase());
        }
        let topics = defaults
            .topics
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        let mut languages: Vec<String> = drafts.iter().map(|d| d.lang.clone()).collect();
        languages.sort();
        languages.dedup();
        let default_lang = super::language::primary(&policy.default_language);
        if !drafts.iter().any(|d| {
            d.lang == default_lang
                && d.when.contains(&Selector::Any)
                && d.domains.is_empty()
                && d.voice.is_none()
        }) {
            return Err(format!(
                "builder.default_language {default_lang:?} has no catch-all draft (when = [\"*\"])"
            ));
        }
        Ok(Rules {
            drafts,
            actions,
            questions,
            aliases,
            topics,
            forbidden_any: (!forbidden.is_empty()).then(|| {
                let phrases: Vec<String> = forbidden.iter().map(|f| regex::escape(f)).collect();
                Regex::new(&phrases.join("|")).expect("escaped phrases")
            }),
            forbidden,
            languages,
            emergency: defaults.emergency,
        })
    }

    /// The emergency instruction in `lang` (English when the language has none), for self-harm
    /// or other harm, in the tenant's voice.
    pub fn emergency_instruction(&self, lang: &str, self_harm: bool, voice: Voice) -> &str {
        let t = self
            .emergency
            .get(lang)
            .or_else(|| self.emergency.get("en"))
            .expect("the built-in defaults have English emergency texts");
        let formal = voice == Voice::Formal;
        match (self_harm, formal) {
            (true, true) => t.self_harm_formal.as_deref().unwrap_or(&t.self_harm),
            (true, false) => &t.self_harm,
            (false, true) => t.harm_formal.as_deref().unwrap_or(&t.harm),
            (false, false) => &t.harm,
        }
    }

    /// The subject of a payload: its intent names, aliased, and its reason kinds.
    pub fn subject(&self, intent: &str, sub: Option<&str>, reasons: &[Reason]) -> Subject {
        let intent = intent.trim().to_lowercase();
        let sub = sub.unwrap_or("").trim().to_lowercase();
        let canon = |s: &str| {
            self.aliases
                .get(s)
                .cloned()
                .unwrap_or_else(|| s.to_string())
        };
        let mut kinds: Vec<&'static str> = reasons.iter().map(|r| r.kind.as_str()).collect();
        kinds.dedup();
        Subject {
            canon_intent: canon(&intent),
            canon_sub: canon(&sub),
            intent,
            sub,
            reason_kinds: kinds,
            domain: Domain::default(),
            voice: Voice::default(),
        }
    }

    /// Whether drafts exist in `lang`.
    pub fn has_language(&self, lang: &str) -> bool {
        self.languages.iter().any(|l| l == lang)
    }

    /// Whether `text` contains a forbidden promise (returns the phrase).
    pub fn forbidden_phrase(&self, text: &str) -> Option<String> {
        forbidden_in(&text.to_lowercase(), &self.forbidden)
    }

    /// The first draft in `lang` that matches, can be filled and promises nothing forbidden.
    pub fn draft(&self, lang: &str, subject: &Subject, vars: &Vars<'_>) -> Option<String> {
        self.drafts
            .iter()
            .filter(|d| d.lang == lang && subject.any(&d.when) && subject.fits(&d.domains))
            .filter(|d| d.voice.is_none_or(|v| v == subject.voice))
            .filter_map(|d| d.text.render(vars))
            .find(|text| {
                self.forbidden_any
                    .as_ref()
                    .is_none_or(|re| !re.is_match(&text.to_lowercase()))
            })
    }

    /// The first next action that matches and can be filled.
    pub fn next_action(&self, subject: &Subject, vars: &Vars<'_>) -> Option<(String, String)> {
        self.actions
            .iter()
            .filter(|a| subject.any(&a.when) && subject.fits(&a.domains))
            .find_map(|a| Some((a.action.render(vars)?, a.reasoning.render(vars)?)))
    }

    /// Every matching open question whose `unless` kinds were not found (at most `max`).
    pub fn questions(
        &self,
        subject: &Subject,
        vars: &Vars<'_>,
        has_kind: impl Fn(&str) -> bool,
        max: usize,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for q in &self.questions {
            if out.len() >= max {
                break;
            }
            if !subject.any(&q.when)
                || !subject.fits(&q.domains)
                || q.unless.iter().any(|k| has_kind(k))
            {
                continue;
            }
            if let Some(text) = q.question.render(vars) {
                if !out.contains(&text) {
                    out.push(text);
                }
            }
        }
        out
    }

    /// An English phrase for the subject ("a refund"), or the names made readable.
    pub fn topic(&self, subject: &Subject) -> String {
        let human = |s: &str| s.replace(['_', '-'], " ");
        let full = format!("{}/{}", subject.canon_intent, subject.canon_sub);
        if let Some(t) = self.topics.get(&full) {
            return t.clone();
        }
        if let Some(t) = self.topics.get(&subject.canon_intent) {
            return match subject.sub.as_str() {
                "" => t.clone(),
                sub => format!("{t} ({})", human(sub)),
            };
        }
        match (subject.intent.as_str(), subject.sub.as_str()) {
            ("" | "unknown", _) => "an unclassified request".into(),
            (i, "") => human(i),
            (i, s) => format!("{} ({})", human(i), human(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_compile_and_policy_rules_come_first() {
        let mut p = BuilderPolicy::default();
        p.drafts.push(DraftRule {
            lang: "en".into(),
            when: vec!["refund".into()],
            text: "Custom {first_name}".into(),
            domains: vec![],
            voice: None,
        });
        let rules = Rules::compile(&p).unwrap();
        let s = rules.subject("billing", Some("refund"), &[]);
        let mut v = Vars::new();
        v.set("first_name", "Ana");
        assert_eq!(rules.draft("en", &s, &v).unwrap(), "Custom Ana");
        assert!(rules.has_language("es") && rules.has_language("de"));
    }

    #[test]
    fn policy_drafts_with_forbidden_promises_are_refused() {
        let mut p = BuilderPolicy::default();
        p.drafts.push(DraftRule {
            lang: "en".into(),
            when: vec!["*".into()],
            text: "Good news, your refund approved!".into(),
            domains: vec![],
            voice: None,
        });
        let err = Rules::compile(&p).unwrap_err();
        assert!(err.contains("refund approved"), "{err}");
    }

    #[test]
    fn a_rendered_forbidden_promise_falls_through_to_the_next_rule() {
        let mut p = BuilderPolicy::default();
        p.forbidden_promises.push("lumen".into());
        p.drafts.push(DraftRule {
            lang: "en".into(),
            when: vec!["*".into()],
            text: "About the {product}".into(),
            domains: vec![],
            voice: None,
        });
        let rules = Rules::compile(&p).unwrap();
        let s = rules.subject("x", None, &[]);
        let mut v = Vars::new();
        v.set("product", "Lumen 3");
        v.set("greeting", "Hi,");
        let d = rules.draft("en", &s, &v).unwrap();
        assert!(!d.to_lowercase().contains("lumen"), "{d}");
    }

    #[test]
    fn aliases_map_agent_names_and_topics_read_well() {
        let rules = Rules::compile(&BuilderPolicy::default()).unwrap();
        let s = rules.subject("shipping", Some("delivery_delay"), &[]);
        assert_eq!(s.canon_intent, "orders");
        assert_eq!(rules.topic(&s), "a late delivery");
        let s = rules.subject("product_question", Some("power_requirements"), &[]);
        assert_eq!(rules.topic(&s), "a product question (power requirements)");
        let s = rules.subject("weird_thing", Some("sub_x"), &[]);
        assert_eq!(rules.topic(&s), "weird thing (sub x)");
    }

    #[test]
    fn bad_selectors_and_missing_catch_all_are_refused() {
        let mut p = BuilderPolicy::default();
        p.next_actions.push(ActionRule {
            when: vec![],
            action: "x".into(),
            reasoning: "y".into(),
            domains: vec![],
        });
        assert!(Rules::compile(&p).unwrap_err().contains("when"));
        let p = BuilderPolicy {
            default_language: "fr".into(),
            ..Default::default()
        };
        assert!(Rules::compile(&p).unwrap_err().contains("fr"));
    }
}
