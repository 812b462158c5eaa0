//! JSON error answers shared by the JSON doors (`{"error", "error_description"}`), and the
//! mapping of core errors onto them.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::core::Error;

/// A JSON error body with the given status.
pub fn json_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "error": error, "error_description": description }))
}

/// Maps a core error to a JSON answer; internal details are logged, not shown.
pub fn from_core(e: &Error) -> HttpResponse {
    match e {
        Error::Invalid { .. } => {
            json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
        }
        Error::NotFound(_) => json_error(StatusCode::NOT_FOUND, "not_found", &e.to_string()),
        Error::Conflict(m) => json_error(StatusCode::CONFLICT, "conflict", m),
        Error::Unavailable(m) => {
            tracing::error!(error = %m, "dependency unavailable");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable",
            )
        }
        Error::Throttled { retry_after } => HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", retry_after.to_string()))
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({ "error": "too_many_requests", "error_description": e.to_string() })),
        Error::InvalidRequest(m) => json_error(StatusCode::BAD_REQUEST, "invalid_request", m),
        Error::InvalidClient(m) | Error::InvalidToken(m) => json_error(StatusCode::UNAUTHORIZED, "unauthorized", m),
        Error::InvalidGrant(m) => json_error(StatusCode::UNAUTHORIZED, "unauthorized", m),
        Error::InsufficientScope(m) | Error::Forbidden(m) | Error::UnauthorizedClient(m) => {
            json_error(StatusCode::FORBIDDEN, "forbidden", m)
        }
        Error::UnsupportedGrantType(m) | Error::InvalidScope(m) | Error::InvalidTarget(m) => {
            json_error(StatusCode::BAD_REQUEST, "invalid_request", m)
        }
        Error::Internal(_) | Error::Database(_) => {
            tracing::error!(error = %e, "internal error");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "an internal error occurred",
            )
        }
    }
}
