//! The OAuth 2 token machinery: oxide-auth's authorization-code, refresh and
//! client-credentials state machines driven over our primitives (`endpoint`), the password
//! grant beside them, scope and audience policy, and introspection.

mod endpoint;
pub mod flows;
pub mod introspect;
pub mod policy;

use serde::Serialize;
use utoipa::ToSchema;

use super::keys::KeySet;
use super::Timestamp;
use crate::config::Config;

/// The grants of the token endpoint: one list for client validation, discovery and the
/// dispatch of `/token` (`app::token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    RefreshToken,
    /// RFC 8628 `urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode,
    /// RFC 8693 `urn:ietf:params:oauth:grant-type:token-exchange`.
    TokenExchange,
}

impl GrantType {
    /// Every grant, in the order discovery lists them.
    pub const ALL: [GrantType; 6] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
    ];

    /// The RFC 6749 name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::DeviceCode => super::device::GRANT_TYPE,
            GrantType::TokenExchange => super::exchange::GRANT_TYPE,
        }
    }

    pub fn parse(name: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// What every token operation needs besides a connection.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub keys: &'a KeySet,
    pub now: Timestamp,
    /// Access-token lifetime for this door (the configured one, or a door's own).
    pub access_ttl: u64,
    /// How long revocation entries must be kept (the longest access-token lifetime).
    pub revocation_ttl: u64,
    /// Refresh-token lifetime for this door.
    pub refresh_ttl: u64,
}

impl<'a> Ctx<'a> {
    /// The standard context: configured lifetimes.
    pub fn new(config: &'a Config, keys: &'a KeySet, now: Timestamp) -> Ctx<'a> {
        Ctx {
            config,
            keys,
            now,
            access_ttl: config.tokens.access_token_ttl,
            revocation_ttl: config.revocation_ttl(),
            refresh_ttl: config.tokens.refresh_token_ttl,
        }
    }
}

/// The parameters of a token request (RFC 6749 §4), already parsed by a door.
#[derive(Debug, Clone, Default)]
pub struct TokenParams {
    pub grant_type: String,
    pub scope: Option<String>,
    /// RFC 8707 resource indicators (may repeat).
    pub resources: Vec<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The device code of a device's poll (RFC 8628).
    pub device_code: Option<String>,
    /// The tokens and targets of a token exchange (RFC 8693).
    pub exchange: super::exchange::ExchangeParams,
    /// The thumbprint of the key of the request's DPoP proof, once the application layer has
    /// checked the proof (never read from the request itself).
    pub dpop_jkt: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the key of the request's proof.
    #[schema(pattern = "^(Bearer|DPoP)$")]
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Absent when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// What a token exchange issued (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// With the `openid` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The grant the tokens belong to (not serialised; doors may use it).
    #[serde(skip)]
    pub grant_id: Option<String>,
}
