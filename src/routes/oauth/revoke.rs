//! `POST /revoke` (RFC 7009): for authenticated confidential clients, and only their own
//! tokens (others: `unauthorized_client`); 200 for unknown tokens.

use actix_web::{web, HttpResponse};

use super::dto::TokenForm;
use super::error::oauth_error;
use crate::app;
use crate::routes::auth::{Admitted, ConfidentialClient};
use crate::routes::error::ErrorBody;
use crate::state::AppState;

/// The revocation endpoint.
#[utoipa::path(post, path = "/revoke", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or unknown"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn revoke(
    Admitted {
        who: ConfidentialClient(c),
        call,
    }: Admitted<ConfidentialClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let form = TokenForm::read(&c.form)?;
        app::revoke::run(&state, &call, &c.client, form.token).await
    }
    .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => oauth_error(&e),
    }
}
