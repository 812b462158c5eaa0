//! Personal access tokens: a person makes (the account's address is told), lists and revokes
//! their own. A token acts with `account` until revoked, a password change notwithstanding.

use crate::app::{notices, Call};
use crate::core::tokens::pat::{self, Pat};
use crate::core::users::User;
use crate::core::Error;
use crate::state::AppState;

/// Makes a token; its value is in the answer, once.
pub async fn create(
    state: &AppState,
    call: &Call,
    user: &User,
    description: &str,
) -> Result<(String, Pat), Error> {
    let (now, id, d) = (call.now, user.id.clone(), description.to_owned());
    let created = state
        .db
        .run(move |conn| pat::create(conn, now, &id, &d, None))
        .await?;
    notices::credential_created(state, user, "personal access token", description).await;
    Ok(created)
}

/// The person's live tokens, newest first.
pub async fn list(state: &AppState, _: &Call, user: &User) -> Result<Vec<Pat>, Error> {
    let id = user.id.clone();
    state.db.run(move |conn| pat::list(conn, &id)).await
}

/// Revokes one of the person's tokens (`NotFound` for another's).
pub async fn revoke(
    state: &AppState,
    call: &Call,
    user: &User,
    token_id: &str,
) -> Result<(), Error> {
    let (now, id, t) = (call.now, user.id.clone(), token_id.to_owned());
    state
        .db
        .run(move |conn| pat::revoke(conn, now, &id, &t))
        .await
}
