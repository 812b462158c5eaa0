//! `POST /introspect` (RFC 7662): for authenticated confidential clients.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::oauth_error;
use super::token::body_error;
use crate::core::clients::ClientRow;
use crate::core::Error;
use crate::routes::extract::{self, Form};
use crate::services::tokens;
use crate::state::AppState;

/// Authenticates the calling client and requires it to be confidential.
pub async fn confidential_client(
    req: &HttpRequest,
    form: &Form,
    state: &AppState,
) -> Result<std::sync::Arc<ClientRow>, Error> {
    let credentials = extract::client_credentials(req, form)?;
    let ip = extract::client_ip(req, &state.config);
    let client = tokens::authenticate_client(state, &credentials, &ip).await?;
    if client.secret_hash.is_none() {
        return Err(Error::InvalidClient(
            "only confidential clients may call this endpoint".into(),
        ));
    }
    Ok(client)
}

/// The introspection endpoint.
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return body_error(e),
    };
    let result = async {
        confidential_client(&req, &form, &state).await?;
        let token = form
            .get("token")
            .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
        tokens::introspect(&state, token).await
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
