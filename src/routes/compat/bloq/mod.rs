//! Bloq Accounts API (seed 003, SPEC §5.3): `/auth` (Basic -> account token, 12 h),
//! `/auth/token` (client keys' tokens, camelCase), `/users/me` (profile, password, client keys,
//! events) and email verification by token.

mod convert;
mod dto;
pub(crate) mod error;
pub(crate) mod handlers;

use actix_web::HttpResponse;

use crate::app::token::DoorClient;
use crate::core::Error;

/// The internal client of account access tokens: they act on the person's account.
pub const DOOR: DoorClient = DoorClient {
    id: "bloq-accounts",
    name: "Bloq accounts",
    scopes: "openid profile email address account",
};
/// Account access tokens live 12 hours.
pub const ACCOUNT_TOKEN_TTL: u64 = 12 * 3600;

/// A refusal in this API's shape.
pub(crate) fn refusal(e: &Error) -> HttpResponse {
    error::render(e)
}
