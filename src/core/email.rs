//! The outgoing-mail queue in the database (SMTP delivery): enqueue, claim due messages with
//! a lease so only one node sends each, record success or failure with backoff.

use chrono::Duration;
use diesel::prelude::*;

use super::{Error, Timestamp};
use crate::db::schema::email_outbox as outbox;
use crate::db::DbConnection;

/// Attempts before a message is given up (and left, with its error, for operators).
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed message is reserved for the node sending it.
const LEASE_SECS: i64 = 120;

/// A queued message.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct Queued {
    pub id: String,
    pub kind: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues a message for delivery now.
pub fn enqueue(conn: &mut DbConnection, now: Timestamp, m: &Message) -> Result<String, Error> {
    let row = Queued {
        id: uuid::Uuid::new_v4().to_string(),
        kind: m.kind.to_owned(),
        to_addr: m.to.clone(),
        subject: m.subject.clone(),
        text_body: m.text.clone(),
        html_body: m.html.clone(),
        attempts: 0,
        last_error: None,
        created_at: now,
        next_attempt_at: now,
        sent_at: None,
        failed_at: None,
    };
    diesel::insert_into(outbox::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.id)
}

/// Claims up to `limit` due messages for this node (each claim is atomic).
pub fn claim_due(
    conn: &mut DbConnection,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Queued>, Error> {
    let due: Vec<Queued> = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::next_attempt_at.asc())
        .limit(limit)
        .select(Queued::as_select())
        .load(conn)?;
    let mut claimed = Vec::new();
    for m in due {
        let n = diesel::update(
            outbox::table
                .filter(outbox::id.eq(&m.id))
                .filter(outbox::next_attempt_at.eq(m.next_attempt_at))
                .filter(outbox::sent_at.is_null()),
        )
        .set(outbox::next_attempt_at.eq(now + Duration::seconds(LEASE_SECS)))
        .execute(conn)?;
        if n == 1 {
            claimed.push(m);
        }
    }
    Ok(claimed)
}

/// Records a delivery.
pub fn mark_sent(conn: &mut DbConnection, now: Timestamp, id: &str) -> Result<(), Error> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::sent_at.eq(Some(now)),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried with exponential backoff (30 s, 1 min, 2 min, ...), given
/// up after `MAX_ATTEMPTS`. Returns whether it was given up.
pub fn mark_failed(
    conn: &mut DbConnection,
    now: Timestamp,
    m: &Queued,
    error: &str,
) -> Result<bool, Error> {
    let attempts = m.attempts + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let delay = Duration::seconds(30 * (1i64 << (attempts - 1).min(10)));
    diesel::update(outbox::table.find(&m.id))
        .set((
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(Some(error.chars().take(500).collect::<String>())),
            outbox::next_attempt_at.eq(now + delay),
            outbox::failed_at.eq(give_up.then_some(now)),
        ))
        .execute(conn)?;
    Ok(give_up)
}

/// Messages waiting and messages given up (for metrics).
pub fn counts(conn: &mut DbConnection) -> Result<(i64, i64), Error> {
    let pending = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .count()
        .get_result(conn)?;
    let failed = outbox::table
        .filter(outbox::failed_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((pending, failed))
}
