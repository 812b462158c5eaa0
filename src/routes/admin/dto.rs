//! Wire types of the admin API (with their OpenAPI schemas).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::core::time::rfc3339;

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub admin: bool,
    pub email_verified: bool,
    /// E.164, OpenID's `phone_number`.
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

impl From<&crate::core::users::User> for UserOut {
    fn from(u: &crate::core::users::User) -> Self {
        UserOut {
            id: u.id.clone(),
            email: u.email.clone(),
            username: u.username.clone(),
            name: u.display_name.clone(),
            admin: u.is_admin,
            email_verified: u.email_verified_at.is_some(),
            phone_number: u.phone_number.clone(),
            phone_number_verified: u.phone_number_verified,
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// A user unlocked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocked {
    pub user: UserOut,
    /// Wrong passwords counted against the account in its current window (0: it was not
    /// locked).
    pub wrong_passwords_forgotten: u32,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserOut>,
    /// Matches in all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// 1 to 500 (default 50).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Part of an id, username or email.
    pub q: Option<String>,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    /// 8 to 1024 characters, not a common password.
    pub password: String,
    pub username: Option<String>,
    /// 1-64 of `[A-Za-z0-9._-]`; a UUID when absent.
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub verified: bool,
    /// International form (`+44 20 7946 0958`), stored as E.164.
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
}

/// Changes to a user (absent fields stay; `null` removes username or name).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    pub admin: Option<bool>,
    pub verified: Option<bool>,
    /// International form; `null` removes it. A new number is unverified unless
    /// `phone_number_verified` is true.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<Option<String>>,
    pub phone_number_verified: Option<bool>,
    /// A new password: every older token of the user is revoked.
    pub password: Option<String>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?))
}

/// A client (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub resources: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub trusted: bool,
    pub public: bool,
    pub owner: Option<String>,
    pub cert_thumbprint: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
    /// People must sign in to this app with a second factor.
    pub require_second_factor: bool,
    /// Registered by the client itself (`/register`, RFC 7591): never trusted.
    pub dynamic: bool,
    /// Its public keys (`private_key_jwt`, signed request objects), inline.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where its public keys are published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// Its authorization requests must be pushed (PAR).
    pub require_pushed_authorization_requests: bool,
    /// Its authorization requests must be signed request objects.
    pub require_signed_request_object: bool,
    /// Its token requests must carry a DPoP proof (RFC 9449).
    pub dpop_bound_access_tokens: bool,
    /// The audiences it may exchange tokens for (RFC 8693).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
    /// Where it is told that a person's session ended (OIDC Back-Channel Logout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
}

impl From<&crate::core::clients::Client> for ClientOut {
    fn from(c: &crate::core::clients::Client) -> Self {
        ClientOut {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            kind: c.kind.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            scope: c.scope.clone(),
            resources: c.resources.clone(),
            token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
            trusted: c.trusted,
            public: c.public,
            owner: c.owner.clone(),
            cert_thumbprint: c.cert_thumbprint.clone(),
            expires_at: c.expires_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
            require_second_factor: c.require_second_factor,
            dynamic: c.dynamic,
            jwks: c.metadata.jwks.clone(),
            jwks_uri: c.metadata.jwks_uri.clone(),
            token_endpoint_auth_signing_alg: c.metadata.token_endpoint_auth_signing_alg.clone(),
            request_object_signing_alg: c.metadata.request_object_signing_alg.clone(),
            require_pushed_authorization_requests: c.metadata.require_pushed_authorization_requests,
            require_signed_request_object: c.metadata.require_signed_request_object,
            dpop_bound_access_tokens: c.metadata.dpop_bound_access_tokens,
            token_exchange_audiences: c.metadata.token_exchange_audiences.clone(),
            backchannel_logout_uri: c.metadata.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.metadata.backchannel_logout_session_required,
        }
    }
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    pub name: String,
    pub client_id: Option<String>,
    /// A chosen secret; a 256-bit one is generated when absent (confidential clients).
    pub secret: Option<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub trusted: bool,
    pub kind: Option<String>,
    pub owner: Option<String>,
    /// A PEM certificate for devices.
    pub cert_pem: Option<String>,
    pub expires_in: Option<u64>,
    /// client_secret_basic (default), client_secret_post, client_secret_jwt, private_key_jwt,
    /// or none (public clients).
    pub auth_method: Option<String>,
    /// People must sign in to this app with a second factor.
    #[serde(default)]
    pub require_second_factor: bool,
    /// Its public keys, a JWK Set (for private_key_jwt and signed request objects).
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where it publishes its public keys (https).
    pub jwks_uri: Option<String>,
    /// The one algorithm its client assertions use.
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// The one algorithm its request objects use.
    pub request_object_signing_alg: Option<String>,
    /// Its authorization requests must be pushed (PAR, RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Its authorization requests must be signed request objects (RFC 9101).
    #[serde(default)]
    pub require_signed_request_object: bool,
    /// Its token requests must carry a DPoP proof, binding its tokens to a key (RFC 9449).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The audiences it may exchange tokens for (RFC 8693; it needs the token-exchange grant).
    #[serde(default)]
    pub token_exchange_audiences: Vec<String>,
    /// Where it is told that a person's session ended (OIDC Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
    /// Its logout tokens must carry `sid`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
}

/// A client with its secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client: ClientOut,
}

/// Changes to a client; the result is validated like a new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub trusted: Option<bool>,
    pub require_second_factor: Option<bool>,
    /// New public keys (a JWK Set), replacing `jwks_uri` if it had one; `null` removes them.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "patch")]
    pub jwks: Option<Option<serde_json::Value>>,
    /// A new `jwks_uri`, replacing inline `jwks` if it had them; `null` removes it.
    #[serde(default, deserialize_with = "patch")]
    pub jwks_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub token_endpoint_auth_signing_alg: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub request_object_signing_alg: Option<Option<String>>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub require_signed_request_object: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    /// Replaces the audiences it may exchange tokens for (`[]`: none).
    pub token_exchange_audiences: Option<Vec<String>>,
    /// A new back-channel logout URI; `null` removes it.
    #[serde(default, deserialize_with = "patch")]
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
}

/// A field of a PATCH that may be absent (`None`: unchanged), `null` (`Some(None)`: removed)
/// or a value.
fn patch<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl UpdateClient {
    /// Its change to the client's keys and request settings (the core merges it).
    pub fn metadata_patch(&self) -> crate::core::client_metadata::MetadataPatch {
        crate::core::client_metadata::MetadataPatch {
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg.clone(),
            request_object_signing_alg: self.request_object_signing_alg.clone(),
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            require_signed_request_object: self.require_signed_request_object,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            token_exchange_audiences: self.token_exchange_audiences.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
        }
    }
}

/// A new secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// A signing key and its state.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    pub kid: String,
    pub alg: String,
    /// next, active, retired or expired.
    pub state: String,
    pub created_at: String,
    pub activates_at: String,
    pub retired_at: Option<String>,
    pub encrypted: bool,
}

impl From<&crate::core::keys::KeyInfo> for KeyOut {
    fn from(k: &crate::core::keys::KeyInfo) -> Self {
        KeyOut {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            state: k.state.as_str().into(),
            created_at: rfc3339(k.created_at),
            activates_at: rfc3339(k.activates_at),
            retired_at: k.retired_at.map(rfc3339),
            encrypted: k.encrypted,
        }
    }
}

/// Rotation options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// RS256, ES256 or EdDSA; the configured algorithm when absent.
    pub alg: Option<String>,
    /// Sign with the new key at once (after a compromise).
    #[serde(default)]
    pub now: bool,
}

/// An ACL rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AclOut {
    pub id: String,
    pub subject: String,
    pub target: String,
    pub command: String,
}

/// A new ACL rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAcl {
    pub subject: String,
    /// A user or client id, or `*`.
    pub target: String,
    /// A command glob such as `Sys.*`.
    pub command: String,
}

/// An event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub service: Option<String>,
    pub ip: Option<String>,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub detail: Option<serde_json::Value>,
    pub created_at: String,
}

impl From<&crate::core::events::Event> for EventOut {
    fn from(e: &crate::core::events::Event) -> Self {
        let parse = |s: &Option<String>| s.as_deref().and_then(|v| serde_json::from_str(v).ok());
        EventOut {
            id: e.id.clone(),
            kind: e.kind.clone(),
            user_id: e.user_id.clone(),
            client_id: e.client_id.clone(),
            service: e.service.clone(),
            ip: e.ip.clone(),
            input: parse(&e.input),
            output: parse(&e.output),
            detail: parse(&e.detail),
            created_at: rfc3339(e.created_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// e.g. `signin.failed`, `user.created`, `api.call`.
    pub kind: Option<String>,
    /// RFC 3339: at or after.
    pub since: Option<String>,
    /// RFC 3339: before.
    pub until: Option<String>,
    /// An event id: only older events (paging).
    pub before: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// The error body of every admin route.
pub use crate::routes::error::ErrorBody;

/// An initial access token to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRegistrationToken {
    /// Registrations it allows (1 to 10000; 1 by default).
    pub uses: Option<u32>,
    /// Seconds it lives (a day by default, a year at most).
    pub expires_in: Option<u64>,
    /// What it is for (shown in the list).
    pub note: Option<String>,
}

/// An issued initial access token: the token, shown once, and what it allows.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedRegistrationToken {
    /// Send it as `Authorization: Bearer` to `/register`.
    pub initial_access_token: String,
    pub token: crate::core::registration::InitialAccessToken,
}
