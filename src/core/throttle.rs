//! Throttling of credential checks, shared by every node through the database: fixed windows
//! per account (wrong passwords) and per client IP (every failed check), and sign-ups per IP.
//! A password check is `admit`ted (takes its place) before the password is looked at,
//! atomically, so no burst of concurrent guesses gets more checks than the limits allow (SPEC
//! §9), and `settle`s afterwards. Client-secret checks, hot and high-entropy, `check` and `hit`.

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

/// Seconds a place taken before a check is remembered if it is never settled (the node died
/// mid-check): longer than any check takes, short enough not to lock a person out for long.
pub const PLACE_TTL_SECS: i64 = 60;

/// What [`admit`] decided for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The attempt has its place in every bucket: check it, then [`settle`].
    Admitted,
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
    /// It does not count (a right password for the IP; a check that could not run).
    Release,
}

/// Takes an attempt's place in each bucket before its credential is checked, atomically on
/// every node: admitted only while the bucket's count and the attempts still being checked
/// stay under its limit. So a burst of concurrent guesses never gets more checks than the
/// limit allows, and concurrent right passwords wait for each other instead of being refused.
pub fn admit(
    conn: &mut DbConnection,
    now: Timestamp,
    buckets: &[&Bucket],
) -> Result<Admission, Error> {
    use crate::db::upsert;
    for (i, b) in buckets.iter().enumerate() {
        let window = Duration::seconds(b.window as i64);
        upsert::throttle_open(conn, &b.key, now, now - window)?;
        let until = now + Duration::seconds(PLACE_TTL_SECS);
        if upsert::throttle_admit(conn, &b.key, now, until, b.limit as i32)? {
            continue;
        }
        for taken in &buckets[..i] {
            upsert::throttle_settle(conn, &taken.key, 0, false)?;
        }
        let (count, start): (i32, Timestamp) = counters::table
            .find(&b.key)
            .select((counters::count, counters::window_start))
            .first(conn)?;
        if count >= b.limit as i32 {
            let ends = start + window;
            return Ok(Admission::Throttled {
                retry_after: (ends - now).num_seconds().max(1) as u64,
            });
        }
        return Ok(Admission::Busy);
    }
    Ok(Admission::Admitted)
}

/// Settles an admitted attempt in each of its buckets.
pub fn settle(conn: &mut DbConnection, outcome: &[(&Bucket, Settle)]) -> Result<(), Error> {
    for (b, how) in outcome {
        let (add, reset) = match how {
            Settle::Count => (1, false),
            Settle::Reset => (0, true),
            Settle::Release => (0, false),
        };
        crate::db::upsert::throttle_settle(conn, &b.key, add, reset)?;
    }
    Ok(())
}
