//! `GET|POST /signin/second-factor`: the second step of a sign-in for a person who has a
//! second factor (the `portcullis_step` cookie names the step the right password opened), and
//! the step-up of a signed-in person's session when an app asks for a second factor
//! (`return_to` is its authorization request). A code of the authenticator app, or one of
//! the recovery codes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok, safe_return};
use super::{render, see_other};
use crate::app::second_factor::{self, Proof};
use crate::app::Call;
use crate::core::factors::Enrolled;
use crate::core::Error;
use crate::paths;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/second_factor.html")]
struct SecondFactorPage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    error: Option<&'a str>,
    /// A signed-in person stepping up (rather than finishing a sign-in).
    step_up: bool,
    /// The person has an authenticator app.
    totp: bool,
    /// The person has passkeys.
    passkeys: bool,
}

/// Who is giving the second factor.
enum Who {
    /// Finishing a sign-in: the step cookie's value.
    Step(String),
    /// Signed in, stepping up.
    Session(Box<crate::core::authorize::SignedIn>),
}

async fn who(req: &HttpRequest, state: &AppState) -> Result<Option<(Who, Enrolled)>, Error> {
    if let Some(value) = req
        .cookie(session::STEP_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
    {
        if let Some((_, user)) = second_factor::step(state, &value).await? {
            let enrolled = second_factor::enrolled(state, &user.id).await?;
            return Ok(Some((Who::Step(value), enrolled)));
        }
    }
    match session::current(req, state).await? {
        Some(s) => {
            let enrolled = second_factor::enrolled(state, &s.user.id).await?;
            Ok(Some((Who::Session(Box::new(s)), enrolled)))
        }
        None => Ok(None),
    }
}

fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    return_to: &str,
    step_up: bool,
    enrolled: &Enrolled,
    error: Option<&str>,
) -> HttpResponse {
    let (token, cookie) = csrf(req, &state.config);
    let view = SecondFactorPage {
        csrf: &token,
        return_to,
        error,
        step_up,
        totp: enrolled.totp,
        passkeys: enrolled.passkeys > 0,
    };
    render(status, &view, cookie.into_iter().collect())
}

/// The second-factor form.
pub async fn show(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let return_to = safe_return(super::query_param(&req, "return_to").as_deref());
    match who(&req, &state).await {
        Ok(Some((who, enrolled))) => {
            let step_up = matches!(who, Who::Session(_));
            page(
                &req,
                &state,
                StatusCode::OK,
                &return_to,
                step_up,
                &enrolled,
                None,
            )
        }
        Ok(None) => see_other(paths::SIGNIN, Vec::new()),
        Err(e) => super::refusal_for(&e),
    }
}

/// Checks the code; finishes the sign-in (a session) or steps the session up, and goes on.
pub async fn submit(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return super::error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    let return_to = safe_return(form.get("return_to"));
    let (who, enrolled) = match who(&req, &state).await {
        Ok(Some(w)) => w,
        Ok(None) => {
            return see_other(
                paths::SIGNIN,
                vec![session::clear_step_cookie(&state.config)],
            )
        }
        Err(e) => return super::refusal_for(&e),
    };
    let step_up = matches!(who, Who::Session(_));
    let again = |status: StatusCode, error: &str| {
        page(
            &req,
            &state,
            status,
            &return_to,
            step_up,
            &enrolled,
            Some(error),
        )
    };
    if !csrf_ok(&req, form.get("csrf")) {
        return again(
            StatusCode::BAD_REQUEST,
            "The form expired. Please try again.",
        );
    }
    let proof = match (form.get("code"), form.get("recovery_code")) {
        (Some(code), _) if !code.trim().is_empty() => Proof::Totp(code.to_owned()),
        (_, Some(code)) if !code.trim().is_empty() => Proof::Recovery(code.to_owned()),
        _ => {
            return again(
                StatusCode::BAD_REQUEST,
                "Enter the code from your authenticator app, or a recovery code.",
            )
        }
    };
    let result = finish(&req, &state, &call, who, proof, &return_to).await;
    match result {
        Ok(res) => res,
        Err(Error::InvalidGrant(_)) => again(
            StatusCode::UNAUTHORIZED,
            "That code is not right, or was used already. Try the next one.",
        ),
        Err(Error::Throttled { retry_after }) => crate::routes::error::retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many wrong codes. Wait a few minutes and try again.",
            ),
            retry_after,
        ),
        Err(Error::InvalidToken(_)) => see_other(
            paths::SIGNIN,
            vec![session::clear_step_cookie(&state.config)],
        ),
        Err(e) => super::refusal_for(&e),
    }
}

async fn finish(
    req: &HttpRequest,
    state: &AppState,
    call: &Call,
    who: Who,
    proof: Proof,
    return_to: &str,
) -> Result<HttpResponse, Error> {
    match who {
        Who::Step(value) => {
            let previous = req
                .cookie(session::SESSION_COOKIE)
                .map(|c| c.value().to_owned());
            let done = second_factor::complete_step(state, call, &value, proof, previous).await?;
            let cookies = vec![
                session::session_cookie(done.session, &state.config),
                session::clear_step_cookie(&state.config),
            ];
            let back = safe_return(Some(&done.return_to));
            if done.needs_terms {
                let target = format!(
                    "{}?return_to={}",
                    paths::TERMS,
                    url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
                );
                return Ok(see_other(&target, cookies));
            }
            Ok(see_other(&back, cookies))
        }
        Who::Session(s) => {
            second_factor::step_up(state, call, &s, proof).await?;
            Ok(see_other(return_to, Vec::new()))
        }
    }
}
