//! OpenID Connect: the discovery documents (OIDC Discovery 1.0 and RFC 8414, every value true
//! of this server), ID tokens (OIDC Core §2), and userinfo claims by scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

use super::grants::GrantRow;
use super::keys::KeySet;
use super::tokens::sign_claims;
use super::users::User;
use super::{Error, Timestamp};
use crate::config::{Config, SigningAlg};
use crate::paths;

/// Client authentication methods of confidential clients at the token, introspection,
/// revocation and PAR endpoints.
const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
];
/// Scopes with a meaning here.
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];
/// Claims this server can return.
pub const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "sid",
    "amr",
    "acr",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];

/// Server metadata: OpenID Connect Discovery 1.0, or RFC 8414 (without the OpenID Connect
/// fields).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// Dynamic client registration (RFC 7591); absent while `client_registration = "closed"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RFC 9126.
    pub pushed_authorization_request_endpoint: String,
    /// RFC 8628.
    pub device_authorization_endpoint: String,
    pub require_pushed_authorization_requests: bool,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signing_alg_values_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_values_supported: Option<Vec<&'static str>>,
    /// `pwd` (a password) and `mfa` (with a second factor); ask for `mfa` with `acr_values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr_values_supported: Option<Vec<&'static str>>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    /// RFC 9101 request objects, by value or pushed.
    pub request_object_signing_alg_values_supported: Vec<&'static str>,
    pub request_uri_parameter_supported: bool,
    pub require_request_uri_registration: bool,
    /// DPoP proofs (RFC 9449) at the token endpoint and this server's protected routes.
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    /// OpenID Connect Back-Channel Logout 1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_supported: Option<bool>,
}

/// The metadata document; `openid` selects the OpenID Connect flavour.
pub fn metadata(config: &Config, openid: bool) -> Metadata {
    // ID tokens are always RS256 (a key is kept for them); access tokens use keys.algorithm.
    Metadata {
        issuer: config.issuer().to_owned(),
        authorization_endpoint: config.url(paths::AUTHORIZE),
        token_endpoint: config.url(paths::TOKEN),
        jwks_uri: config.url(paths::JWKS),
        userinfo_endpoint: Some(config.url(paths::USERINFO)),
        end_session_endpoint: Some(config.url(paths::LOGOUT)),
        introspection_endpoint: config.url(paths::INTROSPECT),
        introspection_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
        introspection_endpoint_auth_signing_alg_values_supported: signing_algs(),
        revocation_endpoint: config.url(paths::REVOKE),
        revocation_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
        revocation_endpoint_auth_signing_alg_values_supported: signing_algs(),
        registration_endpoint: (config.client_registration
            != crate::config::ClientRegistration::Closed)
            .then(|| config.url(paths::REGISTER)),
        pushed_authorization_request_endpoint: config.url(paths::PAR),
        device_authorization_endpoint: config.url(paths::DEVICE_AUTHORIZATION),
        require_pushed_authorization_requests: config.require_pushed_authorization_requests,
        scopes_supported: SCOPES.to_vec(),
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: super::oauth::GrantType::ALL
            .iter()
            .map(|g| g.as_str())
            .collect(),
        token_endpoint_auth_methods_supported: [AUTH_METHODS, &["none"]].concat(),
        token_endpoint_auth_signing_alg_values_supported: signing_algs(),
        code_challenge_methods_supported: vec!["S256"],
        authorization_response_iss_parameter_supported: true,
        subject_types_supported: openid.then(|| vec!["public"]),
        id_token_signing_alg_values_supported: openid.then(|| vec!["RS256"]),
        userinfo_signing_alg_values_supported: None,
        claims_supported: openid.then(|| CLAIMS.to_vec()),
        prompt_values_supported: openid.then(|| vec!["none", "login", "consent"]),
        acr_values_supported: openid
            .then(|| vec![super::factors::ACR_PWD, super::factors::ACR_MFA]),
        claims_parameter_supported: false,
        request_parameter_supported: true,
        request_object_signing_alg_values_supported: signing_algs(),
        // Only this server's own request URIs (from `/par`) are accepted; none is fetched.
        request_uri_parameter_supported: false,
        require_request_uri_registration: false,
        dpop_signing_alg_values_supported: super::dpop::ALGS.to_vec(),
        backchannel_logout_supported: openid.then_some(true),
        backchannel_logout_session_supported: openid.then_some(true),
    }
}

/// The algorithms clients may sign assertions and request objects with.
fn signing_algs() -> Vec<&'static str> {
    use super::client_metadata::{ASYMMETRIC_ALGS, SYMMETRIC_ALGS};
    [ASYMMETRIC_ALGS, SYMMETRIC_ALGS].concat()
}

/// The claims of an ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub azp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// `mfa` after a second factor, `pwd` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// `at_hash`: the left half of the hash of the access token, with the hash of the signing
/// algorithm (SHA-256 for RS256/ES256, SHA-512 for Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// Signs an ID token for a grant (RS256, per OIDC Core §15.1). No profile claims: they are
/// returned at userinfo. `nonce` only on the code exchange, not on refresh.
pub fn sign_id_token(
    keys: &KeySet,
    config: &Config,
    now: Timestamp,
    grant: &GrantRow,
    access_token: &str,
    with_nonce: bool,
) -> Result<String, Error> {
    let key = keys
        .signing_key_for(SigningAlg::RS256, now)
        .ok_or_else(|| Error::Internal("no signing key is active".into()))?;
    let iat = now.and_utc().timestamp();
    let claims = IdClaims {
        iss: config.issuer().to_owned(),
        sub: grant
            .user_id
            .clone()
            .unwrap_or_else(|| grant.client_id.clone()),
        aud: grant.client_id.clone(),
        exp: iat + config.tokens.id_token_ttl as i64,
        iat,
        auth_time: grant.auth_time.map(|t| t.and_utc().timestamp()),
        nonce: if with_nonce {
            grant.nonce.clone()
        } else {
            None
        },
        azp: grant.client_id.clone(),
        at_hash: Some(at_hash(key.alg, access_token)),
        sid: grant.session_id.clone(),
        amr: grant
            .amr
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok()),
        acr: grant
            .amr
            .as_deref()
            .and_then(|a| serde_json::from_str::<Vec<String>>(a).ok())
            .map(|a| super::factors::acr_of(&a).to_owned()),
    };
    sign_claims(key, "JWT", &claims)
}

/// Verifies an ID token this server issued (for `id_token_hint`): signature and issuer;
/// expired tokens are accepted, as OIDC allows for hints.
pub fn verify_id_token_hint(keys: &KeySet, issuer: &str, token: &str) -> Option<IdClaims> {
    let (payload, _) = josekit::jwt::decode_with_verifier_selector(token, |header| {
        Ok(header
            .key_id()
            .and_then(|kid| keys.by_kid(kid))
            .filter(|k| header.algorithm() == Some(k.alg.as_str()))
            .map(|k| &*k.verifier))
    })
    .ok()?;
    let claims: IdClaims = serde_json::from_value(Value::Object(payload.into())).ok()?;
    (claims.iss == issuer).then_some(claims)
}

/// The userinfo claims a token's scopes release (OIDC Core §5.4): `sub` always; `name`,
/// `preferred_username` and `updated_at` with `profile`; `email` and `email_verified` with
/// `email`; `address` with `address`; `phone_number` and `phone_number_verified` with `phone`
/// (when the user has a number).
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct UserInfoClaims {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// OIDC Core §5.1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub address: Option<Value>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
}

/// The userinfo claims a token's scopes allow (OIDC Core §5.4).
pub fn userinfo(user: &User, scopes: &[&str]) -> UserInfoClaims {
    let mut out = UserInfoClaims {
        sub: user.id.clone(),
        ..Default::default()
    };
    if scopes.contains(&"profile") {
        out.name = user.display_name.clone();
        out.preferred_username = user.username.clone();
        out.updated_at = Some(user.updated_at.and_utc().timestamp());
    }
    if scopes.contains(&"email") {
        out.email = Some(user.email.clone());
        out.email_verified = Some(user.email_verified_at.is_some());
    }
    if scopes.contains(&"address") {
        out.address = user
            .address
            .as_deref()
            .and_then(|a| serde_json::from_str::<Value>(a).ok());
    }
    if scopes.contains(&"phone") {
        if let Some(number) = &user.phone_number {
            out.phone_number = Some(number.clone());
            out.phone_number_verified = Some(user.phone_number_verified);
        }
    }
    out
}
