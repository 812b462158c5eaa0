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
        Error::InvalidDpopProof(_) => (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
        Error::DevicePoll(p) => (StatusCode::BAD_REQUEST, p.code()),
        // RFC 9449 §8: the nonce to use travels in the DPoP-Nonce header.
        Error::UseDpopNonce(nonce) => {
            let mut res = json_error(StatusCode::BAD_REQUEST, "use_dpop_nonce", &e.to_string());
            no_cache_with_nonce(&mut res, Some(nonce));
            return res;
        }
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
    no_cache_with_nonce(&mut res, None);
    res
}

/// `Pragma: no-cache`, and a `DPoP-Nonce` header when a nonce is given.
fn no_cache_with_nonce(res: &mut HttpResponse, nonce: Option<&str>) {
    use actix_web::http::header::{HeaderName, HeaderValue, PRAGMA};
    res.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("dpop-nonce"), v);
    }
}

/// The DPoP challenge of a protected resource (RFC 9449 §7.1): the algorithms it accepts.
fn dpop_challenge(error: Option<(&str, &str)>) -> String {
    let algs = crate::core::dpop::ALGS.join(" ");
    match error {
        Some((code, description)) => format!(
            r#"DPoP algs="{algs}", error="{code}", error_description="{}""#,
            quotable(description)
        ),
        None => format!(r#"DPoP algs="{algs}""#),
    }
}

/// Text safe inside a quoted header parameter: printable ASCII without `"` and `\` (an error
/// description may repeat what the request sent, such as a proof's `alg`).
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

/// An RFC 6750 §3 answer for a protected resource: 401 `invalid_token` (or no error code when
/// no token was sent), 403 `insufficient_scope`, with `WWW-Authenticate: Bearer ...`.
pub fn bearer_error(e: &Error) -> HttpResponse {
    let (status, code) = match e {
        Error::InsufficientScope(_) | Error::Forbidden(_) => {
            (StatusCode::FORBIDDEN, Some("insufficient_scope"))
        }
        Error::InvalidRequest(_) | Error::DevicePoll(_) => {
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        }
        Error::Throttled { .. }
        | Error::Unavailable(_)
        | Error::Internal(_)
        | Error::Database(_) => {
            return crate::routes::error::from_core(e);
        }
        Error::InvalidToken(m) if m.is_empty() => (StatusCode::UNAUTHORIZED, None),
        // A proof that fails: the DPoP challenge carries the error (RFC 9449 §7.1).
        Error::InvalidDpopProof(_) | Error::UseDpopNonce(_) => {
            let code = match e {
                Error::UseDpopNonce(_) => "use_dpop_nonce",
                _ => "invalid_dpop_proof",
            };
            let description = e.to_string();
            let mut res = HttpResponse::Unauthorized()
                .insert_header((
                    "WWW-Authenticate",
                    dpop_challenge(Some((code, &description))),
                ))
                .insert_header(("Cache-Control", "no-store"))
                .json(ErrorBody {
                    error: code,
                    error_description: &description,
                });
            if let Error::UseDpopNonce(nonce) = e {
                no_cache_with_nonce(&mut res, Some(nonce));
            }
            return res;
        }
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
            quotable(&e.to_string())
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
    let mut res = HttpResponse::build(status);
    res.insert_header(("WWW-Authenticate", challenge));
    if status == StatusCode::UNAUTHORIZED {
        // Tokens may come bound to a key too: say how (RFC 9449 §7.1).
        res.append_header(("WWW-Authenticate", dpop_challenge(None)));
    }
    res.insert_header(("Cache-Control", "no-store")).json(body)
}
