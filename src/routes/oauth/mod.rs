//! The standard OAuth 2 / OpenID Connect endpoints.

mod authorize;
mod discovery;
pub mod error;
mod introspect;
mod jwks;
mod logout;
mod revoke;
pub mod token;
mod userinfo;

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
    .service(web::resource(paths::REVOKE).route(web::post().to(revoke::revoke)))
    .service(
        web::resource(paths::AUTHORIZE)
            .route(web::get().to(authorize::authorize))
            .route(web::post().to(authorize::authorize_post)),
    )
    .service(web::resource(paths::CONSENT).route(web::post().to(authorize::decide)))
    .service(
        web::resource(paths::USERINFO)
            .route(web::get().to(userinfo::get))
            .route(web::post().to(userinfo::post)),
    )
    .service(
        web::resource(paths::LOGOUT)
            .route(web::get().to(logout::show))
            .route(web::post().to(logout::submit)),
    );
}
