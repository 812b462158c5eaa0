//! One-time tokens for links in emails (verify an address, reset a password): random, stored
//! as hashes, single use, expiring.

use diesel::prelude::*;

use super::{crypto, tokens, Error, Timestamp};
use crate::db::schema::one_time_tokens as ott;
use crate::db::DbConnection;

pub const VERIFY_EMAIL: &str = "verify_email";
pub const RESET_PASSWORD: &str = "reset_password";

/// Creates a token; returns its value. `data` is what the link confirms (an address).
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    purpose: &str,
    ttl: u64,
    data: Option<&str>,
) -> Result<String, Error> {
    let value = crypto::random_token(32);
    diesel::insert_into(ott::table)
        .values((
            ott::token_hash.eq(crypto::secret_hash(&value)),
            ott::user_id.eq(user_id),
            ott::purpose.eq(purpose),
            ott::data.eq(data),
            ott::created_at.eq(now),
            ott::expires_at.eq(tokens::after(now, ttl)),
        ))
        .execute(conn)?;
    Ok(value)
}

/// Whether a token is live (for showing a form before it is spent).
pub fn peek(
    conn: &mut DbConnection,
    now: Timestamp,
    value: &str,
    purpose: &str,
) -> Result<Option<String>, Error> {
    Ok(ott::table
        .filter(ott::token_hash.eq(crypto::secret_hash(value)))
        .filter(ott::purpose.eq(purpose))
        .filter(ott::used_at.is_null())
        .filter(ott::expires_at.gt(now))
        .select(ott::user_id)
        .first(conn)
        .optional()?)
}

/// Spends a token atomically: `(user_id, data)` on first use, `None` when unknown, used,
/// expired or for another purpose.
pub fn consume(
    conn: &mut DbConnection,
    now: Timestamp,
    value: &str,
    purpose: &str,
) -> Result<Option<(String, Option<String>)>, Error> {
    let hash = crypto::secret_hash(value);
    let n = diesel::update(
        ott::table
            .filter(ott::token_hash.eq(&hash))
            .filter(ott::purpose.eq(purpose))
            .filter(ott::used_at.is_null())
            .filter(ott::expires_at.gt(now)),
    )
    .set(ott::used_at.eq(Some(now)))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(ott::table
        .find(&hash)
        .select((ott::user_id, ott::data))
        .first(conn)
        .optional()?)
}

/// Spends every open token of a user for a purpose (a reset link dies with the next reset).
pub fn void_all(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    purpose: &str,
) -> Result<(), Error> {
    diesel::update(
        ott::table
            .filter(ott::user_id.eq(user_id))
            .filter(ott::purpose.eq(purpose))
            .filter(ott::used_at.is_null()),
    )
    .set(ott::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}
