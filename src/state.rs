//! The state every handler shares: database pool, configuration, clock, metrics and the
//! node's runtime machinery (`runtime`). Passed as `web::Data<AppState>`; there are no
//! globals.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::DbPool;
use crate::runtime::argon2::PasswordGate;
use crate::runtime::audit::AuditWriter;
use crate::runtime::cache::Caches;
use crate::runtime::keys::KeyStore;
use crate::runtime::mail::Mailer;
use crate::runtime::revocations::RevocationCache;
use crate::runtime::workers::Workers;
use crate::telemetry::Metrics;

pub use crate::runtime::keys::KEY_REFRESH_SECS;

/// Shared application state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DbPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub metrics: Metrics,
    /// The signing keys.
    pub keys: KeyStore,
    /// This node's copy of the revocation log.
    pub revocations: RevocationCache,
    /// Bounded argon2 hashing.
    pub passwords: PasswordGate,
    /// Threads for RSA signatures (one per CPU).
    pub signers: Workers,
    /// Mail delivery (outbox or SMTP queue and its worker).
    pub mailer: Mailer,
    /// Back-channel logout delivery (the shared queue's worker on this node).
    pub logouts: crate::runtime::backchannel::Logouts,
    /// API-call events waiting to be written.
    pub audit: AuditWriter,
    /// Short-lived caches of the hot paths.
    pub caches: Caches,
    /// Pre-serialised discovery documents (OIDC, RFC 8414).
    pub discovery: Arc<(bytes::Bytes, bytes::Bytes)>,
}

impl AppState {
    /// Starts keeping this node's revocation copy, keys and client cache fresh (notices on
    /// PostgreSQL, polling everywhere); stops when the returned feed is dropped.
    pub fn watch_changes(&self) -> crate::runtime::changes::ChangeFeed {
        crate::runtime::changes::start(
            &self.db,
            crate::runtime::changes::Copies {
                revocations: self.revocations.clone(),
                keys: self.keys.clone(),
                caches: self.caches.clone(),
            },
        )
    }
}
