//! The audit writer: events of API calls are queued on a bounded channel (no database write on
//! the request's path) and written in batches, one transaction about once a second, by a task
//! started on first use. A full queue writes the event at once instead of dropping it; a clean
//! shutdown (and a reader that wants its own writes) flushes what is queued.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex, Notify};

use crate::core::events::{self, NewEvent};
use crate::core::{Error, Timestamp};
use crate::db::DbPool;

/// Events queued before the writer must catch up.
pub const QUEUE: usize = 4096;
/// A batch is written early once this many events wait.
const BATCH: usize = 256;

/// Queued events and their writer; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    db: DbPool,
    tx: mpsc::Sender<(Timestamp, NewEvent)>,
    rx: Arc<Mutex<mpsc::Receiver<(Timestamp, NewEvent)>>>,
    wake: Arc<Notify>,
    writer: Arc<AtomicBool>,
}

impl AuditWriter {
    pub fn new(db: DbPool) -> AuditWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        AuditWriter {
            db,
            tx,
            rx: Arc::new(Mutex::new(rx)),
            wake: Arc::new(Notify::new()),
            writer: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues an event that happened `at` (starting the writer on first use).
    pub fn push(&self, at: Timestamp, event: NewEvent) {
        if !self.writer.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            actix_web::rt::spawn(async move {
                loop {
                    let _ =
                        actix_web::rt::time::timeout(Duration::from_secs(1), this.wake.notified())
                            .await;
                    if let Err(e) = this.flush().await {
                        tracing::error!(error = %e, "could not write queued events; will retry");
                    }
                }
            });
        }
        match self.tx.try_send((at, event)) {
            Ok(()) => {
                if self.len() >= BATCH {
                    self.wake.notify_one();
                }
            }
            Err(mpsc::error::TrySendError::Full((at, event))) => {
                // The writer is behind: this event is written now rather than lost.
                self.wake.notify_one();
                let db = self.db.clone();
                actix_web::rt::spawn(async move {
                    if let Err(e) = db.run(move |conn| events::record(conn, at, event)).await {
                        tracing::error!(error = %e, "could not write an event");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("the audit queue is closed; an event was lost");
            }
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        QUEUE - self.tx.capacity()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every queued event now, in one transaction. On failure they are written again
    /// on the next flush, so nothing is lost to a passing database error.
    pub async fn flush(&self) -> Result<(), Error> {
        let mut rx = self.rx.lock().await;
        let mut batch = Vec::new();
        while let Ok(item) = rx.try_recv() {
            batch.push(item);
        }
        drop(rx);
        if batch.is_empty() {
            return Ok(());
        }
        let retry = batch.clone();
        let result = self
            .db
            .run(move |conn| {
                crate::db::transaction(conn, |conn| {
                    for (at, event) in batch {
                        events::record(conn, at, event)?;
                    }
                    Ok::<(), Error>(())
                })
            })
            .await;
        if result.is_err() {
            for item in retry {
                if self.tx.try_send(item).is_err() {
                    tracing::error!("the audit queue is full while retrying; an event was lost");
                }
            }
        }
        result
    }
}
