//! DPoP (RFC 9449): a client proves possession of a key with a short-lived JWT, the proof, on
//! each request; tokens issued to it carry the key's thumbprint (`cnf.jkt`) and are good only
//! with a proof by that key. This module checks a proof against the request it came with
//! (method, URL, `iat` window, the access token's hash), computes key thumbprints (RFC 7638),
//! records each proof's `jti` once across nodes, and makes and checks the server's nonces
//! (HMAC of a time window under a server key, so every node agrees without storing them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use josekit::jwk::Jwk;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::client_jwt::{self, Unverified, VerifyWith};
use super::client_metadata::ASYMMETRIC_ALGS;
use super::tokens::CLOCK_LEEWAY;
use super::{crypto, Error, Timestamp};
use crate::db::schema::dpop_proofs;
use crate::db::{is_unique_violation, DbConnection};

/// The algorithms a proof may be signed with (asymmetric only: the key is in the proof).
pub const ALGS: &[&str] = ASYMMETRIC_ALGS;
/// How old a proof's `iat` may be, in seconds (a proof is made for one request).
pub const MAX_AGE: i64 = 60;
/// The largest proof accepted, in bytes (an RSA-4096 key and signature fit well within).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// How long a nonce is good for: the window it was made in and the next one.
pub const NONCE_WINDOW: i64 = 300;
/// The longest RSA modulus accepted, in base64url characters (8192 bits).
const MAX_RSA_MODULUS_CHARS: usize = 1366;
/// JWK members that only a private or symmetric key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a proof must match: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The request's URL as this server is reached (its issuer's origin and the path).
    pub url: &'a str,
    /// The access token presented with it, at a protected resource (its hash is `ath`).
    pub access_token: Option<&'a str>,
}

/// A proof that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidDpopProof(m.into())
}

/// Checks a proof's shape, signature (by the key in its header) and claims against `expect`
/// at `now` (seconds). Its `jti` is recorded separately ([`use_once`]); its nonce, when the
/// server asks for one, by [`nonce_is_fresh`].
pub fn check(proof: &str, expect: &Expect, now: i64) -> Result<Proof, Error> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid("the DPoP proof is too large"));
    }
    let head = client_jwt::peek(proof).map_err(|m| invalid(format!("the DPoP proof {m}")))?;
    if !head
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let jwk = header_jwk(proof)?;
    let jkt = thumbprint(&jwk).map_err(invalid)?;
    // The claims are checked before the signature (which costs more), then again as signed.
    check_claims(&head.claims, expect, now, jkt.clone())?;
    let key = verification_key(jwk, &head)?;
    let claims = client_jwt::verify(proof, &head, VerifyWith::Keys(&[key]), ALGS)
        .map_err(|m| invalid(format!("the DPoP proof {m}")))?;
    check_claims(&claims, expect, now, jkt)
}

/// The `jwk` of a proof's header: a public key.
fn header_jwk(proof: &str) -> Result<Map<String, Value>, Error> {
    let header = proof.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| invalid("the DPoP proof's header is not base64url"))?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| invalid("the DPoP proof's header is not a JSON object"))?;
    let jwk = match header.get("jwk") {
        Some(Value::Object(jwk)) => jwk.clone(),
        _ => return Err(invalid("the DPoP proof's header has no jwk")),
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(invalid("the DPoP proof's jwk must be a public key"));
    }
    if jwk
        .get("n")
        .and_then(Value::as_str)
        .is_some_and(|n| n.len() > MAX_RSA_MODULUS_CHARS)
    {
        return Err(invalid("the DPoP proof's RSA key is larger than 8192 bits"));
    }
    Ok(jwk)
}

/// The header's key, ready to verify with the header's algorithm: its own `kid`, `alg`, `use`
/// and `key_ops` do not take part (a proof names no key; the key is in it).
fn verification_key(mut jwk: Map<String, Value>, head: &Unverified) -> Result<Jwk, Error> {
    if jwk
        .get("alg")
        .and_then(Value::as_str)
        .is_some_and(|a| a != head.alg)
    {
        return Err(invalid("the DPoP proof's jwk is for another algorithm"));
    }
    for member in ["kid", "alg", "use", "key_ops"] {
        jwk.remove(member);
    }
    Jwk::from_map(jwk).map_err(|_| invalid("the DPoP proof's jwk is not a usable key"))
}

fn check_claims(
    claims: &Map<String, Value>,
    expect: &Expect,
    now: i64,
    jkt: String,
) -> Result<Proof, Error> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("the DPoP proof needs a jti"))?;
    if text("htm") != Some(expect.method) {
        return Err(invalid(format!(
            "the DPoP proof is for another method (htm must be {})",
            expect.method
        )));
    }
    if !text("htu").is_some_and(|u| same_target(u, expect.url)) {
        return Err(invalid(format!(
            "the DPoP proof is for another URL (htu must be {})",
            expect.url
        )));
    }
    let iat = claims
        .get("iat")
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .ok_or_else(|| invalid("the DPoP proof needs an iat"))?;
    if iat > now.saturating_add(CLOCK_LEEWAY) {
        return Err(invalid("the DPoP proof's iat is in the future"));
    }
    if iat < now.saturating_sub(MAX_AGE) {
        return Err(invalid(format!(
            "the DPoP proof is too old: make a new one for each request (iat within {MAX_AGE} seconds)"
        )));
    }
    if let Some(token) = expect.access_token {
        if !text("ath").is_some_and(|a| crypto::ct_eq(a, &access_token_hash(token))) {
            return Err(invalid(
                "the DPoP proof's ath is not the hash of the access token",
            ));
        }
    }
    Ok(Proof {
        jkt,
        jti: jti.to_owned(),
        iat,
        nonce: text("nonce").map(str::to_owned),
    })
}

/// Whether a proof's `htu` names `expected`: the same URL once query and fragment are dropped
/// and both are normalised (RFC 9449 §4.3, RFC 3986 §6.2.2 and §6.2.3).
fn same_target(htu: &str, expected: &str) -> bool {
    let base = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    match (base(htu), base(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `ath`: base64url of the SHA-256 of the access token.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: its required members in
/// lexicographic order, without whitespace.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return Err("the DPoP proof's jwk has an unsupported kty".into()),
    };
    let mut canonical = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let v = jwk
            .get(*m)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the DPoP proof's jwk lacks `{m}`"))?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&serde_json::to_string(m).unwrap_or_default());
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    canonical.push('}');
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// Records a proof's use; the same key's `jti` again, on any node, is refused while the proof
/// could still be accepted (housekeeping deletes it after).
pub fn use_once(conn: &mut DbConnection, proof: &Proof) -> Result<(), Error> {
    let id_hash = crypto::sha256_hex(format!("{}\0{}", proof.jkt, proof.jti).as_bytes());
    let until = proof.iat.saturating_add(MAX_AGE + CLOCK_LEEWAY);
    let expires_at: Timestamp = chrono::DateTime::from_timestamp(until, 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| invalid("the DPoP proof's iat is out of range"))?;
    diesel::insert_into(dpop_proofs::table)
        .values((
            dpop_proofs::id_hash.eq(id_hash),
            dpop_proofs::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
        .map_err(|e| {
            if is_unique_violation(&e) {
                invalid("this DPoP proof was already used (jti): make a new one for each request")
            } else {
                e.into()
            }
        })
}

fn nonce_mac(key: &[u8], window: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"dpop-nonce:");
    mac.update(window.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
}

/// The server's current nonce: the time window and its MAC under `key`. The same on every
/// node sharing the key; good for [`NONCE_WINDOW`] to twice that.
pub fn nonce(key: &[u8], now: i64) -> String {
    let window = now.div_euclid(NONCE_WINDOW);
    format!("{window}.{}", nonce_mac(key, window))
}

/// Whether `nonce` is one of this server's, of the current window or the one before.
pub fn nonce_is_fresh(key: &[u8], nonce: &str, now: i64) -> bool {
    let Some((window, mac)) = nonce.split_once('.') else {
        return false;
    };
    let Ok(window) = window.parse::<i64>() else {
        return false;
    };
    let current = now.div_euclid(NONCE_WINDOW);
    (window == current || window == current - 1) && crypto::ct_eq(mac, &nonce_mac(key, window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{JwsHeader, ES256};
    use josekit::jwt::{self, JwtPayload};

    const URL: &str = "https://as.example/token";

    fn proof(claims: Value) -> (String, Map<String, Value>) {
        let pair = ES256.generate_key_pair().unwrap();
        let public: Map<String, Value> = pair.to_jwk_public_key().as_ref().clone();
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header
            .set_claim("jwk", Some(Value::Object(public.clone())))
            .unwrap();
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let signer = ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        (
            jwt::encode_with_signer(&payload, &header, &signer).unwrap(),
            public,
        )
    }

    fn expect(url: &str) -> Expect<'_> {
        Expect {
            method: "POST",
            url,
            access_token: None,
        }
    }

    #[test]
    fn a_proof_checks_against_its_request() {
        let (p, jwk) =
            proof(serde_json::json!({"jti": "1", "htm": "POST", "htu": URL, "iat": 1000}));
        let got = check(&p, &expect(URL), 1010).unwrap();
        assert_eq!(got.jkt, thumbprint(&jwk).unwrap());
        assert!(check(&p, &expect("https://as.example/userinfo"), 1010).is_err());
        assert!(check(
            &p,
            &Expect {
                method: "GET",
                ..expect(URL)
            },
            1010
        )
        .is_err());
        assert!(check(&p, &expect(URL), 1000 + MAX_AGE + 1).is_err());
        assert!(check(&p, &expect(URL), 1000 - CLOCK_LEEWAY - 1).is_err());
        // Query and fragment do not count; case of the host does not either.
        assert!(check(&p, &expect("https://AS.example/token?x=1"), 1010).is_ok());
    }

    #[test]
    fn ath_binds_the_proof_to_the_token() {
        let (p, _) = proof(
            serde_json::json!({"jti": "1", "htm": "GET", "htu": URL, "iat": 1000,
            "ath": access_token_hash("the-token")}),
        );
        let e = |t| Expect {
            method: "GET",
            url: URL,
            access_token: Some(t),
        };
        assert!(check(&p, &e("the-token"), 1000).is_ok());
        assert!(check(&p, &e("another-token"), 1000).is_err());
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        let jwk: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_keys_and_other_types_are_refused() {
        let (p, _) = proof(serde_json::json!({"jti": "1", "htm": "POST", "htu": URL, "iat": 1000}));
        let mut parts: Vec<String> = p.split('.').map(str::to_owned).collect();
        let mut header: Map<String, Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
        header.insert("typ".into(), "JWT".into());
        parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        assert!(check(&parts.join("."), &expect(URL), 1000).is_err());
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "oct".into());
        jwk.insert("k".into(), "c2VjcmV0".into());
        assert!(thumbprint(&jwk).is_err());
    }

    #[test]
    fn nonces_last_two_windows_and_need_the_key() {
        let key = [7u8; 32];
        let n = nonce(&key, 1000);
        assert!(nonce_is_fresh(&key, &n, 1000));
        assert!(nonce_is_fresh(&key, &n, 1000 + NONCE_WINDOW));
        assert!(!nonce_is_fresh(&key, &n, 1000 + 2 * NONCE_WINDOW));
        assert!(!nonce_is_fresh(&[8u8; 32], &n, 1000));
        assert!(!nonce_is_fresh(&key, "garbage", 1000));
    }
}
