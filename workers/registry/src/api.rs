//! HTTP surface: the Confluent Schema Registry REST subset, as axum handlers.
//!
//! Requests bodies are read as raw bytes and parsed as JSON whatever the `Content-Type`
//! (clients send `application/vnd.schemaregistry.v1+json`, `application/json`, or nothing);
//! responses always use Confluent's content type. Path and query parameters are taken as
//! strings and validated here, so malformed input gets a Confluent-style error body instead
//! of axum's plain-text rejection.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::compat::CompatibilityLevel;
use crate::error::Error;
use crate::schema::ParsedSchema;
use crate::store::{Store, SubjectVersion, VersionSelector};

/// Content type of every response.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Shared handler state.
pub type AppState = Arc<Store>;

/// The router with every endpoint, for [`crate::serve`] or in-process tests.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(list_subjects))
        .route(
            "/subjects/{subject}",
            post(lookup_schema).delete(delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_for_id))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_compatibility_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_compatibility_version),
        )
        .route("/config", get(get_global_config).put(put_global_config))
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .fallback(|| async { Error::RouteNotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(state)
}

/// JSON response with Confluent's content type.
#[derive(Debug)]
pub struct SrJson<T>(pub T);

impl<T: Serialize> IntoResponse for SrJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut response = body.into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
                response
            }
            // Our response types are plain structs; this cannot fail in practice, and an
            // error type that serialises through SrJson itself must not recurse here.
            Err(e) => (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not serialise response: {e}"),
            )
                .into_response(),
        }
    }
}

type ApiResult<T> = Result<SrJson<T>, Error>;

/// `Path`, but rejections (e.g. a segment that is not valid UTF-8 once percent-decoded) come
/// back as Confluent-style JSON errors like everything else.
#[derive(Debug)]
pub struct SrPath<T>(pub T);

impl<S, T> FromRequestParts<S> for SrPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| SrPath(value))
            .map_err(|e| Error::BadRequest(e.body_text()))
    }
}

type Params = Query<HashMap<String, String>>;

/// Confluent's boolean query flags (`deleted`, `permanent`, `defaultToGlobal`): absent or
/// anything but `true` means false.
fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Body of registration, lookup and compatibility requests.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRequest {
    schema: Option<String>,
    schema_type: Option<String>,
    references: Option<Vec<Value>>,
    // `metadata`, `ruleSet` etc. from newer clients are accepted and ignored.
}

/// Parses and validates a schema request body into a schema we can store or check.
fn parse_schema_request(body: &[u8]) -> Result<ParsedSchema, Error> {
    let request: SchemaRequest =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest(e.to_string()))?;
    if let Some(kind) = request.schema_type.as_deref() {
        if !kind.eq_ignore_ascii_case("AVRO") {
            return Err(Error::InvalidSchema(format!(
                "schemaType '{kind}' is not supported; this development registry only handles AVRO"
            )));
        }
    }
    if request.references.is_some_and(|r| !r.is_empty()) {
        return Err(Error::InvalidSchema(
            "schema references are not supported by this development registry".to_owned(),
        ));
    }
    let text = request
        .schema
        .ok_or_else(|| Error::InvalidSchema("the request has no \"schema\" field".to_owned()))?;
    ParsedSchema::parse(&text).map_err(Error::InvalidSchema)
}

/// Runs a store mutation (file I/O under a mutex) off the async worker threads.
async fn blocking<T, F>(store: AppState, op: F) -> Result<T, Error>
where
    F: FnOnce(&Store) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || op(&store))
        .await
        .map_err(|e| Error::Internal(format!("store operation did not complete: {e}")))?
}

/// Confluent's answer for a subject version and for a lookup.
#[derive(Debug, Serialize)]
struct VersionResponse {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
}

impl From<SubjectVersion> for VersionResponse {
    fn from(v: SubjectVersion) -> Self {
        Self {
            subject: v.subject,
            version: v.version,
            id: v.id,
            schema: v.schema,
        }
    }
}

/// Health check; Confluent answers `{}` too.
async fn root() -> SrJson<Value> {
    SrJson(json!({}))
}

async fn schema_types() -> SrJson<[&'static str; 1]> {
    SrJson(["AVRO"])
}

async fn list_subjects(
    State(store): State<AppState>,
    Query(params): Params,
) -> SrJson<Vec<String>> {
    SrJson(store.subjects(flag(&params, "deleted")))
}

async fn list_versions(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    Query(params): Params,
) -> ApiResult<Vec<u32>> {
    store
        .versions(&subject, flag(&params, "deleted"))
        .map(SrJson)
}

async fn get_version(
    State(store): State<AppState>,
    SrPath((subject, version)): SrPath<(String, String)>,
    Query(params): Params,
) -> ApiResult<VersionResponse> {
    let selector: VersionSelector = version.parse()?;
    let found = store.version(&subject, selector, flag(&params, "deleted"))?;
    Ok(SrJson(found.into()))
}

#[derive(Debug, Serialize)]
struct IdResponse {
    id: u32,
}

async fn register_schema(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    body: Bytes,
) -> ApiResult<IdResponse> {
    let candidate = parse_schema_request(&body)?;
    let id = blocking(store, move |s| s.register(&subject, candidate)).await?;
    Ok(SrJson(IdResponse { id }))
}

async fn lookup_schema(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    Query(params): Params,
    body: Bytes,
) -> ApiResult<VersionResponse> {
    let candidate = parse_schema_request(&body)?;
    let found = store.lookup(&subject, &candidate, flag(&params, "deleted"))?;
    Ok(SrJson(found.into()))
}

async fn delete_subject(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    Query(params): Params,
) -> ApiResult<Vec<u32>> {
    let permanent = flag(&params, "permanent");
    blocking(store, move |s| s.delete_subject(&subject, permanent))
        .await
        .map(SrJson)
}

async fn delete_version(
    State(store): State<AppState>,
    SrPath((subject, version)): SrPath<(String, String)>,
    Query(params): Params,
) -> ApiResult<u32> {
    let selector: VersionSelector = version.parse()?;
    let permanent = flag(&params, "permanent");
    blocking(store, move |s| {
        s.delete_version(&subject, selector, permanent)
    })
    .await
    .map(SrJson)
}

#[derive(Debug, Serialize)]
struct SchemaResponse {
    schema: String,
}

/// Parses an id path segment; a non-number can never name a schema, so it is "not found"
/// rather than a bad request (matching Confluent's 404 for unmatched ids).
fn parse_id(id: &str) -> Result<u32, Error> {
    id.parse().map_err(|_| Error::RouteNotFound)
}

async fn schema_by_id(
    State(store): State<AppState>,
    SrPath(id): SrPath<String>,
) -> ApiResult<SchemaResponse> {
    let schema = store.schema_by_id(parse_id(&id)?)?;
    Ok(SrJson(SchemaResponse { schema }))
}

async fn subjects_for_id(
    State(store): State<AppState>,
    SrPath(id): SrPath<String>,
    Query(params): Params,
) -> ApiResult<Vec<String>> {
    store
        .subjects_for_id(parse_id(&id)?, flag(&params, "deleted"))
        .map(SrJson)
}

/// Confluent only sends `messages` when asked (`verbose=true`); always including them when
/// incompatible costs nothing and saves a round trip when debugging.
#[derive(Debug, Serialize)]
struct CompatibilityResponse {
    is_compatible: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<String>,
}

impl From<Vec<String>> for CompatibilityResponse {
    fn from(messages: Vec<String>) -> Self {
        Self {
            is_compatible: messages.is_empty(),
            messages,
        }
    }
}

async fn check_compatibility_all(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    body: Bytes,
) -> ApiResult<CompatibilityResponse> {
    let candidate = parse_schema_request(&body)?;
    let messages = store.check_compatibility(&subject, None, &candidate)?;
    Ok(SrJson(messages.into()))
}

async fn check_compatibility_version(
    State(store): State<AppState>,
    SrPath((subject, version)): SrPath<(String, String)>,
    body: Bytes,
) -> ApiResult<CompatibilityResponse> {
    let selector: VersionSelector = version.parse()?;
    let candidate = parse_schema_request(&body)?;
    let messages = store.check_compatibility(&subject, Some(selector), &candidate)?;
    Ok(SrJson(messages.into()))
}

/// GET answers use `compatibilityLevel`, PUT answers echo `compatibility`: that asymmetry is
/// Confluent's, and clients parse it that way.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigResponse {
    compatibility_level: CompatibilityLevel,
}

#[derive(Debug, Serialize)]
struct ConfigUpdateResponse {
    compatibility: CompatibilityLevel,
}

#[derive(Debug, Deserialize)]
struct ConfigRequest {
    compatibility: Option<String>,
    /// Accepted as an alias, since it is the name GET uses and people copy it.
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn parse_config_request(body: &[u8]) -> Result<CompatibilityLevel, Error> {
    let request: ConfigRequest =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest(e.to_string()))?;
    let requested = request
        .compatibility
        .or(request.compatibility_level)
        .ok_or_else(|| Error::InvalidCompatibilityLevel(String::new()))?;
    requested
        .parse()
        .map_err(|()| Error::InvalidCompatibilityLevel(requested))
}

async fn get_global_config(State(store): State<AppState>) -> SrJson<ConfigResponse> {
    SrJson(ConfigResponse {
        compatibility_level: store.global_compatibility(),
    })
}

async fn put_global_config(
    State(store): State<AppState>,
    body: Bytes,
) -> ApiResult<ConfigUpdateResponse> {
    let level = parse_config_request(&body)?;
    blocking(store, move |s| s.set_global_compatibility(level)).await?;
    Ok(SrJson(ConfigUpdateResponse {
        compatibility: level,
    }))
}

async fn get_subject_config(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    Query(params): Params,
) -> ApiResult<ConfigResponse> {
    let level = match store.subject_compatibility(&subject) {
        Some(level) => level,
        None if flag(&params, "defaultToGlobal") => store.global_compatibility(),
        None => return Err(Error::SubjectCompatibilityNotConfigured(subject)),
    };
    Ok(SrJson(ConfigResponse {
        compatibility_level: level,
    }))
}

async fn put_subject_config(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
    body: Bytes,
) -> ApiResult<ConfigUpdateResponse> {
    let level = parse_config_request(&body)?;
    blocking(store, move |s| s.set_subject_compatibility(&subject, level)).await?;
    Ok(SrJson(ConfigUpdateResponse {
        compatibility: level,
    }))
}

async fn delete_subject_config(
    State(store): State<AppState>,
    SrPath(subject): SrPath<String>,
) -> ApiResult<ConfigResponse> {
    let previous = blocking(store, move |s| s.delete_subject_compatibility(&subject)).await?;
    Ok(SrJson(ConfigResponse {
        compatibility_level: previous,
    }))
}
