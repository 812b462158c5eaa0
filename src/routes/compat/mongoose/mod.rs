//! Mongoose OS cloud `Account` and `Auth` RPC services (seeds 000 and 001, SPEC §5.1):
//! `POST /v1/<Service>.<Method>` (a whole frame, bare args, or nothing), `GET` with args in the
//! query, and `POST /rpc` with a whole frame.

mod convert;
mod dto;
mod error;
mod handlers;

use actix_web::web;

/// Mounts the RPC routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/{method}")
            .route(web::post().to(handlers::post))
            .route(web::get().to(handlers::get)),
    )
    .service(web::resource("/rpc").route(web::post().to(handlers::rpc)));
}
