//! Safety first: words in the contact's turns that suggest harm to a person right now (a
//! swallowed battery, chest pain, someone who cannot breathe, self-harm, a smell of gas, an
//! electric shock). Any of them makes the handoff urgent and the draft lead with the emergency
//! instruction in the contact's language.
//!
//! This is a floor, not the detector: a small multilingual lexicon (EN, ES, DE) of phrases that
//! name the harm itself, so that a swallowed button battery is urgent even when the stop that
//! fired was a request for a human or an out-of-scope medical question. The learned safety head
//! of the detector adds its own reason later; this list stays as the floor under it.

use regex::Regex;
use std::sync::LazyLock;

/// What kind of harm the words suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Harm {
    SwallowedObject,
    Breathing,
    ChestPain,
    SelfHarm,
    Gas,
    ElectricShock,
    Unresponsive,
    Poisoning,
    Fire,
}

impl Harm {
    /// English words for the operator ("a swallowed object").
    pub fn phrase(self) -> &'static str {
        match self {
            Harm::SwallowedObject => "a swallowed object",
            Harm::Breathing => "someone who cannot breathe",
            Harm::ChestPain => "chest pain",
            Harm::SelfHarm => "a risk of self-harm",
            Harm::Gas => "a smell of gas",
            Harm::ElectricShock => "an electric shock",
            Harm::Unresponsive => "someone unconscious or bleeding",
            Harm::Poisoning => "a possible poisoning",
            Harm::Fire => "a fire",
        }
    }
}

/// (harm, pattern) in the order they are tried; patterns run on lower-cased text.
static PATTERNS: LazyLock<Vec<(Harm, Regex)>> = LazyLock::new(|| {
    let objects = r"(?:batter(?:y|ies)|button cell|magnets?|coins?|pills?|tablets?|capsules?|pieces?|parts?|screws?|toys?|bleach|detergent|pods?|something|pila|bater[ií]a|im[aá]n|moneda|pastilla|pieza|algo|batterie|knopfzelle|magnet|münze|tablette|teil|etwas)";
    let table: [(Harm, String); 9] = [
        (
            Harm::SwallowedObject,
            format!(
                r"\b(?:swallow(?:ed|s|ing)?|(?:se )?trag(?:ó|o|ado|ada)|ingiri[óo]|verschluckt|geschluckt)\b[^.!?\n]{{0,40}}\b{objects}\b|\b{objects}\b[^.!?\n]{{0,40}}\b(?:swallowed|tragado|tragó|verschluckt|geschluckt)\b"
            ),
        ),
        (
            Harm::Breathing,
            r"\b(?:can'?t|cannot|can not|couldn'?t|unable to|struggling to|trouble|difficulty|not|stopped) breath(?:e|ing)\b|no (?:puede|puedo|podía) respirar|dificultad para respirar|le cuesta respirar|kann nicht (?:mehr )?atmen|keine luft (?:mehr )?bekomm|bekommt? keine luft|atemnot|atmet nicht"
                .into(),
        ),
        (
            Harm::ChestPain,
            r"\bchest pains?\b|\bpain in (?:my|his|her|their) chest\b|\bheart attack\b|dolor (?:en el|de) pecho|infarto|ataque al coraz[oó]n|brustschmerz|schmerzen in der brust|herzinfarkt"
                .into(),
        ),
        (
            Harm::SelfHarm,
            r"\bkill (?:myself|himself|herself)\b|\bend (?:my|it all|my own) life\b|\bsuicid|\bhurt(?:ing)? myself\b|\bself[- ]harm|\b(?:don'?t|do not) want to (?:live|be alive)\b|\bwant to die\b|quitarme la vida|matarme|no quiero vivir|hacerme daño|mich umbringen|selbstmord|suizid|mir das leben nehmen|will nicht mehr leben|mir etwas antun"
                .into(),
        ),
        (
            Harm::Gas,
            r"\bsmell(?:s|ing)? (?:of |like )?gas\b|\bgas (?:smell|leak)|\bleaking gas\b|olor a gas|huele a gas|fuga de gas|gasgeruch|riecht nach gas|gasleck"
                .into(),
        ),
        (
            Harm::ElectricShock,
            r"\belectric(?:al)? shock\b|\belectrocut|\bgot a shock from\b|\bgave (?:me|him|her) a shock\b|descarga el[eé]ctrica|me dio (?:una )?descarga|electrocut|stromschlag|elektrischen schlag"
                .into(),
        ),
        (
            Harm::Unresponsive,
            r"\bunconscious\b|\bpassed out\b|\bwon'?t wake up\b|\bbleeding (?:heavily|a lot|badly)\b|inconsciente|se desmay[óo]|sangra mucho|bewusstlos|ohnmächtig|blutet stark"
                .into(),
        ),
        (
            Harm::Poisoning,
            r"\boverdose\b|\bpoisoned\b|\bdrank (?:some |the )?(?:bleach|detergent|cleaner)\b|sobredosis|envenenad|se bebi[óo] (?:la |el )?(?:lejía|detergente)|überdosis|vergiftet"
                .into(),
        ),
        (
            Harm::Fire,
            r"\bcaught fire\b|\bburst into flames\b|\bsmoke (?:is )?coming out of\b|se incendi[óo]|sale humo de|in flammen|feuer gefangen"
                .into(),
        ),
    ];
    table
        .into_iter()
        .map(|(harm, p)| (harm, Regex::new(&p).expect("static safety pattern")))
        .collect()
});

/// Words a contact uses to say nobody is hurt ("no one was hurt", "nadie resultó herido").
static ALL_CLEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:no one|nobody) (?:was|is|got) (?:hurt|injured)\b|\bnadie (?:resultó|está) herido|\bniemand (?:wurde|ist) verletzt")
        .expect("static pattern")
});

/// The harm a text suggests, if any.
pub fn harm_in(text: &str) -> Option<Harm> {
    // Every pattern needs a letter the lexicon uses; a cheap guard before lower-casing.
    if text.len() < 6 {
        return None;
    }
    let lower = text.to_lowercase();
    if ALL_CLEAR.is_match(&lower) {
        return None;
    }
    PATTERNS
        .iter()
        .find(|(_, re)| re.is_match(&lower))
        .map(|(harm, _)| *harm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harm_to_a_person_is_recognised_in_three_languages() {
        for (text, harm) in [
            (
                "My son just swallowed one of the button batteries from the remote",
                Harm::SwallowedObject,
            ),
            (
                "A magnet from the kit was swallowed by my toddler",
                Harm::SwallowedObject,
            ),
            (
                "Mi hija se tragó una pila del juguete",
                Harm::SwallowedObject,
            ),
            (
                "Mein Kind hat eine Knopfzelle verschluckt",
                Harm::SwallowedObject,
            ),
            (
                "my dad can't breathe properly after using the spray",
                Harm::Breathing,
            ),
            (
                "I have chest pain since I took the supplement",
                Harm::ChestPain,
            ),
            ("honestly I want to end my life", Harm::SelfHarm),
            (
                "the kitchen smells of gas since the installer left",
                Harm::Gas,
            ),
            ("Huele a gas en la cocina desde la instalación", Harm::Gas),
            (
                "I got an electric shock from the kettle",
                Harm::ElectricShock,
            ),
            (
                "Ich habe einen Stromschlag vom Ladegerät bekommen",
                Harm::ElectricShock,
            ),
        ] {
            assert_eq!(harm_in(text), Some(harm), "{text}");
        }
    }

    #[test]
    fn ordinary_support_language_is_not_harm() {
        for text in [
            "I can't swallow these prices any more",
            "This delay is killing me",
            "The battery of my phone drains too fast",
            "The gas bill is higher than last month",
            "It was a shock to see the invoice",
            "There was a small fire drill in the office, no one was hurt",
            "My breath was taken away by the new design",
        ] {
            assert_eq!(harm_in(text), None, "{text}");
        }
    }
}
