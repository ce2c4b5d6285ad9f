//! The conversation's language: the platform's tag when it sent one, else a guess from stop
//! words (English, Spanish, German: the languages the built-in drafts are written in).

/// The primary subtag, lower-cased: `es-ES` → `es`.
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

const EN: &[&str] = &[
    "the", "and", "is", "my", "you", "to", "it", "for", "of", "with", "not", "please", "have",
    "was", "this", "that", "can", "i", "what", "your",
];
const ES: &[&str] = &[
    "el", "la", "que", "de", "y", "mi", "por", "para", "con", "no", "es", "una", "los", "las",
    "hola", "gracias", "pero", "todavía", "quiero", "del",
];
const DE: &[&str] = &[
    "der", "die", "das", "und", "ich", "nicht", "mit", "ist", "ein", "eine", "mein", "bitte",
    "danke", "sie", "wir", "mich", "habe", "auf", "kann", "zu",
];

/// Guesses `en`, `es` or `de` from the texts; `None` when nothing is clear.
pub fn guess<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let mut score = [0u32; 3];
    for text in texts {
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && w.len() <= 8)
        {
            let w = w.to_lowercase();
            score[0] += u32::from(EN.contains(&w.as_str()));
            score[1] += u32::from(ES.contains(&w.as_str()));
            score[2] += u32::from(DE.contains(&w.as_str()));
        }
    }
    let (best, &n) = score.iter().enumerate().max_by_key(|(_, n)| **n)?;
    (n >= 2).then_some(["en", "es", "de"][best])
}

/// The English name of a language tag, for the summary.
pub fn english_name(tag: &str) -> String {
    let p = primary(tag);
    match p.as_str() {
        "en" => "English",
        "es" => "Spanish",
        "de" => "German",
        "fr" => "French",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "pl" => "Polish",
        "sv" => "Swedish",
        "da" => "Danish",
        "no" | "nb" => "Norwegian",
        "fi" => "Finnish",
        "tr" => "Turkish",
        "ja" => "Japanese",
        "zh" => "Chinese",
        _ => {
            return tag
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-')
                .take(12)
                .collect()
        }
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_and_names() {
        assert_eq!(
            guess(["Hola, mi pedido todavía no ha llegado y quiero saber"]),
            Some("es")
        );
        assert_eq!(
            guess(["Ich kann mich nicht mehr einloggen, bitte helfen Sie mir"]),
            Some("de")
        );
        assert_eq!(
            guess(["I want to know where my parcel is, please"]),
            Some("en")
        );
        assert_eq!(guess(["ok"]), None);
        assert_eq!(primary("es-ES"), "es");
        assert_eq!(english_name("de-AT"), "German");
    }
}
