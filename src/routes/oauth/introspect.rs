//! `POST /introspect` (RFC 7662): for authenticated confidential clients; refresh tokens are
//! described only to the client they were issued to (SPEC §9).

use actix_web::{web, HttpResponse};

use super::error::oauth_error;
use crate::core::Error;
use crate::routes::auth::ConfidentialClient;
use crate::services::tokens;
use crate::state::AppState;

/// The introspection endpoint.
pub async fn introspect(
    ConfidentialClient(c): ConfidentialClient,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let token = c
            .form
            .get("token")
            .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
        tokens::introspect(&state, &c.client, token).await
    }
    .await;
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(body),
        Err(e) => oauth_error(&e),
    }
}
