//! Facts the builder reads from the signal's blocks and its own conclusions about the case: an
//! approval limit exceeded, a deadline, a repeat contact, a worsening mood, a high-value account,
//! a possible emergency. Each is a conclusion about *this* case; nothing here copies the agent's
//! general answers (support hours, standard timelines) into the facts.

use super::entities::{self, Entity};
use super::settings::PriorityPolicy;
use super::{first_words, format_value, squash};
use crate::records::*;

/// "VIP account, enterprise plan, value 120,000" — what makes the account worth a raise.
#[inline(never)]
pub fn account_note(contact: Option<&Contact>, p: &PriorityPolicy) -> String {
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
pub fn block_facts(signal: &StopSignal, out: &mut Vec<Fact>) {
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
pub fn approval_limit(
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
pub fn deadline(contact_turns: &[&Turn], found: &[(&Entity, &str)]) -> Option<(String, String)> {
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
pub fn sentiment_trend(s: &[f64]) -> Option<String> {
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
