//! `GET|POST /logout`: OpenID Connect RP-Initiated Logout 1.0. A confirmation page, then the
//! session ends and the browser goes to the registered `post_logout_redirect_uri` with
//! `state`, or to a signed-out page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::app::logout::{self, Logout};
use crate::app::Call;
use crate::core::Error;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::Form;
use crate::routes::pages::session::{self, csrf, csrf_ok};
use crate::routes::pages::{error_page, render, see_other};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/logout.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    client_name: Option<&'a str>,
    post_logout_redirect_uri: &'a str,
    state: &'a str,
    client_id: &'a str,
}

#[derive(Template)]
#[template(path = "pages/signed_out.html")]
struct SignedOutPage;

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// A logout request's parameters (query or confirmation form).
fn request(pairs: &[(String, String)]) -> logout::Request {
    logout::Request {
        id_token_hint: param(pairs, "id_token_hint"),
        client_id: param(pairs, "client_id"),
        post_logout_redirect_uri: param(pairs, "post_logout_redirect_uri"),
        state: param(pairs, "state"),
    }
}

/// The request checked, or the page that says why not.
async fn validate(
    state: &AppState,
    call: &Call,
    pairs: &[(String, String)],
) -> Result<Logout, HttpResponse> {
    match logout::validate(state, call, request(pairs)).await {
        Ok(l) => Ok(l),
        Err(Error::Invalid { message, .. }) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-out link is not valid",
            &message,
        )),
        Err(e) => Err(crate::routes::pages::refusal_for(&e)),
    }
}

fn finish(state: &AppState, l: &Logout) -> HttpResponse {
    let clear = session::clear_session_cookie(&state.config);
    match &l.redirect {
        Some(uri) => {
            let mut u = match url::Url::parse(uri) {
                Ok(u) => u,
                Err(_) => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        "Invalid request",
                        "The redirect URI is invalid.",
                    )
                }
            };
            if let Some(s) = &l.state {
                u.query_pairs_mut().append_pair("state", s);
            }
            see_other(u.as_str(), vec![clear])
        }
        None => render(StatusCode::OK, &SignedOutPage, vec![clear]),
    }
}

/// GET: asks for confirmation (or, with no session, goes straight on).
pub async fn show(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let l = match validate(&state, &call, &pairs).await {
        Ok(l) => l,
        Err(res) => return res,
    };
    if !matches!(session::current(&req, &state).await, Ok(Some(_))) {
        return finish(&state, &l);
    }
    let (token, cookie) = csrf(&req, &state.config);
    render(
        StatusCode::OK,
        &ConfirmPage {
            csrf: &token,
            client_name: l.client_name.as_deref(),
            post_logout_redirect_uri: l.redirect.as_deref().unwrap_or_default(),
            state: l.state.as_deref().unwrap_or_default(),
            client_id: l.client_id.as_deref().unwrap_or_default(),
        },
        cookie.into_iter().collect(),
    )
}

/// POST: the confirmation; ends the session.
pub async fn submit(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()),
    };
    if !csrf_ok(&req, form.get("csrf")) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "Go back and try again.",
        );
    }
    let pairs: Vec<(String, String)> = ["post_logout_redirect_uri", "state", "client_id"]
        .iter()
        .filter_map(|k| form.get(k).map(|v| (k.to_string(), v.to_owned())))
        .collect();
    let l = match validate(&state, &call, &pairs).await {
        Ok(l) => l,
        Err(res) => return res,
    };
    if let Some(value) = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
    {
        if let Err(e) = logout::end_session(&state, &call, value).await {
            tracing::error!(error = %e, "could not end a session");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            );
        }
    }
    finish(&state, &l)
}
