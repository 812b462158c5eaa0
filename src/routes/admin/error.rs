//! Admin API errors: `{"error", "error_description"}` with the right status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::core::Error;

/// A core error as an admin API answer.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        render(&self.0)
    }
}

/// The status of a core error at the admin API.
fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid { .. }
        | Error::InvalidRequest(_)
        | Error::DevicePoll(_)
        | Error::InvalidScope(_)
        | Error::InvalidTarget(_)
        | Error::UnsupportedGrantType(_) => StatusCode::BAD_REQUEST,
        Error::InvalidToken(_)
        | Error::InvalidDpopProof(_)
        | Error::UseDpopNonce(_)
        | Error::InvalidGrant(_)
        | Error::InvalidClient(_)
        | Error::LoginRequired(_)
        | Error::AccountDisabled
        | Error::EmailNotVerified
        | Error::SecondFactorRequired => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::InsufficientScope(_) | Error::UnauthorizedClient(_) => {
            StatusCode::FORBIDDEN
        }
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) | Error::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A core error as an admin API answer: `{"error", "error_description"}`, `WWW-Authenticate`
/// on 401, `Retry-After` on 429.
pub fn render(e: &Error) -> HttpResponse {
    let status = status_of(e);
    let code = match (status, e) {
        (_, Error::LoginRequired(_)) => "login_required",
        (StatusCode::BAD_REQUEST, _) => "invalid_request",
        (StatusCode::UNAUTHORIZED, _) => "unauthorized",
        (StatusCode::FORBIDDEN, _) => "forbidden",
        (StatusCode::NOT_FOUND, _) => "not_found",
        (StatusCode::CONFLICT, _) => "conflict",
        (StatusCode::TOO_MANY_REQUESTS, _) => "too_many_requests",
        _ => return crate::routes::error::from_core(e),
    };
    let mut res = crate::routes::error::json_error(status, code, &e.to_string());
    if let Error::Throttled { retry_after } = e {
        res = crate::routes::error::retry_after(res, *retry_after);
    }
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(r#"Bearer realm="portcullis""#),
        );
    }
    res
}

/// The result type of admin handlers.
pub type ApiResult<T> = Result<T, ApiError>;
