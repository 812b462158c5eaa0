//! OpenID Connect Back-Channel Logout 1.0: when a person's session ends (they sign out, an
//! app logs them out, they sign out everywhere or change their password, an admin disables
//! them, or the session expires), every app that signed them in through it and registered a
//! `backchannel_logout_uri` is told, server to server, with a logout token. The tokens wait in
//! `backchannel_logouts`, a durable queue every node works on (claimed with a lease, retried
//! with backoff, like the email outbox); the row id is the token's `jti`, the same on every
//! attempt, so a relying party can drop a repeat.

use std::collections::BTreeSet;

use chrono::Duration;
use diesel::prelude::*;
use serde::Serialize;

use super::keys::KeySet;
use super::{Error, Timestamp};
use crate::config::SigningAlg;
use crate::db::schema::{backchannel_logouts as bl, clients, grants};
use crate::db::DbConnection;

/// The event a logout token carries (OIDC Back-Channel Logout §2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Attempts before a logout is given up (about 2.8 hours of backoff in all).
pub const MAX_ATTEMPTS: i32 = 10;
/// How long a claimed logout is reserved for the node delivering it.
const LEASE_SECS: i64 = 60;
/// A logout token is good for this long after it is signed.
const TOKEN_TTL: i64 = 120;
/// Delivered and given-up rows are kept this long for operators.
pub const KEEP_SECS: i64 = 7 * 86_400;

/// A queued logout.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bl)]
pub struct Queued {
    pub id: String,
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
}

/// The relying parties of `user_id` to tell, with the session each signed in through: from
/// their grants (`sessions`: only grants of those sessions; `None`: every live grant).
fn targets(
    conn: &mut DbConnection,
    user_id: &str,
    sessions: Option<&[String]>,
) -> Result<BTreeSet<(String, Option<String>)>, Error> {
    let mut q = grants::table
        .inner_join(clients::table)
        .filter(grants::user_id.eq(user_id))
        .filter(clients::metadata.like("%backchannel_logout_uri%"))
        .select((grants::client_id, grants::session_id, clients::metadata))
        .distinct()
        .into_boxed();
    q = match sessions {
        Some(sids) => q.filter(grants::session_id.eq_any(sids.to_vec())),
        None => q.filter(grants::revoked_at.is_null()),
    };
    let rows: Vec<(String, Option<String>, String)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(client, sid, meta)| {
            let meta = super::client_metadata::ClientMetadata::parse(&meta);
            meta.backchannel_logout_uri.as_ref()?;
            // A relying party that needs `sid` is told only of sessions it knows.
            if meta.backchannel_logout_session_required && sid.is_none() {
                return None;
            }
            Some((client, sid))
        })
        .collect())
}

fn enqueue(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    targets: BTreeSet<(String, Option<String>)>,
) -> Result<usize, Error> {
    let rows: Vec<Queued> = targets
        .into_iter()
        .map(|(client_id, sid)| Queued {
            id: uuid::Uuid::new_v4().to_string(),
            client_id,
            sub: user_id.to_owned(),
            sid,
            attempts: 0,
            last_error: None,
            created_at: now,
            next_attempt_at: now,
            delivered_at: None,
            failed_at: None,
        })
        .collect();
    // One statement per row: batch inserts do not work across both backends here.
    for row in &rows {
        diesel::insert_into(bl::table).values(row).execute(conn)?;
    }
    Ok(rows.len())
}

/// Queues logouts for the relying parties that signed `user_id` in through these sessions
/// (by `sid`): the session ended.
pub fn sessions_ended(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    sids: &[String],
) -> Result<usize, Error> {
    if sids.is_empty() {
        return Ok(0);
    }
    let t = targets(conn, user_id, Some(sids))?;
    enqueue(conn, now, user_id, t)
}

/// Queues logouts for every relying party with a live grant of `user_id` (signing out
/// everywhere, a password change, disabling): call before the grants are revoked.
pub fn user_cut_off(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
) -> Result<usize, Error> {
    let t = targets(conn, user_id, None)?;
    enqueue(conn, now, user_id, t)
}

/// Claims up to `limit` due logouts for this node (each claim is atomic: a node that reads the
/// same row a moment later finds its `next_attempt_at` moved and skips it).
pub fn claim_due(
    conn: &mut DbConnection,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Queued>, Error> {
    let due: Vec<Queued> = bl::table
        .filter(bl::delivered_at.is_null())
        .filter(bl::failed_at.is_null())
        .filter(bl::next_attempt_at.le(now))
        .order(bl::next_attempt_at.asc())
        .limit(limit)
        .select(Queued::as_select())
        .load(conn)?;
    let mut claimed = Vec::new();
    for q in due {
        let n = diesel::update(
            bl::table
                .find(&q.id)
                .filter(bl::next_attempt_at.eq(q.next_attempt_at)),
        )
        .set(bl::next_attempt_at.eq(now + Duration::seconds(LEASE_SECS)))
        .execute(conn)?;
        if n == 1 {
            claimed.push(q);
        }
    }
    Ok(claimed)
}

/// Records a delivery.
pub fn mark_delivered(conn: &mut DbConnection, now: Timestamp, id: &str) -> Result<(), Error> {
    diesel::update(bl::table.find(id))
        .set((
            bl::delivered_at.eq(Some(now)),
            bl::attempts.eq(bl::attempts + 1),
            bl::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried after 10 s, 20 s, 40 s, ... (at most an hour apart), given
/// up after [`MAX_ATTEMPTS`]. `true` when given up.
pub fn mark_failed(
    conn: &mut DbConnection,
    now: Timestamp,
    q: &Queued,
    error: &str,
) -> Result<bool, Error> {
    let attempts = q.attempts + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let delay = Duration::seconds((10i64 << (attempts - 1).clamp(0, 12)).min(3600));
    let error: String = error.chars().take(500).collect();
    diesel::update(bl::table.find(&q.id))
        .set((
            bl::attempts.eq(attempts),
            bl::last_error.eq(Some(error)),
            bl::next_attempt_at.eq(now + delay),
            bl::failed_at.eq(give_up.then_some(now)),
        ))
        .execute(conn)?;
    Ok(give_up)
}

/// Logouts waiting to be delivered (for `/metrics`).
pub fn pending(conn: &mut DbConnection) -> Result<i64, Error> {
    Ok(bl::table
        .filter(bl::delivered_at.is_null())
        .filter(bl::failed_at.is_null())
        .count()
        .get_result(conn)?)
}

/// The claims of a logout token (§2.4): no `nonce`, an `events` member, `sub` and `sid`.
#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: serde_json::Value,
}

/// Signs the logout token of a queued logout (`typ: logout+jwt`, with the ID-token key).
pub fn logout_token(
    keys: &KeySet,
    issuer: &str,
    now: Timestamp,
    q: &Queued,
) -> Result<String, Error> {
    let key = keys
        .signing_key_for(SigningAlg::RS256, now)
        .ok_or_else(|| Error::Internal("no signing key is active".into()))?;
    let iat = now.and_utc().timestamp();
    let claims = LogoutClaims {
        iss: issuer,
        aud: &q.client_id,
        iat,
        exp: iat + TOKEN_TTL,
        jti: &q.id,
        sub: &q.sub,
        sid: q.sid.as_deref(),
        events: serde_json::json!({ EVENT: {} }),
    };
    super::tokens::sign_claims(key, "logout+jwt", &claims)
}
