//! The summary: one English paragraph of at most `max_words` words, for the human.
//!
//! Parts, in reading order: who wrote, through which channel and language, about what; the
//! contact's most informative sentence (English conversations only: the operator reads
//! English); the facts; what the agent already did; why it escalated. Words are spent in a
//! different order, so that what matters most survives a tight budget: the lead and the
//! escalation first, then every money amount and id, then the quote, the other facts, and what
//! the agent did. The word limit is a hard invariant (property-tested); a money/id fact is only
//! left out when the money/id facts alone do not fit.

/// Everything the summary is made of, already phrased.
#[derive(Debug, Default, Clone)]
pub struct Parts {
    /// "Olivia Brennan (growth plan) wrote via web chat about a refund."
    pub lead: String,
    /// "Escalated because the contact asked for a human."
    pub escalation: String,
    /// Money and id mentions ("order 55120", "EUR 640").
    pub key_facts: Vec<String>,
    /// Other fact mentions (dates, quantities, products...), most useful first.
    pub other_facts: Vec<String>,
    /// The contact's key sentence, quoted.
    pub quote: Option<String>,
    /// "The agent answered twice, citing kb-15 \"Return and refund timelines\"."
    pub agent: Option<String>,
}

fn words(s: &str) -> usize {
    super::text::count_words(s)
}

/// Composes the paragraph within `max_words`.
pub fn compose(parts: &Parts, max_words: usize) -> String {
    let mut budget = max_words as isize;
    let lead_w = words(&parts.lead) as isize;
    let esc_w = words(&parts.escalation) as isize;
    budget -= lead_w + esc_w;

    // "Facts:" plus the facts; commas attach to words, so each fact costs its own words.
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
    for f in &parts.key_facts {
        if take_fact(f, &mut budget) {
            facts.push(f);
        }
    }
    let quote = parts.quote.as_deref().filter(|q| {
        let cost = words(q) as isize;
        if cost <= budget {
            budget -= cost;
            true
        } else {
            false
        }
    });
    // Facts the quote already shows need no second mention.
    for f in &parts.other_facts {
        if quote.is_some_and(|q| q.contains(f.as_str())) {
            continue;
        }
        if take_fact(f, &mut budget) {
            facts.push(f);
        }
    }
    let agent = parts.agent.as_deref().filter(|a| {
        let cost = words(a) as isize;
        cost <= budget
    });

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
    add(&parts.lead);
    if let Some(q) = quote {
        add(q);
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
            quote: Some("\"a b c d e f g h i j\"".into()),
            agent: Some("The agent answered twice.".into()),
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
