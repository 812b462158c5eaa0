//! The operators' door: a REST API over the same core functions the CLI uses (users,
//! clients, signing keys, ACL rules, events). Every route needs the `Admin` policy (SPEC §8,
//! §9); every call an admin makes is recorded as an event.

pub mod clients;
pub mod dto;
pub mod error;
pub mod resources;
pub mod users;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use crate::core::principal::Principal;
use crate::routes::extract::client_ip;
use crate::state::AppState;

/// Records every call an admin made (who, what, the status): wraps each admin route.
pub(crate) async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let ip = state
        .as_ref()
        .map(|s| client_ip(req.request(), &s.config))
        .unwrap_or_default();
    let res = next.call(req).await?;
    let caller = res.request().extensions().get::<Principal>().cloned();
    if let (Some(state), Some(caller)) = (state, caller) {
        let status = res.status().as_u16();
        crate::app::calls::admin_call(&state, &caller, ip, &method, &path, status);
    }
    Ok(res.map_into_boxed_body())
}
