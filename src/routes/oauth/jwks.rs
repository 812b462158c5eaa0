//! `/jwks`: the public signing keys (next, active and recently retired).

use crate::routes::auth::Public;
use actix_web::{web, HttpResponse};

use crate::core::keys::Jwks;
use crate::state::AppState;

/// The JWK set, cacheable for a while.
///
/// Verifiers may cache it for as long as a new key is published before it signs, less the
/// time nodes take to publish it (at most five minutes).
#[utoipa::path(get, path = "/jwks", tag = "discovery",
    responses((status = 200, body = Jwks, content_type = "application/jwk-set+json")))]
pub async fn jwks(_: Public, state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current().await;
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((
            "Cache-Control",
            format!("public, max-age={}", state.config.jwks_max_age()),
        ))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(keys.jwks_json())
}
