//! Compatibility levels and the checks behind them.
//!
//! Terminology follows Confluent: BACKWARD means consumers upgraded to the *new* schema can
//! still read data written with the *old* one (new = reader, old = writer); FORWARD is the
//! reverse; FULL is both. Non-transitive levels compare against the latest live version only,
//! `*_TRANSITIVE` against every live version.

use std::fmt;
use std::str::FromStr;

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use crate::schema::error_chain;

/// Longest single compatibility message we return. apache-avro renders a type mismatch as the
/// pretty-printed debug form of both whole schemas, which can run to many kilobytes.
const MAX_MESSAGE_CHARS: usize = 1500;

/// A subject's (or the global) compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// Any change is accepted.
    None,
    /// New schema can read data written with the latest version (Confluent's default).
    #[default]
    Backward,
    /// New schema can read data written with every live version.
    BackwardTransitive,
    /// The latest version can read data written with the new schema.
    Forward,
    /// Every live version can read data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every live version.
    FullTransitive,
}

impl CompatibilityLevel {
    /// Every level, for error messages.
    pub const ALL: [CompatibilityLevel; 7] = [
        Self::None,
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
    ];

    /// The wire name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn checks_backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    fn checks_forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    fn is_transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, like Confluent (`"full"` and `"FULL"` both work).
impl FromStr for CompatibilityLevel {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// Checks `candidate` against `previous` (live versions as `(version, schema)`, oldest first)
/// under `level`, and returns one message per problem; empty means compatible.
///
/// Non-transitive levels only look at the last element, so callers that want "check against
/// this one version" pass a one-element slice.
pub fn incompatibilities(
    level: CompatibilityLevel,
    candidate: &Schema,
    previous: &[(u32, &Schema)],
) -> Vec<String> {
    let targets = if level.is_transitive() {
        previous
    } else {
        previous
            .last()
            .map(std::slice::from_ref)
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    // Newest first: the most relevant failure leads the message.
    for &(version, old) in targets.iter().rev() {
        if level.checks_backward() {
            if let Err(why) = can_read(old, candidate) {
                problems.push(truncate(format!(
                    "{level}: the new schema cannot read data written with version {version}: {why}"
                )));
            }
        }
        if level.checks_forward() {
            if let Err(why) = can_read(candidate, old) {
                problems.push(truncate(format!(
                    "{level}: version {version} cannot read data written with the new schema: {why}"
                )));
            }
        }
    }
    problems
}

/// Whether every datum written with `writer` can be read with `reader`.
///
/// apache-avro reports `Partial` when only some data resolves (a writer enum symbol or union
/// branch the reader lacks). Confluent and the Java Avro checker reject those, because the
/// first such record would make a consumer fail, so we do too.
fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => Err(
            "only some values can be resolved: the reader lacks an enum symbol or union branch \
             the writer can produce"
                .to_owned(),
        ),
        Err(e) => Err(error_chain(&e)),
    }
}

fn truncate(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Schema {
        Schema::parse_str(text).expect("test schema must parse")
    }

    fn v1() -> Schema {
        schema(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#)
    }

    fn with_defaulted_field() -> Schema {
        schema(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}"#,
        )
    }

    fn with_required_field() -> Schema {
        schema(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}"#,
        )
    }

    fn without_a() -> Schema {
        schema(r#"{"type":"record","name":"R","fields":[]}"#)
    }

    use CompatibilityLevel::*;

    #[test]
    fn parses_levels_case_insensitively() {
        assert_eq!("full_transitive".parse(), Ok(FullTransitive));
        assert_eq!(" BACKWARD ".parse(), Ok(Backward));
        assert_eq!("SIDEWAYS".parse::<CompatibilityLevel>(), Err(()));
    }

    #[test]
    fn backward_needs_defaults_on_new_fields() {
        let old = v1();
        assert!(incompatibilities(Backward, &with_defaulted_field(), &[(1, &old)]).is_empty());
        let problems = incompatibilities(Backward, &with_required_field(), &[(1, &old)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("'b'"), "{problems:?}");
    }

    #[test]
    fn forward_allows_new_required_fields_but_not_removing_required_ones() {
        let old = v1();
        assert!(incompatibilities(Forward, &with_required_field(), &[(1, &old)]).is_empty());
        assert!(!incompatibilities(Forward, &without_a(), &[(1, &old)]).is_empty());
        // Removing a field is fine backward (the new reader ignores it).
        assert!(incompatibilities(Backward, &without_a(), &[(1, &old)]).is_empty());
    }

    #[test]
    fn full_needs_both_directions() {
        let old = v1();
        assert!(incompatibilities(Full, &with_defaulted_field(), &[(1, &old)]).is_empty());
        assert!(!incompatibilities(Full, &with_required_field(), &[(1, &old)]).is_empty());
        assert!(!incompatibilities(Full, &without_a(), &[(1, &old)]).is_empty());
    }

    #[test]
    fn none_accepts_anything() {
        let old = v1();
        let unrelated = schema(r#""string""#);
        assert!(incompatibilities(None, &unrelated, &[(1, &old)]).is_empty());
        assert!(!incompatibilities(Backward, &unrelated, &[(1, &old)]).is_empty());
    }

    #[test]
    fn transitive_checks_every_version() {
        // v1 has an int "b", v2 dropped it, v3 brings "b" back as a defaulted boolean: fine
        // against v2 (the default fills it in), but v1's int cannot be read as a boolean.
        let first = with_required_field();
        let second = v1();
        let third = schema(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"boolean","default":false}]}"#,
        );
        let history = [(1, &first), (2, &second)];
        assert!(incompatibilities(Backward, &third, &history).is_empty());
        let problems = incompatibilities(BackwardTransitive, &third, &history);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("version 1"), "{problems:?}");
    }

    #[test]
    fn removed_enum_symbol_is_rejected_not_partial() {
        let old = schema(r#"{"type":"enum","name":"E","symbols":["A","B"]}"#);
        let new = schema(r#"{"type":"enum","name":"E","symbols":["A"]}"#);
        assert!(!incompatibilities(Backward, &new, &[(1, &old)]).is_empty());
        assert!(incompatibilities(Forward, &new, &[(1, &old)]).is_empty());
    }

    #[test]
    fn long_messages_are_truncated() {
        let long = "x".repeat(MAX_MESSAGE_CHARS * 2);
        assert!(truncate(long).chars().count() <= MAX_MESSAGE_CHARS + 3);
    }
}
