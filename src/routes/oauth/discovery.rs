//! `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.

use crate::routes::auth::Public;
use actix_web::{web, HttpResponse};

use crate::core::oidc::Metadata;
use crate::state::AppState;

fn document(body: &bytes::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(body.clone())
}

/// OpenID Connect Discovery 1.0.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "OpenID Connect Discovery 1.0", body = Metadata)))]
pub async fn openid_configuration(_: Public, state: web::Data<AppState>) -> HttpResponse {
    document(&state.discovery.0)
}

/// RFC 8414 authorization server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "RFC 8414 metadata", body = Metadata)))]
pub async fn oauth_authorization_server(_: Public, state: web::Data<AppState>) -> HttpResponse {
    document(&state.discovery.1)
}
