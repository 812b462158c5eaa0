//! `POST /introspect` (RFC 7662): for authenticated confidential clients; refresh tokens are
//! described only to the client they were issued to (SPEC §9).

use actix_web::{web, HttpResponse};

use super::error::oauth_error;
use crate::app;
use crate::core::Error;
use crate::routes::auth::{Admitted, ConfidentialClient};
use crate::state::AppState;

/// The introspection endpoint.
pub async fn introspect(
    Admitted {
        who: ConfidentialClient(c),
        call,
    }: Admitted<ConfidentialClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let token = c
            .form
            .get("token")
            .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
        app::introspect::run(&state, &call, &c.client, token).await
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
