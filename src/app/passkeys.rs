//! Passkeys: registering them on the account page, signing in with one (alone, as a
//! discoverable credential: no username typed), or using one as the second factor of a
//! sign-in or a step-up. Each ceremony is two requests: `*_start` keeps the state on the
//! server and hands the browser its options; `*_finish` takes the state back (once) and checks
//! the browser's answer. Failed sign-ins count against the client IP like wrong passwords.

use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use crate::app::Call;
use crate::core::authorize::SignedIn;
use crate::core::passkeys::{self, PasskeyRow};
use crate::core::throttle::{self, Bucket};
use crate::core::users::{self, User};
use crate::core::Error;
use crate::state::AppState;

const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";

fn refused() -> Error {
    Error::InvalidGrant("the passkey was not accepted".into())
}

/// A person's passkeys, for the account page.
pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<PasskeyRow>, Error> {
    let id = user_id.to_owned();
    state.db.run(move |conn| passkeys::list(conn, &id)).await
}

/// Starts registering a passkey for the person, once the change is proved (the current
/// password, and the second factor if they have one): the ceremony's name and the options for
/// `navigator.credentials.create` (a discoverable credential with user verification).
pub async fn register_start(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
) -> Result<(String, Value), Error> {
    let rp = passkeys::relying_party(&state.config)?;
    crate::app::second_factor::prove_for_change(state, call, signed_in, current_password).await?;
    let user = &signed_in.user;
    let existing = list(state, &user.id).await?;
    let exclude = existing
        .iter()
        .filter_map(|p| p.credential().ok())
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let name = user.username.clone().unwrap_or_else(|| user.email.clone());
    let display = user.display_name.clone().unwrap_or_else(|| name.clone());
    let (options, registration) = rp
        .start_passkey_registration(
            passkeys::user_handle(&user.id),
            &name,
            &display,
            Some(exclude),
        )
        .map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    let mut options =
        serde_json::to_value(options).map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    // A passkey is a discoverable credential: ask the authenticator to keep one (webauthn-rs
    // asks for "discouraged"), so that signing in needs no username.
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    let state_json = serde_json::to_string(&registration)
        .map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    let (now, id) = (call.now, user.id.clone());
    let ceremony = state
        .db
        .run(move |conn| passkeys::ceremony_begin(conn, now, Some(&id), REGISTER, &state_json))
        .await?;
    Ok((ceremony, options))
}

/// Finishes registering: checks the browser's answer against the ceremony and saves the
/// passkey under `name`.
pub async fn register_finish(
    state: &AppState,
    call: &Call,
    user: &User,
    ceremony: &str,
    name: &str,
    credential: Value,
) -> Result<PasskeyRow, Error> {
    let rp = passkeys::relying_party(&state.config)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
        .map_err(|e| Error::InvalidRequest(format!("credential: {e}")))?;
    let (now, value) = (call.now, ceremony.to_owned());
    let taken = state
        .db
        .run(move |conn| passkeys::ceremony_take(conn, now, &value, REGISTER))
        .await?;
    let registration: PasskeyRegistration = match taken {
        Some((Some(owner), json)) if owner == user.id => serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("webauthn state: {e}")))?,
        _ => {
            return Err(Error::InvalidGrant(
                "the passkey set-up expired; try again".into(),
            ))
        }
    };
    let passkey = rp
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| Error::InvalidGrant(format!("the passkey was not accepted: {e}")))?;
    let (now, id, name) = (call.now, user.id.clone(), name.trim().to_owned());
    let name = if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    };
    state
        .db
        .run(move |conn| passkeys::save(conn, now, &id, &name, &passkey))
        .await
}

/// Starts a sign-in with a passkey: the ceremony's name and the options for
/// `navigator.credentials.get` (any of this site's passkeys; user verification required).
pub async fn authenticate_start(state: &AppState, call: &Call) -> Result<(String, Value), Error> {
    let rp = passkeys::relying_party(&state.config)?;
    // A throttled client IP may not open more ceremonies (each is a row until it expires).
    let (now, bucket) = (call.now, Bucket::ip(&state.config.throttle, &call.ip));
    state
        .db
        .run(move |conn| throttle::check(conn, now, &[&bucket]))
        .await?;
    let (options, auth) = rp
        .start_discoverable_authentication()
        .map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    let options =
        serde_json::to_value(options).map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    let state_json =
        serde_json::to_string(&auth).map_err(|e| Error::Internal(format!("webauthn: {e}")))?;
    let now = call.now;
    let ceremony = state
        .db
        .run(move |conn| passkeys::ceremony_begin(conn, now, None, AUTHENTICATE, &state_json))
        .await?;
    Ok((ceremony, options))
}

/// Finishes a sign-in with a passkey: the person it belongs to, once the signature, the user
/// verification and the ceremony check out. Failures count against the client IP.
pub async fn authenticate_finish(
    state: &AppState,
    call: &Call,
    ceremony: &str,
    credential: Value,
) -> Result<User, Error> {
    let ip_bucket = Bucket::ip(&state.config.throttle, &call.ip);
    {
        let (now, bucket) = (call.now, ip_bucket.clone());
        state
            .db
            .run(move |conn| throttle::check(conn, now, &[&bucket]))
            .await?;
    }
    let result = check_assertion(state, call, ceremony, credential).await;
    if matches!(result, Err(Error::InvalidGrant(_))) {
        let now = call.now;
        state
            .db
            .run(move |conn| throttle::hit(conn, now, &[&ip_bucket]))
            .await?;
        state.caches.ip_ok.remove(&call.ip);
    }
    result
}

async fn check_assertion(
    state: &AppState,
    call: &Call,
    ceremony: &str,
    credential: Value,
) -> Result<User, Error> {
    let rp = passkeys::relying_party(&state.config)?;
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| refused())?;
    let (now, value) = (call.now, ceremony.to_owned());
    let taken = state
        .db
        .run(move |conn| passkeys::ceremony_take(conn, now, &value, AUTHENTICATE))
        .await?;
    let Some((_, json)) = taken else {
        return Err(Error::InvalidGrant(
            "the passkey sign-in expired; try again".into(),
        ));
    };
    let auth: DiscoverableAuthentication =
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("webauthn state: {e}")))?;
    let (handle, raw_id) = rp
        .identify_discoverable_authentication(&credential)
        .map_err(|_| refused())?;
    let id = passkeys::credential_id(raw_id);
    let lookup = id.clone();
    let row = state
        .db
        .run(move |conn| passkeys::find(conn, &lookup))
        .await?
        .ok_or_else(refused)?;
    if passkeys::user_handle(&row.user_id) != handle {
        return Err(refused());
    }
    let mut passkey = row.credential()?;
    let result = rp
        .finish_discoverable_authentication(&credential, auth, &[DiscoverableKey::from(&passkey)])
        .map_err(|_| refused())?;
    if !result.user_verified() {
        return Err(refused());
    }
    let changed = passkey.update_credential(&result).unwrap_or(false);
    let (now, owner) = (call.now, row.user_id.clone());
    let user = state
        .db
        .run(move |conn| {
            passkeys::used(conn, now, &row, changed.then_some(&passkey))?;
            users::get(conn, &owner)
        })
        .await?;
    if user.disabled {
        return Err(Error::AccountDisabled);
    }
    if state.config.require_verified_email && user.email_verified_at.is_none() {
        return Err(Error::EmailNotVerified);
    }
    Ok(user)
}

/// What a sign-in with a passkey did.
pub enum PasskeySignIn {
    /// A new session: the browser's sign-in step finished with the passkey as its second
    /// factor, or the passkey alone. `return_to` is where the sign-in goes (the step's own
    /// destination when it finished one); `ends_step`: the browser's step cookie is done with.
    Session {
        session: String,
        return_to: String,
        needs_terms: bool,
        ends_step: bool,
    },
    /// The browser's session was stepped up (the passkey is that person's).
    SteppedUp,
}

/// Signs in with a passkey (checked by `authenticate_finish`). The browser's open sign-in
/// step of the passkey's owner is finished with it (`hwk` as the second factor); its session
/// of the same person is stepped up; otherwise the passkey alone signs its owner in (and
/// another person's unfinished step in this browser is forgotten).
#[allow(clippy::too_many_arguments)]
pub async fn sign_in(
    state: &AppState,
    call: &Call,
    ceremony: &str,
    credential: Value,
    step: Option<&str>,
    signed_in: Option<&SignedIn>,
    previous: Option<String>,
    return_to: &str,
) -> Result<PasskeySignIn, Error> {
    use crate::app::{second_factor, sign_in};
    let user = authenticate_finish(state, call, ceremony, credential).await?;
    let mut ends_step = false;
    if let Some(step) = step {
        if let Some((_, who)) = second_factor::step(state, step).await? {
            if who.id == user.id {
                let done =
                    second_factor::complete_step_with(state, call, step, "hwk", previous).await?;
                return Ok(PasskeySignIn::Session {
                    session: done.session,
                    return_to: done.return_to,
                    needs_terms: done.needs_terms,
                    ends_step: true,
                });
            }
            ends_step = true;
        }
    }
    if let Some(s) = signed_in.filter(|s| s.user.id == user.id) {
        second_factor::step_up_with(state, call, s, "hwk").await?;
        return Ok(PasskeySignIn::SteppedUp);
    }
    match sign_in::with_passkey(state, call, &user, previous).await? {
        sign_in::SignedIn::Session {
            session,
            needs_terms,
            ..
        } => Ok(PasskeySignIn::Session {
            session,
            return_to: return_to.to_owned(),
            needs_terms,
            ends_step,
        }),
        sign_in::SignedIn::SecondFactor { .. } => {
            Err(Error::Internal("a passkey sign-in asked for a step".into()))
        }
    }
}

/// Removes one of the person's passkeys once the change is proved (not found: `NotFound`).
pub async fn remove(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    current_password: &str,
    id: &str,
) -> Result<(), Error> {
    crate::app::second_factor::prove_for_change(state, call, signed_in, current_password).await?;
    let (now, owner, id) = (call.now, signed_in.user.id.clone(), id.to_owned());
    let removed = state
        .db
        .run(move |conn| passkeys::remove(conn, now, &owner, &id))
        .await?;
    if removed {
        Ok(())
    } else {
        Err(Error::NotFound("passkey"))
    }
}
