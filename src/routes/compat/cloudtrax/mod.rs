//! CloudTrax account management (seed 002, SPEC §5.2): HMAC-signed requests, `GET /time`,
//! `POST /account/login`, embed credentials per network and the service agreement.

mod dto;
mod error;
mod handlers;

use actix_web::web;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/time").route(web::get().to(handlers::time)))
        .service(web::resource("/account/login").route(web::post().to(handlers::login)))
        .service(
            web::resource("/account/credential/{network}/embed")
                .route(web::get().to(handlers::embed))
                .route(web::delete().to(handlers::delete_embed)),
        )
        .service(
            web::resource("/account/service_agreement")
                .route(web::get().to(handlers::agreement))
                .route(web::put().to(handlers::agree)),
        );
}
