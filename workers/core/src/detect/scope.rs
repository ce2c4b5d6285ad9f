//! Out-of-scope requests: topics no tenant's agent should answer unless the tenant's policy
//! brings them in scope (legal, medical, financial advice, unrelated requests). Advice topics need
//! a topic word *and* an advice-seeking frame, so "my order of vitamins arrived" is not medical
//! advice and "your terms of service" is not legal advice. `unrelated` is a request for something
//! no support desk does (weather, recipes, jokes, poems, sports results, trivia, homework, travel
//! bookings): its patterns are the requests themselves, so a mention ("the weather delayed my
//! parcel") is not one.

use regex::Regex;
use std::sync::LazyLock;

/// Topics the policy may name in `rules.out_of_scope.topics`.
pub const KNOWN_TOPICS: &[&str] = &["legal", "medical", "financial_advice", "unrelated"];

struct Topic {
    name: &'static str,
    subject: Regex,
    /// Whether the subject counts only in an advice-seeking frame ([`ADVICE_FRAME`]).
    needs_frame: bool,
    /// Literals one of which every match of `subject` contains (ASCII case folded): a turn with
    /// none skips the regex. `None` when they cannot be derived.
    prefilter: Option<aho_corasick::AhoCorasick>,
}

impl Topic {
    fn new(name: &'static str, pattern: &str) -> Topic {
        // Derived from the pattern as written (lower case) and matched ASCII-case-insensitively,
        // which is what the `(?i)` regex does on ASCII letters; a literal with a non-ASCII letter
        // could miss its upper case, so such literal sets are not used. (Unicode folds of ASCII
        // letters, such as the Kelvin sign for "k", are not looked for.)
        let prefilter =
            super::literals::required_any([pattern], &regex_syntax::ParserBuilder::new(), &|_| {
                true
            })
            .filter(|literals| literals.iter().all(|l| l.is_ascii()))
            .and_then(|literals| {
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(literals)
                    .ok()
            });
        Topic {
            name,
            subject: Regex::new(&format!("(?i){pattern}")).unwrap(),
            needs_frame: name != "unrelated",
            prefilter,
        }
    }

    fn is_match(&self, text: &str) -> bool {
        self.prefilter.as_ref().is_none_or(|p| p.is_match(text)) && self.subject.is_match(text)
    }
}

/// Asking for advice or a judgement, rather than reporting a fact.
static ADVICE_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:should i|can i|could i|do i need|is it (?:safe|legal|ok|okay)|am i (?:allowed|entitled|liable)|what (?:dose|dosage)|how much .{0,20}(?:take|invest)|advice|advise|recommend|diagnos\w*|prescri\w*|treat\w*|sue|legally|my rights|(?:help|assist|advise) (?:me|us) (?:with|on)|(?:help|guidance|an opinion) (?:with|on|about) my|what (?:should|do|can) (?:i|we) do|what are my (?:options|chances)|debo|puedo|es legal|consejo|ayud\w* con|soll ich|darf ich|ist es legal|rat\b|beraten|hilf\w* (?:mir |uns )?bei)").unwrap()
});

static TOPICS: LazyLock<Vec<Topic>> = LazyLock::new(|| {
    let t = Topic::new;
    vec![
        t(
            "legal",
            r"\b(?:lawsuit|sue|suing|legal advice|legally|lawyer|attorney|court|contract law|liable|liability|custody|divorce|visa (?:application|sponsorship|status|appeal|interview|extension)|(?:work|student|tourist|entry|spouse|residence) visa|immigration|tenant rights|landlord|my rights|abogado|demanda|anwalt|klage|rechtlich)\b",
        ),
        t(
            "medical",
            r"\b(?:medical|medicine|medication|dose|dosage|symptom\w*|diagnos\w*|prescri\w*|doctor|pain|injur\w*|rash|allerg\w*|pregnan\w*|side effects?|treat\w*|ibuprofen|paracetamol|antibiotic\w*|médic\w*|dolor|síntoma\w*|arzt|schmerz\w*|medikament\w*|symptom\w*)\b",
        ),
        t(
            "financial_advice",
            r"\b(?:invest(?:ing|ment|ments|or|ors|ed)?|stocks?|crypto\w*|bitcoin|retirement|pension|portfolio|tax advice|mortgage advice|inversi\w*|acciones|aktien|anlage\w*)\b",
        ),
        t(
            "unrelated",
            concat!(
                // weather
                r"\b(?:(?:what(?:'s| is| will be)|how(?:'s| is| hot is| cold is)) (?:the |it )?(?:weather|temperature|forecast)|weather (?:forecast|like (?:today|tomorrow|this week|in))|(?:is it|will it|is it going to) (?:rain|snow)\b|do i need (?:an umbrella|a jacket|a coat)",
                // cooking
                r"|recipes? (?:for|with)|how (?:do i|do you|to|can i|long (?:do i|to|should i)) (?:cook|bake|boil|roast|grill|fry)\b|what (?:should|can) (?:i|we) (?:cook|make|eat) for (?:dinner|lunch|breakfast)|how many calories",
                // entertainment and small talk
                r"|tell me (?:a |another |some )?(?:joke|riddle|fun fact|bedtime story)s?|meaning of life",
                r"|(?:write|compose) (?:me )?(?:a |an )?(?:poem|song|haiku|limerick|rap|short story|essay|novel)\b",
                r"|(?:recommend|suggest) (?:me )?(?:a |an |some )?(?:good |new )?(?:movies?|films?|tv shows?|books? to read|songs?|podcasts?|restaurants?|recipes?)\b",
                r"|(?:play|put on) (?:me )?(?:some )?(?:music|a song)\b|horoscope|lottery numbers",
                // sports and trivia
                r"|(?:who|which team) (?:won|is winning|will win|is playing) (?:the |last night'?s )?(?:game|match|super ?bowl|world cup|election|championship|finals?|oscars?|series|league|race)",
                r"|(?:score|result) of (?:the|last night'?s|yesterday'?s) (?:game|match)",
                r"|what(?:'s| is) the capital of|(?:who|what) (?:is|was) the (?:president|prime minister|tallest|largest|biggest|richest|fastest|oldest) ",
                r"|how (?:many|far|tall|old) (?:is|are|was) (?:the )?(?:moon|sun|earth|everest|eiffel tower|planets?|universe)",
                // homework and personal errands
                r"|(?:help (?:me )?with|do) my (?:homework|math|maths|essay|assignment|thesis)|solve (?:this|the|my) (?:equation|math)",
                r"|book (?:me )?(?:a |an )?(?:flight|hotel|table for|taxi|cab|uber)\b",
                // Spanish, German
                r"|(?:que|qué) tiempo (?:hace|hará)|cu[eé]ntame un chiste|receta (?:de|para)|esc[rí]\w* un poema",
                r"|wie wird das wetter|erz[aä]hl\w* (?:mir )?einen witz|rezept f[uü]r|schreib\w* (?:mir )?ein gedicht)",
            ),
        ),
    ]
});

/// The first out-of-scope topic (among `topics`) the text asks advice about.
pub fn out_of_scope_topic<'a>(
    text: &str,
    mut topics: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut framed = None;
    topics.find(|name| {
        TOPICS.iter().any(|t| {
            t.name == *name
                && (!t.needs_frame || *framed.get_or_insert_with(|| ADVICE_FRAME.is_match(text)))
                && t.is_match(text)
        })
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
            topic("can you help me with my divorce lawsuit?"),
            Some("legal")
        );
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
        assert_eq!(topic("can you help me with my order?"), None);
        assert_eq!(topic("Can I get a Visa or a Mastercard?"), None);
        assert_eq!(topic("How can I investigate a missing refund?"), None);
    }

    #[test]
    fn unrelated_requests() {
        for text in [
            "What's the weather like in Madrid tomorrow?",
            "tell me a joke",
            "Can you write me a poem about cats?",
            "who won the game last night",
            "what is the capital of Australia",
            "give me a recipe for lasagna",
            "can you help me with my homework",
            "book me a flight to Berlin",
            "¿Qué tiempo hace hoy?",
            "Erzähl mir einen Witz",
        ] {
            assert_eq!(topic(text), Some("unrelated"), "{text}");
        }
        for text in [
            "the weather delayed my parcel, where is it?",
            "I want to return the cookbook",
            "the song in your ad is great, where can I buy the speaker?",
            "my booking reference is 44120",
            "the game I ordered arrived broken",
        ] {
            assert_eq!(topic(text), None, "{text}");
        }
    }

    #[test]
    fn the_unrelated_topic_has_a_literal_prefilter() {
        let unrelated = TOPICS.iter().find(|t| t.name == "unrelated").unwrap();
        assert!(unrelated.prefilter.is_some());
        assert!(unrelated.is_match("WHAT'S THE WEATHER LIKE TODAY"));
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
