//! Users: list and search, create, read, update (a new email is told to the old address; a new
//! password revokes the user's tokens), disable and enable, delete, and revoke every session
//! and token. Admins changing users are not asked for the users' passwords (SPEC §9).

use crate::app::{accounts, notices, Call};
use crate::core::users::{self, NewUser, User, UserUpdate};
use crate::core::{accounts as core_accounts, password, Error};
use crate::state::AppState;

/// Users matching `search` (id, username or email), `limit` from `offset`, and how many match.
pub async fn list(
    state: &AppState,
    _: &Call,
    search: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), Error> {
    state
        .db
        .run(move |conn| users::search(conn, search.as_deref(), limit, offset))
        .await
}

/// Creates a user (a verification email follows unless marked verified); not throttled.
pub async fn create(
    state: &AppState,
    call: &Call,
    new: NewUser,
    password_text: &str,
) -> Result<User, Error> {
    accounts::create_user(state, new, password_text, &call.ip, "admin", false).await
}

/// A user.
pub async fn get(state: &AppState, _: &Call, id: &str) -> Result<User, Error> {
    let id = id.to_owned();
    state.db.run(move |conn| users::get(conn, &id)).await
}

/// Applies an admin's changes; with `new_password`, a password change.
pub async fn update(
    state: &AppState,
    call: &Call,
    id: &str,
    change: UserUpdate,
    new_password: Option<String>,
) -> Result<User, Error> {
    if let Some(p) = &new_password {
        password::check_new("password", p)?;
    }
    let (now, uid) = (call.now, id.to_owned());
    let (before, mut user) = state
        .db
        .run(move |conn| {
            let before = users::get(conn, &uid)?;
            Ok((before, users::update(conn, now, &uid, change)?))
        })
        .await?;
    if user.email_key != before.email_key {
        // The old address is told; the new one is asked to confirm (unless marked verified).
        notices::email_changed(state, &before, &user).await?;
    }
    if let Some(p) = new_password {
        let hash = state.passwords.hash(p).await?;
        let (now, ttl, uid) = (
            state.clock.now_naive(),
            state.config.revocation_ttl(),
            id.to_owned(),
        );
        user = state
            .db
            .run(move |conn| {
                core_accounts::change_password(conn, now, &uid, &hash, ttl)?;
                users::get(conn, &uid)
            })
            .await?;
        state.revocations.catch_up().await;
    }
    Ok(user)
}

/// Disables (sessions end, tokens stop) or enables a user.
pub async fn set_disabled(
    state: &AppState,
    call: &Call,
    id: &str,
    disabled: bool,
) -> Result<User, Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), id.to_owned());
    let user = state
        .db
        .run(move |conn| users::set_disabled(conn, now, &id, disabled, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(user)
}

/// Lets a user locked out by wrong passwords sign in again; returns the user and how many
/// wrong passwords were forgotten.
pub async fn unlock(state: &AppState, call: &Call, id: &str) -> Result<(User, i32), Error> {
    let (now, id) = (call.now, id.to_owned());
    let window = state.config.throttle.account_window;
    state
        .db
        .run(move |conn| users::unlock(conn, now, &id, window))
        .await
}

/// Deletes a user and everything they own.
pub async fn delete(state: &AppState, call: &Call, id: &str) -> Result<(), Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), id.to_owned());
    state
        .db
        .run(move |conn| users::delete(conn, now, &id, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}

/// Ends every session and revokes every token of the user, personal access tokens included.
pub async fn revoke_tokens(state: &AppState, call: &Call, id: &str) -> Result<(), Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), id.to_owned());
    state
        .db
        .run(move |conn| {
            users::get(conn, &id)?;
            core_accounts::sign_out_everywhere(conn, now, &id, ttl)
        })
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}
