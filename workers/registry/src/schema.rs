//! Parsing submitted schemas and deciding when two submissions are "the same schema".

use std::error::Error as StdError;

use apache_avro::Schema;

/// A submitted Avro schema that parsed successfully.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    /// The text exactly as first submitted. It is what reads return, so clients get back
    /// byte-for-byte what they registered (including docs and custom properties).
    pub text: String,
    /// The parsed form, used for compatibility checks.
    pub schema: Schema,
    /// Key under which two submissions count as the same schema (same id, idempotent
    /// registration).
    ///
    /// This is the parsed schema serialised back to JSON: whitespace, key order and the
    /// `"type": "int"` vs `"int"` spelling stop mattering, while everything that changes meaning
    /// is kept. It deliberately is *not* the Avro Parsing Canonical Form
    /// (`Schema::canonical_form`), because that strips `default`, `logicalType`, `doc` and
    /// `aliases`: deduplicating on it would make "add a default to field x" or
    /// "make this long a timestamp-millis" a silent no-op that hands back the old id and the
    /// old text. Confluent likewise keeps defaults and logical types in its identity.
    pub identity: String,
}

impl ParsedSchema {
    /// Parses `text` as an Avro schema. The error is a human-readable description meant for
    /// the `message` of a 422 response.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("the schema is empty".to_owned());
        }
        let schema = Schema::parse_str(text).map_err(|e| error_chain(&e))?;
        let identity = serde_json::to_string(&schema)
            .map_err(|e| format!("the schema cannot be normalised: {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            schema,
            identity,
        })
    }
}

/// Renders an error with all its sources, because apache-avro puts the useful part
/// (e.g. which field mismatched) in the source chain rather than the top-level message.
pub(crate) fn error_chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_does_not_change_identity() {
        let a = ParsedSchema::parse(
            r#"{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}"#,
        )
        .expect("valid");
        let b = ParsedSchema::parse(
            r#"{ "fields": [ {"type": {"type": "int"}, "name": "x"} ],
                 "name": "A", "type": "record" }"#,
        )
        .expect("valid");
        assert_eq!(a.identity, b.identity);
    }

    #[test]
    fn defaults_and_logical_types_change_identity() {
        let plain = ParsedSchema::parse(
            r#"{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}"#,
        )
        .expect("valid");
        let with_default = ParsedSchema::parse(
            r#"{"type":"record","name":"A","fields":[{"name":"x","type":"long","default":0}]}"#,
        )
        .expect("valid");
        let with_logical = ParsedSchema::parse(
            r#"{"type":"record","name":"A","fields":[{"name":"x","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#,
        )
        .expect("valid");
        assert_ne!(plain.identity, with_default.identity);
        assert_ne!(plain.identity, with_logical.identity);
        // The Parsing Canonical Form would have merged all three.
        assert_eq!(
            plain.schema.canonical_form(),
            with_default.schema.canonical_form()
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(ParsedSchema::parse("").is_err());
        assert!(ParsedSchema::parse("{not json").is_err());
        assert!(ParsedSchema::parse(r#"{"type":"record","name":"A"}"#).is_err());
        assert!(ParsedSchema::parse(r#""nosuchtype""#).is_err());
    }
}
