//! Core errors as OAuth answers: RFC 6749 §5.2 JSON at the token, introspection and revocation
//! endpoints (`invalid_client` is 401 with `WWW-Authenticate`), RFC 6750 §3 for bearer tokens.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::core::Error;
use crate::routes::error::{json_error, ErrorBody};

/// An RFC 6749 §5.2 error answer (`no-store` like every token response).
pub fn oauth_error(e: &Error) -> HttpResponse {
    let (status, code) = match e {
        Error::InvalidRequest(_) | Error::Invalid { .. } => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        Error::InvalidClient(_) => {
            return HttpResponse::Unauthorized()
                .insert_header((
                    "WWW-Authenticate",
                    r#"Basic realm="portcullis", charset="UTF-8""#,
                ))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Pragma", "no-cache"))
                .json(ErrorBody {
                    error: "invalid_client",
                    error_description: &e.to_string(),
                });
        }
        Error::InvalidGrant(_)
        | Error::AccountDisabled
        | Error::EmailNotVerified
        | Error::SecondFactorRequired => (StatusCode::BAD_REQUEST, "invalid_grant"),
        Error::UnauthorizedClient(_) => (StatusCode::BAD_REQUEST, "unauthorized_client"),
        Error::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        Error::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
        Error::InvalidTarget(_) => (StatusCode::BAD_REQUEST, "invalid_target"),
        // RFC 6749 has no code for throttling; `slow_down` belongs to the device grant (RFC
        // 8628) and means "poll less often" there. `temporarily_unavailable` is the registered
        // code that says "try again later"; the status and Retry-After say when.
        Error::Throttled { retry_after } => {
            return HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after.to_string()))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Pragma", "no-cache"))
                .json(ErrorBody {
                    error: "temporarily_unavailable",
                    error_description: &e.to_string(),
                });
        }
        Error::InvalidToken(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        Error::InsufficientScope(_) | Error::Forbidden(_) => {
            (StatusCode::FORBIDDEN, "access_denied")
        }
        Error::NotFound(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "invalid_request"),
        Error::LoginRequired(_) => (StatusCode::UNAUTHORIZED, "login_required"),
        Error::Unavailable(_) | Error::Internal(_) | Error::Database(_) => {
            return crate::routes::error::from_core(e);
        }
    };
    let mut res = json_error(status, code, &e.to_string());
    res.headers_mut().insert(
        actix_web::http::header::PRAGMA,
        actix_web::http::header::HeaderValue::from_static("no-cache"),
    );
    res
}

/// An RFC 6750 §3 answer for a protected resource: 401 `invalid_token` (or no error code when
/// no token was sent), 403 `insufficient_scope`, with `WWW-Authenticate: Bearer ...`.
pub fn bearer_error(e: &Error) -> HttpResponse {
    let (status, code) = match e {
        Error::InsufficientScope(_) | Error::Forbidden(_) => {
            (StatusCode::FORBIDDEN, Some("insufficient_scope"))
        }
        Error::InvalidRequest(_) => (StatusCode::BAD_REQUEST, Some("invalid_request")),
        Error::Throttled { .. }
        | Error::Unavailable(_)
        | Error::Internal(_)
        | Error::Database(_) => {
            return crate::routes::error::from_core(e);
        }
        Error::InvalidToken(m) if m.is_empty() => (StatusCode::UNAUTHORIZED, None),
        Error::LoginRequired(_) => (StatusCode::UNAUTHORIZED, Some("login_required")),
        Error::Invalid { .. }
        | Error::NotFound(_)
        | Error::Conflict(_)
        | Error::InvalidClient(_)
        | Error::InvalidGrant(_)
        | Error::UnauthorizedClient(_)
        | Error::UnsupportedGrantType(_)
        | Error::InvalidScope(_)
        | Error::InvalidTarget(_)
        | Error::AccountDisabled
        | Error::EmailNotVerified
        | Error::SecondFactorRequired
        | Error::InvalidToken(_) => (StatusCode::UNAUTHORIZED, Some("invalid_token")),
    };
    let challenge = match code {
        Some(code) => format!(
            r#"Bearer realm="portcullis", error="{code}", error_description="{}""#,
            e.to_string().replace('"', "'")
        ),
        None => r#"Bearer realm="portcullis""#.to_owned(),
    };
    let description;
    let body = match code {
        Some(code) => {
            description = e.to_string();
            ErrorBody {
                error: code,
                error_description: &description,
            }
        }
        None => ErrorBody {
            error: "invalid_token",
            error_description: "a bearer token is required",
        },
    };
    HttpResponse::build(status)
        .insert_header(("WWW-Authenticate", challenge))
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
