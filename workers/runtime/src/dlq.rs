//! Dead letters: the original bytes of a record we could not handle, with the reason in headers.
//!
//! Headers (all UTF-8): `handoff.dlq.kind` (a stable, machine-readable class such as
//! `undecodable`, `schema_mismatch`, `invalid_record`, `output_too_large`), `handoff.dlq.error`
//! (the human-readable reason), `handoff.dlq.source.topic`, `.partition`, `.offset`,
//! `handoff.dlq.worker`, `handoff.dlq.value_truncated` when the original was too large to keep.
//! The original record's own headers are kept, except that its `traceparent` is replaced by
//! the dead-lettering worker's span when spans are exported (a child of the original's, so the
//! dead letter stays in the handoff's trace).

use rdkafka::message::{Header, OwnedHeaders};

pub const KIND: &str = "handoff.dlq.kind";
pub const ERROR: &str = "handoff.dlq.error";
pub const SOURCE_TOPIC: &str = "handoff.dlq.source.topic";
pub const SOURCE_PARTITION: &str = "handoff.dlq.source.partition";
pub const SOURCE_OFFSET: &str = "handoff.dlq.source.offset";
pub const WORKER: &str = "handoff.dlq.worker";
pub const TRUNCATED: &str = "handoff.dlq.value_truncated";

/// Why a record is dead-lettered.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub kind: &'static str,
    pub message: String,
    /// Not poison: the worker could not finish (registry away) and is stopping.
    pub transient: bool,
}

impl DeadLetter {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        DeadLetter {
            kind,
            message: message.into(),
            transient: false,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        DeadLetter {
            kind: "transient",
            message: message.into(),
            transient: true,
        }
    }
}

pub fn headers(
    original: OwnedHeaders,
    dead: &DeadLetter,
    topic: &str,
    partition: i32,
    offset: i64,
    worker: &str,
) -> OwnedHeaders {
    let partition = partition.to_string();
    let offset = offset.to_string();
    let mut h = original;
    for (key, value) in [
        (KIND, dead.kind),
        (ERROR, dead.message.as_str()),
        (SOURCE_TOPIC, topic),
        (SOURCE_PARTITION, partition.as_str()),
        (SOURCE_OFFSET, offset.as_str()),
        (WORKER, worker),
    ] {
        h = h.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    h
}

/// Marks the headers when the original value is too large to keep whole (see [`value_within`]).
pub fn mark_truncated(headers: OwnedHeaders, value: Option<&[u8]>, limit: usize) -> OwnedHeaders {
    match value {
        Some(v) if v.len() > limit => headers.insert(Header {
            key: TRUNCATED,
            value: Some(v.len().to_string().as_bytes()),
        }),
        _ => headers,
    }
}

/// The original value if it fits in a record, else its first `limit / 2` bytes (the headers
/// say so): a dead letter must never be too large to produce, or it would stop the worker.
pub fn value_within(value: Option<&[u8]>, limit: usize) -> Option<&[u8]> {
    value.map(|v| if v.len() > limit { &v[..limit / 2] } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;

    #[test]
    fn headers_carry_the_reason_and_source() {
        let original = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some(b"00-abc-def-01".as_slice()),
        });
        let h = headers(
            original,
            &DeadLetter::new("undecodable", "bad magic byte"),
            "t",
            3,
            42,
            "detector",
        );
        let get = |k: &str| {
            h.iter()
                .find(|x| x.key == k)
                .and_then(|x| x.value)
                .map(|v| String::from_utf8_lossy(v).to_string())
        };
        assert_eq!(get(KIND).as_deref(), Some("undecodable"));
        assert_eq!(get(ERROR).as_deref(), Some("bad magic byte"));
        assert_eq!(get(SOURCE_PARTITION).as_deref(), Some("3"));
        assert_eq!(get(SOURCE_OFFSET).as_deref(), Some("42"));
        assert_eq!(get("traceparent").as_deref(), Some("00-abc-def-01"));
    }

    #[test]
    fn oversized_values_are_cut() {
        let big = vec![7u8; 100];
        assert_eq!(value_within(Some(&big), 40).unwrap().len(), 20);
        assert_eq!(value_within(Some(&big), 400).unwrap().len(), 100);
        assert_eq!(value_within(None, 10), None);
    }
}
