//! Order, account, ticket, invoice and tracking ids, labelled or shaped like one.

#[allow(unused_imports)]
use super::*;

pub(super) fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// Ids named by a label ("order 55120", "ticket #4521") need three digits: "order 2" is a count.
pub(super) fn id_like(s: &str) -> bool {
    s.bytes().filter(u8::is_ascii_digit).count() >= 3
}

/// One kind of id named by a label and caught by one group ("invoice no. 4471", "ticket #4521",
/// "tracking number 1Z..."): each id that `accept`s becomes a `kind` entity, upper-cased; an
/// `exclusive` one is skipped where an entity found before already covers it.
pub(super) struct LabelledIds<'r> {
    pub(super) re: &'r Regex,
    pub(super) group: usize,
    pub(super) labelled: &'r Labelled,
    pub(super) kind: &'static str,
    pub(super) exclusive: bool,
    pub(super) accept: fn(&str) -> bool,
}

impl LabelledIds<'_> {
    pub(super) fn find(
        &self,
        text: &str,
        locs: &mut CaptureLocations,
        scope: Scope,
        ascii: bool,
        out: &mut Vec<Entity>,
    ) {
        let fast = |s, _| self.labelled.id(text, s).map(|(a, b)| (a, b, false));
        let groups = [self.group, usize::MAX];
        each_id(self.re, locs, text, scope, ascii, groups, fast, |id, _| {
            if (self.accept)(id.as_str())
                && !(self.exclusive && overlaps(out, id.start(), id.end()))
            {
                push(
                    out,
                    self.kind,
                    id.as_str().to_uppercase(),
                    id.start(),
                    id.end(),
                    None,
                );
            }
        });
    }
}

/// Ids: an invoice, ticket, tracking or order id needs digits (so nothing after the last digit
/// counts); an account id need not ("account X-AB").
pub(super) fn ids(
    text: &str,
    hits: Hits,
    digits: Digits,
    ascii: bool,
    slots: &mut Slots,
    out: &mut Vec<Entity>,
) {
    labelled_ids(text, hits, digits, ascii, slots, out);
    account_ids(text, hits, digits, ascii, slots, out);
    order_ids_and_error_codes(text, hits, digits, ascii, slots, out);
}

/// Invoice, ticket and tracking ids: a label (`invoice`, `ticket no.`) before an id-like word.
fn labelled_ids(
    text: &str,
    hits: Hits,
    digits: Digits,
    ascii: bool,
    slots: &mut Slots,
    out: &mut Vec<Entity>,
) {
    if hits.matched(P_INVOICE) {
        let locs = slots.get(P_INVOICE, &INVOICE_ID);
        let ids = LabelledIds {
            re: &INVOICE_ID,
            group: INVOICE_G[0],
            labelled: &INVOICE_LABELLED,
            kind: "invoice_id",
            exclusive: false,
            accept: id_like,
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
    if hits.matched(P_TICKET) {
        let locs = slots.get(P_TICKET, &TICKET_ID);
        let ids = LabelledIds {
            re: &TICKET_ID,
            group: TICKET_G[0],
            labelled: &TICKET_LABELLED,
            kind: "ticket_id",
            exclusive: true,
            accept: id_like,
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
    if hits.matched(P_TRACKING) {
        let locs = slots.get(P_TRACKING, &TRACKING_ID);
        let ids = LabelledIds {
            re: &TRACKING_ID,
            group: TRACKING_G[0],
            labelled: &TRACKING_LABELLED,
            kind: "tracking_id",
            exclusive: false,
            // Digits, and letters or at least ten characters: not a short number.
            accept: |s| {
                has_digit(s) && (s.bytes().any(|b| b.is_ascii_alphabetic()) || s.len() >= 10)
            },
        };
        ids.find(text, locs, digits.tail(), ascii, out);
    }
}

/// Prefixed references (`ABCDE-123`) and account ids (`A-77`, `account 4410`).
fn account_ids(
    text: &str,
    hits: Hits,
    digits: Digits,
    ascii: bool,
    slots: &mut Slots,
    out: &mut Vec<Entity>,
) {
    if hits.matched(P_PREFIXED) {
        let [p] = *PREFIXED_G;
        // "ABCDE-" before the digits.
        let scope = digits.scope(text, 6);
        each_match(
            &PREFIXED_ID,
            slots.get(P_PREFIXED, &PREFIXED_ID),
            text,
            scope,
            |c| {
                let m = c.at(0);
                if overlaps(out, m.start(), m.end()) {
                    return;
                }
                let kind = match c.at(p).as_str() {
                    "INV" | "RE" | "FAC" => "invoice_id",
                    "TK" | "TKT" | "TCK" | "CASE" | "SR" | "INC" | "REQ" => "ticket_id",
                    "ORD" | "PO" => "order_id",
                    _ => "reference",
                };
                push(out, kind, m.as_str().to_string(), m.start(), m.end(), None);
            },
        );
    }
    if hits.matched(P_ACCOUNT) {
        let [g, g2] = *ACCOUNT_G;
        let locs = slots.get(P_ACCOUNT, &ACCOUNT_ID);
        // `A-77` (the first alternative), or a label and an id.
        let fast = |s: usize, e: usize| {
            let b = text.as_bytes();
            if e - s >= 2 && b[s].is_ascii_uppercase() && b[s + 1] == b'-' {
                Some((s, e, false))
            } else {
                ACCOUNT_LABELLED.id(text, s).map(|(a, b)| (a, b, true))
            }
        };
        each_id(
            &ACCOUNT_ID,
            locs,
            text,
            Scope::ALL,
            ascii,
            [g, g2],
            fast,
            |id, named| {
                let b = id.as_str().as_bytes();
                let lettered = b.len() >= 4 && b[0].is_ascii_alphabetic() && b[1] == b'-';
                if (!named || lettered || id_like(id.as_str()))
                    && !overlaps(out, id.start(), id.end())
                {
                    push(
                        out,
                        "account_id",
                        id.as_str().to_uppercase(),
                        id.start(),
                        id.end(),
                        None,
                    );
                }
            },
        );
    }
}

/// Order ids (labelled, or `#55120`) and error codes (`Error 503`, `HTTP 401`).
fn order_ids_and_error_codes(
    text: &str,
    hits: Hits,
    digits: Digits,
    ascii: bool,
    slots: &mut Slots,
    out: &mut Vec<Entity>,
) {
    if hits.matched(P_ORDER) {
        let [g, hash] = *ORDER_G;
        let locs = slots.get(P_ORDER, &ORDER_ID);
        // A label and an id, or `#55120` (after the start, a space or a '(').
        let fast = |s: usize, e: usize| {
            let b = text.as_bytes();
            if b[s].is_ascii_alphabetic() {
                ORDER_LABELLED.id(text, s).map(|(a, b)| (a, b, false))
            } else {
                let h = if b[s] == b'#' { s } else { s + 1 };
                (b.get(h) == Some(&b'#')).then_some((h + 1, e, true))
            }
        };
        each_id(
            &ORDER_ID,
            locs,
            text,
            digits.tail(),
            ascii,
            [g, hash],
            fast,
            |id, _| {
                let s = id.as_str();
                if id_like(s) && !overlaps(out, id.start(), id.end()) && !looks_like_date_word(s) {
                    push(
                        out,
                        "order_id",
                        s.to_uppercase(),
                        id.start(),
                        id.end(),
                        None,
                    );
                }
            },
        );
    }
    if hits.matched(P_ERROR) {
        let [g, h] = *ERROR_G;
        let scope = digits.tail();
        each_match(
            &ERROR_CODE,
            slots.get(P_ERROR, &ERROR_CODE),
            text,
            scope,
            |c| {
                let Some(code) = c.get(g).or(c.get(h)) else {
                    return;
                };
                if !overlaps(out, code.start(), code.end()) {
                    push(
                        out,
                        "error_code",
                        code.as_str().to_string(),
                        code.start(),
                        code.end(),
                        None,
                    );
                }
            },
        );
    }
}

/// A "keyword, label, id" pattern — `\b(?:KEYWORD)(?:\s+(?:LABEL))?\s*[:#]?\s*#?(?P<id>ID)\b`
/// — as its regex reads it, for ASCII text: its choices are tried in the regex's order of
/// preference (a longer keyword or a label first, white space and marks taken greedily, the
/// longest id first), and the first that works is the match the regex finds.
pub(super) struct Labelled {
    /// In order of preference (`orders?` is "orders", then "order"), lower-cased.
    pub(super) keywords: &'static [&'static str],
    /// In order of preference (`no\.?` is "no.", then "no"), lower-cased.
    pub(super) labels: &'static [&'static str],
    /// A `#?` before the id.
    pub(super) hash: bool,
    /// The id's letters in either case (under `(?i)`), or upper case only.
    pub(super) id_fold: bool,
    /// `-` allowed in the id after its first char.
    pub(super) id_dash: bool,
    /// The id's length, in chars.
    pub(super) id_len: (usize, usize),
}

pub(super) const ID_LABELS: &[&str] =
    &["no.", "no", "nr.", "nr", "number", "numero", "nummer", "id"];

pub(super) static ORDER_LABELLED: Labelled = Labelled {
    keywords: &[
        "orders",
        "order",
        "purchase",
        "pedido",
        "bestellung",
        "bestellnummer",
        "commande",
        "ordine",
    ],
    labels: ID_LABELS,
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
pub(super) static TICKET_LABELLED: Labelled = Labelled {
    keywords: &["ticket", "caso", "incidencia", "vorgang"],
    labels: ID_LABELS,
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
pub(super) static INVOICE_LABELLED: Labelled = Labelled {
    keywords: &["invoice", "factura", "rechnung", "rechnungsnummer"],
    labels: &["no.", "no", "nr.", "nr", "number", "numero", "nummer"],
    hash: true,
    id_fold: true,
    id_dash: true,
    id_len: (3, 20),
};
pub(super) static TRACKING_LABELLED: Labelled = Labelled {
    keywords: &["tracking", "sendungsnummer", "seguimiento"],
    labels: &["number", "no.", "no", "nummer", "numero", "code", "id"],
    hash: false,
    id_fold: true,
    id_dash: false,
    id_len: (8, 30),
};
pub(super) static ACCOUNT_LABELLED: Labelled = Labelled {
    keywords: &["account", "acct", "konto", "cuenta", "kundennummer"],
    labels: ID_LABELS,
    hash: false,
    id_fold: false,
    id_dash: true,
    id_len: (3, 20),
};

impl Labelled {
    /// The id of the match starting at `s` of ASCII `text`: its byte range, if the match is
    /// this shape (`None`: ask the regex).
    pub(super) fn id(&self, text: &str, s: usize) -> Option<(usize, usize)> {
        let b = text.as_bytes();
        let n = b.len();
        let word = |i: usize| i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_');
        let space = |i: usize| {
            let mut j = i;
            while j < n && ASCII_CLASS[b[j] as usize] & SPACE != 0 {
                j += 1;
            }
            j - i
        };
        let starts = |i: usize, w: &str| {
            i + w.len() <= n && b[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
        };
        let id_char = |c: u8, first: bool| {
            c.is_ascii_digit()
                || if self.id_fold {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_uppercase()
                }
                || (!first && self.id_dash && c == b'-')
        };
        // The id from `q`: the longest run (within the length) that ends at a word boundary.
        let id_at = |q: usize| -> Option<usize> {
            if q >= n || !id_char(b[q], true) {
                return None;
            }
            let mut run = 1;
            while run < self.id_len.1 && q + run < n && id_char(b[q + run], false) {
                run += 1;
            }
            (self.id_len.0..=run)
                .rev()
                .find(|&l| word(q + l - 1) != word(q + l))
                .map(|l| q + l)
        };
        for kw in self.keywords {
            if !starts(s, kw) {
                continue;
            }
            let k = s + kw.len();
            // A label (after white space) first, then none.
            for label in self.labels.iter().map(Some).chain([None]) {
                let mut q = k;
                if let Some(label) = label {
                    let w = space(q);
                    if w == 0 || !starts(q + w, label) {
                        continue;
                    }
                    q += w + label.len();
                }
                q += space(q);
                if q < n && matches!(b[q], b':' | b'#') {
                    q += 1;
                }
                q += space(q);
                if self.hash && q < n && b[q] == b'#' {
                    q += 1;
                }
                if let Some(end) = id_at(q) {
                    return Some((q, end));
                }
            }
        }
        None
    }
}

/// Every match of a pattern with an id group (or two: the second is `alternate`), as its
/// byte range and whether it is the second group: read off the match by `fast` where it can
/// (ASCII text; it must agree with the match's end), from the capture groups otherwise.
#[allow(clippy::too_many_arguments)]
pub(super) fn each_id<'t>(
    re: &Regex,
    locs: &mut CaptureLocations,
    text: &'t str,
    scope: Scope,
    ascii: bool,
    [group, alternate]: [usize; 2],
    fast: impl Fn(usize, usize) -> Option<(usize, usize, bool)>,
    mut f: impl FnMut(Span<'t>, bool),
) {
    let mut at = scope.from;
    while at <= text.len() && scope.last_digit.is_none_or(|d| at <= d) {
        let Some(m) = re.find_at(text, at) else {
            break;
        };
        let (s, e) = (m.start(), m.end());
        let read = if ascii {
            fast(s, e).filter(|&(_, end, _)| end == e)
        } else {
            None
        };
        let span = |start, end| Span { text, start, end };
        match read {
            Some((start, end, second)) => f(span(start, end), second),
            None => {
                re.captures_read_at(locs, text, s);
                let c = Caps { text, locs };
                if let Some(id) = c.get(group) {
                    f(id, false);
                } else if let Some(id) = c.get(alternate) {
                    f(id, true);
                }
            }
        }
        at = if e > s {
            e
        } else {
            // No pattern here matches the empty string; step over a char as the iterator does.
            match text[e..].chars().next() {
                Some(c) => e + c.len_utf8(),
                None => break,
            }
        };
    }
}
