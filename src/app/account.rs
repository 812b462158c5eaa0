//! The account page's use cases (`/account`): what it shows, and the person's changes to their
//! profile, sessions and authorized apps. Email and password changes are in `accounts` (every
//! door makes them); personal access tokens in `personal_tokens`.

use crate::app::Call;
use crate::core::accounts::{self, AuthorizedApp, Profile};
use crate::core::sessions::SessionRow;
use crate::core::tokens::pat::{self, Pat};
use crate::core::users::{self, User};
use crate::core::Error;
use crate::state::AppState;

/// What the account page shows.
pub struct Overview {
    pub user: User,
    pub tokens: Vec<Pat>,
    pub sessions: Vec<SessionRow>,
    pub apps: Vec<AuthorizedApp>,
    pub factors: crate::core::factors::Enrolled,
    pub passkeys: Vec<crate::core::passkeys::PasskeyRow>,
}

/// The person's account as the page shows it.
pub async fn overview(state: &AppState, call: &Call, user_id: &str) -> Result<Overview, Error> {
    let (now, id) = (call.now, user_id.to_owned());
    state
        .db
        .run(move |conn| {
            Ok(Overview {
                user: users::get(conn, &id)?,
                tokens: pat::list(conn, &id)?,
                sessions: accounts::sessions(conn, now, &id)?,
                apps: accounts::apps(conn, &id)?,
                factors: crate::core::factors::enrolled(conn, &id)?,
                passkeys: crate::core::passkeys::list(conn, &id)?,
            })
        })
        .await
}

/// Saves the display name, postal address and phone number.
pub async fn update_profile(
    state: &AppState,
    call: &Call,
    user: &User,
    profile: Profile,
) -> Result<User, Error> {
    let (now, id) = (call.now, user.id.clone());
    state
        .db
        .run(move |conn| accounts::update_profile(conn, now, &id, &profile))
        .await
}

/// Signs one of the person's devices out.
pub async fn end_session(
    state: &AppState,
    call: &Call,
    user: &User,
    sid: &str,
) -> Result<(), Error> {
    let (now, id, sid) = (call.now, user.id.clone(), sid.to_owned());
    state
        .db
        .run(move |conn| accounts::end_session(conn, now, &id, &sid))
        .await?;
    state.logouts.wake();
    Ok(())
}

/// Signs the person out everywhere: every session, and every token, personal access tokens
/// included.
pub async fn sign_out_everywhere(state: &AppState, call: &Call, user: &User) -> Result<(), Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), user.id.clone());
    state
        .db
        .run(move |conn| accounts::sign_out_everywhere(conn, now, &id, ttl))
        .await?;
    state.revocations.catch_up().await;
    state.logouts.wake();
    Ok(())
}

/// Removes an app's access: the consent and every token it holds.
pub async fn revoke_app(
    state: &AppState,
    call: &Call,
    user: &User,
    client_id: &str,
) -> Result<(), Error> {
    let (now, ttl, id, client) = (
        call.now,
        state.config.revocation_ttl(),
        user.id.clone(),
        client_id.to_owned(),
    );
    state
        .db
        .run(move |conn| accounts::revoke_app(conn, now, &id, &client, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}
