//! Browser sessions, stored server-side so any node serves them: a random id in an HttpOnly
//! cookie, its SHA-256 hash in the database, a public `sid` for ID tokens and logout.

use chrono::Duration;
use diesel::prelude::*;

use super::users::User;
use super::{crypto, events, tokens, Error, Timestamp};
use crate::db::schema::{sessions, users};
use crate::db::DbConnection;

/// A stored session.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub sid: String,
    pub csrf_secret: String,
    pub auth_time: Timestamp,
    pub amr: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Starts a session after a sign-in (`amr`: how the person proved who they are, RFC 8176);
/// returns the cookie value (shown once) and the row.
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    ttl: u64,
    user_agent: Option<&str>,
    ip: Option<&str>,
    amr: &[String],
) -> Result<(String, SessionRow), Error> {
    let value = crypto::random_token(32);
    let row = SessionRow {
        id_hash: crypto::secret_hash(&value),
        user_id: user_id.to_owned(),
        sid: crypto::random_token(16),
        csrf_secret: crypto::random_token(32),
        auth_time: now,
        amr: serde_json::to_string(amr).unwrap_or_else(|_| r#"["pwd"]"#.into()),
        user_agent: user_agent.map(|s| s.chars().take(300).collect()),
        ip: ip.map(str::to_owned),
        created_at: now,
        last_seen_at: now,
        expires_at: tokens::after(now, ttl),
    };
    diesel::insert_into(sessions::table)
        .values(&row)
        .execute(conn)?;
    events::record(
        conn,
        now,
        events::NewEvent {
            kind: "session.created",
            user_id: Some(user_id.to_owned()),
            ip: ip.map(str::to_owned),
            ..Default::default()
        },
    )?;
    Ok((value, row))
}

/// Steps a session up: the person proved who they are again, now with `amr` (a second
/// factor); the authentication time is now.
pub fn step_up(
    conn: &mut DbConnection,
    now: Timestamp,
    sid: &str,
    amr: &[String],
) -> Result<(), Error> {
    diesel::update(sessions::table.filter(sessions::sid.eq(sid)))
        .set((
            sessions::amr.eq(serde_json::to_string(amr).unwrap_or_default()),
            sessions::auth_time.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The live session a cookie names, with its user; `None` when unknown, expired, cut off by a
/// password change, or the user is disabled. Notes the visit (at most once a minute).
pub fn find(
    conn: &mut DbConnection,
    now: Timestamp,
    cookie: &str,
) -> Result<Option<(SessionRow, User)>, Error> {
    let found: Option<(SessionRow, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(crypto::secret_hash(cookie)))
        .select((SessionRow::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    let cut_off = user
        .tokens_valid_after
        .is_some_and(|t| session.created_at < t);
    if session.expires_at <= now || user.disabled || cut_off {
        return Ok(None);
    }
    if now - session.last_seen_at > Duration::seconds(60) {
        diesel::update(sessions::table.find(&session.id_hash))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some((session, user)))
}

/// Ends one session (by cookie value).
pub fn end(conn: &mut DbConnection, now: Timestamp, cookie: &str) -> Result<(), Error> {
    let hash = crypto::secret_hash(cookie);
    let user: Option<(String, String)> = sessions::table
        .find(&hash)
        .select((sessions::user_id, sessions::sid))
        .first(conn)
        .optional()?;
    diesel::delete(sessions::table.find(&hash)).execute(conn)?;
    if let Some((user_id, sid)) = user {
        events::record(conn, now, events::NewEvent::user("session.ended", &user_id))?;
        // The apps signed in through it are told (back-channel logout).
        super::backchannel::sessions_ended(conn, now, &user_id, &[sid])?;
    }
    Ok(())
}
