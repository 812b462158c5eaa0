//! Bloq client keys (seed 003): clients a person makes for their own services, owned by them,
//! with a 40-hex id and an 80-character secret. Their tokens act for the owner with the key's
//! scopes only (`profile email`: for other services, never the account itself, SPEC §9), and
//! only keys' refresh tokens live a year.

use diesel::prelude::*;

use super::clients::{self, ClientKind, ClientRow, Created, NewClient};
use super::{crypto, Error, Timestamp};
use crate::db::schema::clients as clients_t;
use crate::db::DbConnection;

/// What a key's tokens carry.
pub const SCOPES: &[&str] = &["profile", "email"];
/// A key's refresh tokens live a year (the document's promise).
pub const REFRESH_TTL: u64 = 365 * 86400;
/// A key's access tokens live an hour.
pub const ACCESS_TTL: u64 = 3600;

/// Whether a client is a client key (the only clients `POST /auth/token` serves, and the only
/// refresh tokens it rotates).
pub fn is_client_key(c: &ClientRow) -> bool {
    c.kind == ClientKind::ClientKey.as_str() && c.owner_id.is_some()
}

/// Makes a key owned by `owner`; its secret is shown once.
pub fn create(conn: &mut DbConnection, now: Timestamp, owner: &str) -> Result<Created, Error> {
    clients::create(
        conn,
        now,
        NewClient {
            id: Some(crypto::random_hex(20)),
            name: "Bloq client key".into(),
            secret: Some(crypto::random_hex(40)),
            grant_types: vec!["client_credentials".into(), "refresh_token".into()],
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            kind: Some(ClientKind::ClientKey.as_str().into()),
            owner_id: Some(owner.to_owned()),
            ..Default::default()
        },
    )
}

/// The owner's keys, newest first: (id, created).
pub fn list(conn: &mut DbConnection, owner: &str) -> Result<Vec<(String, Timestamp)>, Error> {
    Ok(clients_t::table
        .filter(clients_t::owner_id.eq(owner))
        .filter(clients_t::kind.eq(ClientKind::ClientKey.as_str()))
        .order(clients_t::created_at.desc())
        .select((clients_t::id, clients_t::created_at))
        .load(conn)?)
}

/// Deletes one of the owner's keys, revoking its tokens (`NotFound` for another's).
pub fn delete(
    conn: &mut DbConnection,
    now: Timestamp,
    owner: &str,
    id: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    if !list(conn, owner)?.iter().any(|(k, _)| k == id) {
        return Err(Error::NotFound("client key"));
    }
    clients::remove(conn, now, id, revocation_ttl)
}
