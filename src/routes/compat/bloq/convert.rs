//! Core values as Bloq answers.

use serde_json::{json, Value};

use super::dto::{self, BillingAddress, Me};
use crate::core::accounts::Address;
use crate::core::events::Event;
use crate::core::time::rfc3339;
use crate::core::users::User;

/// `GET /users/me`: the OIDC address as the billing address.
pub fn me(u: &User) -> Me {
    let a: Address = u
        .address
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    Me {
        id: u.id.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        entity_type: u.entity_type.clone(),
        verified_at: u.email_verified_at.map(rfc3339),
        created_at: rfc3339(u.created_at),
        updated_at: rfc3339(u.updated_at),
        billing_address: BillingAddress {
            country: a.country,
            zip_code: a.postal_code,
            address: a.street_address,
            state: a.region,
        },
    }
}

fn parsed(s: &Option<String>) -> Value {
    s.as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_else(|| json!({}))
}

/// The document's `output`: every event has `startTime`, `endTime`, `httpStatusCode` and
/// `bytesOut`. API calls recorded them; a security event (a sign-in, a password change)
/// happened at one instant, answered 401 when it was a refusal and sent no body of its own.
fn output(e: &Event) -> Value {
    let mut out = match parsed(&e.output) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let at = || {
        json!(e
            .created_at
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    out.entry("startTime").or_insert_with(at);
    out.entry("endTime").or_insert_with(at);
    let status = if e.kind.ends_with(".failed") {
        401
    } else {
        200
    };
    out.entry("httpStatusCode").or_insert_with(|| json!(status));
    out.entry("bytesOut").or_insert_with(|| json!(0));
    Value::Object(out)
}

/// An event in the document's shape. Security events (sign-ins, password changes) appear
/// under the service `cloud-accounts` with their kind in `serviceData`.
pub fn event(e: &Event) -> dto::Event {
    let call = e.kind == "api.call";
    dto::Event {
        id: e.id.clone(),
        service: e
            .service
            .clone()
            .filter(|_| call)
            .unwrap_or_else(|| "cloud-accounts".into()),
        user: e.user_id.clone(),
        input: parsed(&e.input),
        output: output(e),
        service_data: if call {
            json!({})
        } else {
            json!({ "event": e.kind, "detail": parsed(&e.detail) })
        },
        created_at: rfc3339(e.created_at),
    }
}
