//! The node's signing keys: loaded at start, read again at once after a change made here,
//! on a change notice from the database (`runtime::changes`), and every `KEY_REFRESH_SECS` in
//! the background as the fallback; keys made by another node or the CLI are seen within that
//! time even without notices. A request reloads them itself only when nobody has tried for
//! `KEY_REFRESH_SECS` (no background task, as in tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::Duration;

use super::flight::SingleFlight;
use crate::clock::Clock;
use crate::config::KeySettings;
use crate::core::crypto::MasterKey;
use crate::core::keys::KeySet;
use crate::core::{Error, Timestamp};
use crate::db::DbPool;

/// How long a node trusts its loaded key set before reading the database again; keys made by
/// another node (or the CLI) are seen within this time. `keys.publish_ahead` may not be
/// shorter, so every node publishes a key before any node signs with it.
pub const KEY_REFRESH_SECS: i64 = 10;

/// The loaded signing keys, refreshed from the database when stale. Cheap to clone.
#[derive(Clone)]
pub struct KeyStore {
    db: DbPool,
    clock: Clock,
    settings: KeySettings,
    master: Option<MasterKey>,
    /// The set and the number of the reload that read it.
    inner: Arc<RwLock<(Arc<KeySet>, u64)>>,
    /// Reloads started so far: a reload that read before another one installs nothing over it.
    started: Arc<AtomicU64>,
    /// When a reload last started, whether or not it succeeded.
    last_attempt: Arc<Mutex<Timestamp>>,
    reloading: Arc<SingleFlight>,
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
            inner: Arc::new(RwLock::new((Arc::new(set), 0))),
            started: Arc::new(AtomicU64::new(0)),
            last_attempt: Arc::new(Mutex::new(now)),
            reloading: Arc::new(SingleFlight::default()),
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// The key set, reloaded first when nobody has tried for `KEY_REFRESH_SECS`.
    pub async fn current(&self) -> Arc<KeySet> {
        let now = self.clock.now_naive();
        let last = *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
        if now - last >= Duration::seconds(KEY_REFRESH_SECS) || now < last {
            self.refresh().await;
        }
        self.snapshot()
    }

    /// Reloads unless a reload is already under way; a failure is logged and the loaded set
    /// kept.
    pub async fn refresh(&self) {
        let Some(_ticket) = self.reloading.try_start() else {
            return;
        };
        if let Err(e) = self.reload().await {
            tracing::error!(error = %e, "could not reload signing keys; serving the loaded set");
        }
    }

    /// Reads the keys from the database now (after a rotation on this node, say).
    pub async fn reload(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.clock.now_naive();
        *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = now;
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let settings = self.settings.clone();
        let master = self.master.clone();
        let set = self
            .db
            .run(move |conn| KeySet::load(conn, now, &settings, master.as_ref()))
            .await?;
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if number > guard.1 {
            *guard = (Arc::new(set), number);
        }
        Ok(guard.0.clone())
    }
}
