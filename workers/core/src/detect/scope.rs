//! Out-of-scope requests: topics no tenant's agent should answer unless the tenant's policy
//! brings them in scope (legal, medical, financial advice). Matching needs a topic word *and*
//! an advice-seeking frame, so "my order of vitamins arrived" is not medical advice and "your
//! terms of service" is not legal advice.

use regex::Regex;
use std::sync::LazyLock;

/// Topics the policy may name in `rules.out_of_scope.topics`.
pub const KNOWN_TOPICS: &[&str] = &["legal", "medical", "financial_advice"];

struct Topic {
    name: &'static str,
    subject: Regex,
}

/// Asking for advice or a judgement, rather than reporting a fact.
static ADVICE_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:should i|can i|could i|do i need|is it (?:safe|legal|ok|okay)|am i (?:allowed|entitled|liable)|what (?:dose|dosage)|how much .{0,20}(?:take|invest)|advice|advise|recommend|diagnos\w*|prescri\w*|treat\w*|sue|legally|my rights|debo|puedo|es legal|consejo|soll ich|darf ich|ist es legal|rat\b|beraten)").unwrap()
});

static TOPICS: LazyLock<Vec<Topic>> = LazyLock::new(|| {
    let t = |name, pattern: &str| Topic {
        name,
        subject: Regex::new(&format!("(?i){pattern}")).unwrap(),
    };
    vec![
        t(
            "legal",
            r"\b(?:lawsuit|sue|suing|legal advice|legally|lawyer|attorney|court|contract law|liable|liability|custody|divorce|visa|immigration|tenant rights|landlord|my rights|abogado|demanda|anwalt|klage|rechtlich)\b",
        ),
        t(
            "medical",
            r"\b(?:medical|medicine|medication|dose|dosage|symptom\w*|diagnos\w*|prescri\w*|doctor|pain|injur\w*|rash|allerg\w*|pregnan\w*|side effects?|treat\w*|ibuprofen|paracetamol|antibiotic\w*|médic\w*|dolor|síntoma\w*|arzt|schmerz\w*|medikament\w*|symptom\w*)\b",
        ),
        t(
            "financial_advice",
            r"\b(?:invest\w*|stocks?|crypto\w*|bitcoin|retirement|pension|portfolio|tax advice|mortgage advice|inversi\w*|acciones|aktien|anlage\w*)\b",
        ),
    ]
});

/// The first out-of-scope topic (among `topics`) the text asks advice about.
pub fn out_of_scope_topic<'a>(
    text: &str,
    mut topics: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    if !ADVICE_FRAME.is_match(text) {
        return None;
    }
    topics.find(|name| {
        TOPICS
            .iter()
            .any(|t| t.name == *name && t.subject.is_match(text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> Option<&'static str> {
        out_of_scope_topic(text, KNOWN_TOPICS.iter().copied())
    }

    #[test]
    fn advice_requests_on_foreign_topics() {
        assert_eq!(
            topic("Should I take ibuprofen for the wrist pain?"),
            Some("medical")
        );
        assert_eq!(topic("Can I sue my landlord over this?"), Some("legal"));
        assert_eq!(
            topic("Would you recommend investing in bitcoin now?"),
            Some("financial_advice")
        );
        assert_eq!(
            topic("¿Debo tomar un medicamento para el dolor?"),
            Some("medical")
        );
        assert_eq!(
            topic("Soll ich wegen der Schmerzen zum Arzt?"),
            Some("medical")
        );
    }

    #[test]
    fn facts_and_shop_questions_are_in_scope() {
        assert_eq!(topic("My order of vitamins arrived late"), None);
        assert_eq!(topic("Where can I read your terms of service?"), None);
        assert_eq!(
            topic("Can I return the wrist brace if it doesn't fit?"),
            None
        );
        assert_eq!(topic("should i reset my password again?"), None);
    }

    #[test]
    fn tenant_scope_filters_topics() {
        assert_eq!(
            out_of_scope_topic(
                "Should I take ibuprofen for the pain?",
                ["legal"].into_iter()
            ),
            None
        );
    }
}
