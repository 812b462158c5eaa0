//! Account flows that span hashing, the database and email: sign-up (any door), sending a
//! verification link, password reset and change.

use crate::app::mail::{self, Email};
use crate::core::throttle::{self, Bucket, Settle};
use crate::core::users::{self, NewUser, User};
use crate::core::{accounts, password, Error};
use crate::paths;
use crate::state::AppState;

fn link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}?token={}", state.config.url(path), token)
}

/// Sends a verification link for the user's current address.
pub async fn send_verification(state: &AppState, user: &User) -> Result<(), Error> {
    let now = state.clock.now_naive();
    let ttl = state.config.tokens.verify_email_ttl;
    let u = user.clone();
    let token = state
        .db
        .run(move |conn| accounts::start_verification(conn, now, &u, ttl))
        .await?;
    let link = link(state, paths::VERIFY_EMAIL, &token);
    mail::send(
        state,
        Email::Verify {
            to: &user.email,
            name: user.display_name.as_deref(),
            link: &link,
        },
    )
    .await
}

/// Sends a new verification link to the account `login` (email or username) names, when it is
/// enabled and not yet verified. Unknown accounts succeed silently: the caller cannot tell them
/// apart.
pub async fn resend_verification(state: &AppState, login: &str) -> Result<(), Error> {
    let login = login.to_owned();
    let found = state
        .db
        .run(move |conn| users::find_by_login(conn, &login))
        .await?;
    match found {
        Some(user) if user.email_verified_at.is_none() && !user.disabled => {
            send_verification(state, &user).await
        }
        _ => Ok(()),
    }
}

/// Creates an account for a person signing up (any door), throttled per client IP, and sends
/// its verification email. `Conflict` for a taken email, username or id.
pub async fn sign_up(
    state: &AppState,
    new: NewUser,
    password_text: &str,
    ip: &str,
    door: &'static str,
) -> Result<User, Error> {
    create_user(state, new, password_text, ip, door, true).await
}

/// Creates an account; `throttled` applies the per-IP sign-up limit (admins creating accounts
/// are not throttled). Sends the verification email unless the address is marked verified.
pub async fn create_user(
    state: &AppState,
    new: NewUser,
    password_text: &str,
    ip: &str,
    door: &'static str,
    throttled: bool,
) -> Result<User, Error> {
    users::validate_new(&new)?;
    password::check_new("password", password_text)?;
    let now = state.clock.now_naive();
    // The sign-up takes its place in the IP's bucket first (so a burst cannot outrun the
    // limit), and gives it back when no account was made.
    let places = match throttled {
        true => Some(
            super::passwords::admit(state, &[Bucket::signup(&state.config.throttle, ip)]).await?,
        ),
        false => None,
    };
    let created = async {
        let hash = state.passwords.hash(password_text.to_owned()).await?;
        let ip_owned = ip.to_owned();
        state
            .db
            .run(move |conn| {
                let user = users::create(
                    conn,
                    now,
                    NewUser {
                        password_hash: Some(hash),
                        ..new
                    },
                )?;
                crate::core::events::record(
                    conn,
                    now,
                    crate::core::events::NewEvent {
                        kind: "user.registered",
                        user_id: Some(user.id.clone()),
                        ip: Some(ip_owned),
                        service: Some(door.to_owned()),
                        ..Default::default()
                    },
                )?;
                Ok(user)
            })
            .await
    }
    .await;
    if let Some(places) = places {
        let how = match &created {
            Ok(_) => Settle::Count,
            Err(_) => Settle::Release,
        };
        places.settle(&[how]).await?;
    }
    let user = created?;
    if user.email_verified_at.is_none() {
        send_verification(state, &user).await?;
    }
    Ok(user)
}

/// Starts a password reset. Always succeeds the same way, whether or not the account exists;
/// requests are limited per client IP like sign-ups.
pub async fn request_reset(state: &AppState, email: &str, ip: &str) -> Result<(), Error> {
    let now = state.clock.now_naive();
    let ttl = state.config.tokens.reset_password_ttl;
    let bucket = Bucket {
        key: format!("reset:{ip}"),
        ..Bucket::signup(&state.config.throttle, ip)
    };
    let email = email.to_owned();
    // Every request counts (it checks no credential): a plain check and hit.
    let found = state
        .db
        .run(move |conn| {
            throttle::check(conn, now, &[&bucket])?;
            throttle::hit(conn, now, &[&bucket])?;
            accounts::request_reset(conn, now, &email, ttl)
        })
        .await?;
    if let Some((user, token)) = found {
        let link = link(state, paths::RESET_PASSWORD, &token);
        mail::send(
            state,
            Email::Reset {
                to: &user.email,
                link: &link,
            },
        )
        .await?;
    }
    Ok(())
}

/// Resets a password with a link's token; revokes sessions and tokens (SPEC §8).
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
) -> Result<User, Error> {
    password::check_new("password", new_password)?;
    let hash = state.passwords.hash(new_password.to_owned()).await?;
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let token = token.to_owned();
    let user = state
        .db
        .run(move |conn| accounts::reset_password(conn, now, &token, &hash, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(user)
}

/// Checks the person's current password for a sensitive change (throttled like a sign-in):
/// a wrong one is a validation error of `current_password`.
/// Checks the person's current password for a sensitive change: a wrong one is a field error
/// of `current_password`.
pub async fn prove(state: &AppState, user: &User, current: &str, ip: &str) -> Result<(), Error> {
    match super::passwords::check(state, &user.id, current, ip, "account").await {
        // The password is right; whether it may sign in is not the question here (an
        // unverified address is what an email change may be correcting).
        Ok(_) | Err(Error::EmailNotVerified) => Ok(()),
        Err(Error::InvalidGrant(_)) => Err(Error::invalid("current_password", "is incorrect")),
        Err(e) => Err(e),
    }
}

/// Changes the email address after checking the current password: the new address must be
/// verified again, and the old one is told (SPEC §9). Returns the updated user.
pub async fn change_email(
    state: &AppState,
    user: &User,
    current: &str,
    email: &str,
    ip: &str,
) -> Result<User, Error> {
    crate::core::validate::email(email.trim())?;
    prove(state, user, current, ip).await?;
    let now = state.clock.now_naive();
    let (id, e) = (user.id.clone(), email.to_owned());
    let changed = state
        .db
        .run(move |conn| accounts::change_email(conn, now, &id, &e))
        .await?;
    if changed.email_key != user.email_key {
        super::notices::email_changed(state, user, &changed).await?;
    }
    Ok(changed)
}

/// Changes a password after checking the current one (throttled like a sign-in).
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: &str,
    new_password: &str,
    ip: &str,
) -> Result<(), Error> {
    password::check_new("new_password", new_password)?;
    prove(state, user, current, ip).await?;
    let hash = state.passwords.hash(new_password.to_owned()).await?;
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let id = user.id.clone();
    state
        .db
        .run(move |conn| accounts::change_password(conn, now, &id, &hash, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}

/// The person's events, newest first: `limit` of them before the event `before` (Bloq's
/// `GET /users/me/events`). Events still queued on this node are written first, so a caller
/// reads its own calls.
pub async fn events(
    state: &AppState,
    _: &crate::app::Call,
    user: &User,
    before: Option<String>,
    limit: i64,
) -> Result<Vec<crate::core::events::Event>, Error> {
    state.audit.flush().await?;
    let id = user.id.clone();
    state
        .db
        .run(move |conn| crate::core::events::for_user(conn, &id, before.as_deref(), limit))
        .await
}

/// Verifies a user's email with the token its verification email carried (Bloq's
/// `PUT /users/{id}/token/{token}`).
pub async fn verify_email_for(
    state: &AppState,
    call: &crate::app::Call,
    user_id: &str,
    token: &str,
) -> Result<User, Error> {
    let (now, id, token) = (call.now, user_id.to_owned(), token.to_owned());
    state
        .db
        .run(move |conn| accounts::verify_email_for(conn, now, &id, &token))
        .await
}

/// Signs up (any door) and answers the door's tokens for the new account.
pub async fn sign_up_with_tokens(
    state: &AppState,
    call: &crate::app::Call,
    new: NewUser,
    password_text: &str,
    door: crate::app::token::DoorClient,
    with_refresh: bool,
) -> Result<crate::core::oauth::TokenResponse, Error> {
    let user = sign_up(state, new, password_text, &call.ip, call.door).await?;
    crate::app::token::issue_for_user(state, door, &user.id, with_refresh, None, None).await
}

/// Signs in with a password at a door's own sign-in route and answers the door's tokens.
/// Wrong passwords and unknown accounts are one answer.
pub async fn sign_in_with_tokens(
    state: &AppState,
    call: &crate::app::Call,
    login: &str,
    password_text: &str,
    door: crate::app::token::DoorClient,
    with_refresh: bool,
) -> Result<crate::core::oauth::TokenResponse, Error> {
    let user =
        super::passwords::check_without_code(state, login, password_text, &call.ip, call.door)
            .await?;
    crate::app::token::issue_for_user(state, door, &user.id, with_refresh, None, None).await
}

/// Signs the person out everywhere: sessions, refresh and access tokens (personal access tokens
/// stay), as a password change does.
pub async fn end_sessions_and_tokens(
    state: &AppState,
    call: &crate::app::Call,
    user: &User,
) -> Result<(), Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), user.id.clone());
    state
        .db
        .run(move |conn| crate::core::revocation::cut_off_user(conn, now, &id, ttl, "signed_out"))
        .await?;
    state.revocations.catch_up().await;
    state.logouts.wake();
    Ok(())
}

/// The account `id`, when the caller may act on it: the account itself (with `account`), or
/// an admin.
pub async fn reachable(state: &AppState, call: &crate::app::Call, id: &str) -> Result<User, Error> {
    let p = call.principal.as_ref();
    let own = p.and_then(|p| p.account_user()).is_some_and(|u| u.id == id);
    if !own && !p.is_some_and(|p| p.is_admin()) {
        return Err(Error::Forbidden(
            "only the account itself or an admin".into(),
        ));
    }
    let id = id.to_owned();
    state.db.run(move |conn| users::get(conn, &id)).await
}

/// What `update` changes: each optional, at least one.
#[derive(Debug, Default)]
pub struct Update {
    pub email: Option<String>,
    /// A new password: a password change (every older token is revoked).
    pub password: Option<String>,
}

/// How an update ended: the account's own token (keeping the caller's sign-in time: a change
/// does not renew it), or the account as an admin sees it.
pub enum Updated {
    Token(crate::core::oauth::TokenResponse),
    Account(User),
}

/// Changes an account's email and/or password (esalerugs `PUT /accounts/{id}`, whose policy
/// has checked the sign-in is recent): a new email is verified again and the old one told.
pub async fn update(
    state: &AppState,
    call: &crate::app::Call,
    door: crate::app::token::DoorClient,
    id: &str,
    change: Update,
) -> Result<Updated, Error> {
    let user = reachable(state, call, id).await?;
    if change.email.is_none() && change.password.is_none() {
        return Err(Error::invalid("account", "give email and/or password"));
    }
    if let Some(p) = &change.password {
        password::check_new("password", p)?;
    }
    if let Some(email) = change.email {
        let (now, id) = (call.now, user.id.clone());
        let changed = state
            .db
            .run(move |conn| accounts::change_email(conn, now, &id, &email))
            .await?;
        if changed.email_key != user.email_key {
            super::notices::email_changed(state, &user, &changed).await?;
        }
    }
    if let Some(p) = change.password {
        let hash = state.passwords.hash(p).await?;
        let (now, ttl, id) = (
            state.clock.now_naive(),
            state.config.revocation_ttl(),
            user.id.clone(),
        );
        state
            .db
            .run(move |conn| accounts::change_password(conn, now, &id, &hash, ttl))
            .await?;
        state.revocations.catch_up().await;
    }
    let p = call.principal.as_ref();
    if p.and_then(|p| p.account_user())
        .is_some_and(|u| u.id == user.id)
    {
        let auth_time = p.and_then(|p| p.auth_time);
        let t = crate::app::token::issue_for_user(state, door, &user.id, false, None, auth_time)
            .await?;
        return Ok(Updated::Token(t));
    }
    let id = user.id.clone();
    let now = state.db.run(move |conn| users::get(conn, &id)).await?;
    Ok(Updated::Account(now))
}

/// Starts a reset for an address without telling whether it has an account: the answer is the
/// address trimmed and lowercased, and a stable pseudo-random id derived from it with a server
/// secret, the same for known and unknown addresses (SPEC §9). Only throttling shows.
pub async fn request_reset_anonymously(
    state: &AppState,
    call: &crate::app::Call,
    email: &str,
) -> Result<(String, String), Error> {
    crate::core::validate::email(email.trim())?;
    match request_reset(state, email, &call.ip).await {
        Ok(()) => {}
        Err(e @ Error::Throttled { .. }) => return Err(e),
        Err(e) => tracing::error!(error = %e, "reset request failed"),
    }
    let key = email.trim().to_lowercase();
    let master = state.config.master_key();
    let secret = state
        .db
        .run(move |conn| crate::core::secrets::server_key(conn, master.as_ref(), "esalerugs-ids"))
        .await?;
    let h = crate::core::secrets::hmac_hex(&secret, key.as_bytes());
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(&h[..32], &mut bytes).map_err(|e| Error::Internal(e.to_string()))?;
    let id = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    Ok((id, key))
}

/// Resets a password with a link's token (every older token is revoked) and, when asked,
/// answers the door's fresh tokens for the account.
pub async fn reset_with_tokens(
    state: &AppState,
    _: &crate::app::Call,
    token: &str,
    new_password: &str,
    door: crate::app::token::DoorClient,
    with_tokens: bool,
) -> Result<(User, Option<crate::core::oauth::TokenResponse>), Error> {
    let user = reset_password(state, token, new_password).await?;
    let tokens = match with_tokens {
        true => {
            Some(crate::app::token::issue_for_user(state, door, &user.id, true, None, None).await?)
        }
        false => None,
    };
    Ok((user, tokens))
}

/// Confirms an address with the token its verification email carried.
pub async fn verify_email(
    state: &AppState,
    call: &crate::app::Call,
    token: &str,
) -> Result<User, Error> {
    let (now, token) = (call.now, token.to_owned());
    state
        .db
        .run(move |conn| accounts::verify_email(conn, now, &token))
        .await
}

/// Whether a reset link is still good (checked, not spent): its user's id.
pub async fn reset_link_user(
    state: &AppState,
    call: &crate::app::Call,
    token: &str,
) -> Result<Option<String>, Error> {
    let (now, token) = (call.now, token.to_owned());
    state
        .db
        .run(move |conn| accounts::reset_token_user(conn, now, &token))
        .await
}

/// Changes the password on the account page: every session ends, this one too; this browser
/// proved the password, so it gets a fresh session (made after the cut-off) with the same
/// authentication methods (`amr`) as the one it replaces. Its cookie value.
pub async fn change_password_and_resume(
    state: &AppState,
    call: &crate::app::Call,
    signed_in: &crate::core::authorize::SignedIn,
    current: &str,
    new_password: &str,
) -> Result<String, Error> {
    let user = &signed_in.user;
    change_password(state, user, current, new_password, &call.ip).await?;
    let amr = serde_json::from_str(&signed_in.amr).unwrap_or_else(|_| vec!["pwd".into()]);
    crate::app::sessions::start(state, call, user, None, amr).await
}
