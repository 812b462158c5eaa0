//! Back-channel logout delivery, node-local: a worker on each node takes due logouts from the
//! shared queue (`core::backchannel`, claimed with a lease so one node sends each), signs each
//! logout token when it sends it, and POSTs it to the relying party's
//! `backchannel_logout_uri` through `runtime::fetch` (public addresses only, unless
//! `allow_private_jwks_uri`). A relying party that is down is retried with backoff; one that
//! stays down is given up after `core::backchannel::MAX_ATTEMPTS`, with its error kept.
//! Results are counted in `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::backchannel::{self, Queued};
use crate::core::{clients, Error};
use crate::db::DbPool;
use crate::runtime::keys::KeyStore;
use crate::telemetry::Metrics;

/// Delivers logout tokens; cheap to clone.
#[derive(Clone)]
pub struct Logouts {
    db: DbPool,
    config: Arc<Config>,
    clock: Clock,
    metrics: Metrics,
    keys: KeyStore,
    wake: Arc<Notify>,
}

impl Logouts {
    pub fn new(
        db: DbPool,
        config: Arc<Config>,
        clock: Clock,
        metrics: Metrics,
        keys: KeyStore,
    ) -> Logouts {
        Logouts {
            db,
            config,
            clock,
            metrics,
            keys,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes this node's worker (logouts were just queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers the logouts that are due; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        let now = self.clock.now_naive();
        let batch = self
            .db
            .run(move |conn| backchannel::claim_due(conn, now, 20))
            .await?;
        let mut delivered = 0;
        for q in batch {
            match self.deliver(&q).await {
                Ok(()) => {
                    let (now, id) = (self.clock.now_naive(), q.id.clone());
                    self.db
                        .run(move |conn| backchannel::mark_delivered(conn, now, &id))
                        .await?;
                    self.metrics.logout("delivered");
                    delivered += 1;
                }
                Err(error) => {
                    let now = self.clock.now_naive();
                    let given_up = {
                        let (q, error) = (q.clone(), error.clone());
                        self.db
                            .run(move |conn| backchannel::mark_failed(conn, now, &q, &error))
                            .await?
                    };
                    self.metrics
                        .logout(if given_up { "given_up" } else { "failed" });
                    if given_up {
                        tracing::error!(id = %q.id, client_id = %q.client_id, error = %error, "back-channel logout given up after retries");
                    } else {
                        tracing::warn!(id = %q.id, client_id = %q.client_id, attempt = q.attempts + 1, error = %error, "back-channel logout failed; will retry");
                    }
                }
            }
        }
        let pending = self.db.run(backchannel::pending).await?;
        self.metrics.logouts_pending(pending);
        Ok(delivered)
    }

    /// Signs and POSTs one logout token; why not, in words.
    async fn deliver(&self, q: &Queued) -> Result<(), String> {
        let id = q.client_id.clone();
        let client = self
            .db
            .run(move |conn| clients::get(conn, &id))
            .await
            .map_err(|e| format!("the client could not be read: {e}"))?;
        let uri = client
            .meta()
            .backchannel_logout_uri
            .ok_or("the client no longer has a backchannel_logout_uri")?;
        let keys = self.keys.current().await;
        let token =
            backchannel::logout_token(&keys, self.config.issuer(), self.clock.now_naive(), q)
                .map_err(|e| e.to_string())?;
        crate::runtime::fetch::post_form(
            &uri,
            self.config.allow_private_jwks_uri,
            &[("logout_token", &token)],
        )
        .await
        .map_err(|e| format!("backchannel_logout_uri {e}"))
    }

    /// Runs delivery in the background: when woken by new logouts, and every 5 seconds for
    /// retries and logouts queued by other nodes.
    pub fn spawn_worker(&self) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            loop {
                if let Err(e) = this.deliver_due().await {
                    tracing::error!(error = %e, "back-channel logout round failed");
                }
                let notified = this.wake.notified();
                let _ = actix_web::rt::time::timeout(Duration::from_secs(5), notified).await;
            }
        });
    }
}
