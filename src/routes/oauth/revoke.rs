//! `POST /revoke` (RFC 7009): for authenticated confidential clients, and only their own
//! tokens (others: `unauthorized_client`); 200 for unknown tokens.

use actix_web::{web, HttpResponse};

use super::error::oauth_error;
use crate::app;
use crate::core::Error;
use crate::routes::auth::{Admitted, ConfidentialClient};
use crate::state::AppState;

/// The revocation endpoint.
pub async fn revoke(
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
        app::revoke::run(&state, &call, &c.client, token).await
    }
    .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => oauth_error(&e),
    }
}
