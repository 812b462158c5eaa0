//! Personal access tokens: opaque, prefixed `pcat_` so they are recognisable (and findable by
//! secret scanners), stored as hashes, accepted wherever a user bearer token is.

use diesel::prelude::*;
use serde::Serialize;

use super::super::{crypto, events, validate, Error, Timestamp};
use crate::db::schema::{personal_access_tokens as pats, users};
use crate::db::DbConnection;

/// The prefix of every personal access token.
pub const PREFIX: &str = "pcat_";
/// The scope a personal access token carries: it acts on its user's account, never as an
/// admin (SPEC §9).
pub const SCOPE: &str = super::super::principal::scopes::ACCOUNT;

/// A stored personal access token (never its value).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = pats)]
pub struct Pat {
    pub id: String,
    pub user_id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub description: String,
    pub scope: String,
    #[serde(serialize_with = "super::super::time::ser")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "super::super::time::ser_opt")]
    pub last_used_at: Option<Timestamp>,
    #[serde(serialize_with = "super::super::time::ser_opt")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip)]
    pub revoked_at: Option<Timestamp>,
}

/// Whether a string has the shape of a personal access token.
pub fn looks_like_pat(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// Creates a token for a user; returns its value (shown once) and the row.
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    description: &str,
    expires_at: Option<Timestamp>,
) -> Result<(String, Pat), Error> {
    validate::text("description", description, 200)?;
    let value = format!("{PREFIX}{}", crypto::random_token(32));
    let row = Pat {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_owned(),
        token_hash: crypto::secret_hash(&value),
        description: description.to_owned(),
        scope: SCOPE.to_owned(),
        created_at: now,
        last_used_at: None,
        expires_at,
        revoked_at: None,
    };
    diesel::insert_into(pats::table)
        .values(&row)
        .execute(conn)?;
    events::record(
        conn,
        now,
        events::NewEvent::user("pat.created", user_id)
            .with_detail(serde_json::json!({ "id": row.id, "description": description })),
    )?;
    Ok((value, row))
}

/// The user's live tokens, newest first.
pub fn list(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Pat>, Error> {
    Ok(pats::table
        .filter(pats::user_id.eq(user_id))
        .filter(pats::revoked_at.is_null())
        .order((pats::created_at.desc(), pats::id.desc()))
        .select(Pat::as_select())
        .load(conn)?)
}

/// An active token by value, with its user's cut-off applied: `None` when unknown, revoked,
/// expired, or the user is disabled. Records the use (at most once a minute).
pub fn verify(conn: &mut DbConnection, now: Timestamp, value: &str) -> Result<Option<Pat>, Error> {
    if !looks_like_pat(value) {
        return Ok(None);
    }
    let found: Option<(Pat, bool)> = pats::table
        .inner_join(users::table)
        .filter(pats::token_hash.eq(crypto::secret_hash(value)))
        .select((Pat::as_select(), users::disabled))
        .first(conn)
        .optional()?;
    let Some((pat, disabled)) = found else {
        return Ok(None);
    };
    if disabled || pat.revoked_at.is_some() || pat.expires_at.is_some_and(|e| e <= now) {
        return Ok(None);
    }
    if pat
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        diesel::update(pats::table.find(&pat.id))
            .set(pats::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(Some(pat))
}

/// Revokes one of a user's tokens (`NotFound` for another user's).
pub fn revoke(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    id: &str,
) -> Result<(), Error> {
    let n = diesel::update(
        pats::table
            .filter(pats::id.eq(id))
            .filter(pats::user_id.eq(user_id))
            .filter(pats::revoked_at.is_null()),
    )
    .set(pats::revoked_at.eq(Some(now)))
    .execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("token"));
    }
    events::record(
        conn,
        now,
        events::NewEvent::user("pat.revoked", user_id).with_detail(serde_json::json!({ "id": id })),
    )?;
    Ok(())
}

/// Revokes a token by value (RFC 7009); unknown values are ignored.
pub fn revoke_by_value(conn: &mut DbConnection, now: Timestamp, value: &str) -> Result<(), Error> {
    let found: Option<Pat> = pats::table
        .filter(pats::token_hash.eq(crypto::secret_hash(value)))
        .select(Pat::as_select())
        .first(conn)
        .optional()?;
    if let Some(pat) = found.filter(|p| p.revoked_at.is_none()) {
        revoke(conn, now, &pat.user_id, &pat.id)?;
    }
    Ok(())
}

/// Revokes every token of a user ("sign out everywhere").
pub fn revoke_all(conn: &mut DbConnection, now: Timestamp, user_id: &str) -> Result<usize, Error> {
    Ok(diesel::update(
        pats::table
            .filter(pats::user_id.eq(user_id))
            .filter(pats::revoked_at.is_null()),
    )
    .set(pats::revoked_at.eq(Some(now)))
    .execute(conn)?)
}
