//! Proves the registry speaks what `schema_registry_converter` (the client our workers use)
//! expects: register through it, encode with the topic name strategy, decode by id.

mod common;

use apache_avro::types::Value;
use common::TestServer;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::{
    get_schema_by_id, get_schema_by_subject, post_schema, SrSettings,
};
use schema_registry_converter::schema_registry_common::{
    RawError, SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use serde::{Deserialize, Serialize};

const ORDER_V1: &str = r#"{
  "type": "record",
  "name": "Order",
  "namespace": "handoff.test",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "quantity", "type": "int"},
    {"name": "note", "type": ["null", "string"], "default": null}
  ]
}"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    quantity: i32,
    note: Option<String>,
}

fn supplied(schema: &str) -> SuppliedSchema {
    SuppliedSchema::new(
        Some("handoff.test.Order".to_owned()),
        SchemaType::Avro,
        schema.to_owned(),
    )
}

#[tokio::test]
async fn schema_registry_converter_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&dir.path().join("registry.json")).await;
    let settings = SrSettings::new(server.base.clone());

    // Register through the client; repeating it is idempotent.
    let registered = post_schema(&settings, "orders-value".to_owned(), supplied(ORDER_V1))
        .await
        .expect("post_schema");
    let again = post_schema(&settings, "orders-value".to_owned(), supplied(ORDER_V1))
        .await
        .expect("post_schema again");
    assert_eq!(registered.id, again.id);

    // Encode with the topic name strategy: the encoder fetches `orders-value` latest.
    let strategy = SubjectNameStrategy::TopicNameStrategy("orders".to_owned(), false);
    let latest = get_schema_by_subject(&settings, &strategy)
        .await
        .expect("latest via client");
    assert_eq!(latest.id, registered.id);
    assert_eq!(latest.subject.as_deref(), Some("orders-value"));
    assert_eq!(latest.version, Some(1));

    let order = Order {
        id: "o-1".to_owned(),
        quantity: 3,
        note: Some("fragile".to_owned()),
    };
    let encoder = AvroEncoder::new(settings.clone());
    let bytes = encoder
        .encode_struct(order.clone(), &strategy)
        .await
        .expect("encode_struct");
    // Confluent wire format: magic byte 0, then the big-endian schema id.
    assert_eq!(bytes[0], 0);
    assert_eq!(
        u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
        registered.id
    );

    // Decode with a fresh decoder, which has to resolve the id over HTTP.
    let decoder = AvroDecoder::new(SrSettings::new(server.base.clone()));
    let decoded = decoder.decode(Some(&bytes)).await.expect("decode");
    assert_eq!(
        decoded.name.map(|n| n.fullname(None)).as_deref(),
        Some("handoff.test.Order")
    );
    assert!(
        matches!(decoded.value, Value::Record(_)),
        "{:?}",
        decoded.value
    );
    let round_tripped: Order = apache_avro::from_value(&decoded.value).expect("from_value");
    assert_eq!(round_tripped, order);

    let by_id = get_schema_by_id(registered.id, &settings)
        .await
        .expect("by id");
    assert_eq!(by_id.schema, ORDER_V1);

    // An incompatible change surfaces as a non-retryable error carrying our 409 body.
    let breaking = ORDER_V1.replace(
        r#"{"name": "quantity", "type": "int"}"#,
        r#"{"name": "quantity", "type": "int"}, {"name": "sku", "type": "string"}"#,
    );
    let err = post_schema(&settings, "orders-value".to_owned(), supplied(&breaking))
        .await
        .expect_err("incompatible schema must be refused");
    assert!(!err.retriable, "{err}");
    let raw = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<RawError>())
        .expect("the registry's error body is the source");
    assert_eq!(raw.error_code, 409, "{err}");

    server.stop().await;
}
