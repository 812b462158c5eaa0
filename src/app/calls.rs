//! Events for API calls made with a user's credentials (SPEC §8), in the shape Bloq's
//! `GET /users/me/events` shows: the service, the input with secrets removed, and the output
//! (start and end times, status, bytes). Queued for the node's audit writer.

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

/// Records a call an administrator made: who, which method and path, and the status.
pub fn admin_call(
    state: &AppState,
    caller: &crate::core::principal::Principal,
    ip: String,
    method: &str,
    path: &str,
    status: u16,
) {
    let event = NewEvent {
        kind: "admin.call",
        user_id: caller.user.as_ref().map(|u| u.id.clone()),
        client_id: caller.client_id.clone(),
        service: Some("admin".into()),
        ip: Some(ip),
        input: Some(json!({ "method": method, "path": path })),
        output: Some(json!({ "httpStatusCode": status })),
        detail: None,
    };
    state.audit.push(state.clock.now_naive(), event);
}
