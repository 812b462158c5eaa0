//! Errors: the document shows none, so `{"error": "<code>", "error_description": ".."}` with the
//! right status (SPEC §5).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::core::Error;
use crate::routes::error::json_error;

/// An error answer.
pub fn render(e: &Error) -> HttpResponse {
    let (status, code) = match e {
        Error::Invalid { .. } | Error::InvalidRequest(_) | Error::DevicePoll(_) => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        Error::InvalidGrant(_)
        | Error::AccountDisabled
        | Error::EmailNotVerified
        | Error::SecondFactorRequired => (StatusCode::UNAUTHORIZED, "invalid_grant"),
        Error::InvalidToken(_)
        | Error::InvalidDpopProof(_)
        | Error::UseDpopNonce(_)
        | Error::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
        Error::Forbidden(_) | Error::InsufficientScope(_) | Error::UnauthorizedClient(_) => {
            (StatusCode::FORBIDDEN, "forbidden")
        }
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::LoginRequired(_) => (StatusCode::UNAUTHORIZED, "login_required"),
        Error::UnsupportedGrantType(_) | Error::InvalidScope(_) | Error::InvalidTarget(_) => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        Error::Throttled { .. }
        | Error::Unavailable(_)
        | Error::Internal(_)
        | Error::Database(_) => return crate::routes::error::from_core(e),
    };
    let message = match e {
        Error::Conflict(m) => m.clone(),
        other => other.to_string(),
    };
    json_error(status, code, &message)
}

/// A malformed body.
pub fn bad_body(message: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("invalid body: {message}"))
}
