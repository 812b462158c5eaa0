//! Errors in CloudTrax's envelope: `{"errors": [{"code", "message", "context", "values"}]}`.
//! 401 for 13xxx and 20003, 429 for 20041, 400 for 1006, 404 for 14002 (SPEC §8).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::dto::{ErrorItem, Errors};
use crate::core::cloudtrax::CtError;
use crate::core::Error;

/// A CloudTrax error answer.
pub fn envelope(code: u32, message: &str, context: &str) -> HttpResponse {
    let status = match code {
        13000..=13999 | 20003 => StatusCode::UNAUTHORIZED,
        20041 => StatusCode::TOO_MANY_REQUESTS,
        14002 => StatusCode::NOT_FOUND,
        403 => StatusCode::FORBIDDEN,
        408 => StatusCode::REQUEST_TIMEOUT,
        413 => StatusCode::PAYLOAD_TOO_LARGE,
        1006 => StatusCode::BAD_REQUEST,
        500 => StatusCode::INTERNAL_SERVER_ERROR,
        503 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(Errors {
            errors: [ErrorItem {
                code,
                message,
                context,
                values: Default::default(),
            }],
        })
}

/// A signing failure.
pub fn signing(e: CtError) -> HttpResponse {
    envelope(e.code, e.message, "authorization")
}

/// A missing or invalid parameter (1006).
pub fn missing(what: &str) -> HttpResponse {
    envelope(
        1006,
        &format!("Missing or invalid parameter: {what}."),
        "request",
    )
}

/// Core failures that are not the caller's.
pub fn core(e: &Error, context: &str) -> HttpResponse {
    match e {
        Error::Throttled { retry_after } => crate::routes::error::retry_after(
            envelope(20041, "Too many login attempts; try again later.", context),
            *retry_after,
        ),
        Error::Invalid { .. } | Error::InvalidRequest(_) | Error::DevicePoll(_) => {
            envelope(1006, &e.to_string(), context)
        }
        Error::Forbidden(message) | Error::InsufficientScope(message) => {
            envelope(403, message, context)
        }
        Error::InvalidToken(_)
        | Error::InvalidDpopProof(_)
        | Error::UseDpopNonce(_)
        | Error::InvalidClient(_)
        | Error::LoginRequired(_) => envelope(13011, "Invalid key.", context),
        Error::AccountDisabled | Error::EmailNotVerified => {
            envelope(20003, "Wrong password.", context)
        }
        Error::SecondFactorRequired => envelope(403, &e.to_string(), context),
        Error::Unavailable(_) => envelope(503, "Service unavailable.", context),
        Error::NotFound(_)
        | Error::Conflict(_)
        | Error::InvalidGrant(_)
        | Error::UnauthorizedClient(_)
        | Error::UnsupportedGrantType(_)
        | Error::InvalidScope(_)
        | Error::InvalidTarget(_)
        | Error::Internal(_)
        | Error::Database(_) => {
            tracing::error!(error = %e, "cloudtrax: internal error");
            envelope(500, "Internal error.", context)
        }
    }
}
