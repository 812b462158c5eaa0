//! The discovery documents: OpenID Connect Discovery 1.0 and RFC 8414 metadata. Every value
//! advertised here is something this server does.

use serde::Serialize;

use crate::config::Config;
use crate::paths;

/// Server metadata. Fields stay out of the document until the feature behind them exists.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<&'static str>>,
}

/// The metadata document; `openid` selects the OpenID Connect flavour.
pub fn metadata(config: &Config, openid: bool) -> Metadata {
    Metadata {
        issuer: config.issuer().to_owned(),
        jwks_uri: config.url(paths::JWKS),
        subject_types_supported: openid.then(|| vec!["public"]),
    }
}
