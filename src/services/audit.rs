//! Events for API calls made with a user's credentials (SPEC §8), in the shape Bloq's
//! `GET /users/me/events` shows: the service, the input with secrets removed, and the output
//! (start and end times, status, bytes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::core::events::{self, NewEvent};
use crate::core::{Error, Timestamp};
use crate::state::AppState;

/// Events waiting to be written. Requests only queue (no database write on their path); a
/// writer task batches them into one transaction about once a second, and a clean shutdown
/// flushes what is left.
#[derive(Clone, Default)]
pub struct EventSink {
    queue: Arc<Mutex<Vec<(Timestamp, NewEvent)>>>,
    wake: Arc<Notify>,
    writer: Arc<AtomicBool>,
}

impl EventSink {
    /// Queues an event (starting the writer on first use).
    pub fn push(&self, state: &AppState, at: Timestamp, event: NewEvent) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, event));
        if !self.writer.swap(true, Ordering::AcqRel) {
            let state = state.clone();
            actix_web::rt::spawn(async move {
                loop {
                    let _ = actix_web::rt::time::timeout(
                        Duration::from_secs(1),
                        state.audit.wake.notified(),
                    )
                    .await;
                    if let Err(e) = state.audit.flush(&state).await {
                        tracing::error!(error = %e, "could not write queued events; will retry");
                    }
                }
            });
        }
        if self.len() >= 256 {
            self.wake.notify_one();
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every queued event now (in one transaction). On failure they go back in the
    /// queue, so nothing is lost to a passing database error.
    pub async fn flush(&self, state: &AppState) -> Result<(), Error> {
        let batch: Vec<(Timestamp, NewEvent)> =
            std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        let retry = batch.clone();
        let result = state
            .db
            .run(move |conn| {
                use diesel::Connection;
                conn.transaction(|conn| {
                    for (at, event) in batch {
                        events::record(conn, at, event)?;
                    }
                    Ok::<(), Error>(())
                })
            })
            .await;
        if result.is_err() {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let mut back = retry;
            back.append(&mut q);
            *q = back;
        }
        result
    }
}

/// Keys whose values never reach an event.
const SECRET_KEYS: &[&str] = &[
    "password",
    "psk",
    "cert",
    "token",
    "secret",
    "client_secret",
    "clientsecret",
    "oldpassword",
    "newpassword",
    "refreshtoken",
    "refresh_token",
    "accesstoken",
    "access_token",
    "reset_password_token",
    "credentials",
];

/// The value with every secret-looking field replaced.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = k.to_ascii_lowercase();
                    if SECRET_KEYS.contains(&key.as_str()) {
                        (k.clone(), json!("[redacted]"))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// One call, as it finished.
pub struct ApiCall<'a> {
    pub service: &'a str,
    pub user_id: &'a str,
    pub client_id: Option<&'a str>,
    pub ip: &'a str,
    pub input: Value,
    pub status: u16,
    pub started: DateTime<Utc>,
    pub started_at: Instant,
    pub bytes_out: usize,
}

/// Records the call (queued; see `EventSink`). Never fails the request.
pub async fn record(state: &AppState, call: ApiCall<'_>) {
    let now = state.clock.now_naive();
    let ended =
        call.started + chrono::Duration::from_std(call.started_at.elapsed()).unwrap_or_default();
    let event = NewEvent {
        kind: "api.call",
        user_id: Some(call.user_id.to_owned()),
        client_id: call.client_id.map(str::to_owned),
        service: Some(call.service.to_owned()),
        ip: Some(call.ip.to_owned()),
        input: Some(redact(&call.input)),
        output: Some(json!({
            "startTime": call.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "endTime": ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "httpStatusCode": call.status,
            "bytesOut": call.bytes_out,
        })),
        detail: None,
    };
    if let Err(e) = state
        .db
        .run(move |conn| events::record(conn, now, event))
        .await
    {
        tracing::error!(error = %e, "could not record an API call event");
    }
}
