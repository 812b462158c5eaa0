//! Second factors (issue 17): enrolling an authenticator app and recovery codes on the
//! account page, the sign-in step after a right password, stepping a session up when an app
//! asks for a second factor, and an administrator's reset. Wrong codes are throttled per
//! account like wrong passwords; every enrolment, removal and use is an event; using a
//! recovery code tells the person by email.

use crate::app::mail::{self, Email};
use crate::app::{passwords, sessions, Call};
use crate::core::authorize::SignedIn;
use crate::core::factors::{self, Enrolled, StepRow};
use crate::core::throttle::{Bucket, Settle};
use crate::core::users::User;
use crate::core::{secrets, Error};
use crate::state::AppState;

/// A second factor as the person gives it.
#[derive(Debug, Clone)]
pub enum Proof {
    /// A code of the authenticator app.
    Totp(String),
    /// One of the recovery codes.
    Recovery(String),
}

/// What the person has enrolled.
pub async fn enrolled(state: &AppState, user_id: &str) -> Result<Enrolled, Error> {
    let id = user_id.to_owned();
    state.db.run(move |conn| factors::enrolled(conn, &id)).await
}

/// Whether this person must use a second factor at sign-in: they have one, or the policy
/// (`security.second_factor`) requires one of them.
pub fn required_by_policy(state: &AppState, user: &User) -> bool {
    state.config.security.second_factor.requires(user.is_admin)
}

/// Changing second factors (adding or removing one, new recovery codes) needs the current
/// password and, once the person has a second factor, a session that used one (`acr` `mfa`):
/// a stolen session cookie, or a session from before the factor was added, cannot swap them.
/// `LoginRequired` asks for the second factor (a step-up) first.
pub async fn prove_for_change(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
) -> Result<(), Error> {
    // The second factor first: a stolen password-only session learns nothing about the
    // password here.
    require_factor_session(state, signed_in).await?;
    crate::app::accounts::prove(state, &signed_in.user, current_password, &call.ip).await
}

/// A person who has a second factor changes factors only in a session that used one.
async fn require_factor_session(state: &AppState, signed_in: &SignedIn) -> Result<(), Error> {
    let amr: Vec<String> = serde_json::from_str(&signed_in.amr).unwrap_or_default();
    if factors::acr_of(&amr) != factors::ACR_MFA && enrolled(state, &signed_in.user.id).await?.any()
    {
        return Err(Error::LoginRequired(
            "confirm it's you with your second factor before changing it".into(),
        ));
    }
    Ok(())
}

/// An authenticator app's key, as the set-up page shows it: the `otpauth://` URL (for the QR
/// code) and the seed in base32 (to type in).
pub struct TotpKey {
    pub url: String,
    pub secret: String,
}

/// What a confirming code did.
pub enum Confirmed {
    /// The app is on; the recovery codes made with it (empty when the person had some).
    On { recovery_codes: Vec<String> },
    /// A wrong code: the key being set up, to show again (`None`: nothing is being set up,
    /// or it was begun more than ten minutes ago). A new key only comes from `totp_start`.
    Wrong { pending: Option<TotpKey> },
}

/// Runs `f` with the database, the sealing key and the brand name (the TOTP issuer).
async fn with_sealing_key<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(
            &mut crate::db::DbConnection,
            &crate::core::crypto::MasterKey,
            &str,
        ) -> Result<T, Error>
        + Send
        + 'static,
) -> Result<T, Error> {
    let (master, issuer) = (
        state.config.master_key(),
        state.config.branding.name.clone(),
    );
    state
        .db
        .run(move |conn| {
            let key = secrets::sealing_key(conn, master.as_ref())?;
            f(conn, &key, &issuer)
        })
        .await
}

/// Starts enrolling an authenticator app, once the change is proved (`prove_for_change`): a
/// new key, not counted until a code confirms it.
pub async fn totp_start(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
) -> Result<TotpKey, Error> {
    prove_for_change(state, call, signed_in, current_password).await?;
    let (now, user) = (call.now, signed_in.user.clone());
    let (url, secret) = with_sealing_key(state, move |conn, key, issuer| {
        factors::totp_begin(conn, now, key, &user, issuer)
    })
    .await?;
    Ok(TotpKey { url, secret })
}

/// Confirms the authenticator app being enrolled (begun by a proved `totp_start` in the last
/// ten minutes) with one of its codes. When it is the person's first second factor, ten
/// recovery codes are made with it (shown once).
pub async fn totp_confirm(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    code: &str,
) -> Result<Confirmed, Error> {
    require_factor_session(state, signed_in).await?;
    let user = signed_in.user.clone();
    let places = passwords::admit(state, &buckets(state, &user.id)).await?;
    let (now, code) = (call.now, code.to_owned());
    let result = with_sealing_key(state, move |conn, key, issuer| {
        if !factors::totp_check(conn, now, key, &user.id, &code, true)? {
            let pending = factors::totp_pending(conn, now, key, &user, issuer)?
                .map(|(url, secret)| TotpKey { url, secret });
            return Ok(Confirmed::Wrong { pending });
        }
        // The first second factor comes with recovery codes; later ones keep them.
        let recovery_codes = match factors::enrolled(conn, &user.id)?.recovery_codes {
            0 => factors::recovery_generate(conn, now, &user.id)?,
            _ => Vec::new(),
        };
        Ok(Confirmed::On { recovery_codes })
    })
    .await?;
    settle(places, matches!(result, Confirmed::On { .. })).await?;
    Ok(result)
}

/// Removes the authenticator app (and with it the recovery codes, when no passkey is left),
/// once the change is proved.
pub async fn totp_remove(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
) -> Result<(), Error> {
    prove_for_change(state, call, signed_in, current_password).await?;
    let (now, id) = (call.now, signed_in.user.id.clone());
    state
        .db
        .run(move |conn| factors::totp_remove(conn, now, &id))
        .await?;
    Ok(())
}

/// New recovery codes in place of the old ones (for a person with a second factor), once the
/// change is proved.
pub async fn recovery_new(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
) -> Result<Vec<String>, Error> {
    prove_for_change(state, call, signed_in, current_password).await?;
    let (now, id) = (call.now, signed_in.user.id.clone());
    state
        .db
        .run(move |conn| {
            if !factors::enrolled(conn, &id)?.any() {
                return Err(Error::Conflict(
                    "recovery codes stand in for a second factor: set one up first".into(),
                ));
            }
            factors::recovery_generate(conn, now, &id)
        })
        .await
}

/// The throttle of wrong codes: per account per `throttle.account_window` (like wrong
/// passwords), and per account per day, which a right code does not reset: 6-digit codes
/// (three valid at a time) must not be guessable at 480 tries a day.
fn buckets(state: &AppState, user_id: &str) -> [Bucket; 2] {
    let account = crate::core::factors::throttle_account(user_id);
    [
        Bucket::account(&state.config.throttle, &account),
        Bucket {
            key: crate::core::throttle::account_key(&crate::core::factors::throttle_day(user_id)),
            limit: crate::core::factors::DAILY_FAILURES,
            window: 86_400,
        },
    ]
}

fn wrong_code() -> Error {
    Error::InvalidGrant("that code is not right, or was used already".into())
}

async fn settle(places: passwords::Places, ok: bool) -> Result<(), Error> {
    let how = if ok {
        [Settle::Reset, Settle::Release]
    } else {
        [Settle::Count, Settle::Count]
    };
    places.settle(&how).await
}

/// Checks a second factor of `user` (throttled like passwords); the method it proves (`otp`).
/// A recovery code that works is used up, and the person is told by email.
pub async fn verify(
    state: &AppState,
    call: &Call,
    user: &User,
    proof: Proof,
) -> Result<&'static str, Error> {
    let places = passwords::admit(state, &buckets(state, &user.id)).await?;
    let (now, master, id) = (call.now, state.config.master_key(), user.id.clone());
    let proof_owned = proof.clone();
    let outcome = state
        .db
        .run(move |conn| match &proof_owned {
            Proof::Totp(code) => {
                let key = secrets::sealing_key(conn, master.as_ref())?;
                let ok = factors::totp_check(conn, now, &key, &id, code, false)?;
                if ok {
                    crate::core::events::record(
                        conn,
                        now,
                        crate::core::events::NewEvent::user("totp.used", &id),
                    )?;
                }
                Ok(ok.then_some(None))
            }
            // Recovery codes stand in for a second factor the person still has.
            Proof::Recovery(_) if !factors::enrolled(conn, &id)?.any() => Ok(None),
            Proof::Recovery(code) => Ok(factors::recovery_use(conn, now, &id, code)?.map(Some)),
        })
        .await?;
    settle(places, outcome.is_some()).await?;
    let Some(recovery_left) = outcome else {
        let (now, id) = (call.now, user.id.clone());
        let ip = call.ip.clone();
        state
            .db
            .run(move |conn| {
                crate::core::events::record(
                    conn,
                    now,
                    crate::core::events::NewEvent {
                        kind: "second_factor.failed",
                        user_id: Some(id),
                        ip: Some(ip),
                        ..Default::default()
                    },
                )
            })
            .await?;
        return Err(wrong_code());
    };
    if let Some(left) = recovery_left {
        let when = crate::core::time::rfc3339(call.now);
        let account = state.config.url(crate::paths::ACCOUNT);
        if let Err(e) = mail::send(
            state,
            Email::RecoveryCodeUsed {
                to: &user.email,
                when: &when,
                left,
                account_link: &account,
            },
        )
        .await
        {
            tracing::error!(error = %e, "recovery code notice not sent");
        }
    }
    Ok("otp")
}

/// Opens the second-factor step of a page sign-in (the password was right); its cookie value.
pub async fn begin_step(
    state: &AppState,
    call: &Call,
    user: &User,
    return_to: &str,
) -> Result<String, Error> {
    let (now, id, back) = (call.now, user.id.clone(), return_to.to_owned());
    state
        .db
        .run(move |conn| factors::step_begin(conn, now, &id, &["pwd".to_string()], &back))
        .await
}

/// The open step a cookie names, with its user.
pub async fn step(state: &AppState, value: &str) -> Result<Option<(StepRow, User)>, Error> {
    let (now, value) = (state.clock.now_naive(), value.to_owned());
    state
        .db
        .run(move |conn| factors::step_find(conn, now, &value))
        .await
}

/// A session after a completed sign-in step.
pub struct Completed {
    /// The new session cookie's value.
    pub session: String,
    /// Where the sign-in was going.
    pub return_to: String,
    /// The configured terms are not accepted yet.
    pub needs_terms: bool,
}

/// Completes a sign-in step with the second factor: the step closes and a session starts
/// (replacing the browser's `previous` one).
pub async fn complete_step(
    state: &AppState,
    call: &Call,
    value: &str,
    proof: Proof,
    previous: Option<String>,
) -> Result<Completed, Error> {
    let Some((_, user)) = self::step(state, value).await? else {
        return Err(Error::InvalidToken("the sign-in step expired".into()));
    };
    let method = verify(state, call, &user, proof).await?;
    complete_step_with(state, call, value, method, previous).await
}

/// Completes a sign-in step whose second factor (`method`: `otp`, `hwk`) was checked.
pub async fn complete_step_with(
    state: &AppState,
    call: &Call,
    value: &str,
    method: &'static str,
    previous: Option<String>,
) -> Result<Completed, Error> {
    let Some((step, user)) = self::step(state, value).await? else {
        return Err(Error::InvalidToken("the sign-in step expired".into()));
    };
    let owned = value.to_owned();
    if !state
        .db
        .run(move |conn| factors::step_end(conn, &owned))
        .await?
    {
        // Another request completed it first.
        return Err(Error::InvalidToken("the sign-in step expired".into()));
    }
    let amr = factors::with_second(&step.amr(), method);
    let session = sessions::start(state, call, &user, previous, amr).await?;
    let needs_terms = crate::app::sign_in::needs_terms(state, &user).await?;
    Ok(Completed {
        session,
        return_to: step.return_to,
        needs_terms,
    })
}

/// Steps a signed-in person's session up with a second factor (an app asked for one).
pub async fn step_up(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    proof: Proof,
) -> Result<(), Error> {
    let method = verify(state, call, &signed_in.user, proof).await?;
    step_up_with(state, call, signed_in, method).await
}

/// Steps a session up with a second factor (`method`) that was checked.
pub async fn step_up_with(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    method: &'static str,
) -> Result<(), Error> {
    let first: Vec<String> = serde_json::from_str(&signed_in.amr).unwrap_or_default();
    let amr = factors::with_second(&first, method);
    let (now, sid) = (call.now, signed_in.sid.clone());
    state
        .db
        .run(move |conn| crate::core::sessions::step_up(conn, now, &sid, &amr))
        .await
}

/// An administrator removes every second factor of a person (they sign in with the password
/// alone until they set one up again); whether there was any.
pub async fn reset(state: &AppState, call: &Call, user_id: &str) -> Result<bool, Error> {
    let (now, id) = (call.now, user_id.to_owned());
    state
        .db
        .run(move |conn| factors::reset(conn, now, &id))
        .await
}
