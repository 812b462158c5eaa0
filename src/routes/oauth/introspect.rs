//! `POST /introspect` (RFC 7662): for authenticated confidential clients; refresh tokens are
//! described only to the client they were issued to (SPEC §9).

use actix_web::{web, HttpResponse};

use super::dto::TokenForm;
use super::error::oauth_error;
use crate::app;
use crate::core::oauth::introspect::Introspection;
use crate::routes::auth::{Admitted, ConfidentialClient};
use crate::routes::error::ErrorBody;
use crate::state::AppState;

/// The introspection endpoint.
#[utoipa::path(post, path = "/introspect", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn introspect(
    Admitted {
        who: ConfidentialClient(c),
        call,
    }: Admitted<ConfidentialClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let form = TokenForm::read(&c.form)?;
        app::introspect::run(&state, &call, &c.client, form.token).await
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
