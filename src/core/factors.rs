//! Second factors: a TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
//! clock skew either way), one-time recovery codes, and the sign-in step that stands between
//! a right password and a session for a person who has a second factor.
//!
//! The TOTP seed must be read back to check codes, so it is sealed (`secrets::sealing_key`),
//! never hashed; a code is accepted once (the last time step used is kept). Recovery codes
//! and step cookies are random and stored as SHA-256 hashes. Authentication methods are named
//! as RFC 8176 does: `pwd`, `otp`, `hwk`, and `mfa` when two of them were used.

use chrono::Duration;
use diesel::prelude::*;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::crypto::{self, MasterKey};
use super::users::User;
use super::{events, Error, Timestamp};
use crate::db::schema::{passkeys, recovery_codes, sign_in_steps, totp_credentials, users};
use crate::db::DbConnection;

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Seconds a sign-in step (password right, second factor to come) stays open.
pub const STEP_TTL: u64 = 300;
/// The `acr` of a sign-in with a second factor, and of one without.
pub const ACR_MFA: &str = "mfa";
pub const ACR_PWD: &str = "pwd";

/// Wrong second-factor codes a person may give in a day (what a right code does not reset).
pub const DAILY_FAILURES: u32 = 20;

/// The throttle account of a person's wrong second factors in a day.
pub fn throttle_day(user_id: &str) -> String {
    format!("second-factor-day:{user_id}")
}

/// The account name of a person's wrong second factors in the throttle (next to their wrong
/// passwords, `throttle::account_key(user_id)`).
pub fn throttle_account(user_id: &str) -> String {
    format!("second-factor:{user_id}")
}

/// The `acr` for a list of `amr` values.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MFA
    } else {
        ACR_PWD
    }
}

/// `amr` after a second factor `method` completed a sign-in that began with `first`.
pub fn with_second(first: &[String], method: &str) -> Vec<String> {
    let mut amr: Vec<String> = first.iter().filter(|m| *m != "mfa").cloned().collect();
    if !amr.iter().any(|m| m == method) {
        amr.push(method.to_owned());
    }
    amr.push("mfa".into());
    amr
}

/// A stored TOTP authenticator.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_credentials)]
pub struct TotpRow {
    pub user_id: String,
    pub secret_sealed: String,
    pub confirmed_at: Option<Timestamp>,
    pub last_step: i64,
    pub created_at: Timestamp,
}

/// What a person has enrolled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrolled {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: i64,
    /// Unused recovery codes.
    pub recovery_codes: i64,
}

impl Enrolled {
    /// Whether signing in needs a second factor.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// The person's second factors.
pub fn enrolled(conn: &mut DbConnection, user_id: &str) -> Result<Enrolled, Error> {
    let totp: i64 = totp_credentials::table
        .filter(totp_credentials::user_id.eq(user_id))
        .filter(totp_credentials::confirmed_at.is_not_null())
        .count()
        .get_result(conn)?;
    let recovery: i64 = recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?;
    let passkeys: i64 = passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(Enrolled {
        totp: totp > 0,
        passkeys,
        recovery_codes: recovery,
    })
}

fn totp_for(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, Error> {
    // The otpauth URL forbids ':' in both names.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, Some(issuer), account)
        .map_err(|e| Error::Internal(format!("totp: {e}")))
}

/// A new authenticator for the person, not counted until a code confirms it; replaces an
/// unconfirmed one. Returns the `otpauth://` URL (for the QR code) and the seed in base32 (to
/// type in). A person with a confirmed authenticator must remove it first.
pub fn totp_begin(
    conn: &mut DbConnection,
    now: Timestamp,
    key: &MasterKey,
    user: &User,
    issuer: &str,
) -> Result<(String, String), Error> {
    let mut seed = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let totp = totp_for(seed.to_vec(), issuer, &user.email)?;
    let sealed = key.seal(&seed).map_err(Error::Internal)?;
    crate::db::transaction(conn, |conn| {
        let current: Option<TotpRow> = totp_credentials::table
            .find(&user.id)
            .select(TotpRow::as_select())
            .first(conn)
            .optional()?;
        if current.is_some_and(|c| c.confirmed_at.is_some()) {
            return Err(Error::Conflict(
                "an authenticator app is already set up; remove it first".into(),
            ));
        }
        diesel::delete(totp_credentials::table.find(&user.id)).execute(conn)?;
        diesel::insert_into(totp_credentials::table)
            .values(&TotpRow {
                user_id: user.id.clone(),
                secret_sealed: sealed.clone(),
                confirmed_at: None,
                last_step: 0,
                created_at: now,
            })
            .execute(conn)?;
        Ok::<(), Error>(())
    })?;
    Ok((totp.get_url(), totp.get_secret_base32()))
}

/// Seconds an authenticator app being set up waits for its confirming code.
pub const PENDING_TTL: i64 = 600;

/// The authenticator app being set up (not confirmed yet, begun in the last ten minutes):
/// its `otpauth://` URL and its seed in base32, to show again after a wrong code.
pub fn totp_pending(
    conn: &mut DbConnection,
    now: Timestamp,
    key: &MasterKey,
    user: &User,
    issuer: &str,
) -> Result<Option<(String, String)>, Error> {
    let row: Option<TotpRow> = totp_credentials::table
        .find(&user.id)
        .select(TotpRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row.filter(|r| {
        r.confirmed_at.is_none() && r.created_at + Duration::seconds(PENDING_TTL) > now
    }) else {
        return Ok(None);
    };
    let seed = key
        .open(&row.secret_sealed)
        .map_err(|e| Error::Internal(format!("totp seed: {e}")))?;
    let totp = totp_for(seed, issuer, &user.email)?;
    Ok(Some((totp.get_url(), totp.get_secret_base32())))
}

/// Checks a code of the person's authenticator: accepted once, within a step of the clock.
/// `pending` checks the unconfirmed authenticator of an enrolment (and confirms it) instead of
/// the confirmed one. `Ok(false)` for a wrong or reused code, or no authenticator.
pub fn totp_check(
    conn: &mut DbConnection,
    now: Timestamp,
    key: &MasterKey,
    user_id: &str,
    code: &str,
    pending: bool,
) -> Result<bool, Error> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    crate::db::transaction(conn, |conn| {
        let Some(row) = totp_credentials::table
            .find(user_id)
            .select(TotpRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(false);
        };
        if row.confirmed_at.is_some() == pending {
            return Ok(false);
        }
        if pending && row.created_at + Duration::seconds(PENDING_TTL) <= now {
            return Ok(false);
        }
        let seed = key
            .open(&row.secret_sealed)
            .map_err(|e| Error::Internal(format!("totp seed: {e}")))?;
        let totp = totp_for(seed, "portcullis", "user")?;
        let step_now = now.and_utc().timestamp().div_euclid(30);
        let mut matched = None;
        for step in [step_now - 1, step_now, step_now + 1] {
            if step <= row.last_step {
                continue;
            }
            let expected = totp.generate((step * 30) as u64);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched = Some(step);
            }
        }
        let Some(step) = matched else {
            return Ok(false);
        };
        // Only one request may use a step: the update names the step it read.
        let updated = diesel::update(
            totp_credentials::table
                .find(user_id)
                .filter(totp_credentials::last_step.eq(row.last_step)),
        )
        .set((
            totp_credentials::last_step.eq(step),
            totp_credentials::confirmed_at.eq(row.confirmed_at.or(Some(now))),
        ))
        .execute(conn)?;
        if updated == 1 && pending {
            events::record(conn, now, events::NewEvent::user("totp.enrolled", user_id))?;
        }
        Ok(updated == 1)
    })
}

/// Removes the person's authenticator (confirmed or not); whether there was one.
pub fn totp_remove(conn: &mut DbConnection, now: Timestamp, user_id: &str) -> Result<bool, Error> {
    let removed = crate::db::transaction(conn, |conn| {
        let n = diesel::delete(totp_credentials::table.find(user_id)).execute(conn)?;
        if n > 0 {
            events::record(conn, now, events::NewEvent::user("totp.removed", user_id))?;
        }
        Ok::<bool, Error>(n > 0)
    })?;
    forget_orphan_recovery_codes(conn, user_id)?;
    Ok(removed)
}

/// Recovery codes stand in for a second factor; without one left they mean nothing and go.
/// Run after a removal has committed: of two removals racing (the app and the last passkey),
/// the later one's check sees both gone.
pub fn forget_orphan_recovery_codes(conn: &mut DbConnection, user_id: &str) -> Result<(), Error> {
    if !enrolled(conn, user_id)?.any() {
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
    }
    Ok(())
}

/// A recovery code as people read it: ten base32 letters and digits in two groups.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// What is hashed of a code: letters and digits only, lower case.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Replaces the person's recovery codes with ten new ones, returned once in plain text.
pub fn recovery_generate(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
) -> Result<Vec<String>, Error> {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    crate::db::transaction(conn, |conn| {
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
        for code in &codes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::id.eq(uuid::Uuid::new_v4().to_string()),
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::code_hash.eq(crypto::secret_hash(&normalise_code(code))),
                    recovery_codes::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        events::record(
            conn,
            now,
            events::NewEvent::user("recovery_codes.generated", user_id),
        )?;
        Ok::<(), Error>(())
    })?;
    Ok(codes)
}

/// Uses one of the person's recovery codes; returns how many are left, or `None` for a wrong
/// or used code.
pub fn recovery_use(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    code: &str,
) -> Result<Option<i64>, Error> {
    let hash = crypto::secret_hash(&normalise_code(code));
    crate::db::transaction(conn, |conn| {
        let used = diesel::update(
            recovery_codes::table
                .filter(recovery_codes::user_id.eq(user_id))
                .filter(recovery_codes::code_hash.eq(&hash))
                .filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(now))
        .execute(conn)?;
        if used == 0 {
            return Ok(None);
        }
        let left: i64 = recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null())
            .count()
            .get_result(conn)?;
        events::record(
            conn,
            now,
            events::NewEvent::user("recovery_code.used", user_id)
                .with_detail(serde_json::json!({ "left": left })),
        )?;
        Ok(Some(left))
    })
}

/// Removes every second factor of a person (an administrator's reset: authenticator app,
/// passkeys, recovery codes); whether there was any.
pub fn reset(conn: &mut DbConnection, now: Timestamp, user_id: &str) -> Result<bool, Error> {
    crate::db::transaction(conn, |conn| {
        super::users::get(conn, user_id)?;
        let mut n = diesel::delete(totp_credentials::table.find(user_id)).execute(conn)?;
        n += diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?;
        n += diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(sign_in_steps::table.filter(sign_in_steps::user_id.eq(user_id)))
            .execute(conn)?;
        events::record(
            conn,
            now,
            events::NewEvent::user("second_factors.reset", user_id),
        )?;
        Ok(n > 0)
    })
}

/// A sign-in step: the password was right, the second factor is to come.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sign_in_steps)]
pub struct StepRow {
    pub id_hash: String,
    pub user_id: String,
    /// JSON list: how the person has proved who they are so far.
    pub amr: String,
    pub return_to: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl StepRow {
    pub fn amr(&self) -> Vec<String> {
        serde_json::from_str(&self.amr).unwrap_or_else(|_| vec!["pwd".into()])
    }
}

/// Opens a sign-in step for `user_id`; returns its cookie value (shown once).
pub fn step_begin(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    amr: &[String],
    return_to: &str,
) -> Result<String, Error> {
    let value = crypto::random_token(32);
    diesel::insert_into(sign_in_steps::table)
        .values((
            sign_in_steps::id_hash.eq(crypto::secret_hash(&value)),
            sign_in_steps::user_id.eq(user_id),
            sign_in_steps::amr.eq(serde_json::to_string(amr).unwrap_or_default()),
            sign_in_steps::return_to.eq(return_to),
            sign_in_steps::created_at.eq(now),
            sign_in_steps::expires_at.eq(now + Duration::seconds(STEP_TTL as i64)),
        ))
        .execute(conn)?;
    Ok(value)
}

/// The open step a cookie names, with its user (not disabled).
pub fn step_find(
    conn: &mut DbConnection,
    now: Timestamp,
    value: &str,
) -> Result<Option<(StepRow, User)>, Error> {
    let found: Option<(StepRow, User)> = sign_in_steps::table
        .inner_join(users::table)
        .filter(sign_in_steps::id_hash.eq(crypto::secret_hash(value)))
        .filter(sign_in_steps::expires_at.gt(now))
        .select((StepRow::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    Ok(found.filter(|(_, u)| !u.disabled))
}

/// Closes a step (completed, or abandoned); whether it was open.
pub fn step_end(conn: &mut DbConnection, value: &str) -> Result<bool, Error> {
    let n = diesel::delete(sign_in_steps::table.find(crypto::secret_hash(value))).execute(conn)?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_and_acr() {
        let pwd = vec!["pwd".to_string()];
        assert_eq!(acr_of(&pwd), ACR_PWD);
        let both = with_second(&pwd, "otp");
        assert_eq!(both, ["pwd", "otp", "mfa"]);
        assert_eq!(acr_of(&both), ACR_MFA);
        assert_eq!(with_second(&both, "otp"), ["pwd", "otp", "mfa"]);
    }

    #[test]
    fn recovery_codes_read_well() {
        let c = recovery_code();
        assert_eq!(c.len(), 11);
        assert_eq!(&c[5..6], "-");
        assert_eq!(normalise_code(&c.to_uppercase()), normalise_code(&c));
        assert_eq!(normalise_code(&c).len(), 10);
    }
}
