//! JWTs clients sign, checked with what they registered: client assertions at the token,
//! introspection, revocation and PAR endpoints (RFC 7523), and request objects at the
//! authorization and PAR endpoints (RFC 9101). Keys come from the client's `jwks`, or from its
//! `jwks_uri` through the node's cache (`runtime::fetch`); HMAC uses the client's sealed
//! secret. The rules are `core::client_jwt`'s.

use std::sync::Arc;

use josekit::jwk::Jwk;

use crate::core::client_jwt::{self, Unverified, VerifyWith};
use crate::core::client_metadata::{parse_jwks, ASYMMETRIC_ALGS, SYMMETRIC_ALGS};
use crate::core::clients::ClientRow;
use crate::core::{secrets, Error};
use crate::state::AppState;

/// The client's public keys: inline, or fetched (cached five minutes; `fresh` refetches, at
/// most once a minute per URL, for a key id the cached set does not have).
async fn keys_of(
    state: &AppState,
    client: &ClientRow,
    fresh: bool,
) -> Result<Arc<Vec<Jwk>>, String> {
    let meta = client.meta();
    if let Some(jwks) = &meta.jwks {
        return parse_jwks(jwks)
            .map(Arc::new)
            .map_err(|m| format!("jwks {m}"));
    }
    let Some(uri) = meta.jwks_uri else {
        return Err("the client has registered no keys (jwks or jwks_uri)".into());
    };
    let caches = &state.caches;
    let may_refetch = fresh && caches.jwks_refetched.get(&uri).is_none();
    if !may_refetch {
        if let Some((keys, _)) = caches.jwks.get(&uri) {
            return Ok(keys);
        }
    }
    if fresh {
        caches.jwks_refetched.insert(uri.clone(), ());
    }
    // A URI that just failed is not fetched again for a minute: a client (or anyone sending
    // its client_id with a made-up JWT) cannot make this server call out on every request.
    if let Some((why, _)) = caches.jwks_failed.get(&uri) {
        return Err(why);
    }
    match crate::runtime::fetch::jwks(&uri, state.config.allow_private_jwks_uri).await {
        Ok(keys) => {
            let keys = Arc::new(keys);
            caches.jwks.insert(uri, keys.clone());
            Ok(keys)
        }
        Err(why) => {
            caches.jwks_failed.insert(uri, why.clone());
            Err(why)
        }
    }
}

/// Forgets what this node fetched from a client's `jwks_uri` (after its keys changed here).
pub fn forget_keys(state: &AppState, client: &ClientRow) {
    if let Some(uri) = client.meta().jwks_uri {
        state.caches.jwks.remove(&uri);
        state.caches.jwks_refetched.remove(&uri);
        state.caches.jwks_failed.remove(&uri);
    }
}

/// Verifies a JWT with the client's keys for the algorithms it may use (`registered` narrows
/// them to one); a key id the cached `jwks_uri` set lacks refetches it once.
async fn verify_with_keys(
    state: &AppState,
    client: &ClientRow,
    token: &str,
    head: &Unverified,
    allowed: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let keys = keys_of(state, client, false).await?;
    match client_jwt::verify(token, head, VerifyWith::Keys(&keys), allowed) {
        Err(m) if client.meta().jwks_uri.is_some() && m.contains("names a key") => {
            let keys = keys_of(state, client, true).await?;
            client_jwt::verify(token, head, VerifyWith::Keys(&keys), allowed)
        }
        other => other,
    }
}

/// The client's secret, opened (for HMAC).
async fn secret_of(state: &AppState, client: &ClientRow) -> Result<Vec<u8>, Error> {
    let sealed = client
        .secret_sealed
        .clone()
        .ok_or_else(|| Error::InvalidClient("the client has no readable secret".into()))?;
    let master = state.config.master_key();
    state
        .db
        .run(move |conn| {
            let key = secrets::sealing_key(conn, master.as_ref())?;
            key.open(&sealed).map_err(Error::Internal)
        })
        .await
}

fn narrowed<'a>(all: &'a [&'a str], registered: Option<&'a str>) -> Vec<&'a str> {
    match registered {
        Some(one) => all.iter().copied().filter(|a| *a == one).collect(),
        None => all.to_vec(),
    }
}

/// Checks a client assertion presented at `/token`, `/introspect`, `/revoke` or `/par`:
/// signature with the registered keys or secret, claims, and single use across nodes. Every
/// failure is `invalid_client`.
pub async fn check_assertion(
    state: &AppState,
    client: &ClientRow,
    assertion: &str,
) -> Result<(), Error> {
    let fail = |m: String| Error::InvalidClient(format!("client_assertion {m}"));
    let head = client_jwt::peek(assertion).map_err(fail)?;
    if head
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("oauth-authz-req+jwt"))
    {
        return Err(fail("is a request object, not a client assertion".into()));
    }
    let meta = client.meta();
    let registered = meta.token_endpoint_auth_signing_alg.as_deref();
    let claims = if client.token_endpoint_auth_method == "client_secret_jwt" {
        let secret = secret_of(state, client).await?;
        let allowed = narrowed(SYMMETRIC_ALGS, registered);
        client_jwt::verify(assertion, &head, VerifyWith::Secret(&secret), &allowed)
    } else {
        let allowed = narrowed(ASYMMETRIC_ALGS, registered);
        verify_with_keys(state, client, assertion, &head, &allowed).await
    }
    .map_err(fail)?;
    // The issuer, or the token endpoint's URL (OIDC Core §9); not other endpoints' URLs,
    // which a client could be tricked into using by another server's metadata (the 2025
    // audience-injection advisory).
    let config = &state.config;
    let audiences = [config.issuer().to_owned(), config.url(crate::paths::TOKEN)];
    let now = state.clock.now_naive().and_utc().timestamp();
    let checked =
        client_jwt::check_assertion(&claims, &client.id, &audiences, now).map_err(fail)?;
    let client_id = client.id.clone();
    state
        .db
        .run(move |conn| client_jwt::use_once(conn, &client_id, &checked))
        .await
}

/// The authorization request a request object carries, as parameter pairs, once its signature
/// (the client's keys, or its secret for HMAC when it has a readable one) and claims check
/// out; or why not.
pub async fn request_object(
    state: &AppState,
    client: &ClientRow,
    jwt: &str,
) -> Result<Vec<(String, String)>, String> {
    let head = client_jwt::peek(jwt)?;
    if head.typ.as_deref().is_some_and(|t| {
        !t.eq_ignore_ascii_case("oauth-authz-req+jwt") && !t.eq_ignore_ascii_case("jwt")
    }) {
        return Err(format!(
            "has typ `{}`; use oauth-authz-req+jwt",
            head.typ.unwrap_or_default()
        ));
    }
    let meta = client.meta();
    let registered = meta.request_object_signing_alg.as_deref();
    let claims = if SYMMETRIC_ALGS.contains(&head.alg.as_str()) {
        if !client.is_sealed() || client.secret_sealed.is_none() {
            return Err(format!(
                "is signed with `{}`, which this client may not use",
                head.alg
            ));
        }
        let secret = secret_of(state, client).await.map_err(|e| e.to_string())?;
        let allowed = narrowed(SYMMETRIC_ALGS, registered);
        client_jwt::verify(jwt, &head, VerifyWith::Secret(&secret), &allowed)?
    } else {
        let allowed = narrowed(ASYMMETRIC_ALGS, registered);
        verify_with_keys(state, client, jwt, &head, &allowed).await?
    };
    let now = state.clock.now_naive().and_utc().timestamp();
    client_jwt::request_object_params(&claims, &client.id, state.config.issuer(), now)
}
