//! Tests of the entity patterns.

use super::*;

fn values(text: &str, kind: &str) -> Vec<String> {
    extract(text)
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.value)
        .collect()
}

#[test]
fn money_in_every_notation() {
    let cases = [
        ("I paid EUR 640.", "EUR 640"),
        ("it was €640 in total", "EUR 640"),
        ("refund 640 EUR please", "EUR 640"),
        ("charged $1,200.50 twice", "USD 1,200.50"),
        ("budget is USD 120,000 per year", "USD 120,000"),
        ("kostet 1.299,00 € brutto", "EUR 1,299.00"),
        ("pagué 159 EUR", "EUR 159"),
        ("the refund of EUR 89.90", "EUR 89.90"),
        ("this EUR 1,249.00 payment", "EUR 1,249.00"),
        ("about £30 extra", "GBP 30"),
        ("50 euros de gastos", "EUR 50"),
        ("lost at least EUR 2,500 in sales", "EUR 2,500"),
    ];
    for (text, want) in cases {
        assert_eq!(values(text, "money"), vec![want.to_string()], "{text}");
    }
    let e = &extract("I paid 1.299,00 €")[0];
    assert_eq!(e.amount, Some(("EUR", 1299.0)));
    assert!(values("order 55120 arrived", "money").is_empty());
    assert!(values("at 14:00", "money").is_empty());
}

#[test]
fn ids_of_every_kind() {
    assert_eq!(values("refund for order 55120.", "order_id"), vec!["55120"]);
    assert_eq!(values("it's #55120 again", "order_id"), vec!["55120"]);
    assert_eq!(
        values("mi pedido 55342 no llegó", "order_id"),
        vec!["55342"]
    );
    assert_eq!(values("Bestellung Nr. 77812", "order_id"), vec!["77812"]);
    assert_eq!(values("order number: 4411", "order_id"), vec!["4411"]);
    assert!(values("I bought it in 2019, order 41877.", "order_id") == vec!["41877"]);
    assert!(values("my order to Lyon", "order_id").is_empty());
    assert_eq!(values("account A-77 is mine", "account_id"), vec!["A-77"]);
    assert_eq!(
        values("Konto A-4410 gesperrt", "account_id"),
        vec!["A-4410"]
    );
    assert_eq!(values("account number 99812", "account_id"), vec!["99812"]);
    assert_eq!(values("see ticket TK-123", "ticket_id"), vec!["TK-123"]);
    assert_eq!(values("ticket #4521 is open", "ticket_id"), vec!["4521"]);
    assert_eq!(
        values("(invoice INV-20931)", "invoice_id"),
        vec!["INV-20931"]
    );
    assert_eq!(
        values("tracking number PG7781204 fails", "tracking_id"),
        vec!["PG7781204"]
    );
    assert_eq!(
        values("returning 'Error 503' since", "error_code"),
        vec!["503"]
    );
    assert_eq!(values("(Fehler 401)", "error_code"), vec!["401"]);
    assert_eq!(values("we get 502 bad gateway", "error_code"), vec!["502"]);
}

#[test]
fn contacts() {
    assert_eq!(
        values(
            "write to lena.kraus@example.net and l.kraus@example.org",
            "email"
        ),
        vec!["lena.kraus@example.net", "l.kraus@example.org"]
    );
    assert_eq!(
        values("call +34 612 000 431 today", "phone"),
        vec!["+34 612 000 431"]
    );
    assert_eq!(
        values("mobile +31 6 0000 1842", "phone"),
        vec!["+31 6 0000 1842"]
    );
    assert_eq!(
        values("phone: 030 1234 5678", "phone"),
        vec!["030 1234 5678"]
    );
    assert!(values("order 55120 on 2026-11-20", "phone").is_empty());
}

#[test]
fn dates_in_three_languages() {
    let cases = [
        ("scanned on 9 November.", "9 November"),
        ("on 2026-11-20 at noon", "2026-11-20"),
        ("llegar el martes 17 de noviembre", "17 November"),
        ("am 18. November bestellt", "18 November"),
        ("before 15 December", "15 December"),
        ("on November 9th, 2026", "9 November 2026"),
        ("by 20/11/2026", "20.11.2026"),
        ("arrive on Monday", "Monday"),
        ("la carrera es el domingo", "Sunday"),
    ];
    for (text, want) in cases {
        assert_eq!(values(text, "date"), vec![want.to_string()], "{text}");
    }
    assert_eq!(values("Wednesday 18 November", "date"), vec!["18 November"]);
    assert!(values("you may 2 times", "date").is_empty());
}

#[test]
fn quantities_measures_and_more() {
    assert_eq!(
        values("for 250 seats across", "quantity"),
        vec!["250 seats"]
    );
    assert_eq!(values("we need 3 licences", "quantity"), vec!["3 licences"]);
    assert_eq!(
        values("Wir brauchen 12 Lizenzen", "quantity"),
        vec!["12 lizenzen"]
    );
    assert_eq!(
        values("a 1,500 W inverter and 16.5 cm wrist, 400 mg", "measure"),
        vec!["1,500 W", "16.5 cm", "400 mg"]
    );
    assert_eq!(values("talla 42, y pagué", "size"), vec!["42"]);
    assert_eq!(
        values("a Visa card ending in 4417.", "card_last4"),
        vec!["4417"]
    );
    assert_eq!(values("since about 09:40 and", "time"), vec!["09:40"]);
    assert_eq!(values("um 14:00 Uhr", "time"), vec!["14:00"]);
    assert_eq!(
        values("The Lumen 3 espresso machine and my old Brio 9", "product"),
        vec!["Lumen 3", "Brio 9"]
    );
    assert_eq!(
        values("Son unas zapatillas Trail Runner X2, talla 42", "product"),
        vec!["Trail Runner X2"]
    );
    assert!(values("Error 503 on 9 November", "product").is_empty());
}

/// The prescan of ASCII text must keep every pattern the regex set finds (random texts
/// made of entity pieces, near misses and noise; `HANDOFF_PRESCAN_CASES` runs more).
#[test]
fn prescan_keeps_every_pattern_that_matches() {
    const PIECES: &[&str] = &[
        "order 55120",
        "ORDER#77812",
        "order55120",
        "orders: 4411",
        "purchase 1234",
        "pedido 55342",
        "Bestellung Nr. 77812",
        "bestellnummer 123",
        "commande 998",
        "ordine 1234",
        "#55120",
        "(#12345)",
        "account A-77",
        "acct 12345",
        "Konto A-4410",
        "cuenta 88123",
        "kundennummer 5512",
        "A-3381",
        "TK-123",
        "INV-20931",
        "CASE-1234",
        "ticket #4521",
        "caso 123",
        "incidencia 5",
        "vorgang 77",
        "invoice INV-1",
        "factura F-2024",
        "rechnung 2025",
        "tracking number PG7781204",
        "sendungsnummer 0034",
        "seguimiento AB12345678",
        "Error 503",
        "fehler 401",
        "codigo de error 500",
        "status code 404",
        "502 bad gateway",
        "401 unauthorized",
        "403 forbidden",
        "404 not found",
        "503 service unavailable",
        "500 internal server error",
        "EUR 640",
        "eur640",
        "640EUR",
        "640 eur",
        "$1,200.50",
        "$ 5",
        "USD 120,000",
        "120 dollars",
        "30 pounds",
        "50 euros",
        "1.299,00 EUR",
        "CHF 5",
        "5 sek",
        "nok 7",
        "10 dkk",
        "pln 3",
        "czk 9",
        "cad 4",
        "aud 2",
        "jpy 100",
        "mxn 3",
        "brl 5",
        "inr 9",
        "+34 612 000 431",
        "0034 612",
        "0049 30",
        "phone: 030 1234 5678",
        "tel.: (030) 1234567",
        "telefono 612 345 678",
        "telefon 0171 1234",
        "mobile +31 6",
        "movil 612",
        "handy 0171/1234567",
        "2026-11-20",
        "20/11/2026",
        "1.5.2026",
        "9 November",
        "17 de noviembre",
        "18. November",
        "November 9th, 2026",
        "Nov. 5",
        "sept 3",
        "may 2",
        "Dec 24",
        "12 de mayo de 2026",
        "3. Mai 2026",
        "15th of December",
        "jan 1",
        "oct 31",
        "marzo 3",
        "5 abril",
        "Monday",
        "sunday",
        "lunes",
        "miercoles",
        "sabado",
        "Dienstag",
        "09:40",
        "9:30 pm",
        "14:00 Uhr",
        "250 seats",
        "3 licences",
        "12 Lizenzen",
        "5 users",
        "2 agents",
        "3,000 users",
        "10 items",
        "2 pairs",
        "4 units",
        "7 pieces",
        "40 employees",
        "3 plazas",
        "6 usuarios",
        "9 unidades",
        "2 nutzer",
        "12 Arbeitsplatze",
        "1,500 W",
        "16.5 cm",
        "400 mg",
        "10GB",
        "2 TB",
        "5 kg",
        "3 km",
        "7 ml",
        "9 l",
        "4 g",
        "size M",
        "talla 42",
        "taille XL",
        "SIZE 38,5",
        "ending in 4417",
        "ending 1234",
        "terminada en 9876",
        "endet auf 5544",
        "endend auf 1111",
        "Lumen 3",
        "Brio 9",
        "Trail Runner X2",
        "Brio Pro",
        "Max Mini",
        "Acme Plus",
        "Foo-Bar 12",
        "Zeta-X9",
        "a@b.io",
        "lena.kraus@example.net",
        "x_order 5",
        "5order",
        "tell me",
        "hotel 5",
        "status",
        "ending",
        "mar",
        "Black Friday",
        "Cyber Monday",
        "2 days ago",
        "general 5",
        "the 5th",
        "of",
        "de",
        "nr.",
        "no.",
        "#",
        "+",
        "-",
        ":",
        "/",
        ".",
        ",",
        "$",
        "@",
        "(",
        ")",
        " ",
        "  ",
        "\t",
        "\n",
        "_",
        "20",
        "00",
        "4",
        "55",
        "2026",
    ];
    let cases: usize = std::env::var("HANDOFF_PRESCAN_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let noise = b"aAzZ09 .,:;/#+-_()$@'\"!?\t\nxXkKsSmMgGlLwWtTcC";
    for _ in 0..cases {
        let mut t = String::new();
        for _ in 0..1 + next() % 6 {
            match next() % 4 {
                0 => {
                    for _ in 0..next() % 6 {
                        t.push(noise[(next() % noise.len() as u64) as usize] as char);
                    }
                }
                _ => {
                    let p = PIECES[(next() % PIECES.len() as u64) as usize];
                    match next() % 5 {
                        0 => t.push_str(&p.to_uppercase()),
                        1 => t.push_str(&p.to_lowercase()),
                        _ => t.push_str(p),
                    }
                }
            }
            if next() % 3 > 0 {
                t.push(if next() % 7 == 0 { '\t' } else { ' ' });
            }
        }
        let exact = Hits::exact(&t);
        let (pre, digits) = prescan(&t).expect("ASCII text");
        assert_eq!(
            digits.is_some(),
            t.bytes().any(|b| b.is_ascii_digit()),
            "{t:?}"
        );
        if let Some(d) = digits {
            assert_eq!((d.first, d.last), {
                let d = Digits::of(&t).expect("digits");
                (d.first, d.last)
            });
        }
        assert_eq!(
            pre.0 & exact.0,
            exact.0,
            "{t:?}: prescan {pre:?} misses {exact:?}"
        );
    }
}

/// Ids read off a match (ASCII text) are the ones its capture groups hold.
#[test]
fn ids_read_off_matches_agree_with_capture_groups() {
    const PIECES: &[&str] = &[
        "order",
        "orders",
        "ORDER",
        "Orders",
        "purchase",
        "pedido",
        "bestellung",
        "bestellnummer",
        "commande",
        "ordine",
        "ticket",
        "caso",
        "incidencia",
        "vorgang",
        "invoice",
        "factura",
        "rechnung",
        "rechnungsnummer",
        "tracking",
        "sendungsnummer",
        "seguimiento",
        "account",
        "acct",
        "konto",
        "cuenta",
        "kundennummer",
        "no",
        "no.",
        "No.",
        "nr",
        "nr.",
        "number",
        "numero",
        "nummer",
        "id",
        "ID",
        "code",
        "nobody",
        "identity",
        "numbers",
        "#",
        ":",
        "##",
        ": #",
        "-",
        "55120",
        "4411",
        "12",
        "A-77",
        "TK-123",
        "AB12345678",
        "PG7781204",
        "abc",
        "ABC-55",
        "x-1",
        "55-",
        "-77",
        "X9",
        "0000000000",
        "12345678901234567890123",
        "A-",
        "_",
        "(",
        ")",
        "é",
        "order_1",
        "1order",
    ];
    let seps = [" ", "", "  ", "\t", ":", "#", " #", "-", ".", ", "];
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    #[allow(clippy::type_complexity)]
    let shapes: [(
        &Regex,
        [usize; 2],
        &dyn Fn(&str, usize, usize) -> Option<(usize, usize, bool)>,
    ); 5] = [
        (
            &ORDER_ID,
            {
                let [g, h] = *ORDER_G;
                [g, h]
            },
            &|text: &str, s: usize, e: usize| {
                let b = text.as_bytes();
                if b[s].is_ascii_alphabetic() {
                    ORDER_LABELLED.id(text, s).map(|(a, b)| (a, b, false))
                } else {
                    let h = if b[s] == b'#' { s } else { s + 1 };
                    (b.get(h) == Some(&b'#')).then_some((h + 1, e, true))
                }
            },
        ),
        (
            &TICKET_ID,
            [TICKET_G[0], usize::MAX],
            &|text: &str, s: usize, _| TICKET_LABELLED.id(text, s).map(|(a, b)| (a, b, false)),
        ),
        (
            &INVOICE_ID,
            [INVOICE_G[0], usize::MAX],
            &|text: &str, s: usize, _| INVOICE_LABELLED.id(text, s).map(|(a, b)| (a, b, false)),
        ),
        (
            &TRACKING_ID,
            [TRACKING_G[0], usize::MAX],
            &|text: &str, s: usize, _| TRACKING_LABELLED.id(text, s).map(|(a, b)| (a, b, false)),
        ),
        (
            &ACCOUNT_ID,
            {
                let [g, g2] = *ACCOUNT_G;
                [g, g2]
            },
            &|text: &str, s: usize, e: usize| {
                let b = text.as_bytes();
                if e - s >= 2 && b[s].is_ascii_uppercase() && b[s + 1] == b'-' {
                    Some((s, e, false))
                } else {
                    ACCOUNT_LABELLED.id(text, s).map(|(a, b)| (a, b, true))
                }
            },
        ),
    ];
    let cases: usize = std::env::var("HANDOFF_PRESCAN_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut compared = 0;
    for _ in 0..cases {
        let mut t = String::new();
        for _ in 0..1 + next() % 7 {
            t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            t.push_str(seps[(next() % seps.len() as u64) as usize]);
        }
        for (re, groups, fast) in &shapes {
            let mut slow_locs = re.capture_locations();
            let mut fast_locs = re.capture_locations();
            let mut want = Vec::new();
            let mut got = Vec::new();
            let ascii = t.is_ascii();
            each_id(
                re,
                &mut slow_locs,
                &t,
                Scope::ALL,
                false,
                *groups,
                |_, _| None,
                |id, second| want.push((id.start(), id.end(), second)),
            );
            each_id(
                re,
                &mut fast_locs,
                &t,
                Scope::ALL,
                ascii,
                *groups,
                |s, e| fast(&t, s, e),
                |id, second| got.push((id.start(), id.end(), second)),
            );
            assert_eq!(got, want, "{t:?} with {}", re.as_str());
            compared += want.len();
        }
    }
    assert!(compared > cases / 10, "only {compared} ids compared");
}

#[test]
fn text_without_digits_is_cheap_and_safe() {
    assert!(extract("hello there, nothing here").is_empty());
    assert!(extract("").is_empty());
    let _ = extract("€€€ $ £ 1. ,, -- @@ + ++ ٣٤٥ ½");
}
