//! Fraud and security signals: a transaction the contact does not recognise, a stolen or lost
//! card, an account taken over. These escalate immediately.

use regex::RegexSet;
use std::sync::LazyLock;

static FRAUD: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"(?i)\b(?:don'?t|do not|didn'?t|did not|never)\s+(?:recogni[sz]e|remember making|make|made|authori[sz]e|order|ordered|place|placed|buy|bought)\w*\b.{0,40}\b(?:transaction|charge|payment|purchase|transfer|withdrawal|order)s?\b",
        r"(?i)\b(?:transaction|charge|payment|purchase|transfer|withdrawal|order)s?\b.{0,40}\bi\s+(?:don'?t|do not|didn'?t|did not|never|can'?t)\s+(?:recogni[sz]e|remember|make|made|authori[sz]e|place|placed)\b",
        r"(?i)\b(?:unrecogni[sz]ed|unauthori[sz]ed|fraudulent|suspicious|unknown)\s+(?:transaction|charge|payment|purchase|transfer|withdrawal|login|sign[- ]?in|activity|order)s?\b",
        r"(?i)\b(?:card|wallet|purse)\b.{0,30}\b(?:was|were|got|been)\s+stolen\b",
        r"(?i)\b(?:stolen|lost|cloned|skimmed)\s+(?:credit |debit )?card\b|\bcard (?:was|has been|got) (?:stolen|lost|cloned)\b|\bsomeone (?:stole|used|is using|has used) my (?:card|account|identity)\b",
        r"(?i)\b(?:account|profile)\s+(?:was|has been|got)\s+(?:hacked|compromised|taken over|breached)\b|\b(?:hacked|compromised)\s+(?:my\s+)?account\b|\bsomeone (?:logged|signed) in(?:to)? my account\b|\bchanged my (?:password|email) without\b",
        r"(?i)\b(?:identity theft|phishing|scam(?:med)?|fraud)\b",
        r"(?i)\b(?:tarjeta (?:robada|perdida|clonada)|cargo (?:no reconocido|desconocido)|no reconozco (?:este|el|un) (?:cargo|pago|movimiento)|fraude|me han robado|cuenta hackeada)\b",
        r"(?i)\b(?:karte (?:wurde )?gestohlen|gestohlene karte|unbekannte (?:abbuchung|zahlung|transaktion)|nicht autorisierte|betrug|konto (?:wurde )?gehackt|gehackt)\b",
    ])
    .unwrap()
});

/// Negations that cancel a match ("no fraud here", "not a scam, just a question").
static GUARD: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"(?i)\b(?:not|no|isn'?t|wasn'?t)\s+(?:a\s+)?(?:fraud|scam|phishing)\b",
        r"(?i)\bfraud (?:policy|protection|prevention) (?:page|info)\b",
    ])
    .unwrap()
});

pub fn is_fraud_signal(text: &str) -> bool {
    FRAUD.is_match(text) && !GUARD.is_match(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        for t in [
            "There is a charge of EUR 899 I don't recognise on my card",
            "My card was stolen yesterday and someone used it on your site",
            "I think my account has been hacked, the email changed",
            "unauthorized transaction on my statement",
            "No reconozco este cargo de 200 euros",
            "Meine Karte wurde gestohlen",
            "That's my card, but it was stolen with my wallet. I did not order this laptop.",
        ] {
            assert!(is_fraud_signal(t), "{t}");
        }
    }

    #[test]
    fn traps() {
        for t in [
            "Is this a scam? no, I'm joking, it's not a scam",
            "where is your fraud protection info page",
            "my card was declined",
            "I made a purchase yesterday",
        ] {
            assert!(!is_fraud_signal(t), "{t}");
        }
    }
}
