//! The device authorization grant (RFC 8628): a device with no browser (or no keyboard) gets a
//! device code to poll with and a short user code for a person to enter at `/device` on
//! another screen; once the person signed in there approves, the device's next poll gets the
//! tokens. Both codes are stored as hashes; a user code is eight letters from an alphabet of
//! twenty consonants (no vowels, no look-alikes: 34 bits), short-lived and single use, and
//! guessing is throttled by the caller. The poll's pace and state changes are guarded
//! updates, so two nodes answering polls of the same device agree.

use chrono::Duration;
use diesel::prelude::*;
use rand::Rng;

use super::{crypto, Error, Timestamp};
use crate::db::schema::device_codes as dc;
use crate::db::{is_unique_violation, DbConnection};

/// `grant_type` of the device's token requests.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Seconds a device code (and its user code) lives.
pub const LIFETIME: i64 = 600;
/// Seconds a device must wait between polls at first; each `slow_down` adds
/// [`SLOW_DOWN_STEP`].
pub const INTERVAL: i32 = 5;
pub const SLOW_DOWN_STEP: i32 = 5;
/// The interval never grows past this (a device that kept polling too fast can still finish).
pub const MAX_INTERVAL: i32 = 60;
/// A poll this much sooner than the interval still counts as on time (network jitter).
const POLL_SLACK_MS: i64 = 1000;
/// At most this many live device codes per client.
pub const MAX_LIVE_PER_CLIENT: i64 = 1000;
/// The user code alphabet: consonants only, without look-alikes (RFC 8628 §6.1).
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const USER_CODE_LEN: usize = 8;

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Denied,
    /// Its tokens were issued.
    Used,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Used => "used",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "denied" => Status::Denied,
            _ => Status::Used,
        }
    }
}

/// A device authorization.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dc)]
pub struct DeviceRow {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    /// The audience of its tokens, a JSON list.
    pub audience: String,
    pub status: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub amr: Option<String>,
    pub poll_interval: i32,
    pub last_polled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl DeviceRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status)
    }

    pub fn audiences(&self) -> Vec<String> {
        serde_json::from_str(&self.audience).unwrap_or_default()
    }
}

/// A new device authorization, with the codes in the clear (shown once).
#[derive(Debug, Clone)]
pub struct Started {
    pub device_code: String,
    /// As the person reads it: `WDJB-MJHT`.
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i32,
}

/// Why a poll got no tokens (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Poll {
    #[error("the person has not finished yet: keep polling")]
    AuthorizationPending,
    #[error("polling too fast: wait 5 more seconds between polls from now on")]
    SlowDown,
    #[error("the person denied the request")]
    AccessDenied,
    #[error("the device code has expired: start again")]
    ExpiredToken,
}

impl Poll {
    /// The RFC 8628 error code.
    pub fn code(self) -> &'static str {
        match self {
            Poll::AuthorizationPending => "authorization_pending",
            Poll::SlowDown => "slow_down",
            Poll::AccessDenied => "access_denied",
            Poll::ExpiredToken => "expired_token",
        }
    }
}

fn new_user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..USER_CODE_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A user code as the person reads it: two groups of four.
pub fn display(code: &str) -> String {
    if code.len() == USER_CODE_LEN {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

/// A typed user code, normalised: letters upper-cased, dashes and spaces dropped. `None` when
/// what is left cannot be a user code (so it is not looked up).
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// Starts a device authorization for `client_id` with the decided scope and audience.
pub fn start(
    conn: &mut DbConnection,
    now: Timestamp,
    client_id: &str,
    scope: &str,
    audience: &[String],
) -> Result<Started, Error> {
    let live: i64 = dc::table
        .filter(dc::client_id.eq(client_id))
        .filter(dc::status.eq(Status::Pending.as_str()))
        .filter(dc::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    if live >= MAX_LIVE_PER_CLIENT {
        return Err(Error::Throttled {
            retry_after: LIFETIME as u64,
        });
    }
    let device_code = crypto::random_token(32);
    let audience = serde_json::to_string(audience).map_err(|e| Error::Internal(e.to_string()))?;
    // A user code may collide with a live one (or an expired one not yet deleted): draw again.
    for _ in 0..5 {
        let user_code = new_user_code();
        let user_hash = crypto::secret_hash(&user_code);
        diesel::delete(dc::table.filter(dc::user_code_hash.eq(&user_hash)))
            .filter(dc::expires_at.le(now))
            .execute(conn)?;
        let inserted = diesel::insert_into(dc::table)
            .values((
                dc::device_code_hash.eq(crypto::secret_hash(&device_code)),
                dc::user_code_hash.eq(&user_hash),
                dc::client_id.eq(client_id),
                dc::scope.eq(scope),
                dc::audience.eq(&audience),
                dc::status.eq(Status::Pending.as_str()),
                dc::poll_interval.eq(INTERVAL),
                dc::created_at.eq(now),
                dc::expires_at.eq(now + Duration::seconds(LIFETIME)),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {
                return Ok(Started {
                    device_code,
                    user_code: display(&user_code),
                    expires_in: LIFETIME,
                    interval: INTERVAL,
                })
            }
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Unavailable("no free user code; try again".into()))
}

/// The pending, unexpired authorization a (normalised) user code names.
pub fn pending_by_user_code(
    conn: &mut DbConnection,
    now: Timestamp,
    user_code: &str,
) -> Result<Option<DeviceRow>, Error> {
    Ok(dc::table
        .filter(dc::user_code_hash.eq(crypto::secret_hash(user_code)))
        .filter(dc::status.eq(Status::Pending.as_str()))
        .filter(dc::expires_at.gt(now))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?)
}

/// Who approved a device, from their browser session.
#[derive(Debug, Clone)]
pub struct Approver {
    pub user_id: String,
    pub session_id: String,
    pub auth_time: Timestamp,
    pub amr: String,
}

/// Records the person's decision on a pending authorization: approved by `approver`, or
/// denied (`None`). `false` when it is no longer pending (decided in another tab, expired).
pub fn decide(
    conn: &mut DbConnection,
    now: Timestamp,
    user_code: &str,
    approver: Option<&Approver>,
) -> Result<bool, Error> {
    let target = dc::table
        .filter(dc::user_code_hash.eq(crypto::secret_hash(user_code)))
        .filter(dc::status.eq(Status::Pending.as_str()))
        .filter(dc::expires_at.gt(now));
    let n = match approver {
        Some(a) => diesel::update(target)
            .set((
                dc::status.eq(Status::Approved.as_str()),
                dc::user_id.eq(Some(&a.user_id)),
                dc::session_id.eq(Some(&a.session_id)),
                dc::auth_time.eq(Some(a.auth_time)),
                dc::amr.eq(Some(&a.amr)),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set(dc::status.eq(Status::Denied.as_str()))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// A poll by `client_id` with `device_code`: the approved authorization (to [`claim`] in the
/// transaction that issues its tokens), or why not. Polls sooner than the interval are
/// `slow_down` and lengthen it for good. Runs outside that transaction: the record of a poll
/// stays whatever it answers.
pub fn poll(
    conn: &mut DbConnection,
    now: Timestamp,
    client_id: &str,
    device_code: &str,
) -> Result<DeviceRow, Error> {
    let invalid = || Error::InvalidGrant("the device code is invalid".into());
    let hash = crypto::secret_hash(device_code);
    let row: DeviceRow = dc::table
        .find(&hash)
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(invalid)?;
    if !crypto::ct_eq(&row.client_id, client_id) {
        return Err(invalid());
    }
    if row.status() == Status::Used {
        return Err(Error::InvalidGrant(
            "the device code was already used".into(),
        ));
    }
    if row.expires_at <= now {
        return Err(Error::DevicePoll(Poll::ExpiredToken));
    }
    let due = row.last_polled_at.map(|t| {
        t + Duration::seconds(i64::from(row.poll_interval)) - Duration::milliseconds(POLL_SLACK_MS)
    });
    // Record this poll only if no other poll was recorded since this one read the row: of two
    // racing polls, one is on time and the other too soon.
    let on_time = due.is_none_or(|due| now >= due) && {
        let mark = dc::last_polled_at.eq(Some(now));
        let recorded = match row.last_polled_at {
            Some(t) => diesel::update(dc::table.find(&hash).filter(dc::last_polled_at.eq(t)))
                .set(mark)
                .execute(conn)?,
            None => diesel::update(dc::table.find(&hash).filter(dc::last_polled_at.is_null()))
                .set(mark)
                .execute(conn)?,
        };
        recorded == 1
    };
    if !on_time {
        diesel::update(dc::table.find(&hash))
            .set((
                dc::poll_interval.eq((row.poll_interval + SLOW_DOWN_STEP).min(MAX_INTERVAL)),
                dc::last_polled_at.eq(Some(now)),
            ))
            .execute(conn)?;
        return Err(Error::DevicePoll(Poll::SlowDown));
    }
    match row.status() {
        Status::Pending => Err(Error::DevicePoll(Poll::AuthorizationPending)),
        Status::Denied => Err(Error::DevicePoll(Poll::AccessDenied)),
        Status::Used => Err(Error::InvalidGrant(
            "the device code was already used".into(),
        )),
        Status::Approved => Ok(row),
    }
}

/// Denies every device a person approved whose tokens were not collected yet (a password
/// change, signing out everywhere, disabling the account).
pub fn deny_all_of_user(conn: &mut DbConnection, user_id: &str) -> Result<(), Error> {
    diesel::update(
        dc::table
            .filter(dc::user_id.eq(user_id))
            .filter(dc::status.eq(Status::Approved.as_str())),
    )
    .set(dc::status.eq(Status::Denied.as_str()))
    .execute(conn)?;
    Ok(())
}

/// Claims an approved authorization for issuing its tokens: exactly one caller wins (`true`).
pub fn claim(conn: &mut DbConnection, row: &DeviceRow) -> Result<bool, Error> {
    let n = diesel::update(
        dc::table
            .find(&row.device_code_hash)
            .filter(dc::status.eq(Status::Approved.as_str())),
    )
    .set(dc::status.eq(Status::Used.as_str()))
    .execute(conn)?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typed_loosely_and_read_in_two_groups() {
        let code = new_user_code();
        assert_eq!(code.len(), USER_CODE_LEN);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        let shown = display(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(normalize(&shown).as_deref(), Some(code.as_str()));
        assert_eq!(
            normalize(&format!(" {} ", shown.to_lowercase())).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(normalize("WDJB MJHT").as_deref(), Some("WDJBMJHT"));
        assert!(
            normalize("AEIO-UAEI").is_none(),
            "vowels are not in the alphabet"
        );
        assert!(normalize("WDJB").is_none());
        assert!(normalize("WDJB-MJHT-X").is_none());
    }
}
