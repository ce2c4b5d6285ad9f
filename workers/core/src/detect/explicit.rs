//! Explicit requests for a human, in English, Spanish and German.
//!
//! A request is a pattern that asks to reach a person, and no guard that turns it into something
//! else: asking *about* hours or channels, asking whether the agent is a bot, or declining a human
//! ("no need for a human").

use regex::RegexSet;
use std::sync::LazyLock;

/// Who the contact wants: a human, in the words people use.
const PERSON_EN: &str = r"(?:human(?: being)?|person|people|agent|rep(?:resentative)?|operator|someone|somebody|manager|supervisor|staff(?: member)?|employee|team member|advisor|adviser|colleague|real one)";

static REQUEST: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // "can I talk to a person", "let me speak with your manager", "connect me to an agent"
        format!(r"\b(?:talk|speak|chat|connect|transfer|put|pass|escalate|send|switch|forward|get through)\w*\b(?:\s+\w+){{0,4}}?\s+(?:to|with|me to|me with|through to)\s+(?:\w+\s+){{0,3}}{PERSON_EN}\b"),
        // "get me a manager", "give me a human", "I want a real person", "I need an agent"
        format!(r"\b(?:get|give|find|bring|want|need|require|request|demand)\w*\s+(?:me\s+)?(?:to\s+(?:talk|speak)\s+(?:to|with)\s+)?(?:a|an|the|your|some|one|to)?\s*(?:real|actual|live|human|flesh and blood)?\s*{PERSON_EN}\b"),
        // "is there someone real there", "is there a human I can talk to", "are there any real people"
        r"\b(?:is|are) there\s+(?:a|an|any|some)?\s*(?:real|actual|live)?\s*(?:human|person|people|someone|somebody|one)\b".to_string(),
        // "real person please", "human please", "live agent", "human agent"
        r"\b(?:real|actual|live|human)\s+(?:person|people|human|agent|support|help|being)\b".to_string(),
        r"^\W*(?:human|agent|operator|representative|person)\W*(?:please|now|pls|asap)?\W*$".to_string(),
        // Spanish: "quiero hablar con una persona", "pásame con un agente", "comunícame con un humano"
        r"\b(?:hablar|comunicar\w*|contactar|pasa\w*|p[aá]same|transfer\w*|conect\w*|habla)\s+(?:con\s+)?(?:un|una|el|la|algún|alguna|alguien)\s*(?:persona|humano|agente|asesor\w*|representante|gerente|supervisor\w*|encargad\w*|operador\w*|real)".to_string(),
        r"\b(?:quiero|necesito|exijo|deseo)\s+(?:a\s+)?(?:un|una|el|la)?\s*(?:persona|humano|agente|asesor\w*|representante|gerente|supervisor\w*)\b".to_string(),
        r"\b(?:persona real|agente humano|ser humano|alguien real)\b".to_string(),
        r"\bhay\s+(?:alguien|una persona|un humano)\b".to_string(),
        // German: "ich möchte mit einem Menschen sprechen", "verbinden Sie mich mit einem Mitarbeiter"
        r"\b(?:mit|zu)\s+(?:einem|einer|ihrem|ihrer|dem|der|eurem|eurer)?\s*(?:echten\s+|richtigen\s+)?(?:menschen|mensch|mitarbeiter\w*|person|berater\w*|vorgesetzten|manager\w*|kundenberater\w*|agenten|support)\b.{0,30}\b(?:sprechen|reden|verbinden|verbunden|weiterleiten|telefonieren)".to_string(),
        r"\b(?:verbinden|leiten|stellen)\s+sie\s+mich\b.{0,40}\b(?:menschen|mitarbeiter\w*|person|berater\w*|vorgesetzten)".to_string(),
        r"\b(?:echte[nr]?|richtige[nr]?)\s+(?:menschen|mensch|person|mitarbeiter\w*)\b".to_string(),
        r"\bist da\s+(?:jemand|ein mensch)\b".to_string(),
    ])
    .expect("static patterns compile")
});

/// Phrases that look like a request but are not one.
static GUARD: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // Declining: "no need for a human", "I don't need to talk to anyone", "no human necessary"
        r"\b(?:no|don'?t|do not|dont|never)\s+(?:\w+\s+){0,2}(?:need|want|require)\w*\b.{0,30}\b(?:human|person|agent|anyone|anybody|someone|manager|representative)\b",
        r"\bno need (?:for|to)\b",
        r"\b(?:human|person|agent)s?\s+(?:is|are)?\s*(?:not\s+)?(?:needed|necessary|required)\b.{0,10}\b(?:not|no)\b|\bno (?:human|person|agent) (?:needed|necessary|required)\b",
        r"\bno (?:necesito|hace falta|quiero)\b.{0,30}\b(?:persona|humano|agente)\b",
        r"\b(?:brauche|will|möchte)\s+(?:keinen|keine|nicht)\b.{0,30}\b(?:menschen|mitarbeiter|person)\b",
        // Asking whether the agent is a bot: "are you a bot?", "am I talking to a real person?"
        r"\b(?:are|r) (?:you|u)\s+(?:a|an)?\s*(?:bot|robot|machine|ai|human|real person|real|person|computer)\b",
        r"\bam i (?:talking|speaking|chatting) (?:to|with) (?:a|an)\s+(?:bot|robot|machine|ai|real person|human|person)\s*\?",
        r"\b(?:is this|is that) (?:a|an)\s+(?:bot|robot|machine|ai|automated)\b",
        r"\b(?:eres|es usted) (?:un )?(?:bot|robot|humano|una persona)\b",
        r"\b(?:bist du|sind sie) (?:ein )?(?:bot|roboter|mensch)\b",
        // Asking about hours or channels rather than for a person now.
        r"\b(?:what|which|when) (?:are|is|time|times|hours)\b.{0,40}\b(?:hours|open|available|opening|reachable)\b",
        r"\b(?:hours|opening times|business hours)\b.{0,30}\b(?:support|customer service|agents?|team)\b",
        r"\b(?:phone number|email address|which channels?|what channels?)\b",
        r"\bhorario\b|\böffnungszeiten\b|\bsprechzeiten\b",
    ])
    .expect("static patterns compile")
});

/// A match, with how sure the rule is (1.0 for a clear request).
pub fn is_explicit_request(text: &str) -> bool {
    let lower = text.to_lowercase();
    REQUEST.is_match(&lower) && !GUARD.is_match(&lower)
}

#[cfg(test)]
mod tests {
    use super::is_explicit_request as req;

    #[test]
    fn fires_on_requests_in_three_languages() {
        for text in [
            "can I talk to a person",
            "Get me a manager!",
            "is there someone real there?",
            "I want to speak with a human please",
            "connect me to an agent",
            "real person please",
            "human",
            "Quiero hablar con una persona",
            "pásame con un agente por favor",
            "Ich möchte mit einem Menschen sprechen",
            "Verbinden Sie mich bitte mit einem Mitarbeiter",
        ] {
            assert!(req(text), "should fire: {text}");
        }
    }

    #[test]
    fn stays_quiet_on_traps() {
        for text in [
            "are you a bot?",
            "no need for a human, thanks",
            "what are your support hours?",
            "I don't need to talk to anyone, just tell me the price",
            "What is the phone number of customer service?",
            "eres un bot?",
            "Bist du ein Mensch?",
            "my order arrived broken",
        ] {
            assert!(!req(text), "should not fire: {text}");
        }
    }
}
