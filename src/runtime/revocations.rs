//! The node's copy of the revocation log: loaded at start, refreshed at once after a
//! revocation on this node, on a change notice from the database (`runtime::changes`, within
//! a fraction of a second on PostgreSQL), and every `POLL_SECS` in the background as the
//! fallback. A request refreshes it itself only when nobody has tried for `POLL_SECS` (no
//! background task, as in tests), so requests do not wait on the database for it.

use std::sync::{Arc, Mutex, RwLock};

use chrono::Duration;

use super::flight::SingleFlight;
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
    /// When a poll last started, whether or not it succeeded.
    last_attempt: Arc<Mutex<Timestamp>>,
    polling: Arc<SingleFlight>,
}

impl RevocationCache {
    /// A cache holding the live entries at `now`.
    pub fn new(db: DbPool, clock: Clock, set: RevocationSet, now: Timestamp) -> RevocationCache {
        RevocationCache {
            db,
            clock,
            set: Arc::new(RwLock::new(set)),
            last_poll: Arc::new(Mutex::new(now)),
            last_attempt: Arc::new(Mutex::new(now)),
            polling: Arc::new(SingleFlight::default()),
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

    /// Whether the claims are revoked, polling first when nobody has tried for `POLL_SECS`.
    pub async fn revokes(&self, claims: &AccessClaims) -> bool {
        let now = self.clock.now_naive();
        let stale = {
            let last = *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
            now - last >= Duration::seconds(POLL_SECS) || now < last
        };
        if stale {
            self.refresh().await;
        }
        self.set
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .revokes(claims)
    }

    /// Polls unless a poll is already under way (the background task and requests share
    /// this); a failure is logged and the current copy kept.
    pub async fn refresh(&self) {
        let Some(_ticket) = self.polling.try_start() else {
            return;
        };
        if let Err(e) = self.poll().await {
            tracing::error!(error = %e, "revocation poll failed; using the current copy");
        }
    }

    /// Polls now, after this node logged a revocation, so that its own next check honours it.
    /// The revocation is already committed: a failure here is logged, not the caller's
    /// error, and the next poll picks the entry up.
    pub async fn catch_up(&self) {
        if let Err(e) = self.poll().await {
            tracing::warn!(error = %e, "could not re-read the revocation log after a revocation");
        }
    }

    /// Reads recent entries now (after this node revoked something, or when stale).
    pub async fn poll(&self) -> Result<(), Error> {
        let now = self.clock.now_naive();
        *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = now;
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
