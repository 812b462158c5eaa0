//! argon2id, the one deliberately slow computation: hashing and verifying people's passwords on
//! threads of their own.

use std::sync::{Arc, OnceLock};

use super::workers::Workers;
use crate::config::Argon2Settings;
use crate::core::{password, Error};

/// argon2 on its own threads: `argon2.max_concurrent` of them (the number of CPUs by
/// default). Requests queue here instead of starving token or JWKS traffic, and each thread
/// keeps its 19 MiB of argon2 memory between hashes (`core::password`), so the server holds
/// exactly one such block per thread. Measured under the password-grant benchmark: hashing on
/// the shared blocking pool peaked at 540 MiB RSS, on these threads with a fresh allocation
/// per hash at 243 MiB (glibc kept several blocks per arena), with reused memory at 63 MiB.
#[derive(Clone)]
pub struct PasswordGate {
    settings: Argon2Settings,
    workers: Workers,
    dummy: Arc<OnceLock<String>>,
    /// Wakes the attempts waiting for a throttle place when one settles on this node.
    pub settled: Arc<tokio::sync::Notify>,
}

impl PasswordGate {
    pub fn new(settings: Argon2Settings) -> PasswordGate {
        PasswordGate {
            workers: Workers::new("argon2", settings.max_concurrent, 4096),
            settings,
            dummy: Arc::new(OnceLock::new()),
            settled: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Runs `f` on a hashing thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.workers.run(f).await
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let settings = self.settings.clone();
        self.run(move || password::hash(&settings, &password)).await
    }

    /// Verifies a password against a stored hash, or against a dummy hash when there is none
    /// (same cost either way). Returns whether it matched and, when it did with outdated
    /// parameters, a fresh hash to store.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<(bool, Option<String>), Error> {
        let settings = self.settings.clone();
        let dummy = self.dummy.clone();
        self.run(move || {
            let Some(stored) = stored else {
                let d = dummy.get_or_init(|| {
                    password::hash(&settings, "portcullis dummy password").unwrap_or_default()
                });
                let _ = password::verify(&settings, &password, d);
                return Ok((false, None));
            };
            if !password::verify(&settings, &password, &stored) {
                return Ok((false, None));
            }
            let rehash = if password::needs_rehash(&settings, &stored) {
                Some(password::hash(&settings, &password)?)
            } else {
                None
            };
            Ok((true, rehash))
        })
        .await
    }
}
