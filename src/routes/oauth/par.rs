//! `POST /par` (RFC 9126): an authenticated client pushes its authorization request (plain
//! parameters or a signed request object) and gets a short-lived, single-use `request_uri`
//! to send the browser to `/authorize` with.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::error::oauth_error;
use crate::app;
use crate::routes::auth::{Admitted, Client};
use crate::routes::error::{json_error, ErrorBody};
use crate::state::AppState;

/// A pushed request's URI (RFC 9126 §2.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PushedRequest {
    /// `urn:ietf:params:oauth:request_uri:...`: send it to `/authorize` with the client_id.
    pub request_uri: String,
    /// Seconds left to start the authorization with it.
    pub expires_in: i64,
}

/// A pushed authorization request: the parameters `/authorize` takes, or a request object.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PushRequest {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// A signed request object (RFC 9101) carrying the parameters instead.
    pub request: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// The pushed authorization request endpoint.
#[utoipa::path(post, path = "/par", tag = "oauth",
    request_body(content = PushRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, body = PushedRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security((), ("basic" = [])))]
pub async fn push(
    Admitted { who: c, call }: Admitted<Client>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let pairs = c.form.pairs().to_vec();
    match app::authorize::push(&state, &call, &c.client, pairs).await {
        Ok(Ok((request_uri, expires_in))) => HttpResponse::Created()
            .insert_header(("Cache-Control", "no-store"))
            .json(PushedRequest {
                request_uri,
                expires_in,
            }),
        Ok(Err((error, description))) => json_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            error,
            &description,
        ),
        Err(e) => oauth_error(&e),
    }
}
