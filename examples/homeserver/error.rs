//! Client-Server API errors: an HTTP status with the spec's `errcode` and a
//! human-readable `error` (<https://spec.matrix.org/v1.16/client-server-api/#standard-error-response>).

use std::fmt;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use matrix_serverlib::auth::Rejection;

/// The result of every handler and storage call.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// An error as the Client-Server API reports it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    errcode: &'static str,
    message: String,
    /// The wait a 429 asks for, as `retry_after_ms`.
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with any status and code.
    pub(crate) fn new(
        status: StatusCode,
        errcode: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            errcode,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 `M_LIMIT_EXCEEDED`, to retry after `wait`.
    pub(crate) fn limit_exceeded(wait: Duration) -> Self {
        Self {
            retry_after: Some(wait),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "M_LIMIT_EXCEEDED",
                "too many requests",
            )
        }
    }

    /// The wait of a 429.
    #[cfg(test)]
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// 400 `M_BAD_JSON`: well-formed JSON of the wrong shape.
    pub(crate) fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_BAD_JSON", message)
    }

    /// 400 `M_NOT_JSON`: the body is not JSON at all.
    pub(crate) fn not_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", message)
    }

    /// 400 `M_MISSING_PARAM`: a required field or parameter is absent.
    pub(crate) fn missing_param(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            format!("missing parameter: {name}"),
        )
    }

    /// 400 `M_INVALID_PARAM`: a parameter has a bad value.
    pub(crate) fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", message)
    }

    /// 403 `M_FORBIDDEN`.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", message)
    }

    /// 404 `M_NOT_FOUND`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
    }

    /// 401 `M_MISSING_TOKEN`.
    pub(crate) fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "missing access token",
        )
    }

    /// 401 `M_UNKNOWN_TOKEN`.
    pub(crate) fn unknown_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "M_UNKNOWN_TOKEN",
            "unknown access token",
        )
    }

    /// 404 `M_UNRECOGNIZED`: an endpoint this server does not implement.
    pub(crate) fn unrecognized() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "M_UNRECOGNIZED",
            "unrecognized request",
        )
    }

    /// 413 `M_TOO_LARGE`.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE", message)
    }

    /// 500 `M_UNKNOWN`: a fault of the server, logged, with a generic message.
    pub(crate) fn internal(context: &str, error: impl fmt::Display) -> Self {
        tracing::error!("internal error ({context}): {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "M_UNKNOWN",
            "internal server error",
        )
    }

    /// 403 `M_FORBIDDEN` for an event the authorization rules reject, naming the rule.
    pub(crate) fn rejected(rejection: &Rejection) -> Self {
        Self::forbidden(format!(
            "refused by the authorization rules ({}): {rejection}",
            rejection.reason()
        ))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.errcode, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "errcode": self.errcode, "error": self.message });
        if let Some(wait) = self.retry_after {
            // At least 1 ms: a client reads 0 as "retry now".
            let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            body["retry_after_ms"] = json!(millis);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal("database", error)
    }
}
