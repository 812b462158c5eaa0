//! `POST /token` (RFC 6749 §3.2): parse the form and client credentials, run the grant,
//! answer with `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::oauth_error;
use crate::core::oauth::{TokenParams, TokenResponse};
use crate::core::Error;
use crate::routes::error::json_error;
use crate::routes::extract::{self, BodyError, Form};
use crate::services::tokens::{self, TokenOptions};
use crate::state::AppState;

/// The token endpoint.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return body_error(e),
    };
    match handle(&req, &form, &state).await {
        Ok(res) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(res),
        Err(e) => oauth_error(&e),
    }
}

async fn handle(req: &HttpRequest, form: &Form, state: &AppState) -> Result<TokenResponse, Error> {
    let credentials = extract::client_credentials(req, form)?;
    let params = token_params(form);
    let ip = extract::client_ip(req, &state.config);
    tokens::token_request(state, credentials, params, &ip, TokenOptions::default()).await
}

/// The RFC 6749 parameters of a form.
pub fn token_params(form: &Form) -> TokenParams {
    TokenParams {
        grant_type: form.get_owned("grant_type").unwrap_or_default(),
        scope: form.get_owned("scope"),
        resources: form.all("resource"),
        code: form.get_owned("code"),
        redirect_uri: form.get_owned("redirect_uri"),
        code_verifier: form.get_owned("code_verifier"),
        refresh_token: form.get_owned("refresh_token"),
        username: form.get_owned("username"),
        password: form.get_owned("password"),
    }
}

/// A body that could not be read, as an OAuth error (413 for an oversize body).
pub fn body_error(e: BodyError) -> HttpResponse {
    match e {
        BodyError::TooLarge(_) => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &e.to_string(),
        ),
        e => oauth_error(&Error::InvalidRequest(e.to_string())),
    }
}
