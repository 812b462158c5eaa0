//! The node's copy of the revocation log: loaded at start, refreshed from the database at most
//! every `POLL_SECS` (so a revocation made on another node is honoured within a few seconds),
//! and at once after a revocation on this node.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::Duration;

use crate::clock::Clock;
use crate::core::revocation::{self, RevocationSet};
use crate::core::tokens::AccessClaims;
use crate::core::{Error, Timestamp};
use crate::db::DbPool;

/// Seconds between polls of the log (the bound on cross-node delay, plus the poll itself).
pub const POLL_SECS: i64 = 2;
/// Each poll re-reads this many seconds before the previous one, so that entries committed
/// late (or by a node with a slightly slow clock) are not missed.
const OVERLAP_SECS: i64 = 30;

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct RevocationCache {
    db: DbPool,
    clock: Clock,
    set: Arc<RwLock<RevocationSet>>,
    last_poll: Arc<Mutex<Timestamp>>,
    polling: Arc<AtomicBool>,
}

impl RevocationCache {
    /// A cache holding the live entries at `now`.
    pub fn new(db: DbPool, clock: Clock, set: RevocationSet, now: Timestamp) -> RevocationCache {
        RevocationCache {
            db,
            clock,
            set: Arc::new(RwLock::new(set)),
            last_poll: Arc::new(Mutex::new(now)),
            polling: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Loads the live entries (start-up).
    pub fn load(db: DbPool, clock: Clock) -> Result<RevocationCache, Error> {
        let now = clock.now_naive();
        let mut set = RevocationSet::default();
        for row in revocation::live(&mut *db.get()?, now)? {
            set.apply(&row);
        }
        Ok(RevocationCache::new(db, clock, set, now))
    }

    /// Whether the claims are revoked, polling first when the copy is stale.
    pub async fn revokes(&self, claims: &AccessClaims) -> bool {
        let now = self.clock.now_naive();
        let stale = {
            let last = *self.last_poll.lock().unwrap_or_else(|e| e.into_inner());
            now - last >= Duration::seconds(POLL_SECS) || now < last
        };
        if stale && !self.polling.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.poll().await {
                tracing::error!(error = %e, "revocation poll failed; using the current copy");
            }
            self.polling.store(false, Ordering::Release);
        }
        self.set
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .revokes(claims)
    }

    /// Reads recent entries now (after this node revoked something, or when stale).
    pub async fn poll(&self) -> Result<(), Error> {
        let now = self.clock.now_naive();
        let since = {
            let last = *self.last_poll.lock().unwrap_or_else(|e| e.into_inner());
            last.min(now) - Duration::seconds(OVERLAP_SECS)
        };
        let rows = self
            .db
            .run(move |conn| revocation::since(conn, since))
            .await?;
        let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
        for row in &rows {
            set.apply(row);
        }
        set.prune(now);
        *self.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(())
    }

    /// The client's cut-off in ms (a deleted client), from this node's copy.
    pub fn client_cut_off(&self, client_id: &str) -> Option<i64> {
        self.set
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client_cut_off(client_id)
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.set.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
