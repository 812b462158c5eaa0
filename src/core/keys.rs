//! Signing keys: creation (RS256, ES256, EdDSA via josekit), rotation with a publish-ahead
//! period, retirement, states, sealing under the master key, and the loaded key set that signs
//! and feeds `/jwks`.
//!
//! A key is published in JWKS from its creation, signs from `activates_at` until a newer key
//! activates (or it is retired), and stays published for `keys.retired_ttl` after that, so a
//! verifier that caches JWKS never meets a token signed by a key it has not seen.

use std::fmt;

use chrono::Duration;
use diesel::prelude::*;
use josekit::jwk::{alg::ed::EdCurve, Jwk, KeyPair};
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, RS256};
use serde::Serialize;

use super::crypto::{self, MasterKey};
use super::{events, Error, Timestamp};
use crate::config::{KeySettings, SigningAlg};
use crate::db::schema::signing_keys;
use crate::db::DbConnection;

/// A stored key. `private_jwk` is a JWK, or a JWE of it when `encrypted`.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_jwk: String,
    pub encrypted: bool,
    pub public_jwk: String,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

impl fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signing (and published).
    Active,
    /// No longer signing, still published for verifiers.
    Retired,
    /// No longer published.
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }
}

/// A key's public description (for `keys list` and the admin API).
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    #[serde(serialize_with = "super::time::ser")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "super::time::ser")]
    pub activates_at: Timestamp,
    /// When it stopped (or will stop) signing, if known.
    #[serde(serialize_with = "super::time::ser_opt")]
    pub retired_at: Option<Timestamp>,
    pub encrypted: bool,
}

/// Computes each key's state at `now`. Each algorithm has its own active key (ID tokens need
/// RS256 while access tokens may use another); a key is superseded when a newer key of the
/// same algorithm activates. Rows in any order; result oldest activation first.
pub fn states(rows: &[KeyRow], now: Timestamp, retired_ttl: u64) -> Vec<KeyInfo> {
    let mut rows: Vec<&KeyRow> = rows.iter().collect();
    rows.sort_by(|a, b| (a.activates_at, &a.kid).cmp(&(b.activates_at, &b.kid)));
    let explicitly_retired = |r: &KeyRow| r.retired_at.is_some_and(|t| t <= now);
    let active_of = |alg: &str| {
        rows.iter()
            .rev()
            .find(|r| r.alg == alg && r.activates_at <= now && !explicitly_retired(r))
            .map(|r| r.kid.clone())
    };
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            // A key stops signing when it is retired or when a later key of its algorithm
            // activates (a later key retired before it ever activated supersedes nothing).
            let superseded = rows[i + 1..]
                .iter()
                .filter(|n| n.alg == r.alg)
                .find(|n| n.retired_at.is_none_or(|t| t > n.activates_at))
                .map(|n| n.activates_at);
            let end = match (r.retired_at, superseded) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let state = if Some(&r.kid) == active_of(&r.alg).as_ref() {
                KeyState::Active
            } else if r.activates_at > now && !explicitly_retired(r) {
                KeyState::Next
            } else {
                let end = end.unwrap_or(now);
                if end + Duration::seconds(retired_ttl as i64) > now {
                    KeyState::Retired
                } else {
                    KeyState::Expired
                }
            };
            KeyInfo {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                state,
                created_at: r.created_at,
                activates_at: r.activates_at,
                retired_at: end,
                encrypted: r.encrypted,
            }
        })
        .collect()
}

/// Every stored key.
pub fn rows(conn: &mut DbConnection) -> Result<Vec<KeyRow>, Error> {
    Ok(signing_keys::table.select(KeyRow::as_select()).load(conn)?)
}

/// Every key with its state at `now`.
pub fn list(
    conn: &mut DbConnection,
    now: Timestamp,
    retired_ttl: u64,
) -> Result<Vec<KeyInfo>, Error> {
    Ok(states(&rows(conn)?, now, retired_ttl))
}

fn generate(alg: SigningAlg, kid: &str) -> Result<(Jwk, Jwk), Error> {
    let err = |e: josekit::JoseError| Error::Internal(format!("key generation: {e}"));
    let (mut private, mut public) = match alg {
        SigningAlg::RS256 => {
            let kp = RS256.generate_key_pair(2048).map_err(err)?;
            (kp.to_jwk_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::ES256 => {
            let kp = ES256.generate_key_pair().map_err(err)?;
            (kp.to_jwk_private_key(), kp.to_jwk_public_key())
        }
        SigningAlg::EdDSA => {
            let kp = EdDSA.generate_key_pair(EdCurve::Ed25519).map_err(err)?;
            (kp.to_jwk_private_key(), kp.to_jwk_public_key())
        }
    };
    for jwk in [&mut private, &mut public] {
        jwk.set_key_id(kid);
        jwk.set_algorithm(alg.as_str());
        jwk.set_key_use("sig");
    }
    Ok((private, public))
}

/// Creates a key that signs from `activates_at`.
pub fn create(
    conn: &mut DbConnection,
    now: Timestamp,
    alg: SigningAlg,
    activates_at: Timestamp,
    master: Option<&MasterKey>,
) -> Result<KeyRow, Error> {
    // Hex: a kid never starts with `-` (it is a command-line argument of `keys retire`).
    let kid = crypto::random_hex(8);
    let (private, public) = generate(alg, &kid)?;
    let private_json = private.to_string();
    let (private_jwk, encrypted) = match master {
        Some(m) => (
            m.seal(private_json.as_bytes()).map_err(Error::Internal)?,
            true,
        ),
        None => (private_json, false),
    };
    let row = KeyRow {
        kid,
        alg: alg.as_str().to_owned(),
        private_jwk,
        encrypted,
        public_jwk: public.to_string(),
        created_at: now,
        activates_at,
        retired_at: None,
    };
    diesel::insert_into(signing_keys::table)
        .values(&row)
        .execute(conn)?;
    events::record(
        conn,
        now,
        events::NewEvent {
            kind: "key.created",
            detail: Some(serde_json::json!({
                "kid": row.kid, "alg": row.alg, "activates_at": activates_at
            })),
            ..Default::default()
        },
    )?;
    Ok(row)
}

/// Start-up duty: makes sure a key signs now (creating one that activates at once on a new
/// database), and seals plaintext private keys when a master key is configured. Returns the
/// kid of a key it created.
pub fn ensure_signing_key(
    conn: &mut DbConnection,
    now: Timestamp,
    settings: &KeySettings,
    master: Option<&MasterKey>,
) -> Result<Option<String>, Error> {
    crate::db::transaction(conn, |conn| {
        if let Some(master) = master {
            for row in rows(conn)?.into_iter().filter(|r| !r.encrypted) {
                let sealed = master
                    .seal(row.private_jwk.as_bytes())
                    .map_err(Error::Internal)?;
                diesel::update(signing_keys::table.find(&row.kid))
                    .set((
                        signing_keys::private_jwk.eq(sealed),
                        signing_keys::encrypted.eq(true),
                    ))
                    .execute(conn)?;
                tracing::info!(kid = %row.kid, "sealed signing key under the master key");
            }
        }
        let mut created = None;
        let fresh = rows(conn)?.is_empty();
        // The configured algorithm signs access tokens; RS256 always signs ID tokens (OIDC
        // requires it). Each needs an active key.
        for alg in [settings.algorithm, SigningAlg::RS256] {
            let infos = list(conn, now, settings.retired_ttl)?;
            let active = infos
                .iter()
                .any(|k| k.state == KeyState::Active && k.alg == alg.as_str());
            if active {
                continue;
            }
            let pending = infos
                .iter()
                .any(|k| k.state == KeyState::Next && k.alg == alg.as_str());
            if pending {
                continue;
            }
            // On a new database keys sign at once; when `keys.algorithm` changes, the new
            // key is published first and signs after the publish-ahead period, like a rotation.
            let at = if fresh {
                now
            } else {
                now + Duration::seconds(settings.publish_ahead as i64)
            };
            let row = create(conn, now, alg, at, master)?;
            tracing::info!(kid = %row.kid, alg = %row.alg, activates_at = %row.activates_at, "created a signing key");
            created = Some(row.kid);
        }
        Ok(created)
    })
}

/// Creates the next key; JWKS publishes it at once and it signs after `publish_ahead` seconds
/// (immediately when `immediately`, for a compromised key).
pub fn rotate(
    conn: &mut DbConnection,
    now: Timestamp,
    alg: SigningAlg,
    settings: &KeySettings,
    master: Option<&MasterKey>,
    immediately: bool,
) -> Result<KeyRow, Error> {
    let activates_at = if immediately {
        now
    } else {
        now + Duration::seconds(settings.publish_ahead as i64)
    };
    let row = crate::db::transaction(conn, |conn| create(conn, now, alg, activates_at, master))?;
    Ok(row)
}

/// Stops a key from signing now (it stays published for `retired_ttl`). The key that signs
/// cannot be retired while no other key could take over.
pub fn retire(
    conn: &mut DbConnection,
    now: Timestamp,
    kid: &str,
    retired_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        let all = rows(conn)?;
        let infos = states(&all, now, retired_ttl);
        let info = infos
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(Error::NotFound("signing key"))?;
        if info.state == KeyState::Active {
            let successor = all
                .iter()
                .filter(|r| r.kid != kid && r.retired_at.is_none())
                .any(|r| r.activates_at <= now);
            if !successor {
                return Err(Error::Conflict(
                    "this key is the only one that can sign: rotate first (keys rotate --now)"
                        .into(),
                ));
            }
        }
        if all.iter().any(|r| r.kid == kid && r.retired_at.is_some()) {
            return Ok(()); // already retired: nothing to do
        }
        diesel::update(signing_keys::table.find(kid))
            .set(signing_keys::retired_at.eq(Some(now)))
            .execute(conn)?;
        events::record(
            conn,
            now,
            events::NewEvent {
                kind: "key.retired",
                detail: Some(serde_json::json!({ "kid": kid })),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

/// A key ready to sign and verify.
pub struct LoadedKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub activates_at: Timestamp,
    /// When it stops signing (retired), if set explicitly.
    pub retired_at: Option<Timestamp>,
    pub signer: Box<dyn JwsSigner>,
    pub verifier: Box<dyn JwsVerifier>,
}

/// A JSON Web Key Set (RFC 7517 §5): the public keys, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    /// Public JWKs (RFC 7517 §4).
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// Every published key, loaded, with the JWKS document pre-serialised.
pub struct KeySet {
    keys: Vec<LoadedKey>,
    jwks: bytes::Bytes,
    /// The algorithm of access tokens (`keys.algorithm`).
    preferred: SigningAlg,
    /// A hash of the JWKS document: equal for two loads that publish the same keys.
    fingerprint: u64,
}

impl KeySet {
    /// Loads the keys published at `now` (decrypting with the master key where needed).
    pub fn load(
        conn: &mut DbConnection,
        now: Timestamp,
        settings: &KeySettings,
        master: Option<&MasterKey>,
    ) -> Result<KeySet, Error> {
        let retired_ttl = settings.retired_ttl;
        let all = rows(conn)?;
        let infos = states(&all, now, retired_ttl);
        let mut keys = Vec::new();
        let mut public = Vec::new();
        for info in infos.iter().filter(|k| k.state != KeyState::Expired) {
            let row = all
                .iter()
                .find(|r| r.kid == info.kid)
                .ok_or_else(|| Error::Internal("key vanished".into()))?;
            keys.push(load_one(row, master)?);
            let jwk: serde_json::Value = serde_json::from_str(&row.public_jwk)
                .map_err(|e| Error::Internal(format!("public key {}: {e}", row.kid)))?;
            public.push(jwk);
        }
        // Newest first in JWKS, like most providers.
        public.reverse();
        let jwks: bytes::Bytes = serde_json::to_vec(&Jwks { keys: public })
            .map_err(|e| Error::Internal(format!("the JWK set: {e}")))?
            .into();
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            jwks.hash(&mut h);
            h.finish()
        };
        Ok(KeySet {
            keys,
            jwks,
            preferred: settings.algorithm,
            fingerprint,
        })
    }

    /// Identifies the verification keys: a signature checked under one key set holds under
    /// another with the same fingerprint (the same published keys).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The JWKS document (`{"keys": [...]}`), shared (cloning is a reference count).
    pub fn jwks_json(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// The key that signs access tokens at `now`: the active key of `keys.algorithm`, or (while
    /// a key of a newly configured algorithm waits to activate) the newest active key.
    pub fn signing_key(&self, now: Timestamp) -> Option<&LoadedKey> {
        self.signing_key_for(self.preferred, now)
    }

    /// The active key of `alg` at `now`, falling back to the newest active key of any algorithm.
    pub fn signing_key_for(&self, alg: SigningAlg, now: Timestamp) -> Option<&LoadedKey> {
        let live = |k: &&LoadedKey| k.activates_at <= now && k.retired_at.is_none_or(|t| t > now);
        self.keys
            .iter()
            .rev()
            .filter(live)
            .find(|k| k.alg == alg)
            .or_else(|| self.keys.iter().rev().find(live))
    }

    /// The algorithms of the keys that can sign at `now` (for discovery).
    pub fn algorithms(&self, now: Timestamp) -> Vec<SigningAlg> {
        let mut out = Vec::new();
        for k in self.keys.iter().filter(|k| k.activates_at <= now) {
            if !out.contains(&k.alg) {
                out.push(k.alg);
            }
        }
        out
    }

    /// A published key by kid, for verification.
    pub fn by_kid(&self, kid: &str) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The published keys' kids, oldest activation first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }
}

fn load_one(row: &KeyRow, master: Option<&MasterKey>) -> Result<LoadedKey, Error> {
    let json = if row.encrypted {
        let master = master.ok_or_else(|| {
            Error::Internal(format!(
                "signing key {} is encrypted: set PORTCULLIS_MASTER_KEY (or master_key) to the key it was sealed with",
                row.kid
            ))
        })?;
        let bytes = master
            .open(&row.private_jwk)
            .map_err(|e| Error::Internal(format!("signing key {}: {e}", row.kid)))?;
        String::from_utf8(bytes)
            .map_err(|_| Error::Internal(format!("signing key {} is corrupted", row.kid)))?
    } else {
        row.private_jwk.clone()
    };
    let err = |e: josekit::JoseError| Error::Internal(format!("signing key {}: {e}", row.kid));
    let jwk = Jwk::from_bytes(json.as_bytes()).map_err(err)?;
    let public = Jwk::from_bytes(row.public_jwk.as_bytes()).map_err(err)?;
    let alg = SigningAlg::parse(&row.alg).ok_or_else(|| {
        Error::Internal(format!("signing key {}: unknown alg {}", row.kid, row.alg))
    })?;
    let (signer, verifier): (Box<dyn JwsSigner>, Box<dyn JwsVerifier>) = match alg {
        SigningAlg::RS256 => (
            Box::new(RS256.signer_from_jwk(&jwk).map_err(err)?),
            Box::new(RS256.verifier_from_jwk(&public).map_err(err)?),
        ),
        SigningAlg::ES256 => (
            Box::new(super::ecdsa::Es256Signer::from_jwk(&jwk).map_err(err)?),
            Box::new(ES256.verifier_from_jwk(&public).map_err(err)?),
        ),
        SigningAlg::EdDSA => (
            Box::new(EdDSA.signer_from_jwk(&jwk).map_err(err)?),
            Box::new(EdDSA.verifier_from_jwk(&public).map_err(err)?),
        ),
    };
    Ok(LoadedKey {
        kid: row.kid.clone(),
        alg,
        activates_at: row.activates_at,
        retired_at: row.retired_at,
        signer,
        verifier,
    })
}
