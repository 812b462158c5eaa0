//! Fetching a client's public keys from its `jwks_uri` (RFC 7591 §2) without letting a client
//! point the server at its own network: https only, host names resolved here and refused when
//! any address is loopback, private, link-local or otherwise not public (checked on the
//! addresses actually connected to, so DNS rebinding gains nothing), no redirects, a short
//! timeout and a size cap. `allow_private_jwks_uri` lifts the address and scheme rules for
//! development. Keys are cached five minutes per URL; a key id the cache does not know
//! refetches at most once a minute. A fetch that fails is not retried for a minute, and the
//! client is told only that it failed (the details, which would map the server's network for
//! whoever registered the URI, go to the log). Proxy settings of the environment are ignored:
//! a proxy would resolve the name itself, past these checks.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use josekit::jwk::Jwk;

use crate::core::client_metadata::{check_fetch_url, parse_jwks, MAX_JWKS_BYTES};
use crate::core::netaddr;

/// Resolves host names to public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() || addrs.iter().any(|a| !netaddr::is_public(a.ip())) {
                return Err(format!("{host} resolves to a private or loopback address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn client(allow_private: bool) -> &'static reqwest::Client {
    static PUBLIC: OnceLock<reqwest::Client> = OnceLock::new();
    static ANY: OnceLock<reqwest::Client> = OnceLock::new();
    let build = |private: bool| {
        let b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .no_proxy()
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")));
        let b = if private {
            b
        } else {
            b.dns_resolver(Arc::new(PublicOnly))
        };
        b.build().expect("the HTTP client builds")
    };
    if allow_private {
        ANY.get_or_init(|| build(true))
    } else {
        PUBLIC.get_or_init(|| build(false))
    }
}

/// What a client is told when its keys could not be fetched.
pub const FAILED: &str = "jwks_uri could not be fetched or is not a usable JWK Set";

/// Fetches and parses a JWK Set, or says why not: the URL's own fault (for the client's
/// `invalid_client` answer), or [`FAILED`] with the details logged.
pub async fn jwks(uri: &str, allow_private: bool) -> Result<Vec<Jwk>, String> {
    let url = check_fetch_url(uri, allow_private).map_err(|m| format!("jwks_uri {m}"))?;
    fetch(url, allow_private).await.map_err(|detail| {
        tracing::warn!(jwks_uri = %uri, error = %detail, "a client's jwks_uri could not be fetched");
        FAILED.to_owned()
    })
}

/// POSTs a form to a relying party's URL (a back-channel logout), with the same address rules,
/// timeouts and no redirects: `Ok` on a 2xx answer, else why not (for the log and the queue).
pub async fn post_form(
    uri: &str,
    allow_private: bool,
    form: &[(&str, &str)],
) -> Result<(), String> {
    let url = check_fetch_url(uri, allow_private)?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let res = client(allow_private)
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cache-control", "no-store")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let mut m = format!("could not be reached: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            m
        })?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", res.status()))
    }
}

async fn fetch(url: url::Url, allow_private: bool) -> Result<Vec<Jwk>, String> {
    let mut res = client(allow_private)
        .get(url)
        .header("accept", "application/jwk-set+json, application/json")
        .send()
        .await
        .map_err(|e| {
            let mut m = format!("jwks_uri could not be fetched: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            m
        })?;
    if !res.status().is_success() {
        return Err(format!("jwks_uri answered {}", res.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("jwks_uri could not be read: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("jwks_uri is larger than {MAX_JWKS_BYTES} bytes"));
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "jwks_uri is not JSON".to_string())?;
    parse_jwks(&value).map_err(|m| format!("jwks_uri {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;
    use std::str::FromStr;

    #[actix_rt::test]
    async fn names_that_resolve_inside_are_refused() {
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        let err = match PublicOnly.resolve(name).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("private or loopback"), "{err}");
    }

    #[actix_rt::test]
    async fn literal_internal_addresses_are_refused_before_any_connection() {
        for uri in [
            "https://127.0.0.1/k",
            "https://[::1]/k",
            "https://10.0.0.1/k",
            "http://keys.example/k",
        ] {
            let e = jwks(uri, false).await.unwrap_err();
            assert!(e.contains("private") || e.contains("https"), "{uri}: {e}");
        }
    }
}
