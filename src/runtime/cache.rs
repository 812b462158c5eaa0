//! Small in-memory caches with a time to live: safe to lose, bounded in staleness (a few
//! seconds) and in size (moka evicts the least useful entries when full), so that nodes stay
//! stateless. Used on the hot paths: clients (token, introspection), IPs recently checked
//! against the throttle, usernames (introspection), verified access-token signatures.

use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A bounded map whose entries expire `ttl` after they were stored.
pub struct TtlCache<K, V> {
    inner: moka::sync::Cache<K, (V, Instant)>,
}

impl<K, V> TtlCache<K, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(ttl: Duration, capacity: u64) -> Arc<TtlCache<K, V>> {
        Arc::new(TtlCache {
            inner: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        })
    }

    /// A fresh value and when it was stored.
    pub fn get<Q>(&self, key: &Q) -> Option<(V, Instant)>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.inner.get(key)
    }

    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, (value, Instant::now()));
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.inner.invalidate(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }
}

/// The caches of one node.
#[derive(Clone)]
pub struct Caches {
    /// Clients by id (5 s; also dropped when the revocation log cuts the client off).
    pub clients: Arc<TtlCache<String, Arc<crate::core::clients::ClientRow>>>,
    /// IPs found not throttled (2 s; dropped on any failure).
    pub ip_ok: Arc<TtlCache<String, ()>>,
    /// Introspection's username of a user (5 s).
    pub usernames: Arc<TtlCache<String, Option<String>>>,
    /// Access tokens whose signature checked out, with the fingerprint of the key set that
    /// checked them (60 s). Resource servers introspect the same token on every call; this
    /// saves the signature check (half of introspection's CPU with RS256), never the expiry,
    /// issuer or revocation checks. Only valid tokens get in; 4,096 of them are about 5 MiB.
    pub verified: Arc<TtlCache<String, (u64, crate::core::tokens::AccessClaims)>>,
    /// Clients' key sets fetched from their `jwks_uri`, by URL (5 min).
    pub jwks: Arc<TtlCache<String, Arc<Vec<josekit::jwk::Jwk>>>>,
    /// `jwks_uri`s refetched for an unknown key id (60 s: at most one refetch a minute).
    pub jwks_refetched: Arc<TtlCache<String, ()>>,
    /// `jwks_uri`s whose fetch failed, with the reason (60 s: not fetched again meanwhile).
    pub jwks_failed: Arc<TtlCache<String, String>>,
    /// The key of DPoP nonces, derived from the server key once (the same on every node).
    pub dpop_nonce_key: Arc<std::sync::OnceLock<[u8; 32]>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            clients: TtlCache::new(Duration::from_secs(5), 10_000),
            ip_ok: TtlCache::new(Duration::from_secs(2), 100_000),
            usernames: TtlCache::new(Duration::from_secs(5), 100_000),
            verified: TtlCache::new(Duration::from_secs(60), 4096),
            jwks: TtlCache::new(Duration::from_secs(300), 10_000),
            jwks_refetched: TtlCache::new(Duration::from_secs(60), 10_000),
            jwks_failed: TtlCache::new(Duration::from_secs(60), 10_000),
            dpop_nonce_key: Arc::default(),
        }
    }
}
