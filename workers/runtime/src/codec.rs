//! Avro in the Confluent wire format through the schema registry.
//!
//! Every record type knows its schema file (`schemas/*.avsc`, compiled in). Workers register the
//! schemas of the topics they write under `<topic>-value` (TopicNameStrategy) at start-up, so an
//! incompatible schema is refused by the registry before anything is produced; encoding then
//! uses the latest registered schema of the topic, decoding the writer's schema named by the id
//! in the record.

use handoff_core::records::*;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::{post_schema, SrSettings};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// A record with an Avro schema file.
pub trait AvroRecord: Serialize + DeserializeOwned + Send + Sync {
    /// The schema's JSON text.
    const SCHEMA: &'static str;
    /// The schema's full name, for messages.
    const NAME: &'static str;
}

macro_rules! avro_record {
    ($t:ty, $file:literal) => {
        impl AvroRecord for $t {
            const SCHEMA: &'static str = include_str!(concat!("../../../schemas/", $file, ".avsc"));
            const NAME: &'static str = concat!("io.handoff.", $file);
        }
    };
}

/// The most the Avro decoder may allocate for one string, byte array or block of items.
/// apache_avro's default is 512 MiB, so six corrupt bytes announcing a huge length make the
/// decoder attempt a 512 MiB allocation before failing. No field of a record within
/// `kafka.max_message_bytes` (1 MB by default) needs more than a few MiB decoded.
pub const MAX_AVRO_ALLOCATION_BYTES: usize = 16 * 1024 * 1024;

/// Caps the Avro decoder's allocations for this process (the first call wins; [`Codec::new`]
/// calls it).
pub fn limit_avro_allocations() -> usize {
    apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION_BYTES)
}

avro_record!(ConversationEvent, "ConversationEvent");
avro_record!(OperatorCommand, "OperatorCommand");
avro_record!(StopSignal, "StopSignal");
avro_record!(HandoffPayload, "HandoffPayload");
avro_record!(RoutedHandoff, "RoutedHandoff");
avro_record!(AgentControl, "AgentControl");
avro_record!(LifecycleEvent, "LifecycleEvent");
avro_record!(handoff_core::detect::ConversationState, "ConversationState");

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The registry could not be reached or answered 5xx: retry, do not dead-letter.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
    /// The registry refused the schema (e.g. incompatible with the subject's earlier versions).
    #[error("schema for subject {subject} refused by the registry: {message}")]
    Refused { subject: String, message: String },
    /// The bytes are not a record we can read (bad magic byte, unknown schema id, corrupt body).
    #[error("undecodable record: {0}")]
    Undecodable(String),
    /// The bytes decode as Avro but not into the record this topic carries.
    #[error("record does not match {expected}: {message}")]
    Mismatch {
        expected: &'static str,
        message: String,
    },
    #[error("cannot encode {name} for topic {topic}: {message}")]
    Encode {
        name: &'static str,
        topic: String,
        message: String,
    },
}

impl CodecError {
    /// Whether the same call may succeed later (registry down), as opposed to poison input.
    pub fn is_transient(&self) -> bool {
        matches!(self, CodecError::Unavailable(_))
    }
}

fn classify(e: SRCError) -> CodecError {
    if e.retriable {
        CodecError::Unavailable(e.to_string())
    } else {
        CodecError::Undecodable(e.to_string())
    }
}

/// Encoder and decoder with their schema caches; cheap to share behind an `Arc`.
pub struct Codec {
    sr: SrSettings,
    encoder: AvroEncoder,
    decoder: AvroDecoder,
}

impl Codec {
    pub fn new(settings: &crate::config::RegistrySettings) -> Result<Codec, CodecError> {
        limit_avro_allocations();
        let mut builder = SrSettings::new_builder(settings.url.clone());
        builder.set_timeout(Duration::from_secs(10));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string());
            builder.set_basic_authorization(user, password.as_deref());
        }
        let sr = builder
            .build()
            .map_err(|e| CodecError::Unavailable(format!("registry settings: {e}")))?;
        Ok(Codec {
            encoder: AvroEncoder::new(sr.clone()),
            decoder: AvroDecoder::new(sr.clone()),
            sr,
        })
    }

    /// Registers `T`'s schema under `<topic>-value`; returns the schema id.
    pub async fn register<T: AvroRecord>(&self, topic: &str) -> Result<u32, CodecError> {
        self.register_text(topic, T::SCHEMA).await
    }

    /// Registers a schema text under `<topic>-value` (schema evolution tests use other texts).
    pub async fn register_text(&self, topic: &str, schema: &str) -> Result<u32, CodecError> {
        let subject = format!("{topic}-value");
        let supplied = SuppliedSchema::new(None, SchemaType::Avro, schema.to_string());
        match post_schema(&self.sr, subject.clone(), supplied).await {
            Ok(registered) => Ok(registered.id),
            Err(e) if e.retriable => Err(CodecError::Unavailable(e.to_string())),
            Err(e) => Err(CodecError::Refused {
                subject,
                message: e.to_string(),
            }),
        }
    }

    /// Encodes with the topic's latest registered schema, in the Confluent wire format.
    pub async fn encode<T: AvroRecord>(
        &self,
        topic: &str,
        record: &T,
    ) -> Result<Vec<u8>, CodecError> {
        let strategy = SubjectNameStrategy::TopicNameStrategy(topic.to_string(), false);
        self.encoder
            .encode_struct(record, &strategy)
            .await
            .map_err(|e| match classify(e) {
                CodecError::Undecodable(message) => CodecError::Encode {
                    name: T::NAME,
                    topic: topic.to_string(),
                    message,
                },
                other => other,
            })
    }

    /// Decodes a Confluent-framed record into `T`.
    pub async fn decode<T: AvroRecord>(&self, bytes: Option<&[u8]>) -> Result<T, CodecError> {
        let Some(bytes) = bytes else {
            return Err(CodecError::Undecodable(
                "the record has no value (tombstone)".into(),
            ));
        };
        let decoded = self.decoder.decode(Some(bytes)).await.map_err(classify)?;
        apache_avro::from_value::<T>(&decoded.value).map_err(|e| CodecError::Mismatch {
            expected: T::NAME,
            message: e.to_string(),
        })
    }

    /// Decodes a Confluent-framed record into a generic Avro value (the stage picks the type).
    pub async fn decode_value(
        &self,
        bytes: Option<&[u8]>,
    ) -> Result<apache_avro::types::Value, CodecError> {
        let Some(bytes) = bytes else {
            return Err(CodecError::Undecodable(
                "the record has no value (tombstone)".into(),
            ));
        };
        Ok(self
            .decoder
            .decode(Some(bytes))
            .await
            .map_err(classify)?
            .value)
    }

    /// Forgets cached registry errors (after an outage, so the next call asks again).
    pub fn forget_errors(&self) {
        self.encoder.remove_errors_from_cache();
        self.decoder.remove_errors_from_cache();
    }
}
