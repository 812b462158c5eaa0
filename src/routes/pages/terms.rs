//! `GET|POST /terms`: accepting the configured terms version before a browser sign-in
//! completes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok, safe_return};
use super::{error_page, render, see_other};
use crate::app::sign_in;
use crate::paths;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/terms.html")]
struct TermsPage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    version: &'a str,
    /// `terms_url`, when configured.
    url: Option<&'a str>,
}

fn signin_redirect(return_to: &str) -> HttpResponse {
    let target = format!(
        "{}?return_to={}",
        paths::SIGNIN,
        url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    );
    see_other(&target, Vec::new())
}

/// The terms page (for a signed-in person).
pub async fn show(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let return_to = safe_return(
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
    );
    let Some(version) = state.config.terms_version.clone() else {
        return see_other(&return_to, Vec::new());
    };
    match session::current(&req, &state).await {
        Ok(Some(_)) => {}
        Ok(None) => return signin_redirect(&return_to),
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "Please try again.",
            )
        }
    }
    let (token, cookie) = csrf(&req, &state.config);
    render(
        StatusCode::OK,
        &TermsPage {
            csrf: &token,
            return_to: &return_to,
            version: &version,
            url: state.config.terms_url.as_deref(),
        },
        cookie.into_iter().collect(),
    )
}

/// Records acceptance and goes on; declining signs out.
pub async fn submit(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    let return_to = safe_return(form.get("return_to"));
    if !csrf_ok(&req, form.get("csrf")) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "Please go back and try again.",
        );
    }
    if state.config.terms_version.is_none() {
        return see_other(&return_to, Vec::new());
    }
    let signed_in = match session::current(&req, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return signin_redirect(&return_to),
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "Please try again.",
            )
        }
    };
    if form.get("decision") != Some("accept") {
        return see_other(paths::LOGOUT, Vec::new());
    }
    match sign_in::accept_terms(&state, &call, &signed_in.user.id).await {
        Ok(()) => see_other(&return_to, Vec::new()),
        Err(e) => {
            tracing::error!(error = %e, "could not record terms acceptance");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "Please try again.",
            )
        }
    }
}
