//! Passkeys (WebAuthn Level 3, with webauthn-rs): the relying party this server is, a person's
//! credentials, and the state of a ceremony between its two requests.
//!
//! The relying party id is the issuer's host name (WebAuthn refuses IP addresses: use
//! `localhost` in development), the origin the issuer's. A person's WebAuthn user handle is
//! derived from their id, so no table maps it. Ceremony state stays on the server, is used
//! once (deleted as it is read) and lives five minutes. A stored passkey is its public key
//! and signature counter: nothing secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{Passkey, Url, Uuid, Webauthn, WebauthnBuilder};

use super::{crypto, events, Error, Timestamp};
use crate::config::Config;
use crate::db::schema::{passkeys, webauthn_ceremonies};
use crate::db::DbConnection;

/// Seconds a ceremony (registration or sign-in) may take.
pub const CEREMONY_TTL: i64 = 300;
/// A person's passkeys, at most.
pub const MAX_PER_USER: i64 = 20;

/// The relying party this server is, from the issuer; `Forbidden` when the issuer's host is
/// an IP address (WebAuthn needs a host name).
pub fn relying_party(config: &Config) -> Result<Webauthn, Error> {
    let origin = config.issuer_url().clone();
    let host = origin
        .domain()
        .ok_or_else(|| {
            Error::Forbidden(
                "passkeys need the issuer to be a host name (such as http://localhost:8080), not an IP address".into(),
            )
        })?
        .to_owned();
    let origin: Url = Url::parse(origin.origin().ascii_serialization().as_str())
        .map_err(|e| Error::Internal(format!("webauthn origin: {e}")))?;
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| b.rp_name(&config.branding.name).build())
        .map_err(|e| Error::Forbidden(format!("passkeys are not available here: {e}")))
}

/// The WebAuthn user handle of a person: derived from their id (16 bytes of SHA-256).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::digest(format!("portcullis-webauthn:{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as stored (base64url).
pub fn credential_id(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// A stored passkey.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    /// The credential id, base64url.
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, JSON.
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl PasskeyRow {
    pub fn credential(&self) -> Result<Passkey, Error> {
        serde_json::from_str(&self.passkey)
            .map_err(|e| Error::Internal(format!("stored passkey {}: {e}", self.id)))
    }
}

/// A person's passkeys, oldest first.
pub fn list(conn: &mut DbConnection, user_id: &str) -> Result<Vec<PasskeyRow>, Error> {
    Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

/// The passkey with this credential id.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<PasskeyRow>, Error> {
    Ok(passkeys::table
        .find(id)
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Keeps a ceremony's state; returns the value that names it (shown once, to the browser).
pub fn ceremony_begin(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: Option<&str>,
    kind: &str,
    state: &str,
) -> Result<String, Error> {
    let value = crypto::random_token(32);
    diesel::insert_into(webauthn_ceremonies::table)
        .values((
            webauthn_ceremonies::id_hash.eq(crypto::secret_hash(&value)),
            webauthn_ceremonies::user_id.eq(user_id),
            webauthn_ceremonies::kind.eq(kind),
            webauthn_ceremonies::state.eq(state),
            webauthn_ceremonies::expires_at.eq(now + Duration::seconds(CEREMONY_TTL)),
        ))
        .execute(conn)?;
    Ok(value)
}

/// Takes a ceremony's state (once: it is deleted as it is read): `(user, state)` of a live
/// ceremony of `kind`, or `None`.
pub fn ceremony_take(
    conn: &mut DbConnection,
    now: Timestamp,
    value: &str,
    kind: &str,
) -> Result<Option<(Option<String>, String)>, Error> {
    let hash = crypto::secret_hash(value);
    crate::db::transaction(conn, |conn| {
        let row: Option<(Option<String>, String, String, Timestamp)> = webauthn_ceremonies::table
            .find(&hash)
            .select((
                webauthn_ceremonies::user_id,
                webauthn_ceremonies::kind,
                webauthn_ceremonies::state,
                webauthn_ceremonies::expires_at,
            ))
            .first(conn)
            .optional()?;
        let deleted = diesel::delete(webauthn_ceremonies::table.find(&hash)).execute(conn)?;
        Ok(match row {
            Some((user, k, state, expires)) if deleted == 1 && k == kind && expires > now => {
                Some((user, state))
            }
            _ => None,
        })
    })
}

/// Saves a newly registered passkey under a name the person chose.
pub fn save(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    name: &str,
    passkey: &Passkey,
) -> Result<PasskeyRow, Error> {
    super::validate::text("name", name, 64)?;
    let row = PasskeyRow {
        id: credential_id(passkey.cred_id().as_ref()),
        user_id: user_id.to_owned(),
        name: name.trim().to_owned(),
        passkey: serde_json::to_string(passkey)
            .map_err(|e| Error::Internal(format!("passkey: {e}")))?,
        created_at: now,
        last_used_at: None,
    };
    crate::db::transaction(conn, |conn| {
        let count: i64 = passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .count()
            .get_result(conn)?;
        if count >= MAX_PER_USER {
            return Err(Error::Conflict(format!(
                "at most {MAX_PER_USER} passkeys: remove one first"
            )));
        }
        diesel::insert_into(passkeys::table)
            .values((
                passkeys::id.eq(&row.id),
                passkeys::user_id.eq(&row.user_id),
                passkeys::name.eq(&row.name),
                passkeys::passkey.eq(&row.passkey),
                passkeys::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    Error::Conflict("this passkey is registered already".into())
                } else {
                    e.into()
                }
            })?;
        events::record(
            conn,
            now,
            events::NewEvent::user("passkey.added", user_id)
                .with_detail(serde_json::json!({ "name": row.name })),
        )?;
        Ok(row.clone())
    })
}

/// Notes a sign-in with a passkey: when, and its updated counter (`InvalidGrant` when another
/// sign-in with it changed it meanwhile).
pub fn used(
    conn: &mut DbConnection,
    now: Timestamp,
    row: &PasskeyRow,
    updated: Option<&Passkey>,
) -> Result<(), Error> {
    let stored = match updated {
        Some(p) => {
            serde_json::to_string(p).map_err(|e| Error::Internal(format!("passkey: {e}")))?
        }
        None => row.passkey.clone(),
    };
    crate::db::transaction(conn, |conn| {
        // Compare and set: a concurrent use of the same passkey that stored a newer counter
        // first makes this one a failure (a cloned authenticator looks exactly like that).
        let n = diesel::update(
            passkeys::table
                .find(&row.id)
                .filter(passkeys::passkey.eq(&row.passkey)),
        )
        .set((
            passkeys::passkey.eq(&stored),
            passkeys::last_used_at.eq(Some(now)),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(Error::InvalidGrant("the passkey was not accepted".into()));
        }
        events::record(
            conn,
            now,
            events::NewEvent::user("passkey.used", &row.user_id)
                .with_detail(serde_json::json!({ "name": row.name })),
        )?;
        Ok(())
    })
}

/// Removes one of the person's passkeys; whether it was theirs. Without any second factor
/// left, the recovery codes go too (checked after the removal commits).
pub fn remove(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    id: &str,
) -> Result<bool, Error> {
    let removed = crate::db::transaction(conn, |conn| {
        let n = diesel::delete(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::user_id.eq(user_id)),
        )
        .execute(conn)?;
        if n > 0 {
            events::record(
                conn,
                now,
                events::NewEvent::user("passkey.removed", user_id),
            )?;
        }
        Ok::<bool, Error>(n > 0)
    })?;
    super::factors::forget_orphan_recovery_codes(conn, user_id)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("ada"), user_handle("ada"));
        assert_ne!(user_handle("ada"), user_handle("bob"));
    }

    #[test]
    fn an_ip_issuer_has_no_passkeys() {
        let ip = Config::default().finish().unwrap();
        assert!(matches!(relying_party(&ip), Err(Error::Forbidden(_))));
        let named = Config {
            issuer: Some("http://localhost:8080".into()),
            ..Config::default()
        }
        .finish()
        .unwrap();
        assert!(relying_party(&named).is_ok());
    }
}
