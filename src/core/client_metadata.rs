//! What a client registered beyond the `clients` columns, kept in its `metadata` JSON: its
//! public keys (`jwks` or `jwks_uri`, RFC 7591 §2) and the algorithms it signs with, whether it
//! must push (RFC 9126) or sign (RFC 9101) its authorization requests, a second-factor
//! requirement, and the descriptive fields of dynamic registration. Checked whole on every
//! create and update.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Error;

/// Asymmetric JWS algorithms a client may sign assertions and request objects with.
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];
/// HMAC algorithms (`client_secret_jwt`, and request objects of clients with a sealed secret).
pub const SYMMETRIC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];
/// At most this many keys in a client's `jwks`.
pub const MAX_KEYS: usize = 10;
/// The largest `jwks` (inline or fetched), in bytes.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;

/// The metadata JSON of a client.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClientMetadata {
    /// People must sign in to this app with a second factor.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_second_factor: bool,
    /// The client's public keys, inline (a JWK Set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm its client assertions use (any supported one when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// The one algorithm its request objects use (any supported one when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// Its authorization requests must come through `/par`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// Its authorization requests must be signed request objects.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_request_object: bool,
    /// Its token requests must carry a DPoP proof, so its tokens are always bound to a key
    /// (RFC 9449 §5.2).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// The audiences it may exchange tokens for (RFC 8693, with the token-exchange grant);
    /// none: it may not. An admin's setting, never a client's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
    /// Where it is told, server to server, that a person's session ended (OpenID Connect
    /// Back-Channel Logout 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Its logout tokens must name the session (`sid`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_session_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

impl ClientMetadata {
    /// From the stored JSON. Every version writes it checked; should a field ever be
    /// unreadable, the requirements fail closed (all on) rather than silently off.
    pub fn parse(text: &str) -> ClientMetadata {
        serde_json::from_str(text).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a client's metadata is unreadable; requiring everything");
            ClientMetadata {
                require_second_factor: true,
                require_pushed_authorization_requests: true,
                require_signed_request_object: true,
                dpop_bound_access_tokens: true,
                ..Default::default()
            }
        })
    }

    /// As the JSON stored in the `metadata` column.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()))
    }

    /// Whether the client has public keys registered.
    pub fn has_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }

    /// Checks the metadata for a client authenticating with `auth_method`. `allow_private`
    /// admits a plain-http or private `jwks_uri` (development).
    pub fn check(&self, auth_method: &str, allow_private: bool) -> Result<(), Error> {
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(Error::invalid(
                "jwks",
                "register either jwks or jwks_uri, not both",
            ));
        }
        if let Some(jwks) = &self.jwks {
            parse_jwks(jwks).map_err(|m| Error::invalid("jwks", m))?;
        }
        if let Some(uri) = &self.jwks_uri {
            check_fetch_url(uri, allow_private).map_err(|m| Error::invalid("jwks_uri", m))?;
        }
        if auth_method == "private_key_jwt" && !self.has_keys() {
            return Err(Error::invalid(
                "jwks",
                "private_key_jwt needs the client's public keys: jwks or jwks_uri",
            ));
        }
        if let Some(alg) = &self.token_endpoint_auth_signing_alg {
            let allowed = match auth_method {
                "private_key_jwt" => ASYMMETRIC_ALGS,
                "client_secret_jwt" => SYMMETRIC_ALGS,
                _ => {
                    return Err(Error::invalid(
                        "token_endpoint_auth_signing_alg",
                        "only for private_key_jwt and client_secret_jwt",
                    ))
                }
            };
            one_of("token_endpoint_auth_signing_alg", alg, allowed)?;
        }
        if let Some(alg) = &self.request_object_signing_alg {
            if SYMMETRIC_ALGS.contains(&alg.as_str()) {
                if auth_method != "client_secret_jwt" {
                    return Err(Error::invalid(
                        "request_object_signing_alg",
                        "HMAC request objects are for client_secret_jwt clients (whose secret the server can read)",
                    ));
                }
            } else {
                one_of("request_object_signing_alg", alg, ASYMMETRIC_ALGS)?;
                if !self.has_keys() {
                    return Err(Error::invalid(
                        "request_object_signing_alg",
                        "signed request objects need the client's public keys: jwks or jwks_uri",
                    ));
                }
            }
        }
        if self.require_signed_request_object
            && !self.has_keys()
            && auth_method != "client_secret_jwt"
        {
            return Err(Error::invalid(
                "require_signed_request_object",
                "needs keys to check the signature: jwks or jwks_uri",
            ));
        }
        for (field, uri) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(uri) = uri {
                web_url(uri).map_err(|m| Error::invalid(field, m))?;
            }
        }
        if self.contacts.len() > 10 {
            return Err(Error::invalid("contacts", "at most 10"));
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            // The server posts to it: the same rules as a jwks_uri (no private addresses).
            check_fetch_url(uri, allow_private)
                .map_err(|m| Error::invalid("backchannel_logout_uri", m))?;
        }
        if self.backchannel_logout_session_required && self.backchannel_logout_uri.is_none() {
            return Err(Error::invalid(
                "backchannel_logout_session_required",
                "needs a backchannel_logout_uri",
            ));
        }
        if self.token_exchange_audiences.len() > 20 {
            return Err(Error::invalid("token_exchange_audiences", "at most 20"));
        }
        for a in &self.token_exchange_audiences {
            if a.is_empty()
                || a.len() > 255
                || a.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Error::invalid(
                    "token_exchange_audiences",
                    "each audience is a URI or a name of 1 to 255 characters without spaces",
                ));
            }
        }
        for c in &self.contacts {
            super::validate::text("contacts", c, 320)?;
        }
        for (field, v) in [
            ("software_id", &self.software_id),
            ("software_version", &self.software_version),
        ] {
            if let Some(v) = v {
                super::validate::text(field, v, 200)?;
            }
        }
        Ok(())
    }
}

/// An admin's change to a client's keys and request settings (`PATCH /admin/clients/{id}`):
/// an absent field stays, `Some(None)` removes it. New `jwks` replace a `jwks_uri` and the
/// other way round.
#[derive(Debug, Default, Clone)]
pub struct MetadataPatch {
    pub jwks: Option<Option<Value>>,
    pub jwks_uri: Option<Option<String>>,
    pub token_endpoint_auth_signing_alg: Option<Option<String>>,
    pub request_object_signing_alg: Option<Option<String>>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub require_signed_request_object: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub token_exchange_audiences: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
}

impl MetadataPatch {
    /// `current` with the patch applied (checked whole later, with the rest of the client).
    pub fn apply(&self, current: &ClientMetadata) -> Result<ClientMetadata, Error> {
        if matches!((&self.jwks, &self.jwks_uri), (Some(Some(_)), Some(Some(_)))) {
            return Err(Error::invalid(
                "jwks",
                "send either jwks or jwks_uri, not both",
            ));
        }
        let mut m = current.clone();
        if let Some(jwks) = &self.jwks {
            m.jwks = jwks.clone();
            if jwks.is_some() {
                m.jwks_uri = None;
            }
        }
        if let Some(uri) = &self.jwks_uri {
            m.jwks_uri = uri.clone();
            if uri.is_some() {
                m.jwks = None;
            }
        }
        if let Some(alg) = &self.token_endpoint_auth_signing_alg {
            m.token_endpoint_auth_signing_alg = alg.clone();
        }
        if let Some(alg) = &self.request_object_signing_alg {
            m.request_object_signing_alg = alg.clone();
        }
        if let Some(v) = self.require_pushed_authorization_requests {
            m.require_pushed_authorization_requests = v;
        }
        if let Some(v) = self.require_signed_request_object {
            m.require_signed_request_object = v;
        }
        if let Some(v) = self.dpop_bound_access_tokens {
            m.dpop_bound_access_tokens = v;
        }
        if let Some(v) = &self.token_exchange_audiences {
            m.token_exchange_audiences = v.clone();
        }
        if let Some(v) = &self.backchannel_logout_uri {
            m.backchannel_logout_uri = v.clone();
        }
        if let Some(v) = self.backchannel_logout_session_required {
            m.backchannel_logout_session_required = v;
        }
        Ok(m)
    }
}

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

/// A descriptive URL (`client_uri`, `logo_uri`, ...): http or https, no fragment.
fn web_url(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|_| format!("`{uri}` is not an absolute URL"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err("must be an http or https URL".into());
    }
    if uri.len() > 2048 {
        return Err("is too long".into());
    }
    Ok(())
}

/// A URL the server may fetch a client's keys from: https, a host name or public address, no
/// credentials or fragment. With `allow_private`, plain http and private addresses too.
/// (Host names are checked again where they resolve: `runtime::fetch`.)
pub fn check_fetch_url(uri: &str, allow_private: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(uri).map_err(|_| format!("`{uri}` is not an absolute URL"))?;
    if uri.len() > 2048 {
        return Err("is too long".into());
    }
    match u.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must be an https URL".into()),
    }
    if u.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not contain credentials".into());
    }
    match u.host() {
        None => return Err("has no host".into()),
        Some(url::Host::Ipv4(ip)) if !allow_private && !super::netaddr::is_public(ip.into()) => {
            return Err("points at a private or loopback address".into())
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !super::netaddr::is_public(ip.into()) => {
            return Err("points at a private or loopback address".into())
        }
        Some(url::Host::Domain(d))
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) =>
        {
            return Err("points at a private or loopback address".into())
        }
        _ => {}
    }
    Ok(u)
}

/// The keys of a JWK Set that can verify signatures: public keys of a supported type, as
/// josekit keys. Private key material is refused (a client must never send it).
pub fn parse_jwks(jwks: &Value) -> Result<Vec<josekit::jwk::Jwk>, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("must be a JWK Set: {\"keys\": [...]}")?;
    if keys.is_empty() {
        return Err("has no keys".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("has more than {MAX_KEYS} keys"));
    }
    if jwks.to_string().len() > MAX_JWKS_BYTES {
        return Err(format!("is larger than {MAX_JWKS_BYTES} bytes"));
    }
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let map = k.as_object().ok_or("each key must be a JSON object")?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|f| map.contains_key(*f))
        {
            return Err(
                "holds private or symmetric key material; register public keys only".into(),
            );
        }
        let jwk = josekit::jwk::Jwk::from_map(map.clone())
            .map_err(|e| format!("holds a key that is not a valid JWK: {e}"))?;
        if !matches!(jwk.key_type(), "RSA" | "EC" | "OKP") {
            return Err(format!("key type `{}` is not supported", jwk.key_type()));
        }
        if jwk.key_use().is_some_and(|u| u != "sig") {
            continue;
        }
        out.push(jwk);
    }
    if out.is_empty() {
        return Err("has no signing keys (`use` is not `sig`)".into());
    }
    Ok(out)
}
