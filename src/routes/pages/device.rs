//! `GET|POST /device` (RFC 8628 §3.3): a signed-in person types the user code their device
//! shows (or arrives with it from `verification_uri_complete`), sees which app asks for what
//! and compares the code, then approves or denies. A wrong code is an error on the same page
//! and counts against the IP (`app::device::find`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{csrf, csrf_ok};
use super::{error_page, query_param, refusal_for, render, see_other};
use crate::app::device::{self, Pending};
use crate::app::Call;
use crate::core::authorize::{Next, SignedIn};
use crate::core::Error;
use crate::paths;
use crate::routes::auth::{Admitted, Session};
use crate::routes::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/device.html")]
struct DevicePage<'a> {
    csrf: &'a str,
    who: &'a str,
    /// `enter` (type the code), `confirm` (approve or deny), or `done`.
    step: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
    client_name: &'a str,
    scopes: Vec<(&'a str, &'static str)>,
    /// On `done`: whether the device was approved.
    approved: bool,
    /// The app registered itself (RFC 7591): nobody here vouches for its name.
    self_registered: bool,
}

const NOT_FOUND: &str =
    "That code is not valid, or it has expired. Check the code on your device and try again.";

fn who(s: &SignedIn) -> String {
    s.user.username.clone().unwrap_or(s.user.email.clone())
}

#[allow(clippy::too_many_arguments)]
fn page(
    req: &HttpRequest,
    state: &AppState,
    s: &SignedIn,
    status: StatusCode,
    step: &str,
    user_code: &str,
    error: Option<&str>,
    pending: Option<&Pending>,
    approved: bool,
) -> HttpResponse {
    let (token, cookie) = csrf(req, &state.config);
    let scopes = pending
        .map(|p| {
            p.scope
                .split_whitespace()
                .filter(|s| !crate::core::principal::scopes::PRIVILEGED.contains(s))
                .map(|s| (s, super::consent::describe(s)))
                .collect()
        })
        .unwrap_or_default();
    let who = who(s);
    render(
        status,
        &DevicePage {
            csrf: &token,
            who: &who,
            step,
            user_code,
            error,
            client_name: pending.map(|p| p.client.name.as_str()).unwrap_or_default(),
            scopes,
            approved,
            self_registered: pending.is_some_and(|p| p.client.dynamic),
        },
        cookie.into_iter().collect(),
    )
}

/// Where to go back to after a step of the sign-in: this page with the code.
fn back_here(user_code: &str) -> String {
    let back = format!(
        "{}?{}",
        paths::DEVICE,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", user_code)
            .finish()
    );
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &back)
        .finish()
}

/// Looks the code up and shows the decision (or what must come first), or the entry form
/// with an error.
async fn look_up(
    req: &HttpRequest,
    state: &AppState,
    call: &Call,
    s: &SignedIn,
    typed: &str,
) -> HttpResponse {
    match device::find(state, call, s, typed).await {
        Ok(Some(p)) => match p.first {
            None => page(
                req,
                state,
                s,
                StatusCode::OK,
                "confirm",
                &p.user_code,
                None,
                Some(&p),
                false,
            ),
            Some(Next::SecondFactor) => see_other(
                &format!("{}?{}", paths::SECOND_FACTOR, back_here(&p.user_code)),
                Vec::new(),
            ),
            Some(Next::Terms) => see_other(
                &format!("{}?{}", paths::TERMS, back_here(&p.user_code)),
                Vec::new(),
            ),
            Some(_) => error_page(
                StatusCode::FORBIDDEN,
                "A second factor is needed",
                "This app, or this server's policy, needs you to sign in with a second factor, and you have none yet. Set one up on your account page (/account, under \"Second factor\"), then enter the code again.",
            ),
        },
        Ok(None) => page(
            req,
            state,
            s,
            StatusCode::BAD_REQUEST,
            "enter",
            typed,
            Some(NOT_FOUND),
            None,
            false,
        ),
        Err(e @ Error::Throttled { .. }) => super::refusal(req, &e),
        Err(e) => refusal_for(&e),
    }
}

/// The page: the entry form, or with `?user_code=` the decision for that code.
pub async fn show(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    match query_param(&req, "user_code").filter(|c| !c.trim().is_empty()) {
        Some(code) => look_up(&req, &state, &call, &s, &code).await,
        None => page(
            &req,
            &state,
            &s,
            StatusCode::OK,
            "enter",
            "",
            None,
            None,
            false,
        ),
    }
}

/// A typed code (no `decision`: show the decision), or the decision on one.
pub async fn submit(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    let typed = form.get("user_code").unwrap_or_default().to_owned();
    if !csrf_ok(&req, form.get("csrf")) {
        return page(
            &req,
            &state,
            &s,
            StatusCode::BAD_REQUEST,
            "enter",
            &typed,
            Some("The form expired. Please try again."),
            None,
            false,
        );
    }
    let approve = match form.get("decision") {
        None => return look_up(&req, &state, &call, &s, &typed).await,
        Some("allow") => true,
        Some("deny") => false,
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "decision must be allow or deny",
            )
        }
    };
    match device::decide(&state, &call, &s, &typed, approve).await {
        Ok(true) => page(
            &req,
            &state,
            &s,
            StatusCode::OK,
            "done",
            &typed,
            None,
            None,
            approve,
        ),
        Ok(false) => page(
            &req,
            &state,
            &s,
            StatusCode::BAD_REQUEST,
            "enter",
            &typed,
            Some(NOT_FOUND),
            None,
            false,
        ),
        Err(e @ Error::Throttled { .. }) => super::refusal(&req, &e),
        // Something must come first (a second factor, the terms): the look-up says where.
        Err(Error::Forbidden(_)) => look_up(&req, &state, &call, &s, &typed).await,
        Err(e) => refusal_for(&e),
    }
}
