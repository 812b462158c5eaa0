//! Passkeys over JSON for `static/webauthn.js` (WebAuthn needs JavaScript; password sign-in
//! does not): registration for a signed-in person, and sign-in with a passkey, which finishes
//! a sign-in step (the passkey as second factor), steps a session up, or signs in on its own.
//! Every request carries the page's CSRF token; errors are `{"error", "error_description"}`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{self, csrf_ok, safe_return};
use crate::app::passkeys::{self, PasskeySignIn};
use crate::core::Error;
use crate::paths;
use crate::routes::auth::{Admitted, Public, Session};
use crate::routes::error::json_error;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Start {
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct RegisterStart {
    csrf: String,
    /// Changing second factors needs the current password.
    #[serde(default)]
    current_password: String,
}

#[derive(Debug, Deserialize)]
pub struct RegisterFinish {
    csrf: String,
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: Value,
}

#[derive(Debug, Deserialize)]
pub struct SignInFinish {
    csrf: String,
    ceremony: String,
    credential: Value,
    #[serde(default)]
    return_to: Option<String>,
}

fn failed(e: &Error) -> HttpResponse {
    match e {
        Error::InvalidGrant(m) => json_error(StatusCode::BAD_REQUEST, "not_accepted", m),
        Error::InvalidRequest(m) => json_error(StatusCode::BAD_REQUEST, "invalid_request", m),
        Error::Invalid { field, message } if *field == "current_password" => json_error(
            StatusCode::BAD_REQUEST,
            "current_password",
            &format!("the current password {message}"),
        ),
        Error::Invalid { .. } => {
            json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
        }
        Error::LoginRequired(m) => json_error(StatusCode::FORBIDDEN, "step_up", m),
        Error::Conflict(m) => json_error(StatusCode::CONFLICT, "conflict", m),
        Error::Forbidden(m) => json_error(StatusCode::FORBIDDEN, "unavailable", m),
        Error::NotFound(_) => json_error(StatusCode::NOT_FOUND, "not_found", &e.to_string()),
        Error::AccountDisabled | Error::EmailNotVerified => {
            json_error(StatusCode::FORBIDDEN, "not_allowed", &e.to_string())
        }
        Error::Throttled { retry_after } => crate::routes::error::retry_after(
            json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed attempts; try again later",
            ),
            *retry_after,
        ),
        _ => {
            tracing::error!(error = %e, "passkey request failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "something went wrong; please try again",
            )
        }
    }
}

fn expired_form() -> HttpResponse {
    json_error(
        StatusCode::BAD_REQUEST,
        "csrf",
        "the page expired; reload it and try again",
    )
}

fn options(ceremony: String, options: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "ceremony": ceremony, "options": options }))
}

/// `POST /webauthn/register/start`: options for a new passkey of the signed-in person.
pub async fn register_start(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    body: web::Json<RegisterStart>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !csrf_ok(&req, Some(&body.csrf)) {
        return expired_form();
    }
    match passkeys::register_start(&state, &call, &s, &body.current_password).await {
        Ok((ceremony, opts)) => options(ceremony, opts),
        Err(e) => failed(&e),
    }
}

/// `POST /webauthn/register/finish`: saves the new passkey.
pub async fn register_finish(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    body: web::Json<RegisterFinish>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let b = body.into_inner();
    if !csrf_ok(&req, Some(&b.csrf)) {
        return expired_form();
    }
    match passkeys::register_finish(&state, &call, &s.user, &b.ceremony, &b.name, b.credential)
        .await
    {
        Ok(_) => HttpResponse::Ok().json(json!({
            "redirect": format!("{}?notice=passkey-added#security", paths::ACCOUNT)
        })),
        Err(e) => failed(&e),
    }
}

/// `POST /webauthn/authenticate/start`: options for signing in with any of this site's
/// passkeys.
pub async fn signin_start(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    body: web::Json<Start>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !csrf_ok(&req, Some(&body.csrf)) {
        return expired_form();
    }
    match passkeys::authenticate_start(&state, &call).await {
        Ok((ceremony, opts)) => options(ceremony, opts),
        Err(e) => failed(&e),
    }
}

/// `POST /webauthn/authenticate/finish`: checks the passkey; then finishes the browser's
/// sign-in step (its person only), steps its session up (its person only), or signs in.
pub async fn signin_finish(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    body: web::Json<SignInFinish>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let b = body.into_inner();
    if !csrf_ok(&req, Some(&b.csrf)) {
        return expired_form();
    }
    let step = req
        .cookie(session::STEP_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty());
    let previous = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_owned());
    let signed_in = match session::current(&req, &state).await {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    let return_to = safe_return(b.return_to.as_deref());
    let done = passkeys::sign_in(
        &state,
        &call,
        &b.ceremony,
        b.credential,
        step.as_deref(),
        signed_in.as_ref(),
        previous,
        &return_to,
    )
    .await;
    match done {
        Ok(PasskeySignIn::SteppedUp) => redirect(&return_to, Vec::new()),
        Ok(PasskeySignIn::Session {
            session: value,
            return_to: back,
            needs_terms,
            ends_step,
        }) => {
            let back = safe_return(Some(&back));
            let next = if needs_terms { terms_then(&back) } else { back };
            let mut cookies = vec![session::session_cookie(value, &state.config)];
            if ends_step {
                cookies.push(session::clear_step_cookie(&state.config));
            }
            redirect(&next, cookies)
        }
        Err(e) => failed(&e),
    }
}

fn terms_then(back: &str) -> String {
    format!(
        "{}?return_to={}",
        paths::TERMS,
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    )
}

/// Where the page goes next, with the cookies to set.
fn redirect(to: &str, cookies: Vec<actix_web::cookie::Cookie<'static>>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header(("Cache-Control", "no-store"));
    for c in cookies {
        res.cookie(c);
    }
    res.json(json!({ "redirect": to }))
}
