//! The summary: one English paragraph of at most `max_words` words, for the human.
//!
//! Parts, in reading order: a possible emergency first; who wrote, through which channel and
//! language, about what; the contact's most informative words (English conversations only: the
//! operator reads English); the facts the quote does not already show; what the agent already
//! did; why it escalated. Words are spent in a different order, so that what matters most
//! survives a tight budget: the emergency, the lead and the escalation first, then every money
//! amount, id and date, then the contact's words by information, the other facts, and what the
//! agent did. The word limit is a hard invariant (property-tested); a money/id/date fact is only
//! left out when those facts alone do not fit.
//!
//! The contact's words are chosen by information, not position: each sentence (or clause of a
//! long sentence) scores for what it carries — amounts, ids and dates, who the money went to,
//! how often it happened, what the contact needs and by when, what was already tried, what went
//! wrong — and the best ones are quoted in the order they were written.

use super::entities::{self, Entity};
use super::sentences::{split_sentences, without_greeting};
use super::text::count_words;
use crate::records::*;
use regex::Regex;
use std::sync::LazyLock;

/// Everything the summary is made of, already phrased.
#[derive(Debug, Default, Clone)]
pub struct Parts {
    /// "Possible emergency: a swallowed object." (always kept, first).
    pub emergency: Option<String>,
    /// "Olivia Brennan (growth plan) wrote via web chat about a refund."
    pub lead: String,
    /// "Escalated because the contact asked for a human."
    pub escalation: String,
    /// Money, id and date mentions ("order 55120", "EUR 640", "18 November").
    pub key_facts: Vec<String>,
    /// Other fact mentions (quantities, products...), most useful first.
    pub other_facts: Vec<String>,
    /// The contact's informative words, best first.
    pub quotes: Vec<Quote>,
    /// "The agent answered twice, citing kb-15 \"Return and refund timelines\"."
    pub agent: Option<String>,
}

/// A piece of the contact's words the summary may quote.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub text: String,
    /// Where it was written (turn, byte offset): quotes are printed in this order.
    pub at: (usize, usize),
    pub score: i32,
}

fn words(s: &str) -> usize {
    count_words(s)
}

/// The words quoting costs beyond the quotes themselves: `In their words: "`.
const QUOTE_LEAD_WORDS: usize = 3;

/// Composes the paragraph within `max_words`.
pub fn compose(parts: &Parts, max_words: usize) -> String {
    let fixed = [
        parts.emergency.as_deref().unwrap_or(""),
        &parts.lead,
        &parts.escalation,
    ];
    let mut budget = max_words as isize - fixed.iter().map(|s| words(s) as isize).sum::<isize>();
    // What listing the key facts a quote does not show costs ("Facts:" plus each fact).
    let listing_cost = |quoted: &[&Quote]| -> isize {
        let open: Vec<&String> = parts
            .key_facts
            .iter()
            .filter(|f| !quoted.iter().any(|q| shows(q, f)))
            .collect();
        if open.is_empty() {
            0
        } else {
            1 + open.iter().map(|f| words(f) as isize).sum::<isize>()
        }
    };
    let mut quoted: Vec<&Quote> = Vec::new();
    for q in &parts.quotes {
        let lead = if quoted.is_empty() {
            QUOTE_LEAD_WORDS
        } else {
            0
        };
        let mut with = quoted.clone();
        with.push(q);
        let cost = (words(&q.text) + lead) as isize;
        // A quote that shows key facts saves listing them.
        if quoted_cost(&quoted) + cost + listing_cost(&with) <= budget {
            quoted = with;
        }
    }
    budget -= quoted_cost(&quoted);
    quoted.sort_by_key(|q| q.at);

    let mut facts: Vec<&str> = Vec::new();
    let mut facts_open = false;
    let mut take_fact = |f: &str, budget: &mut isize| -> bool {
        let cost = words(f) as isize + if facts_open { 0 } else { 1 };
        if cost <= *budget {
            *budget -= cost;
            facts_open = true;
            true
        } else {
            false
        }
    };
    let shown = |f: &str| quoted.iter().any(|q| shows(q, f));
    for f in parts.key_facts.iter().chain(&parts.other_facts) {
        if !shown(f) && take_fact(f, &mut budget) {
            facts.push(f);
        }
    }
    let agent = parts
        .agent
        .as_deref()
        .filter(|a| words(a) as isize <= budget);

    let mut out = String::with_capacity(600);
    let mut add = |s: &str| {
        if s.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    };
    if let Some(e) = &parts.emergency {
        add(e);
    }
    add(&parts.lead);
    if !quoted.is_empty() {
        add(&render_quotes(&quoted));
    }
    if !facts.is_empty() {
        let mut f = String::from("Facts:");
        for (i, fact) in facts.iter().enumerate() {
            f.push_str(if i == 0 { " " } else { ", " });
            f.push_str(fact);
        }
        f.push('.');
        add(&f);
    }
    if let Some(a) = agent {
        add(a);
    }
    add(&parts.escalation);
    // The parts are single-spaced already; this is the invariant's last line of defence.
    super::truncate_words_owned(out, max_words)
}

/// Whether a quote already shows a fact mention ("Account A-2093" shows "account A-2093").
fn shows(q: &Quote, mention: &str) -> bool {
    q.text.contains(mention) || q.text.to_lowercase().contains(&mention.to_lowercase())
}

fn quoted_cost(quoted: &[&Quote]) -> isize {
    if quoted.is_empty() {
        return 0;
    }
    (QUOTE_LEAD_WORDS + quoted.iter().map(|q| words(&q.text)).sum::<usize>()) as isize
}

/// `In their words: "A … B"`: pieces that were not written next to each other are joined by an
/// ellipsis.
fn render_quotes(quoted: &[&Quote]) -> String {
    let mut s = String::from("In their words: \"");
    for (i, q) in quoted.iter().enumerate() {
        if i > 0 {
            s.push_str(" … ");
        }
        s.push_str(q.text.trim_end_matches([',', ';', ':']));
    }
    s.push('"');
    s
}

/// A sentence longer than this is quoted clause by clause.
const LONG_SENTENCE_WORDS: usize = 22;
/// Quotable pieces are at least this long (shorter ones say too little on their own).
const MIN_QUOTE_WORDS: usize = 4;
const MAX_QUOTE_WORDS: usize = 28;

/// How often, how many times: a recurrence is what makes a case (three failed payments, the
/// second time it happened).
static RECURRENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:twice|three times|\d+ times|again|every (?:day|week|month|time)|each (?:time|month)|several|multiple|repeatedly|keeps?|kept|(?:second|third|fourth) time|in a row|dos veces|otra vez|varias|cada vez|mehrmals|wieder|jedes mal|zweimal|dreimal)\b").expect("static")
});
/// Who the money or the access went to: a preposition before a capitalised name, or a word for
/// a merchant or a person.
static COUNTERPARTY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:at|from|to|payee|merchant|called|named|by)\s+(?:an?\s+|some\s+|the\s+)?\p{Lu}[\w&'.-]+|(?i:\b(?:shop|store|merchant|payee|seller|website|caller|someone|somebody|company|recipient|landlord|courier|carrier)\b)").expect("static")
});
/// What the contact needs, and by when.
static GOAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:please|need|want|would like|have to|must|can you|could you|before|until|deadline|urgent|asap|today|tomorrow|by (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|the end)|necesito|quiero|por favor|antes de|brauche|möchte|bitte|bis)\b").expect("static")
});
/// What was already tried.
static TRIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:already|tried|reset|restarted|reinstalled|cleared|re-?entered|followed|called|emailed|contacted|ya he|probado|intentado|schon|bereits|versucht)\b").expect("static")
});
/// What went wrong.
static PROBLEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:not|never|still|no|wrong|broken|stolen|lost|failed|fails|declined|rejected|cannot|can't|won't|didn't|doesn't|isn't|wasn't|error|missing|charged|blocked|locked|hacked|changed|unauthori[sz]ed|don't recognise|don't recognize)\b").expect("static")
});

/// Talk about the conversation itself (a human, a bot, thanks) rather than the case.
static ABOUT_THE_CHAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:human|person|bot|chatbot|robot|thanks|thank you|persona|mensch|gracias|danke)\b",
    )
    .expect("static")
});

/// How much a piece of the contact's words tells about the case.
fn information(text: &str, ents: &[&Entity]) -> i32 {
    let mut score: i32 = ents
        .iter()
        .map(|e| match e.kind {
            k if entities::is_key_kind(k) => 3,
            "date" | "time" => 2,
            "email" | "phone" => 0,
            _ => 1,
        })
        .sum();
    for (re, points) in [
        (&*RECURRENCE, 2),
        (&*COUNTERPARTY, 2),
        (&*TRIED, 2),
        (&*PROBLEM, 1),
        (&*GOAL, 2),
    ] {
        if re.is_match(text) {
            score += points;
        }
    }
    if text.ends_with('?') {
        score += 1;
    }
    if ents.is_empty() && ABOUT_THE_CHAT.is_match(text) {
        score -= 3;
    }
    score
}

/// The contact's informative words, best first: sentences, and the clauses of long ones, that
/// carry something; never a greeting, thanks alone, or a bare request for a human.
pub fn quotes(contact_turns: &[&Turn], per_turn: &[Vec<Entity>], reasons: &[Reason]) -> Vec<Quote> {
    let mut out: Vec<Quote> = Vec::new();
    for (ti, t) in contact_turns.iter().enumerate() {
        let is_evidence = reasons.iter().any(|r| r.evidence_event_id == t.event_id);
        // Only a turn that triggered an explicit request can hold a bare "get me a human".
        let asked_for_human = is_evidence
            && reasons.iter().any(|r| {
                r.kind == ReasonKind::ExplicitRequest && r.evidence_event_id == t.event_id
            });
        let base = t.text.as_ptr() as usize;
        for sentence in split_sentences(&t.text) {
            if asked_for_human && crate::detect::is_explicit_request(sentence) {
                continue;
            }
            let sentence = without_greeting(sentence);
            let pieces: Vec<&str> = if count_words(sentence) > LONG_SENTENCE_WORDS {
                clauses(sentence)
            } else {
                vec![sentence]
            };
            for piece in pieces {
                let n = count_words(piece);
                if !(MIN_QUOTE_WORDS..=MAX_QUOTE_WORDS).contains(&n) {
                    continue;
                }
                let start = piece.as_ptr() as usize - base;
                let end = start + piece.len();
                let ents: Vec<&Entity> = per_turn[ti]
                    .iter()
                    .filter(|e| e.start >= start && e.end <= end)
                    .collect();
                let mut score = information(piece, &ents);
                // The words that made the agent stop are what the human must read first.
                if is_evidence {
                    score += 2;
                }
                if score < 3 {
                    continue;
                }
                out.push(Quote {
                    text: clean(piece),
                    at: (ti, start),
                    score,
                });
            }
        }
    }
    // Best first; among equals the denser one, then the later one (the case has moved on).
    out.sort_by(|a, b| {
        let density = |q: &Quote| q.score * 100 / count_words(&q.text).max(1) as i32;
        b.score
            .cmp(&a.score)
            .then(density(b).cmp(&density(a)))
            .then(b.at.cmp(&a.at))
    });
    out.dedup_by(|a, b| a.text == b.text);
    out
}

/// Clauses of a long sentence: cut after `,`, `;`, `:` or a dash, and before " but ".
fn clauses(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = sentence.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let cut_after =
            matches!(bytes[i], b',' | b';' | b':') && bytes.get(i + 1).is_some_and(|b| *b == b' ');
        let cut_before = sentence[i..].starts_with(" but ") || sentence[i..].starts_with(" – ");
        if cut_after || cut_before {
            let end = if cut_after { i + 1 } else { i };
            let piece = sentence[start..end].trim();
            if !piece.is_empty() {
                out.push(piece);
            }
            start = end;
        }
        i += 1;
        while i < bytes.len() && !sentence.is_char_boundary(i) {
            i += 1;
        }
    }
    let last = sentence[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    // A clause too short to quote joins the next one.
    let mut merged: Vec<&str> = Vec::new();
    let mut pending: Option<usize> = None;
    for piece in out {
        let from = pending
            .take()
            .unwrap_or(piece.as_ptr() as usize - sentence.as_ptr() as usize);
        let to = piece.as_ptr() as usize - sentence.as_ptr() as usize + piece.len();
        let joined = sentence[from..to].trim();
        if count_words(joined) < MIN_QUOTE_WORDS {
            pending = Some(from);
        } else {
            merged.push(joined);
        }
    }
    if let Some(from) = pending {
        merged.push(sentence[from..].trim());
    }
    merged
}

/// Single-spaced, capitalised, with double quotes turned into single ones (the summary quotes
/// with double quotes).
fn clean(s: &str) -> String {
    let mut q = super::squash(s).replace('"', "'");
    if let Some(first) = q.chars().next().filter(|c| c.is_lowercase()) {
        q.replace_range(..first.len_utf8(), &first.to_uppercase().to_string());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_facts_win_over_quote_and_agent_when_tight() {
        let parts = Parts {
            lead: "Ana wrote about a refund.".into(),
            escalation: "Escalated because the contact asked for a human.".into(),
            key_facts: vec!["order 55120".into(), "EUR 640".into()],
            other_facts: vec!["18 November".into()],
            quotes: vec![Quote {
                text: "a b c d e f g h i j".into(),
                at: (0, 0),
                score: 5,
            }],
            agent: Some("The agent answered twice.".into()),
            emergency: None,
        };
        let full = compose(&parts, 80);
        assert!(
            full.contains("order 55120") && full.contains("\"a b c"),
            "{full}"
        );
        assert!(full.contains("The agent answered twice."));
        let tight = compose(&parts, 20);
        assert!(tight.split_whitespace().count() <= 20, "{tight}");
        assert!(
            tight.contains("order 55120") && tight.contains("EUR 640"),
            "{tight}"
        );
        assert!(!tight.contains("\"a b c"), "{tight}");
    }
}
