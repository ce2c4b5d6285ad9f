//! Timestamps with two faces.
//!
//! On the wire (Avro) a timestamp is a `long` with logical type `timestamp-millis`; in the JSON
//! replay format it is an RFC 3339 string. Both go through one Rust type, `DateTime<Utc>`, and
//! this module picks the representation from the serde format: human-readable formats (JSON,
//! TOML) get RFC 3339, binary ones (apache-avro's serde, which is not human-readable) get
//! milliseconds since the epoch. Deserialisation accepts either, so a JSON file may also carry
//! epoch milliseconds.

use chrono::{DateTime, TimeZone, Utc};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

pub type Timestamp = DateTime<Utc>;

/// Milliseconds since the epoch, the Avro representation.
pub fn to_millis(ts: &Timestamp) -> i64 {
    ts.timestamp_millis()
}

/// The inverse of [`to_millis`]; `None` when out of chrono's range.
pub fn from_millis(ms: i64) -> Option<Timestamp> {
    Utc.timestamp_millis_opt(ms).single()
}

pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    } else {
        s.serialize_i64(to_millis(ts))
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    d.deserialize_any(TimestampVisitor)
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp string or epoch milliseconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        from_millis(v).ok_or_else(|| E::custom(format!("timestamp {v} ms is out of range")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("timestamp out of range"))?;
        self.visit_i64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| E::custom(format!("invalid RFC 3339 timestamp {v:?}: {e}")))
    }
}

/// The same for `Option<Timestamp>` (an Avro union `["null", timestamp-millis]`).
pub mod option {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wrap(#[serde(with = "super")] Timestamp);

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        ts.map(Wrap).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super")]
        at: Timestamp,
        #[serde(with = "super::option", default)]
        maybe: Option<Timestamp>,
    }

    #[test]
    fn json_uses_rfc3339_and_accepts_millis() {
        let t: T = serde_json::from_str(r#"{"at":"2026-11-20T10:02:11Z"}"#).unwrap();
        assert_eq!(t.at.timestamp(), 1_795_168_931);
        assert_eq!(t.maybe, None);
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"2026-11-20T10:02:11Z\""), "{json}");
        let t2: T = serde_json::from_str(r#"{"at":1795168931000,"maybe":1795168931500}"#).unwrap();
        assert_eq!(t2.at, t.at);
        assert_eq!(t2.maybe.unwrap().timestamp_millis(), 1_795_168_931_500);
    }

    #[test]
    fn rejects_garbage() {
        let err = serde_json::from_str::<T>(r#"{"at":"yesterday"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid RFC 3339"), "{err}");
    }
}
