//! Authorization codes: opaque, stored as hashes, single use, short-lived. Consuming one is
//! atomic; a second use is a replay and revokes what the first use issued.

use diesel::prelude::*;

use super::super::{crypto, Error, Timestamp};
use super::after;
use crate::db::schema::authorization_codes as codes;
use crate::db::DbConnection;

/// A stored code.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub grant_id: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// What the authorization endpoint decided.
#[derive(Debug, Clone, Default)]
pub struct NewCode {
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Option<String>,
}

/// Stores a code; returns its value.
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    ttl: u64,
    new: NewCode,
) -> Result<String, Error> {
    let value = crypto::random_token(32);
    let row = CodeRow {
        code_hash: crypto::secret_hash(&value),
        client_id: new.client_id,
        user_id: new.user_id,
        grant_id: None,
        redirect_uri: new.redirect_uri,
        scope: new.scope,
        nonce: new.nonce,
        code_challenge: new.code_challenge,
        code_challenge_method: new.code_challenge_method,
        resource: new.resource,
        session_id: new.session_id,
        auth_time: new.auth_time,
        amr: new.amr,
        created_at: now,
        expires_at: after(now, ttl),
        used_at: None,
    };
    diesel::insert_into(codes::table)
        .values(&row)
        .execute(conn)?;
    Ok(value)
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum Consumed {
    /// First use: the code is now spent.
    Fresh(CodeRow),
    /// Already used: the grant it issued (if any) must be revoked.
    Replayed(CodeRow),
    /// Unknown or expired.
    Invalid,
}

/// Spends a code atomically.
pub fn consume(conn: &mut DbConnection, now: Timestamp, value: &str) -> Result<Consumed, Error> {
    let hash = crypto::secret_hash(value);
    let n = diesel::update(
        codes::table
            .filter(codes::code_hash.eq(&hash))
            .filter(codes::used_at.is_null())
            .filter(codes::expires_at.gt(now)),
    )
    .set(codes::used_at.eq(Some(now)))
    .execute(conn)?;
    let row: Option<CodeRow> = codes::table
        .find(&hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?;
    Ok(match (n, row) {
        (1, Some(row)) => Consumed::Fresh(row),
        (0, Some(row)) if row.used_at.is_some() => Consumed::Replayed(row),
        _ => Consumed::Invalid,
    })
}

/// Records the grant a code issued, so that a replay can revoke it.
pub fn set_grant(conn: &mut DbConnection, code_hash: &str, grant_id: &str) -> Result<(), Error> {
    diesel::update(codes::table.find(code_hash))
        .set(codes::grant_id.eq(Some(grant_id)))
        .execute(conn)?;
    Ok(())
}
