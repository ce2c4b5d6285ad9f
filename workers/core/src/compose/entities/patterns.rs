//! The compiled patterns, their capture groups, and the scratch space every extraction reuses.

#[allow(unused_imports)]
use super::*;

/// Compiles a pattern with ASCII digits: `\d` would also match "٣" or "៦", which are no
/// amount or id here (and would not parse).
pub(super) fn re(p: &str) -> Regex {
    Regex::new(&p.replace(r"\d", "[0-9]")).expect("static entity regex")
}

pub(super) const CODES: &str = "EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|CZK|CAD|AUD|JPY|MXN|BRL|INR";
pub(super) const AMOUNT: &str = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?";

pub(super) static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?x)
        (?: \b(?P<c1>(?i:{CODES})) | (?P<s1>[€$£]) ) \s? (?P<a1>{AMOUNT}) (?:\b|$)
        |
        \b(?P<a2>{AMOUNT}) \s? (?: (?P<s2>€) | (?P<c2>(?i:{CODES}|euros?|dollars?|pounds?))\b )
        "
    ))
});

pub(super) static ORDER_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:orders?|purchase|pedido|bestellung|bestellnummer|commande|ordine)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b|(?:^|[\s(])#(?P<hash>\d{4,12})\b",
    )
});
pub(super) static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<id>[A-Z]-\d{2,8})\b|(?i:\b(?:account|acct|konto|cuenta|kundennummer)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*)(?P<id2>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
pub(super) static PREFIXED_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?P<p>[A-Z]{2,5})-(?P<n>\d{3,10})\b"));
pub(super) static TICKET_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:ticket|caso|incidencia|vorgang)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer|id))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
pub(super) static INVOICE_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:invoice|factura|rechnung|rechnungsnummer)(?:\s+(?:no\.?|nr\.?|number|n[úu]mero|nummer))?\s*[:#]?\s*#?(?P<id>[A-Z0-9][A-Z0-9-]{2,19})\b",
    )
});
pub(super) static TRACKING_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:tracking|sendungsnummer|seguimiento)(?:\s+(?:number|no\.?|nummer|n[úu]mero|code|id))?\s*[:#]?\s*(?P<id>[A-Z0-9]{8,30})\b",
    )
});
pub(super) static ERROR_CODE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:error|fehler|c[óo]digo de error|status)\s*(?:code\s*)?[:#]?\s*(?P<c>\d{3,5})\b|\b(?P<h>[45]\d\d)\s+(?:bad gateway|unauthori[sz]ed|forbidden|not found|service unavailable|internal server error)\b",
    )
});
pub(super) static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"));
pub(super) static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+\d{1,3}|\b00\d{1,3})(?:[ .-]?\(?\d{1,5}\)?){2,6}|(?i:\b(?:phone|tel\.?|tel[ée]fono|telefon|mobile|m[óo]vil|handy)\s*:?\s*)(?P<local>\(?\d[\d ()./-]{6,18}\d)",
    )
});

pub(super) const MONTHS_EN: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
pub(super) const MONTHS_ES: &[&str] = &[
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
pub(super) const MONTHS_DE: &[&str] = &[
    "januar",
    "februar",
    "märz",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "dezember",
];
pub(super) const MONTH_NAMES: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) static DATE: LazyLock<Regex> = LazyLock::new(|| {
    let en = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
    let es = "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre";
    let de =
        "januar|jänner|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember";
    re(&format!(
        r"(?xi)
        \b(?P<iy>20\d\d)-(?P<im>0[1-9]|1[0-2])-(?P<id>0[1-9]|[12]\d|3[01])\b
        | \b(?P<nd>[0-3]?\d)[./](?P<nm>[01]?\d)[./](?P<ny>20\d\d)\b
        | \b(?P<sd>[0-3]?\d)\s+de\s+(?P<sm>{es})\b(?:\s+(?:de|del)\s+(?P<sy>20\d\d))?
        | \b(?P<gd>[0-3]?\d)\.\s*(?P<gm>{de})\b(?:\s+(?P<gy>20\d\d))?
        | \b(?P<ed>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<em>{en})\b\.?(?:,?\s+(?P<ey>20\d\d))?
        | \b(?P<am>{en})\.?\s+(?P<ad>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<ay>20\d\d))?
        "
    ))
});
pub(super) static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)\b",
    )
});
pub(super) static TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\b(?:\s?(?P<z>uhr|h|utc|cet|cest|gmt|am|pm)\b)?")
});
pub(super) static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?P<n>\d{1,3}(?:,\d{3})+|\d+)\s+(?P<u>seats?|licen[cs]es?|users?|agents?|units?|items?|pieces?|pairs?|employees|plazas|licencias|usuarios|unidades|lizenzen|nutzer|arbeitspl[äa]tze|pl[äa]tze|stück)\b",
    )
});
pub(super) static MEASURE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<n>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)\s?(?P<u>mm|cm|km|kg|mg|ml|kW|W|GB|TB|MB|°C|m|g|l)\b",
    )
});
pub(super) static SIZE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:size|talla|gr[öo]ße|taille)\s+(?P<s>XXS|XS|S|M|L|XL|XXL|\d{1,2}(?:[.,]5)?)\b")
});
pub(super) static CARD_LAST4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:ending(?:\s+in)?|terminada\s+en|endet\s+auf|endend\s+auf)\s+(?P<d>\d{4})\b")
});
pub(super) static PRODUCT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?P<p>(?:[A-Z][a-z]+[ -]){1,3}(?:[A-Z]{0,2}\d{1,4}[A-Z]?|X\d+|Pro|Max|Mini|Plus))\b")
});

/// Words a product name never starts with (articles, id labels, calendar words).
pub(super) const NOT_PRODUCT_START: &[&str] = &[
    "the",
    "a",
    "an",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "this",
    "that",
    "el",
    "la",
    "los",
    "las",
    "un",
    "una",
    "mi",
    "der",
    "die",
    "das",
    "ein",
    "eine",
    "mein",
    "meine",
    "unser",
    "unsere",
    "order",
    "orders",
    "account",
    "error",
    "fehler",
    "konto",
    "invoice",
    "ticket",
    "step",
    "page",
    "size",
    "talla",
    "version",
    "level",
    "plan",
    "tier",
    "year",
    "day",
    "days",
    "week",
    "weeks",
    "hi",
    "hello",
    "hola",
    "hallo",
    "dear",
    "pedido",
    "bestellung",
    "room",
    "gate",
    "line",
    "item",
    "items",
    "only",
    "since",
    "about",
    "over",
    "under",
    "after",
    "before",
    "until",
    "on",
    "in",
    "at",
    "by",
    "for",
    "and",
    "or",
    "to",
    "status",
    "code",
    "phone",
    "seit",
    "nach",
    "vor",
    "um",
    "am",
    "im",
    "de",
    "del",
    "en",
    "y",
    "und",
    "q",
    "and",
    "with",
    "from",
];

/// One pass over the text tells which patterns match at all; only those then run (most turns
/// hold two or three kinds of entity, so this saves most of the scanning).
pub(super) static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        EMAIL.as_str(),
        MONEY.as_str(),
        ORDER_ID.as_str(),
        ACCOUNT_ID.as_str(),
        PREFIXED_ID.as_str(),
        TICKET_ID.as_str(),
        INVOICE_ID.as_str(),
        TRACKING_ID.as_str(),
        ERROR_CODE.as_str(),
        DATE.as_str(),
        TIME.as_str(),
        PHONE.as_str(),
        QUANTITY.as_str(),
        MEASURE.as_str(),
        SIZE.as_str(),
        CARD_LAST4.as_str(),
        PRODUCT.as_str(),
        WEEKDAY.as_str(),
    ])
    .expect("static entity regex set")
});
pub(super) const P_EMAIL: usize = 0;
pub(super) const P_MONEY: usize = 1;
pub(super) const P_ORDER: usize = 2;
pub(super) const P_ACCOUNT: usize = 3;
pub(super) const P_PREFIXED: usize = 4;
pub(super) const P_TICKET: usize = 5;
pub(super) const P_INVOICE: usize = 6;
pub(super) const P_TRACKING: usize = 7;
pub(super) const P_ERROR: usize = 8;
pub(super) const P_DATE: usize = 9;
pub(super) const P_TIME: usize = 10;
pub(super) const P_PHONE: usize = 11;
pub(super) const P_QUANTITY: usize = 12;
pub(super) const P_MEASURE: usize = 13;
pub(super) const P_SIZE: usize = 14;
pub(super) const P_CARD: usize = 15;
pub(super) const P_PRODUCT: usize = 16;
pub(super) const P_WEEKDAY: usize = 17;

/// A capture group's span in the text.
#[derive(Clone, Copy)]
pub(super) struct Span<'t> {
    pub(super) text: &'t str,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl<'t> Span<'t> {
    pub(super) fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }
    pub(super) fn start(&self) -> usize {
        self.start
    }
    pub(super) fn end(&self) -> usize {
        self.end
    }
}

/// The groups of one match, by index.
pub(super) struct Caps<'t, 'l> {
    pub(super) text: &'t str,
    pub(super) locs: &'l CaptureLocations,
}

impl<'t> Caps<'t, '_> {
    pub(super) fn get(&self, group: usize) -> Option<Span<'t>> {
        self.locs.get(group).map(|(start, end)| Span {
            text: self.text,
            start,
            end,
        })
    }

    /// A group every match has (the whole match, or a group outside any alternative).
    pub(super) fn at(&self, group: usize) -> Span<'t> {
        self.get(group).expect("a group every match has")
    }
}

/// The indices of named groups, resolved once (looking a group up by name hashes the name).
pub(super) fn groups<const N: usize>(re: &Regex, names: [&str; N]) -> [usize; N] {
    names.map(|n| {
        re.capture_names()
            .position(|g| g == Some(n))
            .unwrap_or_else(|| panic!("group {n}"))
    })
}

pub(super) static MONEY_G: LazyLock<[usize; 6]> =
    LazyLock::new(|| groups(&MONEY, ["c1", "s1", "a1", "a2", "s2", "c2"]));
pub(super) static ORDER_G: LazyLock<[usize; 2]> =
    LazyLock::new(|| groups(&ORDER_ID, ["id", "hash"]));
pub(super) static ACCOUNT_G: LazyLock<[usize; 2]> =
    LazyLock::new(|| groups(&ACCOUNT_ID, ["id", "id2"]));
pub(super) static PREFIXED_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PREFIXED_ID, ["p"]));
pub(super) static TICKET_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&TICKET_ID, ["id"]));
pub(super) static INVOICE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&INVOICE_ID, ["id"]));
pub(super) static TRACKING_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&TRACKING_ID, ["id"]));
pub(super) static ERROR_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&ERROR_CODE, ["c", "h"]));
pub(super) static PHONE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PHONE, ["local"]));
pub(super) static DATE_G: LazyLock<[usize; 15]> = LazyLock::new(|| {
    groups(
        &DATE,
        [
            "iy", "im", "id", "nd", "nm", "ny", "sd", "sm", "sy", "gd", "gm", "gy", "ed", "em",
            "ey",
        ],
    )
});
pub(super) static DATE_A_G: LazyLock<[usize; 3]> =
    LazyLock::new(|| groups(&DATE, ["ad", "am", "ay"]));
pub(super) static TIME_G: LazyLock<[usize; 3]> = LazyLock::new(|| groups(&TIME, ["h", "m", "z"]));
pub(super) static QUANTITY_G: LazyLock<[usize; 2]> =
    LazyLock::new(|| groups(&QUANTITY, ["n", "u"]));
pub(super) static MEASURE_G: LazyLock<[usize; 2]> = LazyLock::new(|| groups(&MEASURE, ["n", "u"]));
pub(super) static SIZE_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&SIZE, ["s"]));
pub(super) static CARD_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&CARD_LAST4, ["d"]));
pub(super) static PRODUCT_G: LazyLock<[usize; 1]> = LazyLock::new(|| groups(&PRODUCT, ["p"]));

/// Capture slots per pattern (`P_*`), reused from call to call on a thread.
#[derive(Default)]
pub(super) struct Slots(pub(super) Vec<Option<CaptureLocations>>);

impl Slots {
    pub(super) fn get(&mut self, pattern: usize, re: &Regex) -> &mut CaptureLocations {
        if self.0.len() <= pattern {
            self.0.resize_with(pattern + 1, || None);
        }
        self.0[pattern].get_or_insert_with(|| re.capture_locations())
    }
}

thread_local! {
    pub(super) static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
}

/// Where in a text a pattern's matches can be, found from where its digits are.
#[derive(Clone, Copy)]
pub(super) struct Scope {
    /// No match starts before this byte.
    pub(super) from: usize,
    /// When set, a match after this byte (the text's last digit) gives no entity: stop there.
    pub(super) last_digit: Option<usize>,
}

impl Scope {
    /// The whole text.
    pub(super) const ALL: Scope = Scope {
        from: 0,
        last_digit: None,
    };
}

/// The first and last ASCII digit of a text.
#[derive(Clone, Copy)]
pub(super) struct Digits {
    pub(super) first: usize,
    pub(super) last: usize,
}

impl Digits {
    pub(super) fn of(text: &str) -> Option<Digits> {
        let b = text.as_bytes();
        let mut first = 0;
        while first < b.len() && !b[first].is_ascii_digit() {
            first += 1;
        }
        if first == b.len() {
            return None;
        }
        let mut last = b.len() - 1;
        while !b[last].is_ascii_digit() {
            last -= 1;
        }
        Some(Digits { first, last })
    }

    /// For a pattern whose every match holds a digit, with at most `before` bytes before its
    /// first one: no match starts more than `before` bytes before the text's first digit, and
    /// none (the leftmost-first search from any earlier point finds none) comes after its last.
    pub(super) fn scope(self, text: &str, before: usize) -> Scope {
        let mut from = self.first.saturating_sub(before);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        Scope {
            from,
            last_digit: Some(self.last),
        }
    }

    /// For a pattern that gives an entity only when its match holds a digit.
    pub(super) fn tail(self) -> Scope {
        Scope {
            from: 0,
            last_digit: Some(self.last),
        }
    }
}

/// Every match of `re` in `text` within `scope`, in order, as `captures_iter` yields them, with
/// reused slots.
pub(super) fn each_match<'t>(
    re: &Regex,
    locs: &mut CaptureLocations,
    text: &'t str,
    scope: Scope,
    mut f: impl FnMut(&Caps<'t, '_>),
) {
    let mut at = scope.from;
    while at <= text.len() && scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = re.captures_read_at(locs, text, at) else {
            break;
        };
        let (start, end) = (m.start(), m.end());
        f(&Caps { text, locs });
        at = if end > start {
            end
        } else {
            // No pattern here matches the empty string; step over a char as the iterator does.
            match text[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        };
    }
}
