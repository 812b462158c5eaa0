//! The state every handler shares: database pool, configuration, signing keys, clock and
//! metrics. Passed as `web::Data<AppState>`; there are no globals.

use std::sync::{Arc, RwLock};

use chrono::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::keys::KeySet;
use crate::core::{crypto::MasterKey, Error, Timestamp};
use crate::db::DbPool;
use crate::services::audit::EventSink;
use crate::services::cache::Caches;
use crate::services::mail::MailSignal;
use crate::services::passwords::PasswordGate;
use crate::services::revocations::RevocationCache;
use crate::telemetry::Metrics;

/// How long a node trusts its loaded key set before reading the database again; keys made by
/// another node (or the CLI) are seen within this time. Shorter than `keys.publish_ahead`.
pub const KEY_REFRESH_SECS: i64 = 10;

/// Shared application state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DbPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub keys: KeyStore,
    pub metrics: Metrics,
    /// This node's copy of the revocation log.
    pub revocations: RevocationCache,
    /// Bounded argon2 hashing.
    pub passwords: PasswordGate,
    /// Threads for RSA signatures (one per CPU).
    pub signers: crate::services::workers::Workers,
    /// Wakes the email delivery worker.
    pub mail: MailSignal,
    /// API-call events waiting to be written.
    pub audit: EventSink,
    /// Short-lived caches of the hot paths.
    pub caches: Caches,
    /// Pre-serialised discovery documents (OIDC, RFC 8414).
    pub discovery: Arc<(bytes::Bytes, bytes::Bytes)>,
}

/// The loaded signing keys, refreshed from the database when stale.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<RwLock<(Arc<KeySet>, Timestamp)>>,
    master: Option<MasterKey>,
}

impl KeyStore {
    /// Wraps a freshly loaded key set.
    pub fn new(set: KeySet, loaded_at: Timestamp, master: Option<MasterKey>) -> KeyStore {
        KeyStore {
            inner: Arc::new(RwLock::new((Arc::new(set), loaded_at))),
            master,
        }
    }

    fn snapshot(&self) -> (Arc<KeySet>, Timestamp) {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1)
    }

    /// The key set, reloaded first when older than `KEY_REFRESH_SECS`. A failed reload keeps
    /// serving the previous set (and is logged).
    pub async fn current(&self, state: &AppState) -> Arc<KeySet> {
        let now = state.clock.now_naive();
        let (set, loaded_at) = self.snapshot();
        if now - loaded_at < Duration::seconds(KEY_REFRESH_SECS) && now >= loaded_at {
            return set;
        }
        match self.reload(state).await {
            Ok(set) => set,
            Err(e) => {
                tracing::error!(error = %e, "could not reload signing keys; serving the loaded set");
                set
            }
        }
    }

    /// Reads the keys from the database now (after a rotation on this node, say).
    pub async fn reload(&self, state: &AppState) -> Result<Arc<KeySet>, Error> {
        let now = state.clock.now_naive();
        let settings = state.config.keys.clone();
        let master = self.master.clone();
        let set = state
            .db
            .run(move |conn| KeySet::load(conn, now, &settings, master.as_ref()))
            .await?;
        let set = Arc::new(set);
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *guard = (set.clone(), now);
        Ok(set)
    }
}
