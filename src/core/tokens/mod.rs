//! Tokens: RFC 9068 JWT access tokens (signed, never stored), opaque refresh tokens, personal
//! access tokens and authorization codes (random, stored as SHA-256 hashes).

pub mod code;
pub mod pat;
pub mod refresh;

use chrono::Duration;
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde::{Deserialize, Serialize};

use super::keys::KeySet;
use super::{Error, Timestamp};

/// The claims of an access token (RFC 9068 plus the grant id and a precise issue time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user id, or the client id for a client acting for itself.
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    /// Not before (never set by this server; honoured when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The grant the token was issued under (revoking it revokes the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// When the user authenticated, for tokens of a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How the user authenticated (RFC 8176), for tokens of a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// `mfa` after a second factor, `pwd` otherwise, for tokens of a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Issue time in milliseconds: cut-offs (password change, disable) compare with this, so a
    /// token issued just after a cut-off in the same second stays valid.
    pub iat_ms: i64,
    /// The key the token is bound to (RFC 9449 §6): good only with a DPoP proof by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1), for a token of a token exchange with an
    /// actor: `{"sub", "client_id"}`, with the earlier actors nested in `act`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
}

/// `cnf` (RFC 7800): the SHA-256 thumbprint of the key a DPoP-bound token is bound to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    /// Whether the token was issued for a user (not a client acting for itself).
    pub fn is_user(&self) -> bool {
        self.sub != self.client_id
    }

    /// Scope tokens.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The thumbprint of the key the token is bound to, for a DPoP-bound token.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }

    /// `DPoP` for a bound token, `Bearer` otherwise (the token type of RFC 6749 §7.1).
    pub fn token_type(&self) -> &'static str {
        if self.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

/// `aud`: one value or several.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn from_list(mut list: Vec<String>) -> Audience {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }

    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

/// The audience a token gets: the requested one, plus the issuer when a scope makes the token
/// a credential for this server (`openid`, `account`, `admin`: SPEC §9), without repeats.
pub fn audience_with_issuer(mut audience: Vec<String>, scope: &str, issuer: &str) -> Vec<String> {
    let for_us = scope
        .split_whitespace()
        .any(|s| super::principal::scopes::FOR_THIS_SERVER.contains(&s));
    if for_us && !audience.iter().any(|a| a == issuer) {
        audience.push(issuer.to_owned());
    }
    audience
}

/// What an access token says; `sign_access_token` adds `iss`, times and `jti`.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub grant_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    /// How the user authenticated (RFC 8176), for tokens of a sign-in.
    pub amr: Option<Vec<String>>,
    pub ttl: u64,
    /// The thumbprint of the DPoP key to bind the token to.
    pub jkt: Option<String>,
    /// Who acts for the subject (token exchange).
    pub act: Option<serde_json::Value>,
}

/// A signed access token and when it expires.
#[derive(Debug, Clone)]
pub struct SignedToken {
    pub token: String,
    pub claims: AccessClaims,
}

/// Signs an access token with the key active at `now`. Writes nothing anywhere.
pub fn sign_access_token(
    keys: &KeySet,
    issuer: &str,
    now: Timestamp,
    req: AccessTokenRequest,
) -> Result<SignedToken, Error> {
    let key = keys
        .signing_key(now)
        .ok_or_else(|| Error::Internal("no signing key is active".into()))?;
    let iat_ms = now.and_utc().timestamp_millis();
    let iat = iat_ms.div_euclid(1000);
    let audience = audience_with_issuer(req.audience, &req.scope, issuer);
    let claims = AccessClaims {
        iss: issuer.to_owned(),
        sub: req.sub,
        aud: Audience::from_list(audience),
        exp: iat + req.ttl as i64,
        iat,
        nbf: None,
        jti: super::crypto::random_token(16),
        client_id: req.client_id,
        scope: req.scope,
        gid: req.grant_id,
        auth_time: req.auth_time.map(|t| t.and_utc().timestamp()),
        acr: req
            .amr
            .as_deref()
            .map(|a| super::factors::acr_of(a).to_owned()),
        amr: req.amr,
        iat_ms,
        cnf: req.jkt.map(|jkt| Confirmation { jkt }),
        act: req.act,
    };
    let token = sign_claims(key, "at+jwt", &claims)?;
    Ok(SignedToken { token, claims })
}

/// Signs any serialisable claims as a JWT with `typ` and the key's `kid`.
pub fn sign_claims<T: Serialize>(
    key: &super::keys::LoadedKey,
    typ: &str,
    claims: &T,
) -> Result<String, Error> {
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(&key.kid);
    let map = match serde_json::to_value(claims) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err(Error::Internal("claims are not an object".into())),
    };
    let payload = JwtPayload::from_map(map).map_err(|e| Error::Internal(format!("jwt: {e}")))?;
    jwt::encode_with_signer(&payload, &header, &*key.signer)
        .map_err(|e| Error::Internal(format!("signing: {e}")))
}

/// Whether a string has the shape of a JWT (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.len() > 20
}

/// Verifies an access token's signature (by `kid` among published keys), `typ`, issuer and
/// expiry at `now`. Revocation is checked separately (see `revocation`).
pub fn verify_access_token(
    keys: &KeySet,
    issuer: &str,
    now: Timestamp,
    token: &str,
) -> Result<AccessClaims, Error> {
    let claims = verify_signature(keys, token)?;
    check_claims(&claims, issuer, now)?;
    Ok(claims)
}

/// What depends only on the token's bytes and the published keys: the shape, the signature
/// (by `kid`, with that key's algorithm), `typ: at+jwt` and the claims' types. A token that
/// passes once passes again under a key set with the same fingerprint.
pub fn verify_signature(keys: &KeySet, token: &str) -> Result<AccessClaims, Error> {
    let invalid = |m: &str| Error::InvalidToken(m.to_owned());
    if !looks_like_jwt(token) {
        return Err(invalid("not an access token"));
    }
    let (payload, header) = jwt::decode_with_verifier_selector(token, |header| {
        Ok(header
            .key_id()
            .and_then(|kid| keys.by_kid(kid))
            .filter(|k| header.algorithm() == Some(k.alg.as_str()))
            .map(|k| &*k.verifier))
    })
    .map_err(|_| invalid("the token signature is invalid"))?;
    if header.token_type() != Some("at+jwt") {
        return Err(invalid("not an access token"));
    }
    serde_json::from_value(serde_json::Value::Object(payload.into()))
        .map_err(|_| invalid("the token claims are malformed"))
}

/// Seconds a token's `iat` or `nbf` may lie in the future (clock skew between nodes).
pub const CLOCK_LEEWAY: i64 = 60;

/// What depends on this server and the time: the issuer, the expiry, and `iat` and `nbf` not
/// in the future (with [`CLOCK_LEEWAY`]).
pub fn check_claims(claims: &AccessClaims, issuer: &str, now: Timestamp) -> Result<(), Error> {
    if claims.iss != issuer {
        return Err(Error::InvalidToken(
            "the token was issued by another server".into(),
        ));
    }
    let now = now.and_utc().timestamp();
    if claims.exp <= now {
        return Err(Error::InvalidToken("the token has expired".into()));
    }
    if claims.iat > now + CLOCK_LEEWAY || claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_LEEWAY) {
        return Err(Error::InvalidToken("the token is not valid yet".into()));
    }
    Ok(())
}

/// Whether a token is a credential for this server's own routes (userinfo, the account
/// routes, the admin API): its `aud` contains the issuer (SPEC §9 "Audience").
pub fn for_this_server(claims: &AccessClaims, issuer: &str) -> Result<(), Error> {
    if claims.aud.contains(issuer) {
        Ok(())
    } else {
        Err(Error::InvalidToken(
            "the token was issued for another audience; it is not a credential for this server"
                .into(),
        ))
    }
}

/// `now + secs`, saturating.
pub fn after(now: Timestamp, secs: u64) -> Timestamp {
    now + Duration::try_seconds(secs.min(i64::MAX as u64 / 1000) as i64).unwrap_or(Duration::MAX)
}
