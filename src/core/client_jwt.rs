//! JWTs a client signs: client assertions (`private_key_jwt` and `client_secret_jwt`, RFC 7523
//! §3 as OpenID Connect Core §9 profiles them) and request objects (RFC 9101). The signature is
//! checked with the client's registered keys (or its sealed secret for HMAC), with the
//! algorithm the header names only if the client may use it; `none` and encrypted objects are
//! refused. Single use of an assertion's `jti` across nodes is a row in `client_assertions`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};

use super::tokens::CLOCK_LEEWAY;
use super::{crypto, Error};
use crate::db::schema::client_assertions;
use crate::db::{is_unique_violation, DbConnection};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion may expire at most this many seconds from now: they are made per request.
pub const MAX_ASSERTION_LIFETIME: i64 = 300;
/// A request object may expire at most this many seconds from now.
pub const MAX_REQUEST_OBJECT_LIFETIME: i64 = 3600;
/// Claims of a request object that are about the object, not the authorization request.
const ENVELOPE_CLAIMS: &[&str] = &["iss", "aud", "exp", "iat", "nbf", "jti", "sub"];

/// What checks a client's signature.
pub enum VerifyWith<'a> {
    /// Its public keys (`private_key_jwt`, asymmetric request objects).
    Keys(&'a [Jwk]),
    /// Its secret (`client_secret_jwt`, HMAC request objects).
    Secret(&'a [u8]),
}

#[derive(Debug)]
/// The unverified header and claims of a compact JWS (to find the client and the key before
/// the signature is checked).
pub struct Unverified {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
}

/// Reads a compact JWS without checking it. Encrypted (five-part) objects are refused.
pub fn peek(token: &str) -> Result<Unverified, String> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err("encrypted JWTs are not supported; sign it".into()),
        _ => return Err("is not a compact JWT".into()),
    }
    let json = |part: &str| -> Result<Map<String, Value>, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "is not base64url-encoded".to_string())?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err("is not a JSON object".into()),
        }
    };
    let header = json(parts[0])?;
    let claims = json(parts[1])?;
    let text = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Unverified {
        alg: text("alg").ok_or("has no alg")?,
        kid: text("kid"),
        typ: text("typ"),
        claims,
    })
}

fn verifier_for(alg: &str, with: &VerifyWith, jwk: Option<&Jwk>) -> Option<Box<dyn JwsVerifier>> {
    use josekit::jws::*;
    let v: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match (with, jwk) {
        (VerifyWith::Keys(_), Some(k)) => match alg {
            "RS256" => RS256.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "RS384" => RS384.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "RS512" => RS512.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "PS256" => PS256.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "PS384" => PS384.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "PS512" => PS512.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "ES256" => ES256.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "ES384" => ES384.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "ES512" => ES512.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            "EdDSA" => EdDSA.verifier_from_jwk(k).map(|v| Box::new(v) as _),
            _ => return None,
        },
        (VerifyWith::Secret(s), None) => match alg {
            "HS256" => HS256.verifier_from_bytes(s).map(|v| Box::new(v) as _),
            "HS384" => HS384.verifier_from_bytes(s).map(|v| Box::new(v) as _),
            "HS512" => HS512.verifier_from_bytes(s).map(|v| Box::new(v) as _),
            _ => return None,
        },
        _ => return None,
    };
    v.ok()
}

/// Checks the signature of `token` (whose header `peek` read) with the client's keys or
/// secret, for an algorithm in `allowed`; the verified claims.
pub fn verify(
    token: &str,
    head: &Unverified,
    with: VerifyWith,
    allowed: &[&str],
) -> Result<Map<String, Value>, String> {
    if !allowed.contains(&head.alg.as_str()) {
        return Err(format!(
            "is signed with `{}`, which this client may not use",
            head.alg
        ));
    }
    let verified = |v: &dyn JwsVerifier| {
        josekit::jwt::decode_with_verifier(token, v)
            .ok()
            .map(|(payload, _)| payload.claims_set().clone())
    };
    match &with {
        VerifyWith::Secret(_) => verifier_for(&head.alg, &with, None)
            .and_then(|v| verified(&*v))
            .ok_or_else(|| "has a signature that does not verify".into()),
        VerifyWith::Keys(keys) => {
            let candidates = keys.iter().filter(|k| {
                let kid_fits = match (&head.kid, k.key_id()) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                };
                kid_fits && k.algorithm().is_none_or(|a| a == head.alg)
            });
            let mut any = false;
            for k in candidates {
                any = true;
                // josekit's verifier insists on the key's `kid` in the header; a JWT that
                // names no key is tried against each key as it is.
                let anonymous;
                let k = match (&head.kid, k.key_id()) {
                    (None, Some(_)) => {
                        let mut map: Map<String, Value> = k.as_ref().clone();
                        map.remove("kid");
                        match Jwk::from_map(map) {
                            Ok(j) => {
                                anonymous = j;
                                &anonymous
                            }
                            Err(_) => continue,
                        }
                    }
                    _ => k,
                };
                if let Some(claims) =
                    verifier_for(&head.alg, &with, Some(k)).and_then(|v| verified(&*v))
                {
                    return Ok(claims);
                }
            }
            Err(if any {
                "has a signature that does not verify with the client's keys".into()
            } else {
                "names a key the client has not registered".into()
            })
        }
    }
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("`{name}` is not a number")),
    }
}

fn audience_fits(claims: &Map<String, Value>, audiences: &[String]) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    }
}

/// A verified client assertion's single-use handle.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub jti: String,
    pub exp: i64,
}

/// Checks the claims of a client assertion whose signature verified (RFC 7523 §3): `iss` and
/// `sub` are the client, `aud` one of `audiences` (the issuer or the endpoint), `exp` present
/// and at most [`MAX_ASSERTION_LIFETIME`] away, `iat` and `nbf` not in the future, a `jti`.
pub fn check_assertion(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<Assertion, String> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err("iss and sub must both be the client_id".into());
    }
    if !audience_fits(claims, audiences) {
        return Err(format!(
            "aud must be this server's issuer or its token endpoint's URL ({})",
            audiences.join(", ")
        ));
    }
    // Something else the client signed (a request object, which travels through browsers) is
    // never an assertion.
    if ["response_type", "redirect_uri", "scope", "client_id"]
        .iter()
        .any(|c| claims.contains_key(*c))
    {
        return Err(
            "carries authorization request parameters; it is not a client assertion".into(),
        );
    }
    let exp = number(claims, "exp")?.ok_or("has no exp")?;
    if exp.saturating_add(CLOCK_LEEWAY) < now {
        return Err("has expired".into());
    }
    if exp > now + MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY {
        return Err(format!(
            "expires too late: client assertions may live at most {MAX_ASSERTION_LIFETIME} seconds"
        ));
    }
    for name in ["iat", "nbf"] {
        if number(claims, name)?.is_some_and(|t| t > now + CLOCK_LEEWAY) {
            return Err(format!("`{name}` is in the future"));
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or("needs a jti")?;
    Ok(Assertion {
        jti: jti.to_owned(),
        exp,
    })
}

/// Records an assertion's use; a second use of the same `jti` by the same client, on any
/// node, is refused until the assertion has expired (housekeeping deletes it then).
pub fn use_once(
    conn: &mut DbConnection,
    client_id: &str,
    assertion: &Assertion,
) -> Result<(), Error> {
    let id_hash = crypto::sha256_hex(format!("{client_id}\0{}", assertion.jti).as_bytes());
    let expires_at =
        chrono::DateTime::from_timestamp(assertion.exp.saturating_add(CLOCK_LEEWAY), 0)
            .map(|t| t.naive_utc())
            .ok_or_else(|| Error::InvalidClient("the assertion's exp is out of range".into()))?;
    diesel::insert_into(client_assertions::table)
        .values((
            client_assertions::id_hash.eq(id_hash),
            client_assertions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::InvalidClient("this client assertion was already used (jti)".into())
            } else {
                e.into()
            }
        })
}

/// Checks the claims of a request object whose signature verified (RFC 9101 §4, §6.3) and
/// answers the authorization request it carries, as parameter pairs: `iss` is the client,
/// `aud` the issuer, `client_id` (when present) the client, an `exp` at most an hour away
/// (a request object travels through browsers), `iat`/`nbf` not in the future, and no
/// `request` or `request_uri` inside.
pub fn request_object_params(
    claims: &Map<String, Value>,
    client_id: &str,
    issuer: &str,
    now: i64,
) -> Result<Vec<(String, String)>, String> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(client_id) {
        return Err("iss must be the client_id".into());
    }
    if !audience_fits(claims, &[issuer.to_owned()]) {
        return Err(format!("aud must be this server's issuer ({issuer})"));
    }
    if claims.contains_key("client_id") && text("client_id") != Some(client_id) {
        return Err("its client_id differs from the request's".into());
    }
    let exp = number(claims, "exp")?.ok_or("has no exp")?;
    if exp.saturating_add(CLOCK_LEEWAY) < now {
        return Err("has expired".into());
    }
    if exp > now + MAX_REQUEST_OBJECT_LIFETIME + CLOCK_LEEWAY {
        return Err(format!(
            "expires too late: request objects may live at most {MAX_REQUEST_OBJECT_LIFETIME} seconds"
        ));
    }
    for name in ["iat", "nbf"] {
        if number(claims, name)?.is_some_and(|t| t > now + CLOCK_LEEWAY) {
            return Err(format!("`{name}` is in the future"));
        }
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err("must not contain request or request_uri".into());
    }
    let mut pairs = vec![("client_id".to_owned(), client_id.to_owned())];
    for (k, v) in claims {
        if ENVELOPE_CLAIMS.contains(&k.as_str()) || k == "client_id" {
            continue;
        }
        match v {
            Value::String(s) => pairs.push((k.clone(), s.clone())),
            Value::Number(n) => pairs.push((k.clone(), n.to_string())),
            Value::Bool(b) => pairs.push((k.clone(), b.to_string())),
            Value::Array(items) if k == "resource" => {
                for i in items {
                    let s = i.as_str().ok_or("resource must hold strings")?;
                    pairs.push((k.clone(), s.to_owned()));
                }
            }
            Value::Null => {}
            other => pairs.push((k.clone(), other.to_string())),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{JwsHeader, ES256, HS256};
    use josekit::jwt::{self, JwtPayload};

    fn signed(claims: Value, kid: &str) -> (String, Jwk) {
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id(kid);
        let mut header = JwsHeader::new();
        header.set_key_id(kid);
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let signer = ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        (
            jwt::encode_with_signer(&payload, &header, &signer).unwrap(),
            public,
        )
    }

    #[test]
    fn an_assertion_verifies_only_with_its_key_and_algorithm() {
        let claims = serde_json::json!({"iss": "c", "sub": "c", "aud": "https://as", "exp": 1100, "jti": "j"});
        let (token, key) = signed(claims.clone(), "k1");
        let (_, other) = signed(claims, "k1");
        let head = peek(&token).unwrap();
        let got = verify(
            &token,
            &head,
            VerifyWith::Keys(std::slice::from_ref(&key)),
            &["ES256"],
        )
        .unwrap();
        let a = check_assertion(&got, "c", &["https://as".into()], 1000).unwrap();
        assert_eq!(a.jti, "j");
        assert!(verify(&token, &head, VerifyWith::Keys(&[other]), &["ES256"]).is_err());
        assert!(verify(&token, &head, VerifyWith::Keys(&[key]), &["RS256"]).is_err());
        assert!(check_assertion(&got, "c", &["https://other".into()], 1000).is_err());
        assert!(check_assertion(&got, "d", &["https://as".into()], 1000).is_err());
        assert!(check_assertion(&got, "c", &["https://as".into()], 2000).is_err());
        assert!(check_assertion(&got, "c", &["https://as".into()], 100).is_err());
    }

    #[test]
    fn hmac_needs_the_secret_and_none_is_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let payload =
            JwtPayload::from_map(serde_json::json!({"iss": "c"}).as_object().unwrap().clone())
                .unwrap();
        let token = jwt::encode_with_signer(
            &payload,
            &JwsHeader::new(),
            &HS256.signer_from_bytes(secret).unwrap(),
        )
        .unwrap();
        let head = peek(&token).unwrap();
        assert!(verify(&token, &head, VerifyWith::Secret(secret), &["HS256"]).is_ok());
        assert!(verify(
            &token,
            &head,
            VerifyWith::Secret(b"another secret, 32 bytes long!!!"),
            &["HS256"]
        )
        .is_err());
        let unsigned = jwt::encode_unsecured(&payload, &JwsHeader::new()).unwrap();
        let head = peek(&unsigned).unwrap();
        assert_eq!(head.alg, "none");
        assert!(verify(&unsigned, &head, VerifyWith::Secret(secret), &["HS256"]).is_err());
        assert!(peek("a.b.c.d.e").unwrap_err().contains("encrypted"));
    }

    #[test]
    fn request_objects_carry_parameters_and_nothing_nested() {
        let claims = serde_json::json!({"iss": "c", "aud": "https://as", "client_id": "c",
            "response_type": "code", "max_age": 0, "resource": ["https://r"], "exp": 2000});
        let pairs =
            request_object_params(claims.as_object().unwrap(), "c", "https://as", 1000).unwrap();
        assert!(pairs.contains(&("max_age".into(), "0".into())));
        assert!(pairs.contains(&("resource".into(), "https://r".into())));
        assert!(!pairs.iter().any(|(k, _)| k == "aud" || k == "exp"));
        let nested = serde_json::json!({"iss": "c", "aud": "https://as", "request_uri": "x"});
        assert!(
            request_object_params(nested.as_object().unwrap(), "c", "https://as", 1000).is_err()
        );
        let other = serde_json::json!({"iss": "c", "aud": "https://as", "client_id": "d"});
        assert!(
            request_object_params(other.as_object().unwrap(), "c", "https://as", 1000).is_err()
        );
    }
}
