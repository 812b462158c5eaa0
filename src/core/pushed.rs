//! Authorization requests kept on the server behind a `request_uri` (RFC 9126): those a
//! client pushed to `/par`, and those a signed request object carried to `/authorize` (kept
//! the same way, so that the sign-in, terms and consent round trips carry only the
//! `request_uri`). Only the URI's hash is stored. A request URI must be first used within
//! [`LIFETIME`] seconds; once a browser has started with it, it lasts the sign-in
//! ([`INTERACTION`] seconds), and issuing the code consumes it, so it works once.

use chrono::Duration;
use diesel::prelude::*;

use super::{crypto, Error, Timestamp};
use crate::db::schema::pushed_requests as pr;
use crate::db::DbConnection;

/// The prefix of the request URIs this server makes (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Seconds a pushed request waits for its first use (`expires_in`).
pub const LIFETIME: i64 = 90;
/// Seconds a started request lasts: the time to sign in, step up and consent.
pub const INTERACTION: i64 = 600;
/// Requests one client may have waiting at once (pushed or kept): a bound on what anyone
/// holding a public or self-registered client can make the server store.
pub const MAX_LIVE_PER_CLIENT: i64 = 1000;

/// A request kept behind a `request_uri`.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The hash of its URI (what consuming it names).
    pub hash: String,
    /// The authorization request, as parameter pairs.
    pub pairs: Vec<(String, String)>,
    /// Pushed to `/par` (not a request object sent to `/authorize`).
    pub pushed: bool,
    /// It came as a signed request object.
    pub signed: bool,
    /// When a browser first used it (whole seconds): a sign-in since then is fresh.
    pub started_at: Timestamp,
}

/// Keeps a request pushed by `client_id` (`/par`) behind a new random `request_uri`; the URI
/// and its lifetime in seconds.
pub fn push(
    conn: &mut DbConnection,
    now: Timestamp,
    client_id: &str,
    pairs: &[(String, String)],
    signed: bool,
) -> Result<(String, i64), Error> {
    let uri = format!("{REQUEST_URI_PREFIX}{}", crypto::random_token(32));
    insert(conn, now, &uri, client_id, pairs, true, signed)?;
    Ok((uri, LIFETIME))
}

/// Keeps the request a signed request object sent by value carries; its `request_uri`. The
/// URI is derived from the object, so the same object sent again (a reload, or someone
/// replaying it from a browser's history) finds the request it already made instead of
/// storing another: one row per live object.
pub fn keep_object(
    conn: &mut DbConnection,
    now: Timestamp,
    client_id: &str,
    object: &str,
    pairs: &[(String, String)],
) -> Result<String, Error> {
    let uri = format!(
        "{REQUEST_URI_PREFIX}jar-{}",
        crypto::sha256_hex(object.as_bytes())
    );
    let hash = crypto::secret_hash(&uri);
    diesel::delete(pr::table.find(&hash).filter(pr::expires_at.le(now))).execute(conn)?;
    let live: i64 = pr::table.find(&hash).count().get_result(conn)?;
    if live == 0 {
        match insert(conn, now, &uri, client_id, pairs, false, true) {
            // The same object, kept by another request a moment ago.
            Err(Error::Database(e)) if crate::db::is_unique_violation(&e) => {}
            other => other?,
        }
    }
    Ok(uri)
}

fn insert(
    conn: &mut DbConnection,
    now: Timestamp,
    uri: &str,
    client_id: &str,
    pairs: &[(String, String)],
    pushed: bool,
    signed: bool,
) -> Result<(), Error> {
    let live: i64 = pr::table
        .filter(pr::client_id.eq(client_id))
        .filter(pr::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    if live >= MAX_LIVE_PER_CLIENT {
        return Err(Error::Throttled {
            retry_after: LIFETIME as u64,
        });
    }
    let params = serde_json::to_string(pairs).map_err(|e| Error::Internal(e.to_string()))?;
    diesel::insert_into(pr::table)
        .values((
            pr::id_hash.eq(crypto::secret_hash(uri)),
            pr::client_id.eq(client_id),
            pr::params.eq(params),
            pr::pushed.eq(pushed),
            pr::signed.eq(signed),
            pr::created_at.eq(now),
            pr::expires_at.eq(now + Duration::seconds(LIFETIME)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Opens the request behind `uri` for `client_id`, starting it on first use; or why not, in
/// words for the person (an unknown, used, expired or another client's URI).
pub fn open(
    conn: &mut DbConnection,
    now: Timestamp,
    client_id: &str,
    uri: &str,
) -> Result<Result<Kept, &'static str>, Error> {
    if !uri.starts_with(REQUEST_URI_PREFIX) {
        return Ok(Err(
            "This server does not fetch request_uri values from elsewhere; push the request to its PAR endpoint.",
        ));
    }
    let hash = crypto::secret_hash(uri);
    let row: Option<(String, String, bool, bool, Option<Timestamp>, Timestamp)> = pr::table
        .find(&hash)
        .select((
            pr::client_id,
            pr::params,
            pr::pushed,
            pr::signed,
            pr::started_at,
            pr::expires_at,
        ))
        .first(conn)
        .optional()?;
    let Some((owner, params, pushed, signed, started, expires_at)) = row else {
        return Ok(Err(
            "This sign-in link was already used or has expired. Go back to the application and try again.",
        ));
    };
    if owner != client_id {
        return Ok(Err("The request_uri was not issued to this application."));
    }
    if expires_at <= now {
        return Ok(Err(
            "This sign-in link has expired. Go back to the application and try again.",
        ));
    }
    let started_at = match started {
        Some(t) => t,
        None => {
            let t = now.and_utc().timestamp();
            let start = chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.naive_utc())
                .unwrap_or(now);
            diesel::update(pr::table.find(&hash).filter(pr::started_at.is_null()))
                .set((
                    pr::started_at.eq(start),
                    pr::expires_at.eq(now + Duration::seconds(INTERACTION)),
                ))
                .execute(conn)?;
            start
        }
    };
    let pairs: Vec<(String, String)> = serde_json::from_str(&params)
        .map_err(|e| Error::Internal(format!("a kept request is unreadable: {e}")))?;
    Ok(Ok(Kept {
        hash,
        pairs,
        pushed,
        signed,
        started_at,
    }))
}

/// Consumes a kept request as its code is issued; `false` when it was already consumed (a
/// replay, or two tabs racing: only one gets a code).
pub fn consume(conn: &mut DbConnection, hash: &str) -> Result<bool, Error> {
    Ok(diesel::delete(pr::table.find(hash)).execute(conn)? == 1)
}
