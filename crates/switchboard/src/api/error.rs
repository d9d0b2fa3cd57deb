//! The one place that decides what an HTTP client sees when something goes wrong:
//! `{ success: false, error: { code, message } }` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// JSON of the wrong shape or with invalid values.
    #[error("{0}")]
    Validation(String),
    /// No or a wrong API key.
    #[error("missing or invalid API key (send Authorization: Bearer <key>)")]
    Unauthorized,
    /// Not allowed from here.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Body over the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The database is unreachable; sockets stay up, retry later.
    #[error("database unavailable, try again shortly")]
    Unavailable,
    /// No such route.
    #[error("not found")]
    NotFound,
    /// No such thing at this route; the message says what.
    #[error("{0}")]
    Missing(String),
    /// The cluster store (Redis) did not answer; retry later.
    #[error("{0}")]
    ClusterUnavailable(String),
    /// Any other rejection of the request body.
    #[error("{0}")]
    BadRequest(String),
    /// A bug or an unavailable dependency; details are logged, not sent.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Machine-readable code and human message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// e.g. `invalid_json`, `validation_failed`, `unauthorized`.
    pub code: &'static str,
    /// A sentence for humans.
    pub message: String,
}

impl ApiError {
    /// The HTTP status and the `code` of the error body.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound | ApiError::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::ClusterUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "cluster_unavailable")
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error in the HTTP API");
        }
        let body = ErrorBody {
            success: false,
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(r.body_text())
        }
    }
}

/// The top-level JSON shape a route accepts (serde would otherwise also read a struct
/// from an array, in field order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One object.
    Object,
    /// One object, or an array of objects (batch).
    ObjectOrBatch,
    /// Anything (the route validates it itself).
    Any,
}

/// Parse a JSON body: 400 for broken JSON, 422 for the wrong shape or nesting deeper
/// than `max_depth`.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: Shape,
    max_depth: usize,
) -> Result<T, ApiError> {
    use serde_json::Value;
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    if crate::support::json::depth(&value) > max_depth {
        return Err(ApiError::Validation(format!(
            "JSON nested deeper than {max_depth} levels"
        )));
    }
    let ok = match (shape, &value) {
        (Shape::Any, _) | (_, Value::Object(_)) => true,
        (Shape::ObjectOrBatch, Value::Array(items)) => items.iter().all(Value::is_object),
        _ => false,
    };
    if !ok {
        let want = if shape == Shape::Object {
            "a JSON object"
        } else {
            "a JSON object or an array of objects"
        };
        return Err(ApiError::Validation(format!("the body must be {want}")));
    }
    serde_json::from_value(value).map_err(|e| ApiError::Validation(e.to_string()))
}
