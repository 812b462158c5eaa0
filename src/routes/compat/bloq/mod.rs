//! Bloq Accounts API (seed 003, SPEC §5.3): `/auth` (Basic -> account token, 12 h),
//! `/auth/token` (client keys' tokens, camelCase), `/users/me` (profile, password, client keys,
//! events) and email verification by token.

mod convert;
mod dto;
mod error;
mod handlers;

use actix_web::web;

/// The internal client of account access tokens.
pub const CLIENT: &str = "bloq-accounts";
/// Account access tokens live 12 hours.
pub const ACCOUNT_TOKEN_TTL: u64 = 12 * 3600;
/// Client refresh tokens live a year.
pub const CLIENT_REFRESH_TTL: u64 = 365 * 86400;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth").route(web::post().to(handlers::auth)))
        .service(web::resource("/auth/token").route(web::post().to(handlers::token)))
        .service(web::resource("/users/me").route(web::get().to(handlers::me)))
        .service(web::resource("/users/me/password").route(web::put().to(handlers::password)))
        .service(
            web::resource("/users/me/client-keys")
                .route(web::post().to(handlers::create_key))
                .route(web::get().to(handlers::list_keys)),
        )
        .service(
            web::resource("/users/me/client-keys/{id}")
                .route(web::delete().to(handlers::delete_key)),
        )
        .service(web::resource("/users/me/events").route(web::get().to(handlers::events)))
        .service(
            web::resource("/users/{user_id}/token/{token}").route(web::put().to(handlers::verify)),
        );
}
