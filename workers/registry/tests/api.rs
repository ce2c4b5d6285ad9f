//! HTTP-level tests: the registry runs in-process on an ephemeral port with a temporary data
//! file, and is driven with plain reqwest, checking Confluent's status codes, error codes and
//! response shapes.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

const USER_V1: &str = r#"{"type":"record","name":"User","namespace":"handoff.test","fields":[{"name":"name","type":"string"}]}"#;
/// V1 plus a field with a default: backward and forward compatible.
const USER_V2_DEFAULTED: &str = r#"{"type":"record","name":"User","namespace":"handoff.test","fields":[{"name":"name","type":"string"},{"name":"age","type":"int","default":0}]}"#;
/// V1 plus a field without a default: forward compatible only.
const USER_V2_REQUIRED: &str = r#"{"type":"record","name":"User","namespace":"handoff.test","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}"#;
/// V1 without its only field: backward compatible only.
const USER_EMPTY: &str =
    r#"{"type":"record","name":"User","namespace":"handoff.test","fields":[]}"#;

/// A test server plus a client with small JSON helpers.
struct Harness {
    server: TestServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TestServer::start(&dir.path().join("registry.json")).await;
        Self {
            server,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(
            content_type.as_deref(),
            Some("application/vnd.schemaregistry.v1+json"),
            "every response, errors included, uses Confluent's content type"
        );
        let body = response.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.server.url(path))).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(self.server.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(self.server.url(path))
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .body(body.to_string()),
        )
        .await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .put(self.server.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Registers and returns the id, failing the test on anything but 200.
    async fn register(&self, subject: &str, schema: &str) -> u64 {
        let (status, body) = self
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": schema}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id"].as_u64().expect("numeric id")
    }

    async fn set_compatibility(&self, subject: &str, level: &str) {
        let (status, body) = self
            .put(
                &format!("/config/{subject}"),
                json!({"compatibility": level}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

fn assert_error(result: &(StatusCode, Value), status: StatusCode, code: u64) {
    assert_eq!(result.0, status, "{}", result.1);
    assert_eq!(result.1["error_code"], json!(code), "{}", result.1);
    assert!(result.1["message"].is_string(), "{}", result.1);
}

#[tokio::test]
async fn registration_is_idempotent_and_ids_are_global() {
    let h = Harness::start().await;
    let id = h.register("users-value", USER_V1).await;
    assert_eq!(id, 1);
    assert_eq!(h.register("users-value", USER_V1).await, id);
    // Same schema, different formatting and key order: still the same schema.
    let reformatted = r#"{
        "namespace": "handoff.test", "name": "User", "type": "record",
        "fields": [ { "type": {"type": "string"}, "name": "name" } ]
    }"#;
    assert_eq!(h.register("users-value", reformatted).await, id);
    assert_eq!(h.get("/subjects/users-value/versions").await.1, json!([1]));

    // Another subject reuses the id but gets its own version 1.
    assert_eq!(h.register("archive-value", USER_V1).await, id);
    assert_eq!(
        h.get("/subjects/archive-value/versions").await.1,
        json!([1])
    );
    assert_eq!(
        h.get("/subjects").await.1,
        json!(["archive-value", "users-value"])
    );
    assert_eq!(
        h.get(&format!("/schemas/ids/{id}/subjects")).await.1,
        json!(["archive-value", "users-value"])
    );

    // A different schema gets a new id.
    assert_eq!(h.register("other-value", USER_V2_REQUIRED).await, 2);
}

#[tokio::test]
async fn reads_by_version_latest_id_and_lookup() {
    let h = Harness::start().await;
    let id1 = h.register("users-value", USER_V1).await;
    let id2 = h.register("users-value", USER_V2_DEFAULTED).await;
    assert_ne!(id1, id2);

    let (status, latest) = h.get("/subjects/users-value/versions/latest").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        latest,
        json!({"subject": "users-value", "version": 2, "id": id2, "schema": USER_V2_DEFAULTED})
    );
    assert_eq!(h.get("/subjects/users-value/versions/-1").await.1, latest);

    let (_, first) = h.get("/subjects/users-value/versions/1").await;
    assert_eq!(
        first,
        json!({"subject": "users-value", "version": 1, "id": id1, "schema": USER_V1})
    );

    // By id, with the `deleted=true` the Rust client always sends.
    let (status, by_id) = h.get(&format!("/schemas/ids/{id1}?deleted=true")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, json!({"schema": USER_V1}));

    // Lookup, with the `deleted=false` the Rust client sends.
    let (status, found) = h
        .post(
            "/subjects/users-value?deleted=false",
            json!({"schema": USER_V1, "schemaType": "AVRO"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        found,
        json!({"subject": "users-value", "version": 1, "id": id1, "schema": USER_V1})
    );
    assert_error(
        &h.post("/subjects/users-value", json!({"schema": USER_EMPTY}))
            .await,
        StatusCode::NOT_FOUND,
        40403,
    );
    assert_error(
        &h.post("/subjects/nobody-value", json!({"schema": USER_V1}))
            .await,
        StatusCode::NOT_FOUND,
        40401,
    );

    assert_eq!(h.get("/").await, (StatusCode::OK, json!({})));
    assert_eq!(h.get("/schemas/types").await.1, json!(["AVRO"]));
}

#[tokio::test]
async fn backward_is_the_default_and_needs_defaults_on_new_fields() {
    let h = Harness::start().await;
    h.register("users-value", USER_V1).await;

    let rejected = h
        .post(
            "/subjects/users-value/versions",
            json!({"schema": USER_V2_REQUIRED}),
        )
        .await;
    assert_error(&rejected, StatusCode::CONFLICT, 409);
    let message = rejected.1["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "Schema being registered is incompatible with an earlier schema for subject \"users-value\""
        ),
        "{message}"
    );
    assert!(
        message.contains("'age'"),
        "names the offending field: {message}"
    );
    assert_eq!(h.get("/subjects/users-value/versions").await.1, json!([1]));

    // The dry-run endpoints agree, against latest, an explicit version, and "per config".
    for path in [
        "/compatibility/subjects/users-value/versions/latest",
        "/compatibility/subjects/users-value/versions/1",
        "/compatibility/subjects/users-value/versions",
    ] {
        let (status, bad) = h.post(path, json!({"schema": USER_V2_REQUIRED})).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(bad["is_compatible"], json!(false), "{path}: {bad}");
        assert!(
            bad["messages"].as_array().is_some_and(|m| !m.is_empty()),
            "{bad}"
        );
        let (_, good) = h.post(path, json!({"schema": USER_V2_DEFAULTED})).await;
        assert_eq!(good, json!({"is_compatible": true}), "{path}");
    }

    assert_eq!(h.register("users-value", USER_V2_DEFAULTED).await, 2);
    // Removing a field is backward compatible: the new reader just ignores it.
    assert_eq!(h.register("users-value", USER_EMPTY).await, 3);
    assert_eq!(
        h.get("/subjects/users-value/versions").await.1,
        json!([1, 2, 3])
    );
}

#[tokio::test]
async fn compatibility_check_on_empty_subject_and_bad_versions() {
    let h = Harness::start().await;
    assert_eq!(
        h.post(
            "/compatibility/subjects/fresh-value/versions/latest",
            json!({"schema": USER_V1})
        )
        .await,
        (StatusCode::OK, json!({"is_compatible": true}))
    );
    assert_eq!(
        h.post(
            "/compatibility/subjects/fresh-value/versions",
            json!({"schema": USER_V1})
        )
        .await
        .1,
        json!({"is_compatible": true})
    );
    assert_error(
        &h.post(
            "/compatibility/subjects/fresh-value/versions/1",
            json!({"schema": USER_V1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        40401,
    );
    h.register("fresh-value", USER_V1).await;
    assert_error(
        &h.post(
            "/compatibility/subjects/fresh-value/versions/7",
            json!({"schema": USER_V1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        40402,
    );
    assert_error(
        &h.post(
            "/compatibility/subjects/fresh-value/versions/zero",
            json!({"schema": USER_V1}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42202,
    );
}

#[tokio::test]
async fn forward_full_none_and_transitive_semantics() {
    let h = Harness::start().await;

    // FORWARD: the old schema must read new data. Adding a required field is fine (old
    // readers ignore it); dropping a field old readers require is not.
    h.set_compatibility("fwd-value", "FORWARD").await;
    h.register("fwd-value", USER_V1).await;
    assert_error(
        &h.post(
            "/subjects/fwd-value/versions",
            json!({"schema": USER_EMPTY}),
        )
        .await,
        StatusCode::CONFLICT,
        409,
    );
    h.register("fwd-value", USER_V2_REQUIRED).await;

    // FULL: both directions, so only defaulted additions pass.
    h.set_compatibility("full-value", "FULL").await;
    h.register("full-value", USER_V1).await;
    for schema in [USER_V2_REQUIRED, USER_EMPTY] {
        assert_error(
            &h.post("/subjects/full-value/versions", json!({"schema": schema}))
                .await,
            StatusCode::CONFLICT,
            409,
        );
    }
    h.register("full-value", USER_V2_DEFAULTED).await;

    // NONE: anything goes, even a different type.
    h.set_compatibility("none-value", "NONE").await;
    h.register("none-value", USER_V1).await;
    h.register("none-value", r#""string""#).await;

    // Transitive: v3 is fine against v2 but not against v1.
    let with_int = USER_V2_REQUIRED;
    let with_bool = r#"{"type":"record","name":"User","namespace":"handoff.test","fields":[{"name":"name","type":"string"},{"name":"age","type":"boolean","default":false}]}"#;
    for (subject, level, accepted) in [
        ("plain-value", "BACKWARD", true),
        ("transitive-value", "BACKWARD_TRANSITIVE", false),
    ] {
        h.set_compatibility(subject, "NONE").await;
        h.register(subject, with_int).await;
        h.register(subject, USER_V1).await;
        h.set_compatibility(subject, level).await;
        let (status, body) = h
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": with_bool}),
            )
            .await;
        assert_eq!(status == StatusCode::OK, accepted, "{level}: {body}");
    }
}

#[tokio::test]
async fn config_global_and_subject() {
    let h = Harness::start().await;
    assert_eq!(
        h.get("/config").await,
        (StatusCode::OK, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        h.put("/config", json!({"compatibility": "FULL"})).await,
        (StatusCode::OK, json!({"compatibility": "FULL"}))
    );
    assert_eq!(
        h.get("/config").await.1,
        json!({"compatibilityLevel": "FULL"})
    );

    assert_error(
        &h.get("/config/users-value").await,
        StatusCode::NOT_FOUND,
        40408,
    );
    assert_eq!(
        h.get("/config/users-value?defaultToGlobal=true").await,
        (StatusCode::OK, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        h.put(
            "/config/users-value",
            json!({"compatibility": "forward_transitive"})
        )
        .await,
        (
            StatusCode::OK,
            json!({"compatibility": "FORWARD_TRANSITIVE"})
        )
    );
    assert_eq!(
        h.get("/config/users-value").await.1,
        json!({"compatibilityLevel": "FORWARD_TRANSITIVE"})
    );
    // Global unchanged.
    assert_eq!(
        h.get("/config").await.1,
        json!({"compatibilityLevel": "FULL"})
    );

    for bad in [json!({"compatibility": "SIDEWAYS"}), json!({})] {
        assert_error(
            &h.put("/config", bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
        );
    }

    assert_eq!(
        h.delete("/config/users-value").await,
        (
            StatusCode::OK,
            json!({"compatibilityLevel": "FORWARD_TRANSITIVE"})
        )
    );
    assert_error(
        &h.get("/config/users-value").await,
        StatusCode::NOT_FOUND,
        40408,
    );
}

#[tokio::test]
async fn not_found_and_invalid_input_errors() {
    let h = Harness::start().await;
    h.register("users-value", USER_V1).await;

    assert_error(
        &h.get("/subjects/nope/versions").await,
        StatusCode::NOT_FOUND,
        40401,
    );
    let missing = h.get("/subjects/nope/versions/latest").await;
    assert_error(&missing, StatusCode::NOT_FOUND, 40401);
    assert_eq!(missing.1["message"], json!("Subject 'nope' not found."));
    let missing_version = h.get("/subjects/users-value/versions/9").await;
    assert_error(&missing_version, StatusCode::NOT_FOUND, 40402);
    assert_eq!(missing_version.1["message"], json!("Version 9 not found."));
    let missing_id = h.get("/schemas/ids/999").await;
    assert_error(&missing_id, StatusCode::NOT_FOUND, 40403);
    assert_eq!(missing_id.1["message"], json!("Schema 999 not found"));
    assert_error(
        &h.get("/subjects/users-value/versions/0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42202,
    );

    for body in [
        json!({"schema": "{\"type\":\"record\",\"name\":\"Broken\"}"}),
        json!({"schema": "not json at all"}),
        json!({"schema": ""}),
        json!({"schemaType": "AVRO"}),
        json!({"schema": USER_V1, "schemaType": "PROTOBUF"}),
        json!({"schema": USER_V1, "references": [{"name": "x", "subject": "y", "version": 1}]}),
    ] {
        assert_error(
            &h.post("/subjects/users-value/versions", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        );
    }
    assert_error(
        &h.send(
            h.http
                .post(h.server.url("/subjects/users-value/versions"))
                .body("{truncated"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        400,
    );

    assert_error(&h.get("/no/such/route").await, StatusCode::NOT_FOUND, 404);
    assert_error(&h.get("/schemas/ids/abc").await, StatusCode::NOT_FOUND, 404);
    assert_error(
        &h.send(h.http.patch(h.server.url("/subjects"))).await,
        StatusCode::METHOD_NOT_ALLOWED,
        405,
    );
}

#[tokio::test]
async fn any_content_type_and_slashes_in_subjects() {
    let h = Harness::start().await;
    let body = json!({"schema": USER_V1}).to_string();
    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let mut request = h
            .http
            .post(h.server.url("/subjects/plain/versions"))
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let (status, response) = h.send(request).await;
        assert_eq!(status, StatusCode::OK, "{content_type:?}: {response}");
    }
    // The Rust client escapes '/' in subject names as %2F.
    h.register("team%2Fusers-value", USER_V1).await;
    assert_eq!(
        h.get("/subjects/team%2Fusers-value/versions/latest")
            .await
            .1["subject"],
        json!("team/users-value")
    );
    assert_eq!(
        h.get("/subjects").await.1,
        json!(["plain", "team/users-value"])
    );
}

#[tokio::test]
async fn soft_and_permanent_delete() {
    let h = Harness::start().await;
    let id1 = h.register("users-value", USER_V1).await;
    h.register("users-value", USER_V2_DEFAULTED).await;

    assert_error(
        &h.delete("/subjects/users-value?permanent=true").await,
        StatusCode::NOT_FOUND,
        40405,
    );
    assert_eq!(
        h.delete("/subjects/users-value").await,
        (StatusCode::OK, json!([1, 2]))
    );
    assert_eq!(h.get("/subjects").await.1, json!([]));
    assert_eq!(
        h.get("/subjects?deleted=true").await.1,
        json!(["users-value"])
    );
    assert_error(
        &h.get("/subjects/users-value/versions").await,
        StatusCode::NOT_FOUND,
        40401,
    );
    assert_eq!(
        h.get("/subjects/users-value/versions?deleted=true").await.1,
        json!([1, 2])
    );
    // Messages already in Kafka carry the id, so it must keep resolving.
    assert_eq!(
        h.get(&format!("/schemas/ids/{id1}")).await.0,
        StatusCode::OK
    );
    assert_error(
        &h.delete("/subjects/users-value").await,
        StatusCode::NOT_FOUND,
        40404,
    );

    // Re-registering after a soft delete: same id, and the version numbers carry on.
    assert_eq!(h.register("users-value", USER_V1).await, id1);
    assert_eq!(h.get("/subjects/users-value/versions").await.1, json!([3]));

    assert_eq!(
        h.delete("/subjects/users-value/versions/latest").await,
        (StatusCode::OK, json!(3))
    );
    assert_eq!(
        h.delete("/subjects/users-value?permanent=true").await,
        (StatusCode::OK, json!([1, 2, 3]))
    );
    assert_eq!(h.get("/subjects?deleted=true").await.1, json!([]));
    assert_eq!(
        h.get(&format!("/schemas/ids/{id1}")).await.0,
        StatusCode::OK
    );
    assert_eq!(h.register("users-value", USER_V2_REQUIRED).await, 3);
    assert_eq!(h.get("/subjects/users-value/versions").await.1, json!([1]));
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("registry.json");
    let http = reqwest::Client::new();

    let server = TestServer::start(&data).await;
    for (subject, schema) in [
        ("users-value", USER_V1),
        ("users-value", USER_V2_DEFAULTED),
        ("orders-value", USER_V2_REQUIRED),
    ] {
        let response = http
            .post(server.url(&format!("/subjects/{subject}/versions")))
            .body(json!({"schema": schema}).to_string())
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = http
        .put(server.url("/config/orders-value"))
        .body(json!({"compatibility": "NONE"}).to_string())
        .send()
        .await
        .expect("config");
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;

    let server = TestServer::start(&data).await;
    let get = |path: &str| {
        let request = http.get(server.url(path));
        async move {
            request
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(
        get("/subjects").await,
        json!(["orders-value", "users-value"])
    );
    assert_eq!(get("/subjects/users-value/versions").await, json!([1, 2]));
    assert_eq!(
        get("/subjects/users-value/versions/2").await["id"],
        json!(2)
    );
    assert_eq!(
        get("/subjects/orders-value/versions/1").await["id"],
        json!(3)
    );
    assert_eq!(get("/schemas/ids/1").await, json!({"schema": USER_V1}));
    assert_eq!(
        get("/config/orders-value").await,
        json!({"compatibilityLevel": "NONE"})
    );
    // Idempotence survives too, and new ids continue after the old ones.
    let again = http
        .post(server.url("/subjects/users-value/versions"))
        .body(json!({"schema": USER_V1}).to_string())
        .send()
        .await
        .expect("register")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(again, json!({"id": 1}));
    let fresh = http
        .post(server.url("/subjects/orders-value/versions"))
        .body(json!({"schema": r#""long""#}).to_string())
        .send()
        .await
        .expect("register")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(fresh, json!({"id": 4}));
    server.stop().await;
}

#[tokio::test]
async fn corrupt_data_file_is_a_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("registry.json");
    std::fs::write(&data, "{\"format\": 1, \"next_id\": ").expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = handoff_registry::serve(listener, data, std::future::pending())
        .await
        .expect_err("corrupt file must not start");
    let message = format!("{err:#}");
    assert!(
        message.contains("registry.json") && message.contains("corrupt"),
        "{message}"
    );
    // The file is left alone for a human to look at.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("registry.json")).expect("read"),
        "{\"format\": 1, \"next_id\": "
    );
}

#[tokio::test]
async fn concurrent_registrations_agree_on_ids() {
    let h = Harness::start().await;
    // Twenty subjects race to register the same new schema, and one subject gets the same
    // registration twenty times: one id, one version.
    let mut tasks = Vec::new();
    for n in 0..20 {
        for subject in [format!("race-{n}-value"), "shared-value".to_owned()] {
            let http = h.http.clone();
            let url = h.server.url(&format!("/subjects/{subject}/versions"));
            tasks.push(tokio::spawn(async move {
                let response = http
                    .post(url)
                    .body(json!({"schema": USER_V1}).to_string())
                    .send()
                    .await
                    .expect("register");
                assert_eq!(response.status(), StatusCode::OK);
                response.json::<Value>().await.expect("json")["id"].clone()
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), json!(1));
    }
    assert_eq!(h.get("/subjects/shared-value/versions").await.1, json!([1]));
    assert_eq!(
        h.get("/subjects").await.1.as_array().map(Vec::len),
        Some(21)
    );
}
