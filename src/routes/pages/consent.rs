//! The consent page: which application asks for what. The decision is posted to `/consent`
//! (handled with the authorization endpoint).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::render;
use super::session::csrf;
use crate::core::authorize::Validated;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/consent.html")]
struct ConsentPage<'a> {
    csrf: &'a str,
    client_name: &'a str,
    user: &'a str,
    scopes: Vec<(&'a str, &'static str)>,
    authz: &'a str,
    redirect_host: String,
}

/// What a scope lets an application do, in words.
pub(super) fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your account id)",
        "profile" => "See your name and username",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Stay signed in when you are not using it",
        _ => "Use this permission",
    }
}

/// Renders the consent page for a valid request; `authz` is the request's parameters,
/// carried through the form and validated again on submit.
pub fn consent_page(
    req: &HttpRequest,
    state: &AppState,
    v: &Validated,
    user: &str,
    authz: &str,
) -> HttpResponse {
    let (token, cookie) = csrf(req, &state.config);
    let redirect_host = url::Url::parse(&v.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| v.redirect_uri.clone());
    let page = ConsentPage {
        csrf: &token,
        client_name: &v.client.name,
        user,
        scopes: v
            .scope
            .split_whitespace()
            // Never reachable (validation refuses them for untrusted clients, and trusted ones
            // skip consent), and never to be shown: SPEC §9.
            .filter(|s| !crate::core::principal::scopes::PRIVILEGED.contains(s))
            .map(|s| (s, describe(s)))
            .collect(),
        authz,
        redirect_host,
    };
    render(StatusCode::OK, &page, cookie.into_iter().collect())
}
