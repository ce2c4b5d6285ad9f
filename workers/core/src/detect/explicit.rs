//! Explicit requests for a human, in English, Spanish and German.
//!
//! A turn is an explicit request when one of its clauses matches a *request family* and no
//! *guard* of that clause turns it into something else. Families are linguistic shapes, not
//! dataset templates:
//!
//! | family | shape | examples |
//! |---|---|---|
//! | `talk-to-person` | communication verb (+ preposition) + person noun | "can I talk to a person", "how do I reach a live agent", "chat w/ someone" |
//! | `want-person` | want/need/get-me verb + person noun | "get me a manager", "I need a real person", "I demand your supervisor" |
//! | `transfer` | put-through verb + me/this call + person, team or department | "transfer me to customer service", "put me through", "can I be connected to support" |
//! | `presence` | is there / is a … person there/available | "is there someone real there", "is an agent available?" |
//! | `short-form` | the clause is just the noun, with politeness | "human pls", "agent!", "representative", "real person please" |
//! | `mention` | a human-marked noun phrase anywhere (weak: a report vetoes it) | "real person", "live agent", "human support" |
//! | `escalate` | escalation asked for | "escalate this", "please escalate", "I want this escalated" |
//! | `refuse-bot` | refusing the bot, which asks for the other side (not vetoed by the decline guards) | "I don't want to talk to a bot", "done chatting with this machine", "no more bots" |
//! | `es-*`, `de-*` | the same families in Spanish and German | "quiero hablar con una persona", "verbinden Sie mich mit einem Mitarbeiter" |
//!
//! Guards (per clause, so "are you a bot? get me a human" still fires on its second clause):
//! declining a human ("no need for a human", "I don't want to talk to anyone", "without talking
//! to an agent", "don't transfer me"); asking whether the agent is a bot ("are you a real
//! person?", "am I talking to a human", "human or bot?"); asking whether a human is *needed*
//! ("do I need to speak to a representative to change my PIN?"); asking about hours or channels
//! ("what hours can I reach an agent", "what's the phone number", "when are agents available").
//! The weak families (`short-form`, `mention`: a bare noun phrase) are also vetoed by a report of
//! the past in their clause ("the live agent told me ...") and by a bot question anywhere in the
//! turn ("am I speaking with AI or a real, live person").
//! Third parties are neutralised before matching: possessed people ("my manager asked me"),
//! external roles ("real estate agent", "travel agent", "smooth operator", "virtual assistant")
//! and person nouns used as modifiers ("agent number", "human resources").
//!
//! Contact channels. A request to *contact the support department* ("I want to speak with customer
//! support", "what hours can I call customer service", "is there a toll-free number") asks about a
//! channel, not to be put through to a person now, and does **not** escalate: the agent answers it
//! from the knowledge base (Bitext `contact_customer_service`, labelled `contact_channel_request`).
//! It escalates only when it also asks to be handed to a person now: a person noun ("a customer
//! service rep", "someone from support") or a put-through verb ("transfer me to customer
//! service", "connect me with support").
//!
//! Text is normalised first: lower case, accents folded (á→a, ä→ae, ß→ss), anything else non-ASCII
//! dropped, and single-edit typos of the key vocabulary corrected ("somone", "asistant",
//! "speakign"), so the regexes run on ASCII, where the lazy DFA is fast (a few µs a turn).

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::sync::LazyLock;

/// Whether the contact's turn explicitly asks for a human.
pub fn is_explicit_request(text: &str) -> bool {
    explain(text).is_some()
}

/// The pattern family that makes `text` an explicit request, or `None`.
pub fn explain(text: &str) -> Option<&'static str> {
    let norm = normalize(text);
    // Most turns contain none of the words a request needs: skip the patterns then.
    if REQUEST_PREFILTER
        .as_ref()
        .is_some_and(|words| !words.is_match(&norm))
    {
        return None;
    }
    explain_normalized(norm)
}

fn explain_normalized(norm: String) -> Option<&'static str> {
    let norm = THIRD_PARTY.replace_all(&norm, " xparty ");
    let norm = RELATIVE_COMMA.replace_all(&norm, " $rel");
    for clause in CLAUSE.split(&norm) {
        let clause = clause.trim();
        if clause.len() < 2 {
            continue;
        }
        let matches = REQUEST.matches(clause);
        // Refusing the bot ("I don't want to talk to a bot") wins over any other family of the
        // clause and over the guards, which would read its negation as declining a human.
        let refusal = matches.iter().find(|&i| FAMILIES[i].0 == REFUSE_BOT);
        let i = match refusal {
            Some(i) => i,
            None if GUARD.is_match(clause) => continue,
            None => match matches.iter().next() {
                Some(i) => i,
                None => continue,
            },
        };
        let (family, weak) = FAMILIES[i];
        if weak && (REPORT.is_match(clause) || BOT_QUESTION.is_match(&norm)) {
            continue;
        }
        return Some(family);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// Lower case ASCII with accents folded, typos of the key vocabulary corrected.
fn normalize(text: &str) -> String {
    let mut ascii = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c.to_ascii_lowercase());
            continue;
        }
        for c in c.to_lowercase() {
            match c {
                '’' | '‘' | '´' => ascii.push('\''),
                'á' | 'à' | 'â' | 'ã' | 'å' => ascii.push('a'),
                'é' | 'è' | 'ê' | 'ë' => ascii.push('e'),
                'í' | 'ì' | 'î' | 'ï' => ascii.push('i'),
                'ó' | 'ò' | 'ô' | 'õ' => ascii.push('o'),
                'ú' | 'ù' | 'û' => ascii.push('u'),
                'ñ' => ascii.push('n'),
                'ç' => ascii.push('c'),
                'ä' => ascii.push_str("ae"),
                'ö' => ascii.push_str("oe"),
                'ü' => ascii.push_str("ue"),
                'ß' => ascii.push_str("ss"),
                // punctuation (¿ ¡ … —), emoji and other scripts separate words
                _ => ascii.push(' '),
            }
        }
    }
    // Typo correction, token by token; tokens are runs of letters.
    let bytes = ascii.as_bytes();
    let mut out = String::with_capacity(ascii.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let token = &ascii[start..i];
            out.push_str(correct(token).unwrap_or(token));
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// Key words worth correcting, with the smallest typo tolerated: words of four letters only by a
/// swap of neighbours ("tlak"), longer ones by one edit ("somone", "asistant", "speakign").
#[rustfmt::skip]
const VOCAB: &[&str] = &[
    "talk", "chat", "live", "speak", "speaking", "talking", "chatting", "contact", "contacting",
    "human", "person", "agent", "operator", "someone", "somebody", "anyone", "anybody", "assistant",
    "representative", "supervisor", "manager", "customer", "service", "escalate", "connect",
    "transfer",
];

/// Real words one edit away from the vocabulary, which must stay as written.
#[rustfmt::skip]
const KNOWN: &[&str] = &[
    // inflections the patterns spell out
    "speaks", "humans", "persons", "agents", "operators", "assistants", "representatives",
    "supervisors", "managers", "customers", "services", "contacts", "connects", "transfers",
    "escalated", "escalates",
    // other English words
    "walking", "stalking", "balking", "calking", "taking", "tacking", "tanking", "tasking", "steak",
    "sneak", "spear", "speck", "sneaking", "spearing", "charting", "managed", "manages", "manage",
    "serviced", "servile", "contract", "contracting", "humane", "hunan", "parson", "argent",
    "arent",
    // Spanish words
    "persona", "agente", "humano", "humana", "operador", "contacto",
];

fn correct(token: &str) -> Option<&'static str> {
    let len = token.len();
    if !(4..=16).contains(&len) || VOCAB.contains(&token) || KNOWN.contains(&token) {
        return None;
    }
    let t = token.as_bytes();
    VOCAB.iter().copied().find(|v| {
        let v = v.as_bytes();
        if v.len() == 4 {
            v.len() == len && is_one_swap(t, v)
        } else {
            len >= 5 && len.abs_diff(v.len()) <= 1 && within_one_edit(t, v)
        }
    })
}

fn is_one_swap(a: &[u8], b: &[u8]) -> bool {
    let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return false;
    };
    i + 1 < a.len() && a[i] == b[i + 1] && a[i + 1] == b[i] && a[i + 2..] == b[i + 2..]
}

/// Optimal string alignment distance at most one (substitution, insertion, deletion or a swap
/// of neighbours), in linear time.
fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if i == a.len() && i == b.len() {
        return true;
    }
    match a.len() as isize - b.len() as isize {
        0 => a[i + 1..] == b[i + 1..] || is_one_swap(a, b),
        1 => a[i + 1..] == b[i..],
        -1 => a[i..] == b[i + 1..],
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// Patterns are ASCII-only (`\w`, `\b` and `\s` over ASCII), matching the normalised text: the
/// lazy DFA then stays small and fast.
fn set<I, S>(patterns: I) -> RegexSet
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    RegexSetBuilder::new(patterns)
        .unicode(false)
        .build()
        .expect("static patterns compile")
}

fn re(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("static regex compiles")
}

// ---------------------------------------------------------------------------------------------
// Pattern tables
// ---------------------------------------------------------------------------------------------

/// Fragments shared by the patterns; `<NAME>` placeholders are expanded by [`expand`].
const FRAGMENTS: &[(&str, &str)] = &[
    // determiners before the person
    (
        "<DET>",
        r"(?:(?:a|an|the|your|ur|yr|some|one|any|another|other|a different|one of (?:your|the|ur))\s+)?",
    ),
    // adjectives and modifiers before the person: human-marking, competence, rudeness, department
    (
        "<ADJ>",
        r"(?:(?:real|actual|live|living|human|proper|competent|qualified|senior|experienced|knowledgeable|different|genuine|breathing|flesh and blood|flesh-and-blood|real live|bloody|fucking|fuckin|freaking|frigging|damn|damned|goddamn|effing|stupid|single|customer service|customer support|customer care|customer|support|service|help ?desk|sales|billing|tech(?:nical)? support|tech|account|bank|company|store|cs|call cent(?:er|re))\s+){0,3}",
    ),
    // a person, specifically
    (
        "<PERSON>",
        r"(?:humans?|persons?|agents?|reps?|representatives?|operators?|managers?|supervisors?|superiors?|boss|assistants?|advis[eo]rs?|consultants?|specialists?|technicians?|staff(?: members?)?|employees?|team members?|members? of (?:staff|(?:your|the|ur) (?:staff|team|support team))|colleagues?|coworkers?|co-workers?|associates?|attendants?|csrs?|real ones?|live ones?|human ones?|(?:real|actual|live|human|competent|your) people|humans? beings?)",
    ),
    // someone, anyone
    ("<SOMEONE>", r"(?:some ?one|some ?body|any ?one|any ?body)"),
    // someone made specific enough to be a person at the business
    (
        "<SOMEONE_Q>",
        r"(?:(?:some ?one|some ?body|any ?one|any ?body)\s+(?:real|human|alive|in charge|(?:from|in|at|on) (?:(?:your|the|ur) \w+|<DEPT>)|i can (?:(?:actually|really|just|please|finally)\s+)?(?:talk|speak|chat)|to (?:talk|speak|chat)|who (?:is|'s) (?:a )?(?:real|human)))",
    ),
    // a department or team
    (
        "<DEPT>",
        r"(?:customer (?:service|support|care|success|relations)|support(?: team| desk)?|help ?desk|service desk|(?:\w+ )?(?:department|dept|team)|billing|sales|tech(?:nical)? support|call cent(?:er|re)|front desk)",
    ),
    // the person nouns of the Spanish patterns
    (
        "<ES_PERSON>",
        r"(?:personas?|humanos?|ser humano|agentes?|asesor(?:a|es)?|representantes?|operador(?:a|es)?|gerente|supervisor(?:a)?|encargad[oa]|responsable|ejecutiv[oa]|emplead[oa]|jef[ea]|tecnico|especialista)",
    ),
    (
        "<ES_DET>",
        r"(?:(?:un|una|el|la|los|las|algun|alguna|su|tu|otro|otra|al)\s+)?",
    ),
    (
        "<ES_ADJ>",
        r"(?:(?:real|humano|de verdad|de carne y hueso|vivo|verdader[oa]|autentic[oa]|competente)\s+)?",
    ),
    // the person nouns of the German patterns
    (
        "<DE_PERSON>",
        r"(?:mensch(?:en)?|mitarbeiter(?:in|innen|n)?|mitarbeitende[nr]?|berater(?:in|n)?|kundenberater(?:in|n)?|kundendienstmitarbeiter(?:in)?|servicemitarbeiter(?:in)?|supportmitarbeiter(?:in)?|sachbearbeiter(?:in)?|ansprechpartner(?:in)?|vorgesetzte[nmr]?|chef(?:in)?|manager(?:in)?|teamleiter(?:in)?|agent(?:en|in)?|operator|betreuer(?:in)?)",
    ),
    (
        "<DE_DEPT>",
        r"(?:kundenservice|kundendienst|kundensupport|support|service|serviceteam|supportteam|team|fachabteilung|abteilung|hotline|callcenter|beschwerdestelle)",
    ),
    (
        "<DE_SOMEONE>",
        r"(?:jemand(?:en|em)?|irgendjemand(?:en|em)?|irgendwen|irgendwem)",
    ),
    (
        "<DE_DET>",
        r"(?:(?:einem|einer|einen|ein|eine|dem|der|den|die|ihrem|ihrer|ihren|ihre|eurem|eurer|euren|deinem|deiner|deinen|irgendeinem|irgendeiner|irgendeinen|zum|zur)\s+)?",
    ),
    (
        "<DE_ADJ>",
        r"(?:(?:echte[nmrs]?|richtige[nmrs]?|reale[nmrs]?|lebendige[nmrs]?|menschliche[nmrs]?|zustaendige[nmrs]?|andere[nmrs]?|kompetente[nmrs]?)\s+){0,2}",
    ),
];

fn expand(pattern: &str) -> String {
    let mut p = pattern.to_string();
    // Fragments may use earlier ones; two passes are enough.
    for _ in 0..2 {
        for (name, body) in FRAGMENTS {
            p = p.replace(name, body);
        }
    }
    p
}

/// The family of a turn that refuses the bot: matched before the guards of its clause.
const REFUSE_BOT: &str = "refuse-bot";

/// Request families: (name, weak, pattern). A weak family (a bare noun phrase) is vetoed by a
/// report of the past in its clause or a bot question anywhere in the turn.
const REQUEST_PATTERNS: &[(&str, bool, &str)] = &[
    // --- English -------------------------------------------------------------------------
    // "can I talk to a person", "speak with someone", "chat w/ an agent", "have a word with your manager"
    (
        "talk-to-person",
        false,
        r"\b(?:talk(?:ing)?|speak(?:ing)?|chat(?:ting)?|convers(?:e|ing)|communicat(?:e|ing)|connect(?:ing)?|deal(?:ing)? directly|work(?:ing)? directly|have a (?:word|chat|talk|conversation)|discuss(?:ing)? (?:this|it|that|my \w+))\s+(?:(?:directly|right now|now|immediately|please|pls|actually|quickly|asap|again|really|face to face|in person|live)\s+)?(?:to|with|w/|w|2|t)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>)\b",
    ),
    // "how do I contact a human agent", "reach a live agent", "get hold of someone", "get in touch with a rep"
    (
        "talk-to-person",
        false,
        r"\b(?:contact(?:ing)?|reach(?:ing)?|ask(?:ing)? for|get(?:ting)? (?:a )?hold of|get(?:ting)? ahold of|get(?:ting)? through to|(?:get|getting|be|being|put me) in (?:touch|contact) with)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>)\b",
    ),
    // "how can I call a live agent", "phone a representative" (not "call someone": a phone call)
    (
        "talk-to-person",
        false,
        r"\b(?:call(?:ing)?|phon(?:e|ing)|ring(?:ing)?)\s+(?:(?:a|an|the|your|one of your)\s+)?(?:(?:live|real|human|actual|customer service|support)\s+)*(?:agents?|humans?|operators?|representatives?|reps?|persons?|assistants?|advis[eo]rs?)\b",
    ),
    // "I want a real person", "I need an agent", "I demand your supervisor", "I'd like someone from your team"
    (
        "want-person",
        false,
        r"\b(?:want|wanna|need|require|request(?:ing)?|demand(?:ing)?|prefer|would like|'d like|d like|insist on|hoping for|hoping to (?:get|reach|have|see)|trying to (?:get|reach)|waiting for|(?:can|could|may) (?:i|we) (?:get|have|please have|please get)|let me have|i'll take)\s+(?:(?:to (?:have|get|see)|to be (?:helped|served|assisted|attended) by|(?:some )?(?:help|assistance|support) from)\s+)?<DET><ADJ>(?:<PERSON>|<SOMEONE_Q>)\b",
    ),
    // "get me a manager", "give me someone", "bring your supervisor", "get a human in here"
    (
        "want-person",
        false,
        r"\b(?:get|give|bring|fetch|grab|send) me\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>)\b",
    ),
    (
        "want-person",
        false,
        r"\b(?:get|fetch|grab|bring)\s+(?:your|the|ur|a|an|some)\s+<ADJ>(?:managers?|supervisors?|boss|superiors?|humans?|person|agent|representative|rep|operator)\b",
    ),
    // "have a human call me", "could someone from your team contact me", "a callback from a person"
    (
        "want-person",
        false,
        r"\b(?:have|ask|get|let)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE_Q>|<SOMEONE>)\s+(?:to\s+)?(?:call|contact|email|phone|ring|reach out to|get back to|get in touch with)\s+(?:me|us)\b|\b<SOMEONE_Q>\s+(?:\w+\s+)?(?:contact|call|email|phone|ring|reach out to|get back to|get in touch with)\s+(?:me|us)\b|\b(?:call ?back|call|response|reply|answer|help|assistance) from\s+<DET><ADJ>(?:<PERSON>|<SOMEONE_Q>)\b",
    ),
    // "if a human could look at my case", "can a real person take over", "get someone on the phone"
    (
        "want-person",
        false,
        r"\b(?:a|an|one of your|some)\s+<ADJ><PERSON>\s+(?:could|can|would|will|to|please)\s+(?:please\s+)?(?:look (?:at|into)|help|check|review|take over|handle|call|contact|assist|step in|get back|deal with|join)\b|\bget\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>)\s+on the (?:phone|line)\b|\b(?:can|could|would|will|may)\s+(?:a|an|some|one of your|the|your)\s+<ADJ>(?:<PERSON>|<SOMEONE_Q>)\s+(?:please\s+)?(?:take over|look (?:at|into)|help|step in|join|assist|call|contact|handle|review|check|get back to)\b",
    ),
    // "I'd like to request a call with a specialist", "book an appointment with an advisor"
    (
        "want-person",
        false,
        r"\b(?:request|book|schedule|arrange|set up|get|want|need|like|have)\s+(?:a|an)\s+(?:(?:phone|video|quick)\s+)?(?:call|callback|call back|appointment|meeting|session|chat|conversation)\s+(?:with|from)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE_Q>)\b",
    ),
    // "transfer me to customer service", "connect me with an agent", "pass my case to a human"
    (
        "transfer",
        false,
        r"\b(?:connect|transfer|put|pass|forward|redirect|route|switch|hand|send|patch|bump|move|refer|direct|escalate)(?:ing)?\s+(?:me|us|(?:this|the|my) (?:call|chat|conversation|case|issue|ticket|complaint|query|request|problem|question|matter))\s+(?:(?:over|through|along|up|back|directly|right now|now|please|immediately|on)\s+){0,2}(?:to|with|onto)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>|<DEPT>)\b",
    ),
    // "can I be connected to support", "get transferred to a human"
    (
        "transfer",
        false,
        r"\b(?:be|get|getting|being)\s+(?:connected|transferred|passed|forwarded|redirected|routed|handed over|escalated|switched|put through|sent|moved|bumped|patched through)\s+(?:(?:directly|now|right now|immediately)\s+)?(?:to|with)\s+<DET><ADJ>(?:<PERSON>|<SOMEONE>|<DEPT>)\b",
    ),
    (
        "transfer",
        false,
        r"^(?:(?:please|pls|plz|can you|could you|just|now)\s+)*(?:transfer|connect|escalate|forward) (?:me|us)(?:\s+(?:please|pls|plz|now|asap|already|over|to someone|to somebody))*$",
    ),
    (
        "transfer",
        false,
        r"(?:^|\b(?:please|pls|plz|can you|could you|would you|will you|can u|could u|just|now|ok|okay|so|and|then))\s*put (?:me|us) through(?:\s+(?:please|pls|now|asap|right away|immediately|already))*\s*$",
    ),
    // "is there someone real there", "is there a human I can talk to", "is an agent available?"
    (
        "presence",
        false,
        r"\b(?:is|are) there\s+(?:(?:a|an|any|some|one|another)\s+)?(?:(?:real|actual|live|human|living)\s+)?(?:humans?|persons?|people|agents?|representatives?|reps?|operators?|staff|employees?|managers?|supervisors?)(?:\s+(?:real\s+)?(?:there|here|around|available|online|on the line|on the other end|i can|who can|that can|to (?:talk|speak|chat|help)|working|in charge)\b|\s*$)",
    ),
    (
        "presence",
        false,
        r"\b(?:is|are) there\s+(?:some|any)\s?(?:one|body)\s+(?:real|human|alive|there|here|on the other end|on the line|(?:who|that) (?:i can|can) (?:talk|speak|chat)|i can (?:(?:actually|really|just|please|finally)\s+)?(?:talk|speak|chat)|to (?:talk|speak|chat))\b",
    ),
    (
        "presence",
        false,
        r"\b(?:is|are)\s+(?:(?:a|an|any|the)\s+)?(?:(?:real|live|human|actual)\s+)?(?:humans?|persons?|agents?|representatives?|reps?|operators?|staff)\s+(?:available|around|online|there|here|free|on the line)\b",
    ),
    (
        "presence",
        false,
        r"\b(?:any|some)\s?(?:one|body)\s+(?:real|human|alive)\s+(?:there|here|around|on the other end|on the line|available)\b|\bany\s+(?:real\s+|live\s+|actual\s+)?(?:humans|agents|people|persons|reps|representatives|staff)\s+(?:there|here|around|available|online|on the line)\b",
    ),
    (
        "presence",
        false,
        r"\b(?:do|does)\s+(?:you|u|ya|you guys)\s+(?:have|got)\s+(?:(?:a|an|any|some)\s+)?<ADJ><PERSON>\s+(?:(?:that|who)\s+)?(?:i can|can|to)\s+(?:talk|speak|chat)\b",
    ),
    // the whole clause is the ask: "human pls", "agent!", "representative", "a real person please"
    (
        "short-form",
        true,
        r"^(?:(?:hi|hello|hey|ok|okay|so|um|uh|please|pls|plz|just|yes|yeah|yep|now|i said|again|ugh|omg|come on|oh|need|want|get me|give me)\s+)*(?:(?:a|an|the|some|one|your)\s+)?(?:(?:real|live|actual|human|proper|fucking|bloody|damn)\s+)?(?:humans?|agents?|representatives?|reps?|operators?|supervisors?|managers?|persons?|people|someone real|somebody real|anyone real|human beings?|customer service (?:rep|representative|agent|person))(?:\s+(?:please|pls|plz|now|asap|right now|immediately|thanks|thank you|thx|again|already|here|needed|required|humans?|agents?|representatives?|operators?))*$",
    ),
    // "real person", "live agent", "human support", "someone real" anywhere (weak)
    (
        "mention",
        true,
        r"\b(?:real|actual|live|living|genuine|breathing|flesh and blood|flesh-and-blood)\s+(?:human beings?|humans?|persons?|people|agents?|reps?|representatives?|operators?|support|help|assistance|staff|employees?|advis[eo]rs?|customer service|customer support|someone|somebody)\b|\bhuman\s+(?:agents?|reps?|representatives?|operators?|support|help|assistance|staff|persons?|employees?|advis[eo]rs?|customer service|customer support|interaction|contact)\b|\b(?:some|any)\s?(?:one|body)\s+(?:real|human)\b",
    ),
    // "escalate this", "please escalate", "I want this escalated"
    (
        "escalate",
        false,
        r"\bescalat(?:e|ing)\s+(?:this|it|that|me|my\s+\w+|the\s+(?:issue|case|ticket|matter|problem|complaint|call|chat|conversation)|to\b)|\bescalate\s*(?:please|pls|now|asap|immediately|right now)?\s*$|^(?:please\s+|pls\s+|can you\s+|could you\s+)?escalat(?:e|ion)\b|\b(?:want|need|like|please|get)\b(?:\s+\w+){0,4}\s+escalated\b",
    ),
    // "I don't want to talk to a bot", "I'm done chatting with this machine", "sick of the bot":
    // refusing the bot asks for the other side. Not vetoed by the decline guards, which would read
    // "don't want" as declining a human.
    (
        REFUSE_BOT,
        false,
        r"\b(?:don'?t|do not|dont|doesn'?t|won'?t|wont|will not|no longer|not going to|refuse to|stop|quit|done|finished|tired of|sick of|fed up with|had enough of)\s+(?:(?:want|wanna|going|gonna|like|keep|even|ever|more|any ?more|mak(?:e|ing) me|forc(?:e|ing) me|hav(?:e|ing) me)\s+){0,2}(?:to\s+)?(?:talk(?:ing)?|chat(?:ting)?|speak(?:ing)?|deal(?:ing)?|text(?:ing)?|messag(?:e|ing)|writ(?:e|ing)|argu(?:e|ing)|talked|chatted|spoken)\s+(?:(?:any ?more|again|further|now)\s+)?(?:to|with)\s+(?:(?:a|an|the|this|that|your|ur|some|another|stupid|dumb|useless|damn|fucking|bloody|automated|virtual)\s+){0,3}(?:bots?|robots?|machines?|chatbots?|chat bots?|ai|computers?|programs?|algorithms?|auto ?responders?|automated (?:system|replies|responses|answers))\b|\b(?:no more|enough (?:with|of)|tired of|sick of|fed up with|done with|had enough of)\s+(?:(?:the|this|these|your|ur|stupid|dumb|useless|damn|fucking|bloody|automated)\s+){0,3}(?:bots?|robots?|chatbots?|chat bots?|ai|automated (?:replies|responses|answers))\b",
    ),
    // --- Spanish -------------------------------------------------------------------------
    // "quiero hablar con una persona", "pásame con un agente", "comunícame con un asesor"
    (
        "es-talk-to-person",
        false,
        r"\b(?:hablar|charlar|chatear|atendid[oa]|(?:comunic|comuniqu|contact|pas|transfier|transfer|conect|deriv|redirig|redirij)\w*|pon(?:me|erme|gan|ga)?(?: en contacto)?)\s+(?:(?:ya|ahora|ahora mismo|por favor|directamente|inmediatamente)\s+)?(?:con|a|por)\s+(?:<ES_DET><ES_ADJ><ES_PERSON>|alguien)\b",
    ),
    // "que me atienda una persona"
    (
        "es-talk-to-person",
        false,
        r"\b(?:me\s+)?(?:(?:puede|pueden|podria|podrian|pueda)\s+)?atend(?:er|erme|a|an|iera|ieran)\s+(?:(?:ya|ahora|por favor)\s+)?(?:un|una|el|la|algun|alguna)\s+<ES_ADJ><ES_PERSON>\b",
    ),
    // "quiero un humano", "necesito un agente", "exijo al gerente", "quiero alguien real"
    (
        "es-want-person",
        false,
        r"\b(?:quiero|quisiera|necesito|exijo|deseo|pido|solicito|prefiero|me gustaria|dame|deme|busco|requiero)\s+(?:(?:que me atienda|hablar con|a)\s+)?<ES_DET><ES_ADJ>(?:<ES_PERSON>|alguien (?:real|de verdad|humano|de carne y hueso|de su equipo|del equipo|de atencion|de soporte|con quien hablar))\b",
    ),
    // "¿hay alguien real?", "¿hay una persona?", "¿hay algún agente disponible?"
    (
        "es-presence",
        false,
        r"\bhay\s+(?:(?:una|un|alguna|algun)\s+)?(?:personas?|humanos?|agentes?|asesor(?:es)?|representantes?|operador(?:es)?)\b|\bhay\s+alguien\s+(?:real|de verdad|humano|de carne|con quien)\b",
    ),
    (
        "es-short-form",
        true,
        r"^(?:(?:hola|por favor|porfa|oye|ya|solo)\s+)*(?:(?:un|una)\s+)?(?:humano|agente|operador(?:a)?|asesor(?:a)?|representante|persona real|persona de verdad|agente humano|ser humano|persona|supervisor|gerente)(?:\s+(?:por favor|porfa|ya|ahora|ahora mismo|urgente|ya mismo|gracias))*$",
    ),
    (
        "es-mention",
        true,
        r"\b(?:persona real|persona de verdad|agente humano|agente real|humano real|alguien real|alguien de verdad|de carne y hueso|persona fisica|atencion humana|asistencia humana|soporte humano|un humano)\b",
    ),
    (
        "es-escalate",
        false,
        r"\bescal(?:ar|a|e|en|alo|ame)\s+(?:esto|este caso|el caso|mi caso|el problema|mi problema|mi queja|la queja|el reclamo|mi reclamo|a un\w*|con un\w*|al)\b|\bescalalo\b",
    ),
    // "no quiero hablar con un bot", "estoy harto de este robot"
    (
        REFUSE_BOT,
        false,
        r"\bno\s+(?:quiero|deseo|voy a|pienso)\s+(?:seguir\s+)?(?:hablar|hablando|chatear|chateando|escribir|escribiendo)\s+con\s+(?:(?:un|una|el|la|este|esta|tu|su)\s+)?(?:bot|robot|maquina|chatbot|ia|programa|contestador)\b|\b(?:hart[oa]s?|cansad[oa]s?)\s+de\s+(?:(?:hablar|chatear)\s+con\s+)?(?:(?:un|una|el|la|este|esta|tu|su)\s+)?(?:bot|robot|maquina|chatbot|contestador)\b",
    ),
    // --- German --------------------------------------------------------------------------
    // "ich möchte mit einem Menschen sprechen", "kann ich mit jemandem reden"
    (
        "de-talk-to-person",
        false,
        r"\bmit\s+<DE_DET><DE_ADJ>(?:<DE_PERSON>|<DE_SOMEONE>|person)\b(?:\s+\w+){0,5}?\s+(?:zu\s+)?(?:sprechen|reden|chatten|telefonieren|verbunden werden|verbunden|kommunizieren|schreiben)\b",
    ),
    // "verbinden Sie mich mit einem Mitarbeiter", "leiten Sie mich an einen Menschen weiter", "gib mir einen Menschen"
    (
        "de-transfer",
        false,
        r"\b(?:verbinden|verbindet|verbinde|verbind|weiterleiten|leiten|leite|leitet|stellen|stelle|stell|schalten|vermitteln|vermittle|holen|hole|hol|geben|gib|gebt)\s+(?:sie\s+|du\s+|ihr\s+)?(?:mich|uns|mir)\s+(?:(?:bitte|doch|jetzt|sofort|mal|gleich|direkt|endlich)\s+)*(?:(?:mit|an|zu)\s+)?<DE_DET><DE_ADJ>(?:<DE_PERSON>|<DE_SOMEONE>|<DE_DEPT>|person)\b",
    ),
    // "können Sie mich zu einem Kundenberater durchstellen", "mich mit einem Menschen verbinden"
    (
        "de-transfer",
        false,
        r"\b(?:mich|uns|bitte|doch|jetzt|sofort|direkt)\s+(?:(?:bitte|doch|jetzt|sofort|mal|gleich|direkt|endlich)\s+)*(?:mit|an|zu)\s+<DE_DET><DE_ADJ>(?:<DE_PERSON>|<DE_SOMEONE>|<DE_DEPT>|person)\b(?:\s+\w+){0,3}?\s+(?:verbinden|weiterleiten|weiter|durchstellen|durch|vermitteln)\b",
    ),
    (
        "de-transfer",
        false,
        r"\b(?:verbinden|weiterleiten|durchstellen|weitergeleitet|verbunden|durchgestellt)\s+(?:werden\s+)?(?:mit|an|zu)\s+<DE_DET><DE_ADJ>(?:<DE_PERSON>|<DE_SOMEONE>|<DE_DEPT>)\b|\b(?:mit|an|zu)\s+<DE_DET><DE_ADJ>(?:<DE_PERSON>|<DE_SOMEONE>|<DE_DEPT>)\s+(?:weitergeleitet|verbunden|durchgestellt|vermittelt)\s+(?:zu\s+)?werden\b",
    ),
    // "kann ich einen Berater sprechen", "gibt es jemanden, mit dem ich sprechen kann"
    (
        "de-talk-to-person",
        false,
        r"\b(?:einen|eine|ihren|ihre|den|die|euren|deinen)\s+<DE_ADJ><DE_PERSON>\s+(?:\w+\s+)?sprechen\b|\b(?:gibt es|ist da|ist hier|haben sie)\s+(?:(?:hier|da|auch|noch)\s+)?(?:jemand(?:en)?|irgendjemand(?:en)?|(?:einen|eine|ein)\s+<DE_ADJ><DE_PERSON>)\s+(?:mit dem|mit der|der|die|den)\s+(?:ich|man)\s+(?:\w+\s+)?(?:sprechen|reden|chatten)\b",
    ),
    // "kann mir ein Mensch helfen?"
    (
        "de-want-person",
        false,
        r"\b(?:kann|koennte|koennen|soll|moege)\s+(?:mir|uns)\s+(?:(?:bitte|jetzt|endlich|nicht)\s+)*(?:(?:ein|eine|einer)\s+<DE_ADJ>(?:<DE_PERSON>|person)|jemand\s+(?:echtes|echter|menschliches))\s+(?:\w+\s+)?helfen\b",
    ),
    // "ich will einen echten Menschen", "ich brauche einen Berater", "ich hätte gerne einen Ansprechpartner"
    (
        "de-want-person",
        false,
        r"\b(?:will|moechte|mochte|brauche|benoetige|verlange|haette gerne?|wuensche|fordere|moechten|wollen|brauchen|suche)\s+(?:(?:jetzt|sofort|bitte|endlich|gerne?|doch|einfach)\s+){0,2}(?:einen|eine|ein|ihren|ihre|den|die)\s+<DE_ADJ><DE_PERSON>\b",
    ),
    (
        "de-want-person",
        false,
        r"\b(?:will|moechte|brauche|benoetige|verlange|haette gerne?)\s+(?:(?:jetzt|sofort|bitte|endlich|gerne?|doch|einfach)\s+){0,2}(?:eine\s+)?(?:echte|richtige|reale|lebendige)\s+person\b",
    ),
    // "ist da ein echter Mensch?", "gibt es hier einen Mitarbeiter?", "ist da jemand Echtes?"
    (
        "de-presence",
        false,
        r"\b(?:ist|sind)\s+(?:da|dort|hier)\s+(?:auch\s+|ueberhaupt\s+|irgendwo\s+)?(?:(?:ein|eine|einer|echte|echter)\s+)?<DE_ADJ>(?:mensch(?:en)?|mitarbeiter\w*|person|berater\w*)\b|\b(?:ist|sind)\s+(?:da|dort|hier)\s+(?:auch\s+|ueberhaupt\s+)?(?:jemand|irgendjemand|irgendwer)\s+(?:echtes|echter|menschliches|reales)\b|\bgibt es\s+(?:(?:hier|da|bei ihnen|bei euch|auch|ueberhaupt|keinen|noch)\s+){0,2}(?:(?:einen|eine|ein|irgendeinen)\s+)?<DE_ADJ>(?:menschen|mitarbeiter\w*|berater\w*|ansprechpartner\w*|mensch)\b",
    ),
    (
        "de-short-form",
        true,
        r"^(?:(?:hallo|bitte|jetzt|sofort|hey|ok|nun|einfach)\s+)*(?:(?:einen|ein|eine)\s+)?(?:(?:echten|echte|richtigen|echter)\s+)?(?:menschen|mitarbeiter(?:in)?|berater(?:in)?|kundenberater(?:in)?|kundendienst|ansprechpartner(?:in)?|vorgesetzten|agenten|operator|echte person|echter mensch)(?:\s+(?:bitte|jetzt|sofort|danke|schnell|dringend))*$|^(?:bitte\s+)?mensch(?:\s+(?:bitte|jetzt|sofort|dringend))+$",
    ),
    (
        "de-mention",
        true,
        r"\b(?:echte[nmrs]?|richtige[nmrs]?|reale[nmrs]?|lebendige[nmrs]?)\s+(?:mensch(?:en)?|person|mitarbeiter\w*|berater\w*|ansprechpartner\w*)\b|\bmenschliche[nmrs]?\s+(?:mitarbeiter\w*|berater\w*|ansprechpartner\w*|unterstuetzung|hilfe|support|agent\w*|kontakt)\b|\bjemand(?:en|em)?\s+(?:echtes|echten|menschliches)\b",
    ),
    (
        "de-escalate",
        false,
        r"\beskalier(?:en|e)\b|\b(?:an|zu)\s+(?:einen?|ihren?|den)\s+vorgesetzten\b",
    ),
    // "ich will nicht mit einem Bot reden", "keine Lust mehr auf den Roboter"
    (
        REFUSE_BOT,
        false,
        r"\b(?:will|moechte|mag|werde)\s+(?:(?:nicht|nicht mehr|nie mehr|nie wieder|keine?n?)\s+)(?:mehr\s+)?mit\s+(?:(?:einem|einer|dem|der|diesem|dieser|ihrem|ihrer)\s+)?(?:bot|roboter|maschine|chatbot|ki|computer|automaten)\b|\bkeine lust (?:mehr )?auf\s+(?:(?:den|diesen|einen|ihren|die|diese)\s+)?(?:bot|roboter|chatbot|maschine|ki)\b",
    ),
];

/// The family name and strength of each pattern of [`REQUEST`], by index.
static FAMILIES: LazyLock<Vec<(&'static str, bool)>> =
    LazyLock::new(|| REQUEST_PATTERNS.iter().map(|(n, w, _)| (*n, *w)).collect());

static REQUEST: LazyLock<RegexSet> =
    LazyLock::new(|| set(REQUEST_PATTERNS.iter().map(|(_, _, p)| expand(p))));

/// Literals one of which every match of a [`REQUEST`] pattern contains (derived from the
/// patterns), found by one scan of the normalised turn: most turns have none, and skip the
/// patterns. Sound on the normalised text, not only on the clauses the patterns run on: the
/// rewrites before the split insert only " xparty " ([`THIRD_PARTY`]) and a space before a
/// relative word ([`RELATIVE_COMMA`]); [`prefilter_literal_ok`] keeps every literal from
/// overlapping either, so each literal found in a clause is in the normalised text. `None` (no
/// prefilter) if that cannot be had.
static REQUEST_PREFILTER: LazyLock<Option<aho_corasick::AhoCorasick>> = LazyLock::new(|| {
    let literals = super::literals::required_any(
        REQUEST_PATTERNS.iter().map(|(_, _, p)| expand(p)),
        regex_syntax::ParserBuilder::new().unicode(false),
        &prefilter_literal_ok,
    )?;
    if !literals.iter().all(|l| prefilter_literal_ok(l.as_bytes())) {
        return None;
    }
    aho_corasick::AhoCorasick::new(&literals).ok()
});

/// The relative words [`RELATIVE_COMMA`] keeps after the space it puts for the comma.
const RELATIVE_WORDS: &[&str] = &[
    "mit dem",
    "mit der",
    "mit denen",
    "zu dem",
    "zu der",
    "zu denen",
    "bei dem",
    "bei der",
    "bei denen",
    "der",
    "die",
    "dem",
    "den",
    "who",
    "whom",
    "con quien",
    "con el que",
    "con la que",
];

/// Whether an occurrence of `literal` in the rewritten turn can never overlap text the rewrites
/// inserted (" xparty ", or the space before a relative word), so that it is in the normalised
/// turn too.
fn prefilter_literal_ok(literal: &[u8]) -> bool {
    const INSERTED: &[u8] = b" xparty ";
    let overlaps = |l: &[u8], ins: &[u8]| {
        let n = l.len().min(ins.len());
        (1..=n).any(|k| l[..k] == ins[ins.len() - k..] || l[l.len() - k..] == ins[..k])
            || l.windows(ins.len()).any(|w| w == ins)
            || ins.windows(l.len()).any(|w| w == l)
    };
    !overlaps(literal, INSERTED)
        && literal.iter().enumerate().all(|(i, &b)| {
            b != b' '
                || RELATIVE_WORDS.iter().all(|r| {
                    let (tail, r) = (&literal[i + 1..], r.as_bytes());
                    !(tail.starts_with(r) || r.starts_with(tail))
                })
        })
}

/// Clause boundaries: sentence punctuation, commas, dashes and contrastive conjunctions.
static CLAUSE: LazyLock<Regex> =
    LazyLock::new(|| re(r"[.!?;:\n\r()\[\]]+|,|\s-+\s|\b(?:but|pero|sino|sondern|aber|instead)\b"));

/// A comma before a relative clause does not end the clause: "gibt es jemanden, mit dem ich
/// sprechen kann", "is there anyone, who I can talk to".
static RELATIVE_COMMA: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r",\s*(?P<rel>(?:mit|zu|bei) (?:dem|der|denen)|der|die|dem|den|who|whom|con quien|con el que|con la que)\b",
    )
});

/// Third parties and person nouns that do not mean a person at the business.
static THIRD_PARTY: LazyLock<Regex> = LazyLock::new(|| {
    re(&expand(concat!(
        // possessed people: "my manager asked me", "talk to my boss", "mi jefe", "meinem Chef"
        r"\b(?:my|our|his|her|their|mom's|dad's|mum's|friend's|wife's|husband's|son's|daughter's|mi|mis|nuestro|nuestra|mein|meine|meinem|meinen|meiner|unser|unsere|unserem|unseren)\s+(?:own\s+|previous\s+|old\s+|former\s+|new\s+|current\s+)?(?:<PERSON>|team|department|office|company|bank|jef[ea]|gerente|asesor(?:a)?|agente|supervisor(?:a)?|abogad[oa]|chef(?:in)?|berater(?:in)?|vorgesetzten?|manager(?:in)?|mitarbeiter(?:in)?|kollege[n]?|kollegin|agent(?:en)?)\b",
        // person nouns in a possessive or as a modifier: "a manager's approval", "agent number", "human resources"
        r"|\b(?:agent|manager|operator|representative|supervisor|assistant|human|person|staff|employee|someone|somebody|anyone|anybody)'s\b",
        r"|\b(?:agents?|managers?|operators?|representatives?|supervisors?|assistants?|humans?|persons?|staff|employees?)\s+(?:license|licence|number|id|code|portal|login|fees?|commission|program|programme|role|account|position|job|access|mode|app|dashboard|software|tool|view|level|permissions?|training|exam|certification|rights|resources|error|nature|body|race|trafficking|interest|settings?|name|title|status|approval|signature|meeting)\b",
        // external roles: "real estate agent", "travel agent", "smooth operator", "virtual assistant"
        r"|\b(?:real estate|estate|travel|insurance|secret|free|booking|leasing|letting|rental|talent|literary|sports|shipping|customs|forwarding|user|undercover|fbi|cia|border|ticket|property|housing|immigration|fashion|music|casting|double|federal|special|chemical|cleaning|change|tour|smooth|network|mobile|cellular|machine|crane|forklift|logical|boolean|radio|camera|personal|teaching|medical|dental|research|nursing|legal|executive|virtual|digital|voice|google|smart|ai|chat|automated|bot|project|product|password|package|task|file|window|download|device|campaign|stage|hr|union|elected|congressional|house)\s+(?:agents?|operators?|assistants?|managers?|representatives?|reps?)\b",
        r"|\bagente (?:inmobiliario|de viajes|de seguros|de bolsa|de aduanas|secreto)\b",
        // the counterparty of a transaction: "the person who sent me money"
        r"|\bthe (?:person|people|guy|man|woman|lady|individual|recipient|sender|payee|merchant) (?:who|that|whom|i|we) (?:\w+ ){0,2}?(?:sent|send|paid|pay|received|receive|owes|owe|stole|used|transferred|transfer|gave|sold|bought|charged|ordered)\b",
        // fixed phrases: "in person", "per person", "cat person", "people person"
        r"|\b(?:in|per|pro|first|second|third|cat|dog|morning|night|people|missing|contact)\s+person\b",
    )))
});

/// Clauses that decline a human, ask whether one is needed, or ask about hours and channels.
const GUARD_PATTERNS: &[&str] = &[
    // --- declining a human ---
    // "I don't need a human", "no need for an agent", "not necessary", "I'd rather not"
    r"\b(?:don'?t|do not|dont|doesn'?t|does not|didn'?t|won'?t|wont|wouldn'?t|no)\s+(?:\w+\s+)??(?:need|needed|want|wanna|require|required|wish|necessary|requesting|asking for|interested|gonna need)\b",
    r"\bno need\b|\bnot (?:really )?(?:necessary|needed|required)\b|\b(?:i'?d|i would) rather not\b|\bnever ?mind\b|\bno thanks?\b|\bno,? thank you\b",
    // "without talking to anyone", "instead of an agent", "no human"
    r"\b(?:without|instead of|rather than|other than|except|besides|no)\s+(?:(?:a|an|any|the|talking|speaking|chatting|contacting|calling|having to|going through|involving|to)\s+){0,2}(?:\w+\s+)?(?:humans?|persons?|agents?|people|operators?|representatives?|reps?|managers?|someone|anyone|somebody|anybody)\b",
    // "don't transfer me", "stop escalating"
    r"\b(?:don'?t|do not|dont|no|never|stop|quit)\s+(?:\w+\s+)?(?:transfer|transferring|connect|connecting|escalat\w*|put(?:ting)? me|pass(?:ing)? me|send(?:ing)? me|forward\w*|hand(?:ing)? (?:me|this|it))\b",
    // --- asking whether a human is needed ---
    // "do I need to speak to a representative to change my pin?", "should I contact support"
    r"^(?:(?:so|and|also|then|ok|okay|hi|hey|hello|sorry|well|quick question)\s+)*(?:do|does|did|will|would|should|must|shall)\s+(?:i|we|you)\s+(?:\w+\s+)?(?:need|have|has|got)\s+to\b|\bshould i\s+(?:\w+\s+)?(?:talk|speak|contact|call|reach|ask|get)\b|\b(?:is it|is that|it is|is this) (?:necessary|required|mandatory|needed)\b",
    // --- hours and channels ---
    // "what hours can I reach an agent", "when are agents available", "what's the phone number"
    r"\b(?:what|which|until|till|at what)\b(?:\s+\w+){0,3}?\s+(?:hours?|times?|days?|schedule)\b",
    r"\bwhen\s+(?:is|are|do|does|can|could|will|would|should|might|i|we)\b",
    // whether humans do something: "do real people read these messages?", "will a person review it?"
    r"\b(?:do|does|will|would|is|are|can|could)\s+(?:(?:a|an|any|the|your)\s+)?(?:(?:real|live|actual|human)\s+)?(?:people|persons?|humans?|agents?|someone|anyone|somebody|anybody|staff|employees?)\s+(?:ever\s+|actually\s+|really\s+|even\s+)?(?:read|reading|see|seeing|review|reviewing|check|checking|look at|monitor|monitoring|answer|respond|approve|handle|process|work|get)\b",
    r"\b(?:business|opening|office|support|working|operating|service|open|call ?cent(?:er|re)) hours\b|\bhours of (?:operation|business|service)\b|\b(?:open|available|reachable|staffed)\s+(?:on|at|during|until|till|from|24|over)\b|\b24/7\b|\baround the clock\b",
    r"\b(?:phone|telephone|contact|toll[- ]?free|hotline|helpline|support|service|fax|whatsapp|callback|call ?back)\s+(?:number|line|email|address|details|info)\b|\bemail address\b|\bnumber (?:to|for|i can|that i can)\b|\b(?:what|which) (?:\w+ )?(?:number|phone|email|channels?|ways?|options?|methods?)\b",
    r"\b(?:do|does)\s+(?:you|u|ya|you guys|y'all)\s+(?:\w+\s+)?(?:have|offer|provide|work with|use|employ)\s+(?:(?:any|a|an|some)\s+)?(?:(?:real|live|human|actual)\s+)?(?:\w+\s+)?(?:humans?|people|agents?|persons?|support|staff|representatives?|operators?|help|chat|assistance)\s*$",
    r"\b(?:is there|do you have|have you got|you have|do you guys have|do you offer)\s+(?:(?:a|an|any)\s+)?(?:phone|number|email|hotline|helpline|live chat|chat|toll|contact|whatsapp|line|telephone)\b|\bhow (?:can|do|could|would) i (?:call|phone|ring|email|e-mail|write to|dial)\b",
    // --- Spanish guards ---
    r"\bno\s+(?:\w+\s+){0,2}?(?:necesito|quiero|hace falta|es necesario|requiero|hay necesidad|me pases|me pase|me transfieras|me transfiera|me conectes|me comuniques)\b|\bsin\s+(?:hablar|pasar|necesidad|tener que)\b|\bno (?:hace|es) falta\b|\bni (?:un|una)\b",
    r"\bhorario\w*\b|\ba que hora\b|\bque horas?\b|\bcuando\s+(?:abren|atienden|puedo|estan|esta|hay|se puede)\b|\bnumero de (?:telefono|contacto|atencion)\b|\bcorreo (?:electronico)?\b|\bque (?:canales|medios)\b",
    // --- German guards ---
    r"\b(?:brauche|will|moechte|mochte|benoetige|wuensche|muss)\s+(?:\w+\s+)?(?:keinen|keine|keinem|nicht|niemanden)\b|\bkein(?:e|en|em)?\s+(?:\w+\s+)?(?:mensch|menschen|mitarbeiter\w*|person|berater\w*|agent\w*)\b|\bohne(?:\s+\w+){0,6}?\s+zu\s+(?:sprechen|reden|telefonieren)\b|\bnicht (?:noetig|notwendig|erforderlich)\b|\bnicht\s+(?:\w+\s+)?(?:verbinden|weiterleiten|durchstellen)\b",
    r"\b(?:oeffnungszeiten|sprechzeiten|geschaeftszeiten|servicezeiten|erreichbarkeit|telefonnummer|hotline-?nummer|e-?mail-?adresse|rufnummer)\b|\bwann\s+(?:ist|sind|kann|koennen|erreiche|hat|haben|oeffnet|oeffnen)\b|\bzu welchen zeiten\b|\bwelche[nrs]? (?:kanaele|kanal|zeiten|nummer)\b|\bmuss ich\b",
    // escalation as a topic: "what is your escalation process"
    r"\bescalation (?:process|policy|procedure|path|matrix)\b",
];

/// Questions whether the agent is a bot or a human: "are you a real person?", "¿eres un bot?".
const BOT_QUESTION_PATTERNS: &[&str] = &[
    // "are you a bot", "are you even a real person", "is this a human", "am I talking to a machine"
    r"\b(?:are|r|ar)\s+(?:you|u|ya)\s+(?:\w+\s+){0,2}?(?:(?:a|an)\s+)?(?:real|actual|live|human|person|people|bot|robot|machine|ai|computer|program|automated|artificial|chatbot|alive|someone|somebody|sentient|living)\b",
    r"\b(?:is|was)\s+(?:this|that|it)\s+(?:\w+\s+){0,2}?(?:(?:a|an)\s+)?(?:real|actual|live|human|person|bot|robot|machine|ai|computer|automated|chatbot|someone|recording|somebody)\b",
    r"\bam i\s+(?:\w+\s+){0,2}?(?:talking|speaking|chatting|texting|writing|communicating|dealing|interacting)\s+(?:to|with)\b",
    r"\b(?:you(?:'re| are| r)|ur|u r|youre)\s+(?:not\s+)?(?:\w+\s+)?(?:(?:a|an)\s+)?(?:real|actual|live|human|person|bot|robot|machine|ai|computer|chatbot)\b",
    r"\b(?:if|whether)\s+(?:you|u|this|i'?m|i am|it'?s|it is)\s+(?:are\s+|'re\s+|is\s+|r\s+|am\s+)?(?:\w+\s+)?(?:(?:a|an)\s+)?(?:real|human|bot|person|robot|ai|computer|machine|live|actual)\b",
    r"\b(?:humans?|person|people|bot|robot|ai|machine|computer)\s+or\s+(?:(?:a|an)\s+)?(?:bot|robot|machine|ai|computer|human|person|real|program)\b",
    r"\b(?:could|can|would|will|do|did|should)\s+(?:you|u)\s+(?:\w+\s+)?(?:be|consider yourself|identify|regard yourself)\b|\b(?:regard|consider|classify|treat)\s+(?:you|u|yourself)\b|\bprove (?:you|u|that you)\b",
    r"\b(?:sound|sounds|act|acts|think|thinks|talk|talks|write|writes|respond|responds|feel|feels|seem|seems|look|looks|behave|behaves|more|less|almost|exactly)\s+like\s+(?:a|an)\b",
    r"\bi(?:'m| am| m|m)\s+(?:not\s+)?(?:(?:a|an)\s+)?(?:real|human|person|bot|robot)\b",
    r"\b(?:eres|es usted|sois|es esto|esto es|es este)\s+(?:\w+\s+)?(?:(?:un|una)\s+)?(?:bot|robot|humano|humana|persona|maquina|ia|computadora|programa|real|automatico)\b|\b(?:estoy|estamos)\s+(?:hablando|chateando|escribiendo|conversando)\s+con\b|\bsi (?:eres|es usted|estoy)\b|\bhablo con\s+(?:un|una)\s+(?:bot|robot|maquina|persona|humano)\b",
    r"\b(?:bist du|sind sie|seid ihr|ist das|bin ich)\s+(?:\w+\s+)?(?:(?:ein|eine)\s+)?(?:bot|roboter|mensch|maschine|ki|computer|echte[rs]?|echt|chatbot|programm|automat)\b|\b(?:spreche|rede|chatte|schreibe)\s+ich\s+(?:\w+\s+)?(?:mit|zu)\b|\bob (?:du|sie|ich)\b",
];

/// Every guard of a clause.
static GUARD: LazyLock<RegexSet> =
    LazyLock::new(|| set(GUARD_PATTERNS.iter().chain(BOT_QUESTION_PATTERNS)));

/// Bot questions anywhere in the turn veto the weak families (a bare "real, live person" clause
/// after "am I speaking with AI or ...").
static BOT_QUESTION: LazyLock<RegexSet> = LazyLock::new(|| set(BOT_QUESTION_PATTERNS));

/// Reports of the past, which veto the weak families: "the live agent told me ...", and
/// questions about who someone is ("who is the real person behind this account?").
static REPORT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:said|says|told|tells|promised|mentioned|claimed|answered|replied|explained|spoke|talked|chatted|hung up|gave|was|were|had|did|called me|emailed|wrote|dijo|hable|me dijeron|sagte|hat gesagt|hatte|war|gesprochen|than|que con)\b|\b(?:is|am|'s|be|being|been) (?:a |an |the )?(?:real|actual|live|living)\b|^(?:\w+\s+)?who(?:'s| is| are| was| were)\b|\b(?:going|gone|sent|sending|send|paid|paying|pay|transfer\w*|belong\w*|registered|owned)\s+(?:to|by)\s+(?:a|an)\s+(?:real|actual|live)\b",
    )
});

#[cfg(test)]
mod tests {
    use super::{explain, is_explicit_request as req, normalize};

    fn assert_fires(texts: &[&str]) {
        let missed: Vec<&str> = texts.iter().copied().filter(|t| !req(t)).collect();
        assert!(missed.is_empty(), "should fire: {missed:#?}");
    }

    fn assert_quiet(texts: &[&str]) {
        let fired: Vec<String> = texts
            .iter()
            .filter_map(|t| explain(t).map(|f| format!("{t} [{f}]")))
            .collect();
        assert!(fired.is_empty(), "should not fire: {fired:#?}");
    }

    #[test]
    fn english_requests_fire() {
        assert_fires(&[
            "can I talk to a person",
            "Get me a manager!",
            "is there someone real there?",
            "I want to speak with a human please",
            "connect me to an agent",
            "real person please",
            "human",
            "human pls",
            "agent!",
            "Representative.",
            "operator",
            "AGENT AGENT AGENT",
            "I need to speak to someone",
            "let me talk to your supervisor",
            "Can I have a word with your manager?",
            "transfer me to customer service",
            "put me through to a customer service rep",
            "I'd like to live chat with someone",
            "please escalate this",
            "Escalate.",
            "I want this escalated to someone who can actually help",
            "you're useless, get me a real person",
            "are you a bot? I want a human",
            "I demand to speak to a supervisor",
            "how do I reach a live agent",
            "Is there a human I can talk to?",
            "is an agent available?",
            "any humans around?",
            "can u put me through",
            "i need a real person to look at this",
            "talk 2 a human",
            "i want to talk w/ someone from your team",
            "I'd like someone from your billing team",
            "I keep trying to talk to somone",   // typo
            "please let me talk to an asistant", // typo
            "i would like speakign to a human agent",
            "I keep getting the bot, can I get through to a human?",
            "I don't want a bot, I want a person",
            "I don't want a bot but a human",
            "Could you connect me with customer support?",
            "I'd like to be transferred to a supervisor",
            "give me someone who knows what they're doing",
            "customer service rep please",
            "I need to talk to someone about my bill",
            "can i speak to the manager",
            "This is ridiculous. Supervisor now.",
            "I wanna chat with a live agent now",
            "why can't I chat with a person",
            "Is there anyone I can actually speak with?",
        ]);
    }

    #[test]
    fn refusing_the_bot_asks_for_a_human() {
        assert_fires(&[
            "I don't want to talk to a bot anymore",
            "i dont wanna chat with a robot",
            "I'm done talking to this stupid bot",
            "stop making me talk to a machine",
            "sick of this bot",
            "no more bots please",
            "no quiero hablar con un bot",
            "estoy harta de este robot",
            "Ich will nicht mit einem Bot reden",
            "keine Lust mehr auf den Chatbot",
        ]);
        assert_quiet(&[
            "I don't mind talking to a bot",
            "I don't know if I'm talking to a bot",
            "don't worry, I like talking to bots",
            "I'm tired of the coffee machine breaking",
            "the robot vacuum stopped working",
            "who is the real person behind this account?",
        ]);
    }

    #[test]
    fn english_traps_stay_quiet() {
        assert_quiet(&[
            "are you a bot?",
            "Are you a real person?",
            "am i talking to a human",
            "am i chatting with someone real",
            "is this a real person or a bot",
            "could you possibly be a real person",
            "you write like a real person",
            "human or bot?",
            "no need for a human, thanks",
            "I don't need to talk to anyone, just tell me the price",
            "I don't want to speak to an agent",
            "don't transfer me to an agent, I just need the tracking number",
            "can I do this without talking to a person?",
            "no human needed",
            "what are your support hours?",
            "What hours can I talk to an agent?",
            "when are agents available?",
            "What is the phone number of customer service?",
            "is there a toll-free number to speak to customer service?",
            "is there a live chat?",
            "I want to speak with customer support, how do I do that?",
            "how can I talk with customer support?",
            "at what time can I reach customer support",
            "my manager asked me to buy a new laptop",
            "the agent at the store said I could return it",
            "I am a real estate agent",
            "I need a travel agent for my trip",
            "my boss wants the invoice",
            "I talked to a live agent yesterday and they said the refund is coming",
            "Do I need to speak to a representative to update my address?",
            "do I have to talk to someone to cancel, or can I do it online",
            "someone took my wallet",
            "can someone explain why my transfer failed?",
            "i need someone to fix my sink",
            "book a table for 4 people",
            "he is an awful human being",
            "I need my manager's approval",
            "how do I get a card in person",
            "call mark",
            "please talk faster",
            "it was nice to chat with you",
            "transfer money to someone else",
            "why can't I transfer it to someone else's account",
            "the human resources department needs the form",
            "hi, anyone there?",
            "my order arrived broken",
            "who is your supervisor anyway",
            "I want to add a person to my account",
            "what is your escalation process",
        ]);
    }

    #[test]
    fn spanish() {
        assert_fires(&[
            "Quiero hablar con una persona",
            "pásame con un agente por favor",
            "pasame con un agente",
            "Necesito hablar con un humano",
            "¿Puedo hablar con alguien?",
            "comunícame con un asesor",
            "quiero un humano",
            "necesito un agente ya",
            "exijo hablar con el gerente",
            "¿Hay alguien real ahí?",
            "¿hay una persona con quien hablar?",
            "persona real por favor",
            "humano por favor",
            "agente",
            "un asesor, por favor",
            "Transfiéreme a un representante",
            "conéctame con un operador",
            "quiero que me atienda una persona",
            "me gustaría hablar con un supervisor",
            "no me ayudas, quiero hablar con alguien de verdad",
            "¿me pasas con el encargado?",
            "quisiera contactar con un agente humano",
            "necesito una persona de verdad",
            "escala mi caso por favor",
            "quiero alguien de carne y hueso",
            "¿puedo chatear con un asesor?",
            "eres un bot? quiero un humano",
        ]);
        assert_quiet(&[
            "¿Eres un bot?",
            "eres una persona real?",
            "¿Estoy hablando con una persona?",
            "no necesito hablar con una persona, gracias",
            "no hace falta un agente",
            "¿Cuál es el horario de atención?",
            "¿A qué hora puedo hablar con un agente?",
            "¿cuál es el número de teléfono de atención al cliente?",
            "mi jefe me pidió comprar un portátil",
            "el agente de la tienda me dijo que podía devolverlo",
            "soy agente inmobiliario",
            "hablé con un agente ayer y me dijo que el reembolso llegaría",
            "quiero cancelar mi pedido",
            "mi pedido llegó roto",
            "una mesa para cuatro personas",
            "¿cuándo atienden los agentes?",
            "¿tienen correo electrónico?",
            "quiero cambiar mi contraseña",
            "alguien robó mi tarjeta",
            "¿hay alguien ahí?",
            "necesito ayuda con mi factura",
            "sin hablar con un agente, ¿puedo cambiar mi dirección?",
            "mi asesor dice que tengo que pagar",
            "¿Cuándo llega mi paquete?",
            "el humano que me atendió fue muy amable",
            "quiero devolver un producto",
        ]);
    }

    #[test]
    fn german() {
        assert_fires(&[
            "Ich möchte mit einem Menschen sprechen",
            "Verbinden Sie mich bitte mit einem Mitarbeiter",
            "Kann ich mit jemandem reden?",
            "Ich will einen echten Menschen",
            "Ich brauche einen Berater",
            "Gib mir einen Menschen",
            "Leiten Sie mich an einen Mitarbeiter weiter",
            "Ist da ein echter Mensch?",
            "Ist da jemand Echtes?",
            "Gibt es hier einen Menschen, mit dem ich sprechen kann?",
            "Mitarbeiter bitte",
            "Mensch bitte",
            "einen Menschen bitte",
            "Ich möchte Ihren Vorgesetzten sprechen",
            "ich will mit ihrem chef sprechen",
            "Können Sie mich zu einem Kundenberater durchstellen?",
            "Ich hätte gerne einen Ansprechpartner",
            "Bitte eskalieren Sie das",
            "Ich möchte mit einer echten Person chatten",
            "ich moechte mit einem menschen sprechen",
            "Stellen Sie mich zu einem Mitarbeiter durch",
            "Du verstehst mich nicht, ich will mit einem Menschen reden",
            "Ich brauche keinen Bot, sondern einen Menschen",
            "Bist du ein Bot? Ich will einen Menschen",
            "Ich möchte mit einem Mitarbeiter verbunden werden",
            "Hol mir einen Vorgesetzten",
        ]);
        assert_quiet(&[
            "Bist du ein Mensch?",
            "Sind Sie ein Roboter?",
            "Spreche ich mit einem Menschen?",
            "Ich brauche keinen Menschen, danke",
            "Ich will nicht mit einem Mitarbeiter sprechen",
            "Was sind Ihre Öffnungszeiten?",
            "Wann kann ich mit einem Mitarbeiter sprechen?",
            "Wie ist die Telefonnummer des Kundendienstes?",
            "Mein Chef hat mich gebeten, einen Laptop zu kaufen",
            "Ich habe gestern mit einem Mitarbeiter gesprochen",
            "Der Mitarbeiter im Laden sagte, ich kann es zurückgeben",
            "Mensch, das dauert ja ewig",
            "Meine Bestellung ist kaputt angekommen",
            "Ich möchte eine Person zu meinem Konto hinzufügen",
            "ein Tisch für vier Personen",
            "Jemand hat meine Karte gestohlen",
            "Ist da jemand?",
            "Ich möchte mein Passwort ändern",
            "Kein Mensch nötig, danke",
            "Ohne mit einem Mitarbeiter zu sprechen, kann ich die Adresse ändern?",
            "Ich möchte meine Bestellung stornieren",
            "Mein Berater sagt, ich soll warten",
            "Wann ist der Kundendienst erreichbar?",
            "Ist das ein Bot oder ein Mensch?",
            "Die Situation eskaliert",
            "Wo ist mein Paket?",
        ]);
    }

    #[test]
    fn english_variety() {
        assert_fires(&[
            "I'd like to speak to a human being",
            "Can I please talk to an actual person?",
            "get me a human",
            "talk to human",
            "speak to agent",
            "I want to talk to a real person, not a bot",
            "this bot is useless, I need a human",
            "Can you transfer me to a live agent?",
            "I need to speak with a representative",
            "can i speak to a customer service representative",
            "let me speak to your manager",
            "is there a real person I can chat with?",
            "I would like to be connected with a human agent",
            "Please connect me with someone who can help",
            "I want a live person",
            "operator please",
            "Let me talk to a real human",
            "human being please",
            "I need human help",
            "Put me in touch with a person",
            "I'd rather speak to a person",
            "Can I get a human on the line?",
            "hand me over to a human",
            "are there any humans working there",
            "I need to escalate this",
            "i want to escalate my complaint",
            "speak to manager now",
            "can you get a supervisor",
            "is anyone real there?",
            "I want to talk to customer service rep",
            "Get a human in here",
            "You keep repeating yourself. A human, please.",
            "Could someone from your support team contact me?",
            "How can I talk to a human?",
            "how do i get to a real person",
            "i just want to talk to a person",
            "stop, I want an agent",
            "Can you pass me to a colleague?",
            "I need to talk to someone who can actually fix this",
            "Is there a manager around?",
            "Can a human help me?",
            "I'd like a callback from a person",
            "connect me to billing",
            "please have a human call me",
            "I've been going in circles with this bot for 20 minutes. Can I please just speak to someone?",
            "Representative",
            "talk to a representative",
            "SPEAK TO A HUMAN",
            "I want to talk to someone in charge",
            "put me on with a real person",
            "Can a real person take over this chat?",
            "I'd appreciate it if a human could look at my case",
            "Can I chat with support staff?",
            "Can you get someone on the phone for me?",
            "live agent",
            "agent pls",
            "connect me to a human being",
            "I want human assistance",
            "i'd like to talk to one of your agents",
            "Can I speak to a member of staff?",
            "Please let me speak to a real human being",
            "I would prefer speaking with an actual representative",
            "Not helpful. Human.",
            "I need to talk with an agent about my order",
            "Could you please transfer this chat to a human?",
            "Any real people there?",
            "Is there anybody human there?",
            "Can I have a live person please",
            "I want to speak with a specialist",
            "let me speak to a tech support agent",
            "I'd like to talk to a billing specialist",
            "forward me to someone who can help",
            "Escalate to a supervisor please",
            "I need a person, not a machine",
            "Is it possible to talk to a real person?",
            "can I get a real human to help me",
            "Get me someone real",
            "Let me talk to someone else",
            "I need to talk to a human",
            "where can I talk to a live agent?",
            "help me speak to an operator",
            "I'd like to chat with an agent",
            "how do I talk with a human?",
            "could you help me to speak with a person?",
            "speak to a human",
            "talk with an agent",
            "connect to a live agent",
            "I need an agent",
            "i wanna talk to a person",
            "I'm trying to contact an agent",
            "how can i get in touch with an operator",
            "I need assistance to get in touch with an agent",
            "I want to call an agent",
            "gotta talk to a human",
            "i wanna chat w an agent",
            "can u help me talk to somebody",
            "I want to tlak to an agent",
            "i need to speeak with a human",
            "contcat an agent",
            "I want to speak with a huamn",
            "talk to a persn",
            "i need to speak to an opeartor",
            "I'd like to speak to an agnet",
            "how can I chat with a humna agent",
            "I need help to talk with someoen",
            "where could I speak to a person",
            "I'd like to speak to somebody, please",
            "can I talk to an assistant?",
            "i want an operator",
            "I want to chat with a human agent, can you help me?",
            "how do i get a human agent",
            "Can you help me get in touch with a person?",
            "want assistance reaching a human",
            "need help reaching somebody",
            "would it be possible to talk to an agent?",
            "i am trying to speak with an operator",
            "I'm calling to speak to a human",
            "help me chat to a human",
            "I want to speak to someone right now",
            "let me speak with an operator",
            "I want an assistant to help me",
        ]);
        assert_quiet(&[
            "Are you a human?",
            "r u a bot",
            "are you a real person or a computer?",
            "Do you work with real people?",
            "I am talking to you, not to an agent",
            "Who is the best person to ask about refunds?",
            "I need the agent's email to send the contract",
            "My travel agent booked the wrong flight",
            "The representative said I would get a refund",
            "I spoke to a manager last week and nothing happened",
            "What's the best way to contact customer service?",
            "How do I reach customer support?",
            "What's your customer service number?",
            "Can I email customer service?",
            "I need to update the contact person on my account",
            "My assistant will call you",
            "Is your support team available on weekends?",
            "When will an agent be available?",
            "What are your agents' working hours?",
            "I'm not a robot",
            "people keep calling me",
            "Can you help me find a real estate agent?",
            "I need to pay my insurance agent",
            "The person at the counter was rude",
            "Add my husband as an authorized person",
            "I'm a customer service agent myself, I know how this works",
            "I don't want to talk to anyone, I want a refund",
            "no I don't need to speak to a person",
            "No, you can help me, no need for a human",
            "My manager needs the invoice by Friday",
            "Someone used my card without permission",
            "I sent money to the wrong person",
            "Can I send money to someone abroad?",
            "Can I transfer funds to another person?",
            "I want to transfer money to my friend",
            "talk to you later",
            "I need to speak to my bank",
            "How many people can use one account?",
            "Where can I find a human-readable copy of my invoice?",
            "Do you have human support?",
            "do you have live agents?",
            "Are you an AI?",
            "are you a person",
            "Is this an automated service?",
            "Am I chatting with a bot right now?",
            "You sound like a real person!",
            "Wow, you're almost human",
            "I can't tell if you're human",
            "I prefer talking to bots actually",
            "No thanks, I don't need an agent",
            "I do not want a human",
            "Please don't connect me to anyone, I'm fine",
            "When does customer service open?",
            "How late are your agents available?",
            "What's the best number to call support?",
            "Can I reach support by email?",
            "What are your hours?",
            "Is live chat available 24/7?",
            "My agent at the bank told me to ask you",
            "I work as a customer service representative",
            "I am a human resources manager",
            "The delivery person left the package at the wrong door",
            "My landlord's agent needs a reference",
            "Please update my emergency contact person",
            "My account manager is on holiday",
            "Someone from your company called me yesterday",
            "Is it normal that a person can see my balance?",
            "Can I add another person to my account?",
            "I'd like to open an account for my son",
            "How do I pay someone back?",
            "Can I set up a payment to another person?",
            "I have a question for a friend",
            "I need to talk about my bill",
            "Can you speak Spanish?",
            "Please speak more slowly",
            "I need help with a charge",
            "Your agent was very helpful last time",
            "Thank you, you were very helpful",
            "Is there a fee for international transfers?",
            "Who can I talk to about my lost card?",
            "human error caused the duplicate charge",
            "my son is a real person, why do you need his id",
            "I'd like to contact customer support",
            "help me contact customer service",
            "I want to call customer support",
            "how to get in touch with customer assistance",
            "where can I contact customer support?",
            "I want to talk to customer service",
            "what hours are customer support available",
            "what's the customer service number",
            "email customer service",
            "i need to get in touch with customer service",
            "can you help me reach customer support?",
            "I have to speak to customer assistance",
            "how do I chat with customer support",
            "I want to contact customer service, what should I do?",
            "I'm trying to reach customer support, can you help me?",
            "customer service phone number",
            "how can I call customer assistance?",
            "when can I call customer service?",
            "I need to see at what time I can contact customer support",
        ]);
    }

    #[test]
    fn english_in_context() {
        assert_fires(&[
            "ok this is pointless. human.",
            "I'd like to speak with somebody from your team please",
            "Need to talk to a rep asap",
            "Can I get a customer service agent?",
            "I'm done with the chatbot. Real person please.",
            "You're not understanding me. Can a human take over?",
            "is there an actual human I can speak with",
            "please transfer me",
            "transfer me to a person",
            "Can someone from billing call me back?",
            "I want to speak to a person about my refund",
            "I demand to talk to your manager right now",
            "Where do I go to talk to a live person?",
            "Speak with human",
            "talk to agent",
            "I require a human representative",
            "I'd rather talk to a person than a machine",
            "connect me with a real human",
            "I need to speak to an actual human being",
            "I'd like to be put through to someone who can help",
            "Please get a human involved",
            "Could I have a real person look at this?",
            "get an agent on this chat",
            "i need support from a real person",
            "Hey, can I chat to a human?",
            "I want human support",
            "I need a live agent",
            "Can I speak to your supervisor please?",
            "I want to talk to a manager about this charge",
            "I'd like a person to call me",
            "Hi, I've tried everything you suggested and nothing works. I'd like to speak to someone please.",
            "This is the fourth time I'm explaining this. Please get me a supervisor.",
            "I'm not comfortable sharing this with a bot. Can I talk to a person instead?",
            "My account was hacked and I need to talk to a human immediately!!",
            "Honestly I just want to talk to someone who knows what they're doing",
            "Could you please pass this on to a human agent? Thanks",
            "hello?? is anyone real there??",
            "Okay, can you connect me to a representative then",
            "I would like to escalate this to a manager.",
            "Stop. Agent.",
            "Please let me talk to a live person, this is urgent",
            "i want a human to call me back about this",
            "I'd like to request a call with a specialist",
            "Connect me to your fraud team now",
            "Can I talk to someone in the fraud department?",
        ]);
        assert_quiet(&[
            "How do I speak to my bank about a loan?",
            "When is a human agent available?",
            "Is there a person I should address the letter to?",
            "How many employees does your company have?",
            "Are your staff trained to handle fraud?",
            "Do real people read these messages?",
            "Can I speak Spanish with you?",
            "I want to talk about my subscription",
            "The manager of the store was great",
            "My colleague recommended your service",
            "How can I become an agent for your company?",
            "I need to contact the person who sent me money",
            "Does a person need to approve my loan?",
            "Is my payment going to a real person?",
            "Send money to a person using their phone number",
            "You are a very good assistant",
            "This is the third agent I've talked to today",
            "Is this conversation with a person recorded?",
            "What's the email for customer service?",
            "Can I talk to you about my order?",
            "Who handles complaints?",
            "Why won't a human answer my emails?",
            "Tell the manager I said thanks",
            "Can you ask the seller for me?",
            "The supervisor approved it yesterday",
            "I don't want to be transferred to anyone",
            "Thanks, no need to connect me with anyone",
            "What do I say when I call an agent?",
            "How long does it take an agent to respond to an email?",
            "Will a person review my application?",
            "Hi, I tried resetting my password but the link expired. What should I do?",
            "I was told by your agent that I'd get a refund within 5 days, where is it?",
            "My husband is the account holder, can I still make changes?",
            "Can you check whether the person I paid has received the money?",
            "I live with three other people, can we share an account?",
            "The chat agent earlier was really helpful, thanks!",
            "Do you have people working on the outage?",
            "Is someone looking into the outage?",
            "I'm a small business owner and need a business account",
            "Will a human read my complaint?",
            "I spoke with a supervisor who promised a callback",
            "Could you tell me the name of the agent I spoke with?",
            "Please don't put me on hold again",
            "I'm looking for a job as a support agent",
            "How do I add a second user to my account?",
        ]);
    }

    #[test]
    fn spanish_and_german_more() {
        assert_fires(&[
            "Oye, ¿me pasas con alguien de soporte?",
            "Ya no quiero hablar con un robot, quiero una persona",
            "Necesito que me atienda un agente, es urgente",
            "¿Puedo hablar con un supervisor, por favor?",
            "Por favor, transfiéreme con un asesor humano",
            "quiero hablar con alguien real",
            "¿Me comunicas con un representante?",
            "¿Hay algún humano por ahí?",
            "hablar con agente",
            "Prefiero hablar con una persona",
            "Quiero hablar con tu jefe",
            "Ich möchte bitte mit einem Kundenberater sprechen",
            "Können Sie mich bitte mit einem Menschen verbinden?",
            "Ich will sofort mit einem Vorgesetzten reden",
            "Bitte an einen Mitarbeiter weiterleiten",
            "Ich brauche einen echten Menschen, der mir hilft",
            "Kann mir ein Mensch helfen?",
            "Ich möchte mit jemandem vom Kundenservice sprechen",
            "Gibt es einen Mitarbeiter, mit dem ich chatten kann?",
            "Mitarbeiter!",
        ]);
        assert_quiet(&[
            "¿Quién eres, un robot?",
            "¿Puedo pagar con tarjeta?",
            "Quiero hablar sobre mi factura",
            "¿El agente me va a llamar mañana?",
            "Mi hermano es agente de policía",
            "No me pases con nadie, solo quiero saber el estado de mi pedido",
            "¿Cuál es el correo de soporte?",
            "¿A qué hora atiende un agente?",
            "Hablé con una persona ayer y no me solucionó nada",
            "¿Cuántas personas pueden usar la cuenta?",
            "Ich bin kein Roboter",
            "Ist das hier ein Chatbot?",
            "Wie lautet die Telefonnummer?",
            "Ich habe mit Ihrem Mitarbeiter gesprochen, er war nett",
            "Meine Kollegin hat das Konto eröffnet",
            "Ich will keinen Mitarbeiter, nur eine Antwort",
            "Wann sind Ihre Mitarbeiter erreichbar?",
            "Kann ich mit Kreditkarte zahlen?",
            "Mein Berater hat mir das empfohlen",
            "Wie viele Personen dürfen das Konto nutzen?",
            "¿Me puede ayudar alguien?",
            "Kann mir jemand helfen?",
        ]);
    }

    #[test]
    fn typos_of_the_key_vocabulary_are_corrected() {
        assert_eq!(normalize("talk to somenoe"), "talk to someone");
        assert_eq!(normalize("an assistgant"), "an assistant");
        assert_eq!(normalize("tlak to a humna"), "talk to a human");
        // real words stay as written
        assert_eq!(
            normalize("taking a steak, you arent"),
            "taking a steak, you arent"
        );
        assert_eq!(normalize("Pásame"), "pasame");
        assert_eq!(normalize("möchte"), "moechte");
    }

    #[test]
    fn request_prefilter_is_built() {
        let literals = super::super::literals::required_any(
            super::REQUEST_PATTERNS
                .iter()
                .map(|(_, _, p)| super::expand(p)),
            regex_syntax::ParserBuilder::new().unicode(false),
            &super::prefilter_literal_ok,
        )
        .expect("every request pattern has required literals");
        assert!(literals
            .iter()
            .all(|l| super::prefilter_literal_ok(l.as_bytes())));
        assert!(super::REQUEST_PREFILTER.is_some());
    }

    proptest::proptest! {
        // The prefilter never changes an answer: turns built from the patterns' vocabulary,
        // third-party phrases, relative clauses and filler agree with the unfiltered path.
        #[test]
        fn prefilter_agrees_with_the_patterns(words in proptest::collection::vec(0usize..WORDS.len(), 1..10)) {
            let text: String = words.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
            proptest::prop_assert_eq!(explain(&text), super::explain_normalized(normalize(&text)), "{}", text);
        }
    }

    #[rustfmt::skip]
    const WORDS: &[&str] = &[
        "can", "i", "talk", "speak", "to", "with", "a", "an", "the", "real", "live", "human",
        "person", "agent", "someone", "some", "one", "any", "body", "my", "manager", "boss",
        "get", "me", "transfer", "connect", "put", "through", "please", "is", "there", "who",
        ",", ", who", ", der", ", mit dem", "mit", "einem", "menschen", "sprechen", "quiero",
        "hablar", "con", "una", "persona", "travel", "real estate", "human resources", "escalate",
        "this", "not", "don't", "need", "want", "are", "you", "bot", "?", ".", "customer",
        "service", "support", "team", "number", "xparty", "party", "x", "delivery", "order",
        "help", "from", "call", "me back", "jemanden", "verbinden", "sie", "mich", "pls", "now",
        "rep", "operator", "supervisor", "staff", "people", "have", "word", "somebody", "anyone",
    ];

    #[test]
    fn explain_names_the_family() {
        assert_eq!(explain("can I talk to a person"), Some("talk-to-person"));
        assert_eq!(explain("transfer me to customer service"), Some("transfer"));
        assert_eq!(explain("human pls"), Some("short-form"));
        assert_eq!(
            explain("Quiero hablar con una persona"),
            Some("es-talk-to-person")
        );
        assert_eq!(explain("my order is late"), None);
    }
}
