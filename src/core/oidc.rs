//! The discovery documents: OpenID Connect Discovery 1.0 and RFC 8414 metadata. Every value
//! advertised here is something this server does.

use serde::Serialize;

use crate::config::Config;
use crate::paths;

/// Client authentication methods of the token, introspection and revocation endpoints.
const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];

/// Server metadata. Fields stay out of the document until the feature behind them exists.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<&'static str>>,
}

/// The metadata document; `openid` selects the OpenID Connect flavour.
pub fn metadata(config: &Config, openid: bool) -> Metadata {
    Metadata {
        issuer: config.issuer().to_owned(),
        jwks_uri: config.url(paths::JWKS),
        token_endpoint: config.url(paths::TOKEN),
        // The authorization_code grant joins with the authorization endpoint.
        grant_types_supported: vec!["client_credentials", "password", "refresh_token"],
        token_endpoint_auth_methods_supported: [AUTH_METHODS, &["none"]].concat(),
        introspection_endpoint: config.url(paths::INTROSPECT),
        introspection_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
        revocation_endpoint: config.url(paths::REVOKE),
        revocation_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
        subject_types_supported: openid.then(|| vec!["public"]),
    }
}
