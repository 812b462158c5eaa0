//! CloudTrax request signing and keys (seed 002, SPEC §5.2, §8). A request carries
//! `Authorization: key=<key>,timestamp=<unix>,nonce=<nonce>` and
//! `Signature: hex(HMAC-SHA256(secret, authorization + path + body))`. Keys are clients:
//! application keys (`cloudtrax_application`, made by an admin), account keys (`api_key`,
//! owned by a user, from `/account/login`) and embed keys (`embed`, one per network). Their
//! secrets are sealed (HMAC needs them back) and hashed (for `/token`).

use chrono::Duration;
use diesel::prelude::*;

use super::clients::{self, ClientKind, ClientRow, NewClient};
use super::crypto::{self, MasterKey};
use super::users::User;
use super::{events, secrets, Error, Timestamp};
use crate::db::schema::{clients as clients_t, cloudtrax_nonces as nonces};
use crate::db::{is_unique_violation, DbConnection};

/// Signed requests may be this far from the server's clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Nonces are remembered this long.
pub const NONCE_TTL_SECS: i64 = 30 * 60;
/// Account keys live this long.
pub const ACCOUNT_KEY_TTL_SECS: u64 = 365 * 86400;

/// A CloudTrax error: its numeric code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtError {
    pub code: u32,
    pub message: &'static str,
}

const fn ct(code: u32, message: &'static str) -> CtError {
    CtError { code, message }
}

pub const SIGNATURE_WRONG: CtError = ct(13000, "The signature is incorrect.");
pub const NO_NONCE_OR_TIMESTAMP: CtError = ct(
    13001,
    "The authorization header needs a key, a timestamp and a nonce.",
);
pub const CLOCK_SKEW: CtError = ct(
    13002,
    "The timestamp is more than 15 minutes off; sync with GET /time.",
);
pub const NONCE_REUSED: CtError = ct(13003, "This nonce was already used.");
pub const KEY_EXPIRED: CtError = ct(13007, "The key has expired.");
pub const UNKNOWN_KEY: CtError = ct(13011, "Unknown key.");
pub const EMPTY_SIGNATURE: CtError = ct(13015, "The Signature header is missing or empty.");

/// The parts of a signed request.
pub struct SignedRequest<'a> {
    pub authorization: Option<&'a str>,
    pub signature: Option<&'a str>,
    /// The request target as sent: path and `?query`.
    pub target: &'a str,
    pub body: &'a [u8],
}

fn parse_authorization(value: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut key, mut ts, mut nonce) = (None, None, None);
    for part in value.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "key" => key = Some(v),
                "timestamp" => ts = Some(v),
                "nonce" => nonce = Some(v),
                _ => {}
            }
        }
    }
    (
        key.filter(|v| !v.is_empty()),
        ts.filter(|v| !v.is_empty()),
        nonce.filter(|v| !v.is_empty()),
    )
}

/// The key's secret, unsealed.
pub fn secret_of(
    conn: &mut DbConnection,
    master: Option<&MasterKey>,
    client: &ClientRow,
) -> Result<String, Error> {
    let sealed = client
        .secret_sealed
        .as_deref()
        .ok_or_else(|| Error::Internal(format!("key {} has no sealed secret", client.id)))?;
    let key = secrets::sealing_key(conn, master)?;
    let bytes = key.open(sealed).map_err(Error::Internal)?;
    String::from_utf8(bytes).map_err(|_| Error::Internal("sealed secret is not text".into()))
}

/// Verifies a signed request; returns the key (client) that signed it. Checks run in the
/// order of the codes' meaning; the nonce is recorded only for a correct signature, so nobody
/// can burn another's nonces.
pub fn verify(
    conn: &mut DbConnection,
    now: Timestamp,
    master: Option<&MasterKey>,
    req: &SignedRequest,
) -> Result<Result<ClientRow, CtError>, Error> {
    let Some(authorization) = req.authorization.filter(|a| !a.trim().is_empty()) else {
        return Ok(Err(NO_NONCE_OR_TIMESTAMP));
    };
    let (key, timestamp, nonce) = parse_authorization(authorization);
    let (Some(key), Some(timestamp), Some(nonce)) = (key, timestamp, nonce) else {
        return Ok(Err(NO_NONCE_OR_TIMESTAMP));
    };
    let Some(signature) = req.signature.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Err(EMPTY_SIGNATURE));
    };
    let client = match clients::get(conn, &key) {
        Ok(c) if c.is_sealed() => c,
        Ok(_) | Err(Error::NotFound(_)) => return Ok(Err(UNKNOWN_KEY)),
        Err(e) => return Err(e),
    };
    if client.expires_at.is_some_and(|t| t <= now) {
        return Ok(Err(KEY_EXPIRED));
    }
    let Ok(ts) = timestamp.parse::<i64>() else {
        return Ok(Err(CLOCK_SKEW));
    };
    if (now.and_utc().timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Ok(Err(CLOCK_SKEW));
    }
    let secret = secret_of(conn, master, &client)?;
    let mut signed = Vec::with_capacity(authorization.len() + req.target.len() + req.body.len());
    signed.extend_from_slice(authorization.as_bytes());
    signed.extend_from_slice(req.target.as_bytes());
    signed.extend_from_slice(req.body);
    let expected = secrets::hmac_hex(secret.as_bytes(), &signed);
    if !crypto::ct_eq(&expected, &signature.to_ascii_lowercase()) {
        return Ok(Err(SIGNATURE_WRONG));
    }
    if !remember_nonce(conn, now, &client.id, &nonce)? {
        return Ok(Err(NONCE_REUSED));
    }
    Ok(Ok(client))
}

/// Records a nonce; `false` when it is still remembered (a replay).
fn remember_nonce(
    conn: &mut DbConnection,
    now: Timestamp,
    key: &str,
    nonce: &str,
) -> Result<bool, Error> {
    if nonce.len() > 128 {
        return Ok(false);
    }
    let expires = now + Duration::seconds(NONCE_TTL_SECS);
    diesel::delete(
        nonces::table
            .filter(nonces::key_id.eq(key))
            .filter(nonces::expires_at.le(now)),
    )
    .execute(conn)?;
    match diesel::insert_into(nonces::table)
        .values((
            nonces::key_id.eq(key),
            nonces::nonce.eq(nonce),
            nonces::expires_at.eq(expires),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A key and its secret, as CloudTrax shows them (64 hex characters each).
pub struct KeyPair {
    pub key: String,
    pub secret: String,
    pub expires_at: Option<Timestamp>,
}

/// What kind of key to make.
struct KeySpec<'a> {
    kind: ClientKind,
    name: String,
    scope: &'a str,
    expires_in: Option<u64>,
    metadata: serde_json::Value,
}

fn new_key(
    conn: &mut DbConnection,
    now: Timestamp,
    master: Option<&MasterKey>,
    owner: &User,
    spec: KeySpec,
) -> Result<KeyPair, Error> {
    let key = crypto::random_hex(32);
    let secret = crypto::random_hex(32);
    let seal_with = secrets::sealing_key(conn, master)?;
    let created = clients::create(
        conn,
        now,
        NewClient {
            id: Some(key.clone()),
            name: spec.name,
            secret: Some(secret.clone()),
            grant_types: vec!["client_credentials".into()],
            scopes: vec![spec.scope.to_owned()],
            kind: Some(spec.kind.as_str().into()),
            owner_id: Some(owner.id.clone()),
            expires_in: spec.expires_in,
            metadata: Some(spec.metadata),
            seal_with: Some(seal_with),
            ..Default::default()
        },
    )?;
    Ok(KeyPair {
        key,
        secret,
        expires_at: created.client.expires_at,
    })
}

/// The user an account key acts for. Only account keys (`api_key`) of an enabled user may use the
/// account routes; an embed key works only at `/introspect`, an application key only signs in.
pub fn account_owner(conn: &mut DbConnection, key: &ClientRow) -> Result<User, Error> {
    let forbidden = || Error::Forbidden("This key may not use this endpoint.".into());
    if key.kind() != Some(ClientKind::ApiKey) {
        return Err(forbidden());
    }
    let owner = key.owner_id.as_deref().ok_or_else(forbidden)?;
    match super::users::get(conn, owner) {
        Ok(user) if !user.disabled => Ok(user),
        Ok(_) | Err(Error::NotFound(_)) => Err(forbidden()),
        Err(e) => Err(e),
    }
}

/// `POST /account/login`: a new account key for the user.
pub fn account_key(
    conn: &mut DbConnection,
    now: Timestamp,
    master: Option<&MasterKey>,
    owner: &User,
) -> Result<KeyPair, Error> {
    new_key(
        conn,
        now,
        master,
        owner,
        KeySpec {
            kind: ClientKind::ApiKey,
            name: "CloudTrax account key".into(),
            scope: "openid profile email",
            expires_in: Some(ACCOUNT_KEY_TTL_SECS),
            metadata: serde_json::json!({ "cloudtrax": "account" }),
        },
    )
}

fn embed_scope(network: i64) -> String {
    format!("embed network:{network}")
}

fn find_embed(
    conn: &mut DbConnection,
    owner: &str,
    network: i64,
) -> Result<Option<ClientRow>, Error> {
    Ok(clients_t::table
        .filter(clients_t::owner_id.eq(owner))
        .filter(clients_t::kind.eq(ClientKind::Embed.as_str()))
        .filter(clients_t::scopes.eq(embed_scope(network)))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// `GET /account/credential/<net>/embed`: the user's embed key for a network (made once).
pub fn embed_key(
    conn: &mut DbConnection,
    now: Timestamp,
    master: Option<&MasterKey>,
    owner: &User,
    network: i64,
) -> Result<KeyPair, Error> {
    if let Some(c) = find_embed(conn, &owner.id, network)? {
        let secret = secret_of(conn, master, &c)?;
        return Ok(KeyPair {
            key: c.id,
            secret,
            expires_at: c.expires_at,
        });
    }
    let scope = embed_scope(network);
    let pair = new_key(
        conn,
        now,
        master,
        owner,
        KeySpec {
            kind: ClientKind::Embed,
            name: format!("CloudTrax embed key, network {network}"),
            scope: &scope,
            expires_in: None,
            metadata: serde_json::json!({ "network_id": network }),
        },
    )?;
    events::record(
        conn,
        now,
        events::NewEvent::user("embed_key.created", &owner.id)
            .with_detail(serde_json::json!({ "network_id": network })),
    )?;
    Ok(pair)
}

/// `DELETE /account/credential/<net>/embed`: deletes it (and revokes its tokens); `false` when
/// there was none.
pub fn delete_embed_key(
    conn: &mut DbConnection,
    now: Timestamp,
    owner: &User,
    network: i64,
    revocation_ttl: u64,
) -> Result<bool, Error> {
    match find_embed(conn, &owner.id, network)? {
        Some(c) => {
            clients::remove(conn, now, &c.id, revocation_ttl)?;
            Ok(true)
        }
        None => Ok(false),
    }
}
