//! `POST /token` (RFC 6749 §3.2): the `Client` policy authenticates the client from the form;
//! the grant runs (`app::token`); the answer carries `Cache-Control: no-store`.

use actix_web::{web, HttpResponse};

use super::error::oauth_error;
use crate::app::token::{self, TokenOptions};
use crate::core::oauth::TokenParams;
use crate::routes::auth::{Admitted, Client};
use crate::routes::extract::Form;
use crate::state::AppState;

/// The token endpoint.
pub async fn token(
    Admitted { who: c, call }: Admitted<Client>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let input = token::Input {
        params: token_params(&c.form),
        client: c.client,
        credentials: c.credentials,
        options: TokenOptions::default(),
    };
    match token::run(&state, &call, input).await {
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
