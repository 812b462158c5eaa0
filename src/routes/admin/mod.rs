//! The operators' door: a REST API over the same core functions the CLI uses (users,
//! clients, signing keys, ACL rules, events). Callers are admins (see `auth`); every call
//! they make is recorded as an event.

pub mod auth;
pub mod clients;
pub mod dto;
pub mod error;
pub mod resources;
pub mod users;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage};
use serde_json::json;

use crate::core::events::NewEvent;
use crate::routes::extract::client_ip;
use crate::services::callers::Caller;
use crate::state::AppState;

/// Mounts `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(record))
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::create))
            .route("/users/{id}", web::get().to(users::get))
            .route("/users/{id}", web::patch().to(users::update))
            .route("/users/{id}", web::delete().to(users::delete))
            .route("/users/{id}/disable", web::post().to(users::disable))
            .route("/users/{id}/enable", web::post().to(users::enable))
            .route(
                "/users/{id}/revoke-tokens",
                web::post().to(users::revoke_tokens),
            )
            .route("/clients", web::get().to(clients::list))
            .route("/clients", web::post().to(clients::create))
            .route("/clients/{id}", web::get().to(clients::get))
            .route("/clients/{id}", web::patch().to(clients::update))
            .route("/clients/{id}", web::delete().to(clients::delete))
            .route(
                "/clients/{id}/rotate-secret",
                web::post().to(clients::rotate_secret),
            )
            .route("/keys", web::get().to(resources::list_keys))
            .route("/keys/rotate", web::post().to(resources::rotate))
            .route("/keys/{kid}/retire", web::post().to(resources::retire))
            .route("/acl", web::get().to(resources::list_acl))
            .route("/acl", web::post().to(resources::add_acl))
            .route("/acl/{id}", web::delete().to(resources::remove_acl))
            .route("/events", web::get().to(resources::events))
            .default_service(web::to(|req: actix_web::HttpRequest| async move {
                crate::routes::error::json_error(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("no admin route for {} {}", req.method(), req.path()),
                )
            })),
    );
}

/// Records every call an admin made (who, what, the status).
async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let ip = state
        .as_ref()
        .map(|s| client_ip(req.request(), &s.config))
        .unwrap_or_default();
    let res = next.call(req).await?;
    let caller = res.request().extensions().get::<Caller>().cloned();
    if let (Some(state), Some(caller)) = (state, caller) {
        let now = state.clock.now_naive();
        state.audit.push(
            &state,
            now,
            NewEvent {
                kind: "admin.call",
                user_id: caller.user.as_ref().map(|u| u.id.clone()),
                client_id: caller.client_id.clone(),
                service: Some("admin".into()),
                ip: Some(ip),
                input: Some(json!({ "method": method, "path": path })),
                output: Some(json!({ "httpStatusCode": res.status().as_u16() })),
                detail: None,
            },
        );
    }
    Ok(res)
}
