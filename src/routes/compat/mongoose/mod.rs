//! Mongoose OS cloud `Account` and `Auth` RPC services (seeds 000 and 001, SPEC §5.1):
//! `POST /v1/<Service>.<Method>` (a whole frame, bare args, or nothing), `GET` with args in the
//! query, and `POST /rpc` with a whole frame.

mod convert;
mod dto;
pub(crate) mod error;
pub(crate) mod handlers;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::core::Error;
use crate::state::AppState;

pub use handlers::METHODS;

/// A refusal as an error frame (outside a method: the request's frame is not known).
pub(crate) fn refusal(req: &HttpRequest, e: &Error) -> HttpResponse {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => handlers::reply(state, &dto::Envelope::default(), Err(e.into())),
        None => crate::routes::error::from_core(e),
    }
}

/// A transport-level answer (413, 408) as an error frame.
pub(crate) fn status(req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => handlers::reply(
            state,
            &dto::Envelope::default(),
            Err(error::RpcError::new(status.as_u16(), message)),
        ),
        None => crate::routes::error::json_error(status, "invalid_request", message),
    }
}
