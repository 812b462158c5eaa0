//! Events for API calls made with a user's credentials (SPEC §8), in the shape Bloq's
//! `GET /users/me/events` shows: the service, the input with secrets removed, and the output
//! (start and end times, status, bytes). Queued for the node's audit writer.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::core::events::NewEvent;
use crate::state::AppState;

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

/// Records the call: queued for the audit writer, never failing the request.
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
    state.audit.push(now, event);
}

/// Finishes a call's audit record with its answer (status, bytes sent) and queues it.
pub fn finish(state: &AppState, audit: crate::app::call::Audit, status: u16, bytes_out: usize) {
    let now = state.clock.now_naive();
    let ended =
        audit.started + chrono::Duration::from_std(audit.started_at.elapsed()).unwrap_or_default();
    let event = NewEvent {
        kind: "api.call",
        user_id: Some(audit.user_id),
        client_id: audit.client_id,
        service: Some(audit.service),
        ip: Some(audit.ip),
        input: Some(redact(&audit.input)),
        output: Some(json!({
            "startTime": audit.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "endTime": ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "httpStatusCode": status,
            "bytesOut": bytes_out,
        })),
        detail: None,
    };
    state.audit.push(now, event);
}
