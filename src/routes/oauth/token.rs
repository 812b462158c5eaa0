//! `POST /token` (RFC 6749 §3.2): the client is authenticated by the `Client` policy; the
//! grant runs; the answer carries `Cache-Control: no-store`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::oauth_error;
use crate::core::oauth::TokenParams;
use crate::routes::auth::Client;
use crate::routes::extract::{self, Form};
use crate::services::tokens::{self, TokenOptions};
use crate::state::AppState;

/// The token endpoint.
pub async fn token(c: Client, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = token_params(&c.form);
    let ip = extract::client_ip(&req, &state.config);
    match tokens::token_request(
        &state,
        c.client,
        c.credentials,
        params,
        &ip,
        TokenOptions::default(),
    )
    .await
    {
        Ok(res) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(res),
        Err(e) => oauth_error(&e),
    }
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
