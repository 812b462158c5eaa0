//! The node's signing keys: loaded at start, read again from the database when older than
//! `KEY_REFRESH_SECS` (keys made by another node or the CLI are seen within that time), and
//! at once after a change made here.

use std::sync::{Arc, RwLock};

use chrono::Duration;

use crate::clock::Clock;
use crate::config::KeySettings;
use crate::core::crypto::MasterKey;
use crate::core::keys::KeySet;
use crate::core::{Error, Timestamp};
use crate::db::DbPool;

/// How long a node trusts its loaded key set before reading the database again; keys made by
/// another node (or the CLI) are seen within this time. Shorter than `keys.publish_ahead`.
pub const KEY_REFRESH_SECS: i64 = 10;

/// The loaded signing keys, refreshed from the database when stale. Cheap to clone.
#[derive(Clone)]
pub struct KeyStore {
    db: DbPool,
    clock: Clock,
    settings: KeySettings,
    master: Option<MasterKey>,
    inner: Arc<RwLock<(Arc<KeySet>, Timestamp)>>,
}

impl KeyStore {
    /// Makes the first signing key when there is none, and loads the set.
    pub fn open(
        db: DbPool,
        clock: Clock,
        settings: KeySettings,
        master: Option<MasterKey>,
    ) -> Result<KeyStore, Error> {
        let now = clock.now_naive();
        let mut conn = db.get()?;
        crate::core::keys::ensure_signing_key(&mut conn, now, &settings, master.as_ref())?;
        let set = KeySet::load(&mut conn, now, &settings, master.as_ref())?;
        drop(conn);
        Ok(KeyStore {
            db,
            clock,
            settings,
            master,
            inner: Arc::new(RwLock::new((Arc::new(set), now))),
        })
    }

    fn snapshot(&self) -> (Arc<KeySet>, Timestamp) {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1)
    }

    /// The key set, reloaded first when older than `KEY_REFRESH_SECS`. A failed reload keeps
    /// serving the previous set (and is logged).
    pub async fn current(&self) -> Arc<KeySet> {
        let now = self.clock.now_naive();
        let (set, loaded_at) = self.snapshot();
        if now - loaded_at < Duration::seconds(KEY_REFRESH_SECS) && now >= loaded_at {
            return set;
        }
        match self.reload().await {
            Ok(set) => set,
            Err(e) => {
                tracing::error!(error = %e, "could not reload signing keys; serving the loaded set");
                set
            }
        }
    }

    /// Reads the keys from the database now (after a rotation on this node, say).
    pub async fn reload(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.clock.now_naive();
        let settings = self.settings.clone();
        let master = self.master.clone();
        let set = self
            .db
            .run(move |conn| KeySet::load(conn, now, &settings, master.as_ref()))
            .await?;
        let set = Arc::new(set);
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *guard = (set.clone(), now);
        Ok(set)
    }
}
