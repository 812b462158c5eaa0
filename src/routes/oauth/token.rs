//! `POST /token` (RFC 6749 §3.2): the `Client` policy authenticates the client from the form;
//! the grant runs (`app::token`), with the request's DPoP proof if any; the answer carries
//! `Cache-Control: no-store`, and the server's DPoP nonce when `security.dpop_nonce` is on.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::TokenRequest;
use super::error::oauth_error;
use crate::app::token::{self, TokenOptions};
use crate::core::oauth::TokenResponse;
use crate::routes::auth::{Admitted, Client};
use crate::routes::error::ErrorBody;
use crate::state::AppState;

/// The token endpoint.
#[utoipa::path(post, path = "/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security((), ("basic" = [])))]
pub async fn token(
    Admitted { who: c, call }: Admitted<Client>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let input = token::Input {
        params: TokenRequest::read(&c.form).params(),
        client: c.client,
        credentials: c.credentials,
        options: TokenOptions::default(),
        dpop: crate::routes::extract::dpop_proof(&req),
    };
    let mut res = match token::run(&state, &call, input).await {
        Ok(res) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(res),
        Err(e) => oauth_error(&e),
    };
    if let Some(nonce) = crate::app::dpop::current_nonce(&state).await {
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&nonce) {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("dpop-nonce"),
                v,
            );
        }
    }
    res
}
