//! JSON error answers shared by the JSON doors (`{"error", "error_description"}`), and the
//! mapping of core errors onto them.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::Error;

/// The error body of the JSON doors (the OAuth endpoints, the admin API, Bloq, esalerugs, the
/// operations routes): RFC 6749 §5.2's `{"error", "error_description"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// A code such as `invalid_request`, `invalid_client`, `invalid_token`, `forbidden`.
    pub error: &'a str,
    pub error_description: &'a str,
}

/// A JSON error body with the given status.
pub fn json_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(ErrorBody {
            error,
            error_description: description,
        })
}

/// Seconds a 503 (the database or another dependency cannot answer) asks callers to wait.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 2;

/// Sets `Retry-After` on a 429 (or 503) answer.
pub fn retry_after(mut res: HttpResponse, seconds: u64) -> HttpResponse {
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string()) {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    res
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
        Error::Throttled { retry_after: secs } => retry_after(
            json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                &e.to_string(),
            ),
            *secs,
        ),
        Error::LoginRequired(m) => json_error(StatusCode::UNAUTHORIZED, "login_required", m),
        Error::InvalidRequest(m) => json_error(StatusCode::BAD_REQUEST, "invalid_request", m),
        Error::DevicePoll(p) => json_error(StatusCode::BAD_REQUEST, p.code(), &p.to_string()),
        Error::InvalidClient(m) | Error::InvalidToken(m) => {
            json_error(StatusCode::UNAUTHORIZED, "unauthorized", m)
        }
        Error::InvalidGrant(m) => json_error(StatusCode::UNAUTHORIZED, "unauthorized", m),
        Error::InvalidDpopProof(m) => json_error(StatusCode::UNAUTHORIZED, "unauthorized", m),
        Error::UseDpopNonce(_) => {
            json_error(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string())
        }
        Error::AccountDisabled | Error::EmailNotVerified | Error::SecondFactorRequired => {
            json_error(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string())
        }
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
