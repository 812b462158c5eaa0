//! The standard OAuth 2 / OpenID Connect endpoints.

mod discovery;
pub mod error;
mod introspect;
mod jwks;
mod revoke;
pub mod token;

use actix_web::web;

use crate::paths;

/// Mounts the standard endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(paths::OPENID_CONFIGURATION)
            .route(web::get().to(discovery::openid_configuration)),
    )
    .service(
        web::resource(paths::OAUTH_AUTHORIZATION_SERVER)
            .route(web::get().to(discovery::oauth_authorization_server)),
    )
    .service(web::resource(paths::JWKS).route(web::get().to(jwks::jwks)))
    .service(web::resource(paths::TOKEN).route(web::post().to(token::token)))
    .service(web::resource(paths::INTROSPECT).route(web::post().to(introspect::introspect)))
    .service(web::resource(paths::REVOKE).route(web::post().to(revoke::revoke)));
}
