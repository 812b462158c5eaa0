//! Housekeeping (SPEC §7): deleting what can no longer be used, in small batches. Every rule
//! is an idempotent delete by age, so nodes running it at the same time only repeat each
//! other's work; nothing here is needed for correctness of the rest (expired rows are refused
//! by every reader already), only for keeping the database the size of what is live.

use chrono::Duration;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::{Error, Timestamp};
use crate::db::schema::{
    authorization_codes as codes, cloudtrax_nonces as nonces, email_outbox as outbox, events,
    grants, one_time_tokens as ott, refresh_tokens as refresh, revocations, sessions,
    sign_in_steps as steps, throttle_counters as counters, throttle_places as places,
    totp_credentials as totp, webauthn_ceremonies as ceremonies,
};
use crate::db::schema::{
    backchannel_logouts as logouts, client_assertions as assertions, device_codes,
    dpop_proofs as proofs, initial_access_tokens as iat, pushed_requests as pushed,
};
use crate::db::DbConnection;

/// Rows deleted per statement: small enough that a batch never holds locks for long.
pub const BATCH: i64 = 500;

/// A used or expired code is kept this long after its expiry, so that a replay is still
/// recognised as one (and revokes what the first exchange issued) rather than as unknown.
const CODE_MEMORY_SECS: i64 = 600;
/// A rotated or revoked refresh token is kept this long, so that its reuse is still detected
/// and revokes its family; later a replay is just an unknown token.
pub const ROTATED_REFRESH_MEMORY_SECS: i64 = 86_400;
/// A spent one-time token (verify, reset) is kept this long (it answers like an unknown one).
const SPENT_ONE_TIME_SECS: i64 = 60;
/// Outbox rows that failed for good are kept this long for operators to look at.
const FAILED_MAIL_SECS: i64 = 7 * 86_400;

/// What one pass may delete, from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The longest access-token lifetime any door issues (a grant or refresh token goes only
    /// when no access token issued from it can still be live).
    pub longest_access_ttl: u64,
    /// The longest throttle window (a counter older than it counts nothing).
    pub longest_throttle_window: u64,
    /// Days events are kept; 0 keeps them forever.
    pub events_retention_days: u64,
}

/// One kind of row housekeeping deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Authorization codes past their expiry (and `CODE_MEMORY_SECS`).
    Codes,
    /// Browser sessions past their expiry.
    Sessions,
    /// Sign-in steps (password right, second factor to come) past their five minutes.
    SignInSteps,
    /// Passkey ceremonies (registration, sign-in) past their five minutes.
    WebauthnCeremonies,
    /// Authenticator apps set up but never confirmed, past their ten minutes.
    PendingTotp,
    /// Pushed authorization requests and kept request objects past their lifetime.
    PushedRequests,
    /// `jti`s of client assertions, once the assertion has expired (a replay is refused by
    /// its `exp` from then on).
    ClientAssertions,
    /// `jti`s of DPoP proofs, once the proof is too old to be accepted (its `iat` refuses a
    /// replay from then on).
    DpopProofs,
    /// Device authorizations (RFC 8628) past their ten minutes, whatever became of them.
    DeviceCodes,
    /// Initial access tokens expired or used up.
    InitialAccessTokens,
    /// Refresh tokens past their expiry, once no access token they issued can be live.
    ExpiredRefreshTokens,
    /// Rotated refresh tokens, `ROTATED_REFRESH_MEMORY_SECS` after rotation.
    RotatedRefreshTokens,
    /// Revoked refresh tokens, `ROTATED_REFRESH_MEMORY_SECS` after revocation.
    RevokedRefreshTokens,
    /// Grants nothing can use any more: no refresh token, no code, no live access token, and
    /// not a standing Mongoose app grant (those go once revoked).
    Grants,
    /// Revocation entries past their expiry (the longest token lifetime).
    Revocations,
    /// Throttle counters whose window has passed.
    ThrottleCounters,
    /// Throttle places of attempts that never settled.
    ThrottlePlaces,
    /// CloudTrax nonces past their 30 minutes.
    Nonces,
    /// One-time tokens (verify, reset) used or expired.
    OneTimeTokens,
    /// Delivered outbox rows (and ones that failed for good, after a week).
    Outbox,
    /// Back-channel logouts delivered or given up, after a week.
    BackchannelLogouts,
    /// Events older than `events.retention_days` (none when it is 0).
    Events,
}

impl Rule {
    /// Every rule, in the order a pass applies them (refresh tokens before the grants they
    /// keep alive).
    pub const ALL: [Rule; 22] = [
        Rule::Codes,
        Rule::Sessions,
        Rule::SignInSteps,
        Rule::WebauthnCeremonies,
        Rule::PendingTotp,
        Rule::PushedRequests,
        Rule::ClientAssertions,
        Rule::DpopProofs,
        Rule::DeviceCodes,
        Rule::InitialAccessTokens,
        Rule::ExpiredRefreshTokens,
        Rule::RotatedRefreshTokens,
        Rule::RevokedRefreshTokens,
        Rule::Grants,
        Rule::Revocations,
        Rule::ThrottleCounters,
        Rule::ThrottlePlaces,
        Rule::Nonces,
        Rule::OneTimeTokens,
        Rule::Outbox,
        Rule::BackchannelLogouts,
        Rule::Events,
    ];

    /// The table it deletes from (the metric label).
    pub fn table(self) -> &'static str {
        match self {
            Rule::Codes => "authorization_codes",
            Rule::Sessions => "sessions",
            Rule::SignInSteps => "sign_in_steps",
            Rule::WebauthnCeremonies => "webauthn_ceremonies",
            Rule::PendingTotp => "totp_credentials",
            Rule::PushedRequests => "pushed_requests",
            Rule::ClientAssertions => "client_assertions",
            Rule::DpopProofs => "dpop_proofs",
            Rule::DeviceCodes => "device_codes",
            Rule::InitialAccessTokens => "initial_access_tokens",
            Rule::ExpiredRefreshTokens
            | Rule::RotatedRefreshTokens
            | Rule::RevokedRefreshTokens => "refresh_tokens",
            Rule::Grants => "grants",
            Rule::Revocations => "revocations",
            Rule::ThrottleCounters => "throttle_counters",
            Rule::ThrottlePlaces => "throttle_places",
            Rule::Nonces => "cloudtrax_nonces",
            Rule::OneTimeTokens => "one_time_tokens",
            Rule::Outbox => "email_outbox",
            Rule::BackchannelLogouts => "backchannel_logouts",
            Rule::Events => "events",
        }
    }
}

/// Deletes up to `BATCH` rows of `$table` matching `$cond` (their keys read first: a
/// `DELETE ... LIMIT` exists on neither backend); gives the number deleted.
macro_rules! purge {
    ($conn:expr, $table:ident, $pk:expr, $cond:expr) => {
        purge!($conn, $table, $pk => String, $cond)
    };
    ($conn:expr, $table:ident, $pk:expr => $ty:ty, $cond:expr) => {{
        let ids: Vec<$ty> = $table::table
            .select($pk)
            .filter($cond)
            .limit(BATCH)
            .load($conn)?;
        if ids.is_empty() {
            0
        } else {
            diesel::delete($table::table.filter($pk.eq_any(ids))).execute($conn)?
        }
    }};
}

/// Deletes a batch of expired sessions, telling the apps signed in through them first
/// (back-channel logout): a session that ends by expiry ends like any other.
fn expired_sessions(conn: &mut DbConnection, now: Timestamp) -> Result<usize, Error> {
    crate::db::transaction(conn, |conn| {
        let expired: Vec<(String, String, String)> = sessions::table
            .filter(sessions::expires_at.lt(now))
            .select((sessions::id_hash, sessions::user_id, sessions::sid))
            .limit(BATCH)
            .load(conn)?;
        let mut by_user: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (_, user, sid) in &expired {
            by_user.entry(user).or_default().push(sid.clone());
        }
        for (user, sids) in by_user {
            super::backchannel::sessions_ended(conn, now, user, &sids)?;
        }
        let ids: Vec<&String> = expired.iter().map(|(id, _, _)| id).collect();
        Ok(diesel::delete(sessions::table.filter(sessions::id_hash.eq_any(ids))).execute(conn)?)
    })
}

/// Deletes one batch (up to about `BATCH` rows) under `rule`; the number deleted. Fewer than
/// `BATCH` means the rule has nothing more to delete now.
pub fn batch(
    conn: &mut DbConnection,
    now: Timestamp,
    rules: &Rules,
    rule: Rule,
) -> Result<usize, Error> {
    let secs = |s: i64| Duration::seconds(s);
    let access = secs(rules.longest_access_ttl as i64);
    let memory = now - secs(ROTATED_REFRESH_MEMORY_SECS);
    Ok(match rule {
        Rule::Codes => purge!(
            conn,
            codes,
            codes::code_hash,
            codes::expires_at.lt(now - secs(CODE_MEMORY_SECS))
        ),
        Rule::Sessions => expired_sessions(conn, now)?,
        Rule::SignInSteps => purge!(conn, steps, steps::id_hash, steps::expires_at.lt(now)),
        Rule::PendingTotp => purge!(
            conn,
            totp,
            totp::user_id,
            totp::confirmed_at
                .is_null()
                .and(totp::created_at.lt(now - secs(super::factors::PENDING_TTL)))
        ),
        Rule::PushedRequests => purge!(conn, pushed, pushed::id_hash, pushed::expires_at.lt(now)),
        Rule::ClientAssertions => purge!(
            conn,
            assertions,
            assertions::id_hash,
            assertions::expires_at.lt(now)
        ),
        Rule::DpopProofs => purge!(conn, proofs, proofs::id_hash, proofs::expires_at.lt(now)),
        Rule::DeviceCodes => purge!(
            conn,
            device_codes,
            device_codes::device_code_hash,
            device_codes::expires_at.lt(now)
        ),
        Rule::InitialAccessTokens => purge!(
            conn,
            iat,
            iat::id,
            iat::expires_at.lt(now).or(iat::uses_left.le(0))
        ),
        Rule::WebauthnCeremonies => purge!(
            conn,
            ceremonies,
            ceremonies::id_hash,
            ceremonies::expires_at.lt(now)
        ),
        Rule::ExpiredRefreshTokens => {
            purge!(
                conn,
                refresh,
                refresh::id,
                refresh::expires_at.lt(now - access)
            )
        }
        Rule::RotatedRefreshTokens => {
            purge!(conn, refresh, refresh::id, refresh::used_at.lt(memory))
        }
        Rule::RevokedRefreshTokens => {
            purge!(conn, refresh, refresh::id, refresh::revoked_at.lt(memory))
        }
        Rule::Grants => purge!(
            conn,
            grants,
            grants::id,
            grants::updated_at
                .lt(now - access)
                // A Mongoose app grant is a standing one: GetToken mints tokens under it
                // until the person revokes it, with no refresh token or code to show for it.
                .and(
                    grants::client_id
                        .ne(super::apps::APPS_CLIENT)
                        .or(grants::revoked_at.is_not_null())
                )
                .and(not(exists(
                    refresh::table.filter(refresh::grant_id.eq(grants::id))
                )))
                .and(not(exists(
                    codes::table.filter(codes::grant_id.eq(grants::id.nullable()))
                )))
        ),
        Rule::Revocations => purge!(
            conn,
            revocations,
            revocations::id => i64,
            revocations::expires_at.le(now)
        ),
        Rule::ThrottleCounters => purge!(
            conn,
            counters,
            counters::bucket,
            counters::window_start.lt(now - secs(rules.longest_throttle_window as i64))
        ),
        Rule::ThrottlePlaces => purge!(conn, places, places::id, places::expires_at.le(now)),
        Rule::Nonces => nonce_batch(conn, now)?,
        Rule::OneTimeTokens => purge!(
            conn,
            ott,
            ott::token_hash,
            ott::expires_at
                .le(now)
                .nullable()
                .or(ott::used_at.lt(now - secs(SPENT_ONE_TIME_SECS)))
        ),
        Rule::Outbox => purge!(
            conn,
            outbox,
            outbox::id,
            outbox::sent_at
                .is_not_null()
                .nullable()
                .or(outbox::failed_at.lt(now - secs(FAILED_MAIL_SECS)))
        ),
        Rule::BackchannelLogouts => {
            let kept = now - secs(super::backchannel::KEEP_SECS);
            purge!(
                conn,
                logouts,
                logouts::id,
                logouts::delivered_at
                    .lt(kept)
                    .or(logouts::failed_at.lt(kept))
            )
        }
        Rule::Events if rules.events_retention_days == 0 => 0,
        Rule::Events => {
            let cutoff = now - Duration::days(rules.events_retention_days as i64);
            purge!(conn, events, events::id, events::created_at.lt(cutoff))
        }
    })
}

/// Nonces have a two-column key: a batch deletes up to the expiry of the `BATCH`-th oldest
/// expired nonce (ties may make it a little larger).
fn nonce_batch(conn: &mut DbConnection, now: Timestamp) -> Result<usize, Error> {
    let nth: Option<Timestamp> = nonces::table
        .select(nonces::expires_at)
        .filter(nonces::expires_at.le(now))
        .order(nonces::expires_at.asc())
        .offset(BATCH - 1)
        .first(conn)
        .optional()?;
    let upto = nth.unwrap_or(now);
    Ok(diesel::delete(nonces::table.filter(nonces::expires_at.le(upto))).execute(conn)?)
}
