//! What the builder reads from a signal before composing: the turns, the contact's entities, the
//! conversation's language, a possible emergency; then the facts they state and the template
//! variables they fill.

use super::conclusions::block_facts;
use super::entities::{self, Entity};
use super::safety::{self, Harm};
use super::settings::{TenantProfile, Voice};
use super::template::Vars;
use super::{channel_phrase, first_words, format_value, language, leading_number, squash};
use crate::records::*;

/// At most this many inferred facts taken from agent turns.
const MAX_AGENT_FACTS: usize = 8;

/// Fact kinds taken from the agent's turns: identifiers of *this* case (the card, the parcel),
/// never what the agent says in general (opening hours, standard timelines, policy amounts).
const AGENT_FACT_KINDS: &[&str] = &[
    "card_last4",
    "tracking_id",
    "order_id",
    "ticket_id",
    "invoice_id",
    "account_id",
];

/// The turns and what was read from them.
pub(super) struct Reading<'s> {
    pub contact_turns: Vec<&'s Turn>,
    pub agent_turns: Vec<&'s Turn>,
    /// Every entity of every contact turn (with repeats), for scoring sentences.
    pub per_turn: Vec<Vec<Entity>>,
    /// The signal's language tag (primary subtag), or a guess from the contact's words.
    pub language: Option<String>,
    /// The first contact turn suggesting harm to a person, with its event id.
    pub harm: Option<(Harm, String)>,
}

impl<'s> Reading<'s> {
    pub fn of(signal: &'s StopSignal) -> Reading<'s> {
        let by = |actor: Actor| -> Vec<&'s Turn> {
            signal
                .transcript
                .iter()
                .filter(|t| t.actor == actor && !t.text.trim().is_empty())
                .collect()
        };
        let contact_turns = by(Actor::Contact);
        let agent_turns = by(Actor::Agent);
        let language = signal
            .language
            .as_deref()
            .map(language::primary)
            .filter(|l| !l.is_empty())
            .or_else(|| {
                language::guess(contact_turns.iter().map(|t| t.text.as_str())).map(String::from)
            });
        let per_turn = contact_turns
            .iter()
            .map(|t| entities::extract(&t.text))
            .collect();
        let harm = contact_turns
            .iter()
            .find_map(|t| safety::harm_in(&t.text).map(|h| (h, t.event_id.clone())));
        Reading {
            contact_turns,
            agent_turns,
            per_turn,
            language,
            harm,
        }
    }

    /// The first of each (kind, value) the contact stated, with the event that stated it.
    pub fn found(&self) -> Vec<(&Entity, &'s str)> {
        let mut found: Vec<(&Entity, &str)> = Vec::with_capacity(16);
        for (t, ents) in self.contact_turns.iter().zip(&self.per_turn) {
            for e in ents {
                if !found
                    .iter()
                    .any(|(f, _)| f.kind == e.kind && f.value == e.value)
                {
                    found.push((e, t.event_id.as_str()));
                }
            }
        }
        found
    }
}

/// Confirmed facts (the contact's entities, the contact and entry blocks) and the case's ids
/// the agent stated (inferred, source `agent_turn`). Returns the agent's entities.
pub(super) fn stated_facts(
    signal: &StopSignal,
    reading: &Reading<'_>,
    found: &[(&Entity, &str)],
    facts: &mut Facts,
) -> Vec<Entity> {
    for (e, event_id) in found {
        facts.confirmed.push(Fact {
            kind: e.kind.to_string(),
            value: e.value.clone(),
            event_id: Some(event_id.to_string()),
            source: "contact_turn".into(),
        });
    }
    block_facts(signal, &mut facts.confirmed);
    let mut agent_found: Vec<Entity> = Vec::new();
    for t in &reading.agent_turns {
        for e in entities::extract(&t.text) {
            if !AGENT_FACT_KINDS.contains(&e.kind) {
                continue;
            }
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
    agent_found
}

/// The greeting in the draft's language and the tenant's voice ("Hi Ana," / "Hello Ana Ruiz,").
fn greeting(lang: &str, voice: Voice, name: &str, first_name: &str) -> String {
    let (word, who) = match (lang, voice) {
        ("es", Voice::Formal) => ("Buenos días", name),
        ("es", Voice::Friendly) => ("Hola", first_name),
        // The built-in German texts say Sie, so the name stays whole in both voices.
        ("de", Voice::Formal) => ("Guten Tag", name),
        ("de", Voice::Friendly) => ("Hallo", name),
        (_, Voice::Formal) => ("Hello", name),
        (_, Voice::Friendly) => ("Hi", first_name),
    };
    if who.is_empty() {
        format!("{word},")
    } else {
        format!("{word} {who},")
    }
}

/// Sets who the contact is and who speaks (`name`, `first_name`, `contact`, `company`, `plan`,
/// `value`, `tenant`, `greeting`, `channel`); returns the contact's (name, first name).
pub(super) fn contact_vars(
    vars: &mut Vars<'_>,
    signal: &StopSignal,
    tenant: &TenantProfile,
    draft_lang: &str,
) -> (String, String) {
    let contact = signal.contact.as_ref();
    let name = contact
        .and_then(|c| c.name.as_deref())
        .map(squash)
        .unwrap_or_default();
    let first_name = name.split_whitespace().next().unwrap_or("").to_string();
    vars.set("name", name.clone());
    vars.set("first_name", first_name.clone());
    vars.set(
        "contact",
        if first_name.is_empty() {
            "the contact".to_string()
        } else {
            first_name.clone()
        },
    );
    if let Some(c) = contact {
        vars.set(
            "company",
            c.company.as_deref().map(squash).unwrap_or_default(),
        );
        vars.set("plan", c.plan.clone().unwrap_or_default());
        if let Some(v) = c.value.filter(|v| v.is_finite()) {
            vars.set("value", format_value(v));
        }
    }
    if let Some(t) = tenant.name.as_deref() {
        vars.set("tenant", squash(t));
    }
    vars.set(
        "greeting",
        greeting(draft_lang, tenant.voice, &name, &first_name),
    );
    vars.set("channel", channel_phrase(&signal.channel));
    (name, first_name)
}

/// Sets one variable per fact kind from the first confirmed fact of that kind (the agent's
/// card ending and tracking number when the contact gave none), and the deal's quantity.
pub(super) fn fact_vars(
    vars: &mut Vars<'_>,
    confirmed: &[Fact],
    agent_found: &[Entity],
    found: &[(&Entity, &str)],
) {
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
        let value = confirmed
            .iter()
            .find(|f| f.kind == kind)
            .map(|f| f.value.clone())
            .or_else(|| {
                agent_found
                    .iter()
                    .find(|e| e.kind == kind && matches!(kind, "card_last4" | "tracking_id"))
                    .map(|e| e.value.clone())
            });
        if let Some(v) = value {
            vars.set(kind, v);
        }
    }
    // The largest quantity is the one a deal is about ("40 seats today ... 250 seats").
    if let Some(q) = found
        .iter()
        .filter(|(e, _)| e.kind == "quantity")
        .max_by_key(|(e, _)| leading_number(&e.value))
    {
        vars.set("quantity", q.0.value.clone());
    }
}

/// "Olivia Brennan (growth plan) wrote via web chat about a refund."
pub(super) fn lead_phrase(
    signal: &StopSignal,
    name: &str,
    topic: &str,
    language: Option<&str>,
) -> String {
    let mut lead = if name.is_empty() {
        "The contact".to_string()
    } else {
        first_words(name, 3)
    };
    let mut details: Vec<String> = Vec::new();
    if let Some(c) = signal.contact.as_ref() {
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
    if !details.is_empty() {
        lead.push_str(" (");
        lead.push_str(&details.join(", "));
        lead.push(')');
    }
    lead.push_str(" wrote via ");
    lead.push_str(&channel_phrase(&signal.channel));
    if let Some(l) = language.filter(|l| *l != "en") {
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
    lead
}
