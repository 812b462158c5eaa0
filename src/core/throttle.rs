//! Throttling of credential checks, shared by every node through the database: fixed windows
//! per account (wrong passwords) and per client IP (every failed check), and sign-ups per IP.
//! A password check `reserve`s its place before the password is looked at, atomically, so no
//! burst of concurrent guesses gets more checks than the limits allow (SPEC §9); a right
//! password gives its place back.

use chrono::Duration;
use diesel::prelude::*;

use super::{Error, Timestamp};
use crate::config::ThrottleSettings;
use crate::db::schema::throttle_counters as counters;
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
            key: format!("account:{account}"),
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

/// Forgets a bucket (an account's failures after a successful sign-in).
pub fn clear(conn: &mut DbConnection, bucket: &Bucket) -> Result<(), Error> {
    diesel::delete(counters::table.find(&bucket.key)).execute(conn)?;
    Ok(())
}

/// Takes an attempt's place in each bucket before its credential is checked: one atomic
/// statement per bucket, shared by every node. `Throttled` (and the places given back) when
/// any bucket was already full, so at most `limit` attempts per window are ever checked.
pub fn reserve(conn: &mut DbConnection, now: Timestamp, buckets: &[&Bucket]) -> Result<(), Error> {
    let mut retry = 0u64;
    for (i, b) in buckets.iter().enumerate() {
        let window = Duration::seconds(b.window as i64);
        let taken = match crate::db::upsert::throttle_take(conn, &b.key, now, now - window) {
            Ok(t) => t,
            Err(e) => {
                release(conn, &buckets[..i])?;
                return Err(e);
            }
        };
        if taken.count > b.limit as i32 {
            let ends = taken.window_start + window;
            retry = retry.max((ends - now).num_seconds().max(1) as u64);
        }
    }
    if retry > 0 {
        release(conn, buckets)?;
        return Err(Error::Throttled { retry_after: retry });
    }
    Ok(())
}

/// Gives back a place `reserve` took (the attempt was not a failure).
pub fn release(conn: &mut DbConnection, buckets: &[&Bucket]) -> Result<(), Error> {
    for b in buckets {
        diesel::update(
            counters::table
                .filter(counters::bucket.eq(&b.key))
                .filter(counters::count.gt(0)),
        )
        .set(counters::count.eq(counters::count - 1))
        .execute(conn)?;
    }
    Ok(())
}
