//! esalerugs accounts (seed 004, SPEC §5.4): `{"account": {...}}` bodies, `/accounts`,
//! `/account/session` (sign in, refresh, sign out everywhere) and `/account/password`.

mod convert;
mod dto;
mod error;
mod handlers;

use actix_web::web;

/// The internal client whose tokens this door issues.
pub const CLIENT: &str = "esalerugs";

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/accounts").route(web::post().to(handlers::create)))
        .service(
            web::resource("/accounts/{id}")
                .route(web::get().to(handlers::show))
                .route(web::put().to(handlers::update)),
        )
        .service(
            web::resource("/account/session")
                .route(web::post().to(handlers::sign_in))
                .route(web::put().to(handlers::refresh))
                .route(web::delete().to(handlers::sign_out)),
        )
        .service(
            web::resource("/account/password")
                .route(web::post().to(handlers::request_reset))
                .route(web::put().to(handlers::reset)),
        );
}
