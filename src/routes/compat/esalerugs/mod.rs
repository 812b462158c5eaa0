//! esalerugs accounts (seed 004, SPEC §5.4): `{"account": {...}}` bodies, `/accounts`,
//! `/account/session` (sign in, refresh, sign out everywhere) and `/account/password`.

mod convert;
mod dto;
pub(crate) mod error;
pub(crate) mod handlers;

use actix_web::HttpResponse;

use crate::app::token::DoorClient;
use crate::core::Error;

/// The internal client whose tokens this door issues: they act on the person's account.
pub const DOOR: DoorClient = DoorClient {
    id: "esalerugs",
    name: "esalerugs accounts",
    scopes: "openid profile email address account",
};

/// A refusal in this API's shape.
pub(crate) fn refusal(e: &Error) -> HttpResponse {
    error::render(e)
}
