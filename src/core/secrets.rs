//! A server secret for the few things that need one and must agree across nodes: sealing
//! HMAC-checked secrets (CloudTrax keys) and deriving stable pseudo-random values (esalerugs'
//! answer for unknown emails). It is the master key when one is configured; otherwise it is
//! derived from the private key of the oldest signing key (kept in the database forever), so it
//! is secret, stable, and the same on every node.

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::crypto::MasterKey;
use super::{Error, Timestamp};
use crate::db::schema::signing_keys;
use crate::db::DbConnection;

/// 32 secret bytes for `purpose`.
pub fn server_key(
    conn: &mut DbConnection,
    master: Option<&MasterKey>,
    purpose: &str,
) -> Result<[u8; 32], Error> {
    let root: Vec<u8> = match master {
        Some(m) => m.seal_key_material(),
        None => {
            let oldest: Option<(String, Timestamp)> = signing_keys::table
                .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
                .select((signing_keys::private_jwk, signing_keys::created_at))
                .first(conn)
                .optional()?;
            let (jwk, _) = oldest.ok_or_else(|| Error::Internal("no signing key yet".into()))?;
            Sha256::digest(jwk.as_bytes()).to_vec()
        }
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&root).map_err(|e| Error::Internal(e.to_string()))?;
    mac.update(b"portcullis:");
    mac.update(purpose.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// The sealing key for secrets that must be read back (HMAC keys).
pub fn sealing_key(
    conn: &mut DbConnection,
    master: Option<&MasterKey>,
) -> Result<MasterKey, Error> {
    Ok(MasterKey::from_bytes(server_key(conn, master, "seal")?))
}

/// HMAC-SHA256 of `data` under `key`, lowercase hex.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}
