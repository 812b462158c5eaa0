//! The audit log: security-relevant actions and API calls made with a user's credentials.
//! Events never contain passwords, secrets or tokens.

use diesel::prelude::*;
use serde::Serialize;

use super::{Error, Timestamp};
use crate::db::schema::events;
use crate::db::DbConnection;

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub service: Option<String>,
    pub ip: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub detail: Option<String>,
    #[serde(serialize_with = "super::time::ser")]
    pub created_at: Timestamp,
}

/// What to record; the id and time are filled in by `record`.
#[derive(Debug, Default, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub service: Option<String>,
    pub ip: Option<String>,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub detail: Option<serde_json::Value>,
}

impl NewEvent {
    /// An event of `kind` about a user.
    pub fn user(kind: &'static str, user_id: &str) -> NewEvent {
        NewEvent {
            kind,
            user_id: Some(user_id.to_owned()),
            ..Default::default()
        }
    }

    /// An event of `kind` about a client.
    pub fn client(kind: &'static str, client_id: &str) -> NewEvent {
        NewEvent {
            kind,
            client_id: Some(client_id.to_owned()),
            ..Default::default()
        }
    }

    /// Adds a JSON detail.
    pub fn with_detail(mut self, detail: serde_json::Value) -> NewEvent {
        self.detail = Some(detail);
        self
    }
}

/// Writes one event. Ids are `event-<uuid>` (the shape Bloq clients expect).
pub fn record(conn: &mut DbConnection, now: Timestamp, event: NewEvent) -> Result<Event, Error> {
    let row = Event {
        id: format!("event-{}", uuid::Uuid::new_v4()),
        kind: event.kind.to_owned(),
        user_id: event.user_id,
        client_id: event.client_id,
        service: event.service,
        ip: event.ip,
        input: event.input.map(|v| v.to_string()),
        output: event.output.map(|v| v.to_string()),
        detail: event.detail.map(|v| v.to_string()),
        created_at: now,
    };
    diesel::insert_into(events::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The most recent events of a kind (newest first); for tests and the admin API.
pub fn recent(conn: &mut DbConnection, kind: &str, limit: i64) -> Result<Vec<Event>, Error> {
    Ok(events::table
        .filter(events::kind.eq(kind))
        .order((events::created_at.desc(), events::id.desc()))
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// A user's events, newest first: `limit` of them, older than the event `before` when given
/// (`NotFound` for an unknown `before`).
pub fn for_user(
    conn: &mut DbConnection,
    user_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Event>, Error> {
    let mut q = events::table
        .filter(events::user_id.eq(user_id))
        .into_boxed();
    if let Some(before) = before {
        let (at, id): (Timestamp, String) = events::table
            .filter(events::id.eq(before))
            .filter(events::user_id.eq(user_id))
            .select((events::created_at, events::id))
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound("event"))?;
        q = q.filter(
            events::created_at
                .lt(at)
                .or(events::created_at.eq(at).and(events::id.lt(id))),
        );
    }
    Ok(q.order((events::created_at.desc(), events::id.desc()))
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// Filters of the admin event query.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// An event id: only older ones.
    pub before: Option<String>,
    pub limit: i64,
}

/// Events matching the filters, newest first.
pub fn query(conn: &mut DbConnection, q: &EventQuery) -> Result<Vec<Event>, Error> {
    let mut b = events::table.into_boxed();
    if let Some(u) = &q.user_id {
        b = b.filter(events::user_id.eq(u.clone()));
    }
    if let Some(c) = &q.client_id {
        b = b.filter(events::client_id.eq(c.clone()));
    }
    if let Some(k) = &q.kind {
        b = b.filter(events::kind.eq(k.clone()));
    }
    if let Some(t) = q.since {
        b = b.filter(events::created_at.ge(t));
    }
    if let Some(t) = q.until {
        b = b.filter(events::created_at.lt(t));
    }
    if let Some(before) = &q.before {
        let (at, id): (Timestamp, String) = events::table
            .filter(events::id.eq(before))
            .select((events::created_at, events::id))
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound("event"))?;
        b = b.filter(
            events::created_at
                .lt(at)
                .or(events::created_at.eq(at).and(events::id.lt(id))),
        );
    }
    Ok(b.order((events::created_at.desc(), events::id.desc()))
        .limit(q.limit)
        .select(Event::as_select())
        .load(conn)?)
}
