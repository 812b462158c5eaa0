//! The token endpoint's use case (RFC 6749 §3.2): a client the door authenticated asks for
//! tokens under a grant; `GrantType` picks the file that serves it. A new grant is one core
//! flow, one file here and its variant.

pub mod authorization_code;
pub mod client;
pub mod client_credentials;
pub mod device_code;
pub mod door;
pub mod exchange;
pub mod password;
pub mod refresh;

use std::sync::Arc;

pub use client::{authenticate_client, forget_client};
pub use door::{issue_for_user, refresh_by_holder, DoorClient};

use crate::app::Call;
use crate::core::client_auth::Credentials;
use crate::core::clients::ClientRow;
use crate::core::oauth::{Ctx, GrantType, TokenParams, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Options a door may set on a token request.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenOptions {
    /// Issue a refresh token with client credentials (Bloq's API promises one).
    pub refresh_with_client_credentials: bool,
    /// Access-token lifetime in seconds instead of the configured one.
    pub access_ttl: Option<u64>,
    /// Refresh-token lifetime in seconds instead of the configured one.
    pub refresh_ttl: Option<u64>,
    /// Door name for events.
    pub door: &'static str,
}

/// A token request of an authenticated client.
pub struct Input {
    pub client: Arc<ClientRow>,
    pub credentials: Credentials,
    pub params: TokenParams,
    pub options: TokenOptions,
    /// The request's DPoP proof, if any (RFC 9449).
    pub dpop: super::dpop::ProofHeader,
}

/// Serves a token request: its grant's use case.
pub async fn run(state: &AppState, call: &Call, mut input: Input) -> Result<TokenResponse, Error> {
    let name = input.params.grant_type.as_str();
    if name.is_empty() {
        return Err(Error::InvalidRequest("grant_type is required".into()));
    }
    let grant = GrantType::parse(name).ok_or_else(|| {
        Error::UnsupportedGrantType(format!("grant_type `{name}` is not supported"))
    })?;
    // A DPoP proof binds what is issued to its key (checked here, used by the flows).
    input.params.dpop_jkt =
        super::dpop::at_token_endpoint(state, &input.client, &input.dpop).await?;
    match grant {
        GrantType::AuthorizationCode => authorization_code::run(state, call, input).await,
        GrantType::ClientCredentials => client_credentials::run(state, call, input).await,
        GrantType::Password => password::run(state, call, input).await,
        GrantType::RefreshToken => refresh::run(state, call, input).await,
        GrantType::DeviceCode => device_code::run(state, call, input).await,
        GrantType::TokenExchange => exchange::run(state, call, input).await,
    }
}

/// The flows' context with a door's lifetime overrides.
pub(crate) fn context<'a>(
    config: &'a crate::config::Config,
    keys: &'a crate::core::keys::KeySet,
    now: crate::core::Timestamp,
    options: TokenOptions,
) -> Ctx<'a> {
    let mut ctx = Ctx::new(config, keys, now);
    if let Some(ttl) = options.access_ttl {
        ctx.access_ttl = ttl;
    }
    if let Some(ttl) = options.refresh_ttl {
        ctx.refresh_ttl = ttl;
    }
    ctx
}
