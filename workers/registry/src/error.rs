//! The one error type of the registry, and how it maps onto Confluent-style HTTP responses.
//!
//! Clients (schema_registry_converter, the Confluent Java client, curl-based scripts) read
//! `{"error_code": N, "message": "..."}` bodies and branch on the code, so the codes and, where
//! practical, the message wording follow Confluent's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::SrJson;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 40401.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402. The version is kept as text so "latest" reads naturally too.
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// 40403, looking a schema up by id.
    #[error("Schema {0} not found")]
    SchemaIdNotFound(u32),
    /// 40403, looking a schema up under a subject.
    #[error("Schema not found")]
    SchemaNotFound,
    /// 40404.
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 40405.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 40406.
    #[error("Version {version} of subject '{subject}' was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted { subject: String, version: u32 },
    /// 40407.
    #[error("Version {version} of subject '{subject}' was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted { subject: String, version: u32 },
    /// 40408.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    /// 409.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", details.join("; "))]
    Incompatible {
        subject: String,
        details: Vec<String>,
    },
    /// 42201.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202.
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    /// 42203.
    #[error("Invalid compatibility level '{0}'. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL and FULL_TRANSITIVE")]
    InvalidCompatibilityLevel(String),
    /// 400: the body is not the JSON we expect.
    #[error("Invalid request body: {0}")]
    BadRequest(String),
    /// 404 for paths we do not serve.
    #[error("HTTP 404 Not Found")]
    RouteNotFound,
    /// 405 for known paths with the wrong method.
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    /// 50001: the mutation was *not* applied, because it could not be made durable.
    #[error("Error in the backend data store: {0}")]
    Storage(String),
    /// 500: a bug or a panicked worker thread.
    #[error("Internal error: {0}")]
    Internal(String),
}

impl Error {
    /// HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::SubjectNotFound(_)
            | Self::VersionNotFound(_)
            | Self::SchemaIdNotFound(_)
            | Self::SchemaNotFound
            | Self::SubjectSoftDeleted(_)
            | Self::SubjectNotSoftDeleted(_)
            | Self::VersionSoftDeleted { .. }
            | Self::VersionNotSoftDeleted { .. }
            | Self::SubjectCompatibilityNotConfigured(_)
            | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::Incompatible { .. } => StatusCode::CONFLICT,
            Self::InvalidSchema(_)
            | Self::InvalidVersion(_)
            | Self::InvalidCompatibilityLevel(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Storage(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Confluent's `error_code`, which is finer-grained than the status.
    pub fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound(_) => 40401,
            Self::VersionNotFound(_) => 40402,
            Self::SchemaIdNotFound(_) | Self::SchemaNotFound => 40403,
            Self::SubjectSoftDeleted(_) => 40404,
            Self::SubjectNotSoftDeleted(_) => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::SubjectCompatibilityNotConfigured(_) => 40408,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibilityLevel(_) => 42203,
            Self::BadRequest(_) => 400,
            Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Storage(_) => 50001,
            Self::Internal(_) => 500,
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error_code: u32,
    message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request rejected");
        }
        let body = ErrorBody {
            error_code: self.error_code(),
            message: self.to_string(),
        };
        (status, SrJson(body)).into_response()
    }
}
