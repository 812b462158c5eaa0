//! Throttling of credential checks, shared by every node through the database: fixed windows
//! per account (wrong passwords) and per client IP (every failed check), and sign-ups per IP.
//! A password check is `admit`ted (takes its place) before the password is looked at,
//! atomically, so no burst of concurrent guesses gets more checks than the limits allow (SPEC
//! §9), and `settle`s afterwards. Client-secret checks, hot and high-entropy, `check` and `hit`.

use chrono::Duration;
use diesel::prelude::*;

use super::{Error, Timestamp};
use crate::config::ThrottleSettings;
use crate::db::schema::{throttle_counters as counters, throttle_places as places};
use crate::db::DbConnection;

/// A throttle bucket: what is counted, its limit and window.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: String,
    pub limit: u32,
    pub window: u64,
}

impl Bucket {
    /// Wrong passwords of one account (a user id, or the name tried for an unknown account, so
    /// that unknown and known accounts throttle alike).
    pub fn account(settings: &ThrottleSettings, account: &str) -> Bucket {
        Bucket {
            key: account_key(account),
            limit: settings.account_failures,
            window: settings.account_window,
        }
    }

    /// Failed credential checks from one client IP.
    pub fn ip(settings: &ThrottleSettings, ip: &str) -> Bucket {
        Bucket {
            key: format!("ip:{ip}"),
            limit: settings.ip_failures,
            window: settings.ip_window,
        }
    }

    /// Successful sign-ups from one client IP.
    pub fn signup(settings: &ThrottleSettings, ip: &str) -> Bucket {
        Bucket {
            key: format!("signup:{ip}"),
            limit: settings.signups_per_ip,
            window: settings.signup_window,
        }
    }

    /// Device authorizations started from one IP (RFC 8628 §3.1).
    pub fn device_start(settings: &ThrottleSettings, ip: &str) -> Bucket {
        Bucket {
            key: format!("device-start:{ip}"),
            // Households and fleets share addresses: more than a sign-in's failures.
            limit: settings.ip_failures.saturating_mul(4),
            window: settings.ip_window,
        }
    }

    /// User codes typed at `/device` that named nothing, from one IP (apart from the sign-in
    /// failures: a page elsewhere cannot spend a person's sign-in budget with links).
    pub fn device_code_ip(settings: &ThrottleSettings, ip: &str) -> Bucket {
        Bucket {
            key: format!("device-code-ip:{ip}"),
            limit: settings.ip_failures,
            window: settings.ip_window,
        }
    }

    /// User codes one person typed that named nothing.
    pub fn device_code_user(settings: &ThrottleSettings, user_id: &str) -> Bucket {
        Bucket {
            key: format!("device-code-user:{user_id}"),
            limit: settings.account_failures.saturating_mul(2),
            window: settings.account_window,
        }
    }

    /// Dynamic client registrations from one IP.
    pub fn registration(settings: &ThrottleSettings, ip: &str) -> Bucket {
        Bucket {
            key: format!("register:{ip}"),
            limit: settings.registrations_per_ip,
            window: settings.signup_window,
        }
    }
}

/// The key of an account's wrong-password bucket.
pub fn account_key(account: &str) -> String {
    format!("account:{account}")
}

/// Forgets what a bucket counted (an administrator unlocking an account); returns the count
/// of its current window (`window` seconds), 0 when there was none or it had passed.
pub fn forget(
    conn: &mut DbConnection,
    now: Timestamp,
    key: &str,
    window: u64,
) -> Result<i32, Error> {
    let row: Option<(Timestamp, i32)> = counters::table
        .find(key)
        .select((counters::window_start, counters::count))
        .first(conn)
        .optional()?;
    diesel::delete(counters::table.find(key)).execute(conn)?;
    Ok(match row {
        Some((start, count)) if start + Duration::seconds(window as i64) > now => count,
        _ => 0,
    })
}

/// `Err(Throttled)` when any bucket has reached its limit in its current window.
pub fn check(conn: &mut DbConnection, now: Timestamp, buckets: &[&Bucket]) -> Result<(), Error> {
    let keys: Vec<&str> = buckets.iter().map(|b| b.key.as_str()).collect();
    let rows: Vec<(String, Timestamp, i32)> = counters::table
        .filter(counters::bucket.eq_any(&keys))
        .select((counters::bucket, counters::window_start, counters::count))
        .load(conn)?;
    let mut retry = 0u64;
    for (key, start, count) in rows {
        let Some(b) = buckets.iter().find(|b| b.key == key) else {
            continue;
        };
        let ends = start + Duration::seconds(b.window as i64);
        if ends > now && count >= b.limit as i32 {
            retry = retry.max((ends - now).num_seconds().max(1) as u64);
        }
    }
    if retry > 0 {
        return Err(Error::Throttled { retry_after: retry });
    }
    Ok(())
}

/// Counts one event in each bucket (a new window starts when the old one has passed).
pub fn hit(conn: &mut DbConnection, now: Timestamp, buckets: &[&Bucket]) -> Result<(), Error> {
    for b in buckets {
        let expired_before = now - Duration::seconds(b.window as i64);
        crate::db::upsert::throttle_hit(conn, &b.key, now, expired_before)?;
    }
    Ok(())
}

/// Seconds a place taken before a check is remembered if it is never given back (its node
/// died mid-check): longer than any check takes, short enough not to lock anyone out for long.
pub const PLACE_TTL_SECS: i64 = 60;

/// What [`admit`] decided for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The attempt holds these places (one per bucket, in order): check it, then [`settle`].
    Admitted(Vec<String>),
    /// The limit is taken up by attempts still being checked: their outcome decides; ask
    /// again once one of them settles.
    Busy,
    /// A bucket is full for the rest of its window.
    Throttled { retry_after: u64 },
}

/// How an admitted attempt ended, for one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// It counts (a failure; for sign-ups, an account made).
    Count,
    /// The bucket starts over (a right password clears an account's failures).
    Reset,
    /// It does not count (a right password for the IP; a check that did not happen).
    Release,
}

/// Takes an attempt's place in each bucket before its credential is checked. A bucket admits
/// only while its count and the places taken stay under its limit, one admission at a time
/// (the bucket's row is locked for it): a burst of concurrent guesses never gets more checks
/// than the limit, and concurrent right passwords wait for each other instead of failing.
pub fn admit(
    conn: &mut DbConnection,
    now: Timestamp,
    buckets: &[&Bucket],
) -> Result<Admission, Error> {
    let mut held: Vec<String> = Vec::new();
    for b in buckets {
        let decided = crate::db::transaction(conn, |conn| admit_one(conn, now, b));
        let decided = match decided {
            Ok(d) => d,
            Err(e) => {
                release_places(conn, &held)?;
                return Err(e);
            }
        };
        match decided {
            Ok(place) => held.push(place),
            Err(refused) => {
                release_places(conn, &held)?;
                return Ok(refused);
            }
        }
    }
    Ok(Admission::Admitted(held))
}

/// One bucket's admission, inside a transaction holding the bucket's lock: the place's id, or
/// why not.
fn admit_one(
    conn: &mut DbConnection,
    now: Timestamp,
    b: &Bucket,
) -> Result<Result<String, Admission>, Error> {
    let window = Duration::seconds(b.window as i64);
    crate::db::upsert::throttle_open(conn, &b.key, now, now - window)?;
    diesel::delete(
        places::table
            .filter(places::bucket.eq(&b.key))
            .filter(places::expires_at.le(now)),
    )
    .execute(conn)?;
    let taken: i64 = places::table
        .filter(places::bucket.eq(&b.key))
        .count()
        .get_result(conn)?;
    let (count, start): (i32, Timestamp) = counters::table
        .find(&b.key)
        .select((counters::count, counters::window_start))
        .first(conn)?;
    let limit = b.limit as i64;
    if count as i64 >= limit {
        let ends = start + window;
        return Ok(Err(Admission::Throttled {
            retry_after: (ends - now).num_seconds().max(1) as u64,
        }));
    }
    if count as i64 + taken >= limit {
        return Ok(Err(Admission::Busy));
    }
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(places::table)
        .values((
            places::id.eq(&id),
            places::bucket.eq(&b.key),
            places::expires_at.eq(now + Duration::seconds(PLACE_TTL_SECS)),
        ))
        .execute(conn)?;
    Ok(Ok(id))
}

fn release_places(conn: &mut DbConnection, ids: &[String]) -> Result<(), Error> {
    diesel::delete(places::table.filter(places::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

/// Settles an admitted attempt: each bucket with its place (from [`admit`]) and its outcome.
/// A place that has expired meanwhile is settled all the same.
pub fn settle(conn: &mut DbConnection, outcome: &[(&Bucket, &str, Settle)]) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        for (b, place, how) in outcome {
            diesel::delete(places::table.find(*place)).execute(conn)?;
            let bucket = counters::table.find(&b.key);
            match how {
                Settle::Count => {
                    diesel::update(bucket)
                        .set(counters::count.eq(counters::count + 1))
                        .execute(conn)?;
                }
                Settle::Reset => {
                    diesel::update(bucket)
                        .set(counters::count.eq(0))
                        .execute(conn)?;
                }
                Settle::Release => {}
            }
        }
        Ok(())
    })
}
