//! Keeping the node's copies fresh: the revocation log, the signing keys and the client cache.
//!
//! One task per node refreshes the revocation copy every `POLL_SECS` and the keys every
//! `KEY_REFRESH_SECS` (the fallback, and all there is on SQLite). On PostgreSQL a listener
//! thread also holds a connection of its own, `LISTEN`s on the channel the change-notice
//! triggers use (migration `change_notices`), and passes each notice on at once: a change
//! made on any node, by the CLI or with psql reaches every node within `LISTEN_TICK` plus one
//! query. After (re)connecting the listener asks for a full refresh, since notices sent while
//! it was away are lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokio::sync::mpsc;

use super::cache::Caches;
use super::keys::{KeyStore, KEY_REFRESH_SECS};
use super::revocations::{RevocationCache, POLL_SECS};
use crate::db::{DbConnection, DbPool};

/// The channel the triggers notify.
pub const CHANNEL: &str = "portcullis";
/// How often the listener looks for notices that arrived.
const LISTEN_TICK: Duration = Duration::from_millis(50);
/// How often the listener checks that its connection is alive when all is quiet.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// The longest wait between attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Revocations,
    Keys,
    Client(String),
    /// Notices may have been missed: refresh everything.
    All,
}

impl Change {
    /// Reads a notice's payload (`<schema>:<what>`) when it is for `schema`.
    pub fn parse(payload: &str, schema: &str) -> Option<Change> {
        let what = payload.strip_prefix(schema)?.strip_prefix(':')?;
        match what {
            "revocations" => Some(Change::Revocations),
            "keys" => Some(Change::Keys),
            _ => what
                .strip_prefix("client:")
                .map(|id| Change::Client(id.to_owned())),
        }
    }
}

/// The node's copies kept fresh by the feed.
#[derive(Clone)]
pub struct Copies {
    pub revocations: RevocationCache,
    pub keys: KeyStore,
    pub caches: Caches,
}

impl Copies {
    /// Reads what changed now. Not single-flight: a refresh already under way may have read
    /// before the change committed.
    async fn apply(&self, change: &Change) {
        match change {
            Change::Revocations => self.revocations.catch_up().await,
            Change::Keys => self.reload_keys().await,
            Change::Client(id) => self.caches.clients.remove(id.as_str()),
            Change::All => {
                self.caches.clients.clear();
                self.revocations.catch_up().await;
                self.reload_keys().await;
            }
        }
    }

    async fn reload_keys(&self) {
        if let Err(e) = self.keys.reload().await {
            tracing::warn!(error = %e, "could not reload signing keys after a change notice");
        }
    }
}

/// The running feed; dropping it stops the task and the listener.
pub struct ChangeFeed {
    stop: Arc<AtomicBool>,
    listening: Arc<AtomicBool>,
    _tx: mpsc::UnboundedSender<Change>,
}

impl ChangeFeed {
    /// Whether the listener is connected and subscribed (never, on SQLite).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Starts the refresh task (on the current runtime) and, on PostgreSQL, the listener thread.
pub fn start(db: &DbPool, copies: Copies) -> ChangeFeed {
    let stop = Arc::new(AtomicBool::new(false));
    let listening = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::unbounded_channel();
    if db.backend() == "postgres" {
        let (db, tx, stop, up) = (db.clone(), tx.clone(), stop.clone(), listening.clone());
        let spawned = std::thread::Builder::new()
            .name("portcullis-listen".into())
            .spawn(move || listen(&db, &tx, &stop, &up));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "no change listener; polling only");
        }
    }
    tokio::spawn(refresh(copies, rx, stop.clone()));
    ChangeFeed {
        stop,
        listening,
        _tx: tx,
    }
}

/// Applies notices as they come, and polls on the fallback schedule.
async fn refresh(copies: Copies, mut rx: mpsc::UnboundedReceiver<Change>, stop: Arc<AtomicBool>) {
    let poll = Duration::from_secs(POLL_SECS as u64);
    let key_poll = Duration::from_secs(KEY_REFRESH_SECS as u64);
    let (mut polled, mut keys_polled) = (Instant::now(), Instant::now());
    while !stop.load(Ordering::Acquire) {
        let wait = poll
            .saturating_sub(polled.elapsed())
            .min(key_poll.saturating_sub(keys_polled.elapsed()));
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(first)) => {
                // Apply a burst once: many revocations in a row need one poll.
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    if !batch.contains(&more) {
                        batch.push(more);
                    }
                }
                for change in &batch {
                    copies.apply(change).await;
                }
            }
            Ok(None) => return,
            Err(_) => {}
        }
        if polled.elapsed() >= poll {
            copies.revocations.refresh().await;
            polled = Instant::now();
        }
        if keys_polled.elapsed() >= key_poll {
            copies.keys.refresh().await;
            keys_polled = Instant::now();
        }
    }
}

/// The listener thread: connect, `LISTEN`, pass notices on; on trouble, connect again.
fn listen(
    db: &DbPool,
    tx: &mpsc::UnboundedSender<Change>,
    stop: &AtomicBool,
    listening: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(250);
    while !stop.load(Ordering::Acquire) && !tx.is_closed() {
        match db.dedicated().map_err(|e| e.to_string()).and_then(|conn| {
            let DbConnection::Postgres(conn) = conn else {
                return Err("not PostgreSQL".into());
            };
            subscribe(conn)
        }) {
            Ok((mut conn, schema)) => {
                backoff = Duration::from_millis(250);
                // Whatever changed while no one listened.
                let _ = tx.send(Change::All);
                tracing::info!(schema, "listening for change notices");
                listening.store(true, Ordering::Release);
                let e = pass_on(&mut conn, &schema, tx, stop);
                listening.store(false, Ordering::Release);
                if let Err(e) = e {
                    tracing::warn!(error = %e, "change listener lost its connection");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "change listener cannot connect; polling meanwhile");
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// `LISTEN`s and finds the schema whose notices are ours.
fn subscribe(mut conn: PgConnection) -> Result<(PgConnection, String), String> {
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(|e| e.to_string())?;
    let schema: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_schema()",
    ))
    .get_result(&mut conn)
    .map_err(|e| e.to_string())?;
    Ok((conn, schema))
}

/// Passes notices on until the connection fails or the feed stops.
fn pass_on(
    conn: &mut PgConnection,
    schema: &str,
    tx: &mpsc::UnboundedSender<Change>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut quiet_since = Instant::now();
    while !stop.load(Ordering::Acquire) {
        for notice in conn.notifications_iter() {
            let notice = notice.map_err(|e| e.to_string())?;
            quiet_since = Instant::now();
            if let Some(change) = Change::parse(&notice.payload, schema) {
                if tx.send(change).is_err() {
                    return Ok(());
                }
            }
        }
        if quiet_since.elapsed() >= HEARTBEAT {
            conn.batch_execute("SELECT 1").map_err(|e| e.to_string())?;
            quiet_since = Instant::now();
        }
        std::thread::sleep(LISTEN_TICK);
    }
    Ok(())
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::Acquire) {
        std::thread::sleep(LISTEN_TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_read_for_their_own_schema_only() {
        assert_eq!(
            Change::parse("public:revocations", "public"),
            Some(Change::Revocations)
        );
        assert_eq!(Change::parse("public:keys", "public"), Some(Change::Keys));
        assert_eq!(
            Change::parse("public:client:a:b", "public"),
            Some(Change::Client("a:b".into()))
        );
        assert_eq!(Change::parse("other:keys", "public"), None);
        assert_eq!(Change::parse("publicx:keys", "public"), None);
        assert_eq!(Change::parse("public:what", "public"), None);
    }
}
