//! The request context every use case receives: who is calling (the principal the
//! authorization boundary admitted, if any), from where (client IP, user agent), through which
//! door, and when (the clock tests move). Built once per request by the doors' `Admitted`
//! extractor. For calls made with a person's credentials at the compatibility doors it also
//! carries the audit record the boundary finishes once the answer is known (SPEC §8).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::core::principal::Principal;
use crate::core::Timestamp;

/// One request, as the application sees it.
#[derive(Debug, Clone)]
pub struct Call {
    pub principal: Option<Principal>,
    pub ip: String,
    pub user_agent: Option<String>,
    /// The door's name (`oauth`, `pages`, `admin`, `mongoose`, ...).
    pub door: &'static str,
    /// When the request started, by the server's clock.
    pub now: Timestamp,
    audit: AuditSlot,
}

/// Where a call's audit record waits for the answer (shared with the door that finishes it).
pub type AuditSlot = Arc<Mutex<Option<Audit>>>;

/// An API call being recorded: what the door records of it, and when it started.
#[derive(Debug, Clone)]
pub struct Audit {
    pub service: String,
    pub user_id: String,
    pub client_id: Option<String>,
    pub ip: String,
    pub input: Value,
    pub started: chrono::DateTime<chrono::Utc>,
    pub started_at: Instant,
}

impl Call {
    /// A request's context. With `audit_service`, a call made with a person's credentials
    /// starts its API-call record, which the door finishes with the answer.
    pub fn new(
        principal: Option<Principal>,
        ip: String,
        user_agent: Option<String>,
        door: &'static str,
        now: Timestamp,
        audit_service: Option<&str>,
    ) -> Call {
        let call = Call {
            principal,
            ip,
            user_agent,
            door,
            now,
            audit: AuditSlot::default(),
        };
        if let (Some(service), Some(p)) = (audit_service, &call.principal) {
            if let Some(user) = &p.user {
                call.audit_as(service, &user.id, p.client_id.as_deref());
            }
        }
        call
    }

    /// The same call, by `principal` (a door that authenticates inside its route: Mongoose).
    pub fn with_principal(mut self, principal: Option<Principal>) -> Call {
        self.principal = principal;
        self
    }

    /// A context for work that no request started (the CLI, tests).
    pub fn internal(now: Timestamp) -> Call {
        Call::new(None, "internal".into(), None, "internal", now, None)
    }

    /// The user the principal acts for.
    pub fn user_id(&self) -> Option<&str> {
        self.principal
            .as_ref()
            .and_then(|p| p.user.as_ref())
            .map(|u| u.id.as_str())
    }

    /// Starts the API-call record of a call whose person is known only now (a sign-in).
    pub fn audit_as(&self, service: &str, user_id: &str, client_id: Option<&str>) {
        *self.audit.lock().unwrap_or_else(|e| e.into_inner()) = Some(Audit {
            service: service.to_owned(),
            user_id: user_id.to_owned(),
            client_id: client_id.map(str::to_owned),
            ip: self.ip.clone(),
            input: Value::Object(Default::default()),
            started: chrono::DateTime::from_naive_utc_and_offset(self.now, chrono::Utc),
            started_at: Instant::now(),
        });
    }

    /// Records what the call asked (secrets are removed when it is written).
    pub fn audit_input(&self, input: Value) {
        if let Some(a) = self
            .audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            a.input = input;
        }
    }

    /// Names the call's service (a door whose routes are several services: Mongoose methods).
    pub fn audit_service(&self, service: String) {
        if let Some(a) = self
            .audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            a.service = service;
        }
    }

    /// The slot of the call's audit record (the door finishes what is in it).
    pub fn audit_slot(&self) -> AuditSlot {
        self.audit.clone()
    }
}
