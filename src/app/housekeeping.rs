//! The housekeeping job (SPEC §7): every `housekeeping.interval` seconds each node deletes, in
//! small batches, what can no longer be used (the rules are `core::housekeeping`'s). Each
//! batch is its own short statement, so requests keep being served between them, and nodes
//! that run it at the same time only repeat each other's deletes.

use std::time::Duration;

use crate::clock::Clock;
use crate::core::housekeeping::{self, Rule, Rules, BATCH};
use crate::db::DbPool;
use crate::state::AppState;

/// Batches one rule may take in one pass; the rest waits for the next pass (a first pass over
/// a database that never had housekeeping may have millions of rows to delete).
const MAX_BATCHES_PER_RULE: usize = 200;

/// What one pass deleted, per table, and the rules that failed (the others still ran).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    pub rows: Vec<(&'static str, usize)>,
    pub failed: Vec<(&'static str, String)>,
}

impl Deleted {
    /// Rows deleted from `table`.
    pub fn from(&self, table: &str) -> usize {
        self.rows
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }

    /// Rows deleted in all.
    pub fn total(&self) -> usize {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// One pass over every rule, now, at most `MAX_BATCHES_PER_RULE` batches each; counts what
/// it deleted in the metrics.
pub async fn run(state: &AppState) -> Deleted {
    let rules = state.config.housekeeping_rules();
    let deleted = sweep(&state.db, &state.clock, &rules, MAX_BATCHES_PER_RULE).await;
    for (table, rows) in &deleted.rows {
        if *rows > 0 {
            state.metrics.housekept(table, *rows);
        }
    }
    deleted
}

/// Deletes, rule by rule, in batches of `BATCH`, until a batch comes back short or
/// `max_batches` ran (the CLI passes `usize::MAX`: everything due, now). A rule that fails
/// (a timeout on a huge table, the database gone) is reported and the next rule still runs.
pub async fn sweep(db: &DbPool, clock: &Clock, rules: &Rules, max_batches: usize) -> Deleted {
    let mut deleted = Deleted::default();
    for rule in Rule::ALL {
        let mut rows = 0;
        for _ in 0..max_batches {
            let now = clock.now_naive();
            let r = rules.clone();
            match db
                .run(move |conn| housekeeping::batch(conn, now, &r, rule))
                .await
            {
                Ok(n) => {
                    rows += n;
                    if n < BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    deleted.failed.push((rule.table(), e.to_string()));
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        deleted.rows.push((rule.table(), rows));
    }
    deleted
}

/// Runs a pass every `housekeeping.interval` seconds for as long as the node runs, the first
/// after a random part of the interval (nodes started together spread out).
pub async fn every_interval(state: AppState) {
    let interval = Duration::from_secs(state.config.housekeeping.interval);
    let first = interval.mul_f64(rand::random::<f64>());
    tokio::time::sleep(first).await;
    loop {
        let deleted = run(&state).await;
        state.metrics.housekeeping_run(deleted.failed.is_empty());
        if deleted.total() > 0 {
            tracing::info!(rows = deleted.total(), "housekeeping deleted expired rows");
        }
        for (table, error) in &deleted.failed {
            tracing::warn!(
                table,
                error,
                "a housekeeping rule failed; the next pass retries"
            );
        }
        tokio::time::sleep(interval).await;
    }
}
