//! `POST /revoke` (RFC 7009): for authenticated confidential clients; 200 for unknown tokens.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::oauth_error;
use super::introspect::confidential_client;
use super::token::body_error;
use crate::core::Error;
use crate::routes::extract::Form;
use crate::services::tokens;
use crate::state::AppState;

/// The revocation endpoint.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return body_error(e),
    };
    let result = async {
        let client = confidential_client(&req, &form, &state).await?;
        let token = form
            .get("token")
            .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
        tokens::revoke(&state, &client, token).await
    }
    .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => oauth_error(&e),
    }
}
