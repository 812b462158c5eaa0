//! Refresh tokens: opaque 256-bit values stored as hashes, rotated on every use. A token used
//! twice (replay, or a lost race) revokes its whole family: the grant and every token of it
//! (RFC 9700 §4.14.2).

use diesel::prelude::*;

use super::super::{crypto, Error, Timestamp};
use super::after;
use crate::db::schema::{grants, refresh_tokens};
use crate::db::DbConnection;

/// A stored refresh token.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRow {
    pub id: String,
    pub token_hash: String,
    pub grant_id: String,
    pub family_id: String,
    pub parent_id: Option<String>,
    pub scope: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The thumbprint of the DPoP key the token is bound to (public clients, RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

/// Creates a refresh token for a grant, bound to a DPoP key when `jkt` is given; returns the
/// plain value (shown once) and the row.
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    grant_id: &str,
    scope: &str,
    ttl: u64,
    parent: Option<&RefreshRow>,
    jkt: Option<&str>,
) -> Result<(String, RefreshRow), Error> {
    let value = crypto::random_token(32);
    let id = uuid::Uuid::new_v4().to_string();
    let row = RefreshRow {
        family_id: parent
            .map(|p| p.family_id.clone())
            .unwrap_or_else(|| id.clone()),
        parent_id: parent.map(|p| p.id.clone()),
        id,
        token_hash: crypto::secret_hash(&value),
        grant_id: grant_id.to_owned(),
        scope: scope.to_owned(),
        created_at: now,
        expires_at: after(now, ttl),
        used_at: None,
        revoked_at: None,
        dpop_jkt: jkt.map(str::to_owned),
    };
    diesel::insert_into(refresh_tokens::table)
        .values(&row)
        .execute(conn)?;
    Ok((value, row))
}

/// Looks a token up by its plain value (any state).
pub fn find(conn: &mut DbConnection, value: &str) -> Result<Option<RefreshRow>, Error> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(crypto::secret_hash(value)))
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()?)
}

/// Why a refresh token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Already used, or revoked: a replay.
    Replayed,
    Expired,
    /// Its grant was revoked.
    GrantRevoked,
}

/// Whether a token can be used at `now` (its grant's state included).
pub fn usable(
    conn: &mut DbConnection,
    row: &RefreshRow,
    now: Timestamp,
) -> Result<Result<(), Unusable>, Error> {
    if row.used_at.is_some() || row.revoked_at.is_some() {
        return Ok(Err(Unusable::Replayed));
    }
    if row.expires_at <= now {
        return Ok(Err(Unusable::Expired));
    }
    let revoked: Option<Option<Timestamp>> = grants::table
        .find(&row.grant_id)
        .select(grants::revoked_at)
        .first(conn)
        .optional()?;
    match revoked {
        Some(None) => Ok(Ok(())),
        _ => Ok(Err(Unusable::GrantRevoked)),
    }
}

/// Claims a token for rotation, atomically: exactly one caller wins. `false` means it was
/// already used or revoked (replay or a lost race).
pub fn claim(conn: &mut DbConnection, row: &RefreshRow, now: Timestamp) -> Result<bool, Error> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(&row.id))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Marks every token of a family revoked.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: Timestamp,
) -> Result<(), Error> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}
