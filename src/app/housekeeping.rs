//! The housekeeping job (SPEC §7): every `housekeeping.interval` seconds each node deletes, in
//! small batches, what can no longer be used (the rules are `core::housekeeping`'s). Each
//! batch is its own short statement, so requests keep being served between them, and nodes
//! that run it at the same time only repeat each other's deletes.

use std::time::Duration;

use crate::core::housekeeping::{self, Rule, BATCH};
use crate::core::Error;
use crate::state::AppState;

/// Batches one rule may take in one pass; the rest waits for the next pass (a first pass over
/// a database that never had housekeeping may have millions of rows to delete).
const MAX_BATCHES_PER_RULE: usize = 200;

/// What one pass deleted, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted(pub Vec<(&'static str, usize)>);

impl Deleted {
    /// Rows deleted from `table`.
    pub fn from(&self, table: &str) -> usize {
        self.0
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }

    /// Rows deleted in all.
    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// One pass over every rule, now.
pub async fn run(state: &AppState) -> Result<Deleted, Error> {
    let rules = state.config.housekeeping_rules();
    let mut deleted = Deleted::default();
    for rule in Rule::ALL {
        let mut rows = 0;
        for _ in 0..MAX_BATCHES_PER_RULE {
            let now = state.clock.now_naive();
            let r = rules.clone();
            let n = state
                .db
                .run(move |conn| housekeeping::batch(conn, now, &r, rule))
                .await?;
            rows += n;
            if n < BATCH as usize {
                break;
            }
            tokio::task::yield_now().await;
        }
        if rows > 0 {
            state.metrics.housekept(rule.table(), rows);
        }
        deleted.0.push((rule.table(), rows));
    }
    Ok(deleted)
}

/// Runs a pass every `housekeeping.interval` seconds for as long as the node runs, the first
/// after a random part of the interval (nodes started together spread out).
pub async fn every_interval(state: AppState) {
    let interval = Duration::from_secs(state.config.housekeeping.interval);
    let first = interval.mul_f64(rand::random::<f64>());
    tokio::time::sleep(first).await;
    loop {
        match run(&state).await {
            Ok(deleted) => {
                state.metrics.housekeeping_run(true);
                if deleted.total() > 0 {
                    tracing::info!(rows = deleted.total(), "housekeeping deleted expired rows");
                }
            }
            Err(e) => {
                state.metrics.housekeeping_run(false);
                tracing::warn!(error = %e, "housekeeping pass failed; the next one retries");
            }
        }
        tokio::time::sleep(interval).await;
    }
}
