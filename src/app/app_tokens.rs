//! Mongoose OS app tokens (`Auth.GenerateToken` and friends): a person's grant for an app,
//! named by its host, whose tokens are made for that host (their `aud`).

use crate::app::Call;
use crate::core::apps;
use crate::core::oauth::Ctx;
use crate::core::tokens::SignedToken;
use crate::core::users::User;
use crate::core::{Error, Timestamp};
use crate::state::AppState;

/// A token for the app at `host`: under a new grant (`generate`), or under the existing one.
pub async fn token(
    state: &AppState,
    call: &Call,
    user: &User,
    host: &str,
    generate: bool,
) -> Result<SignedToken, Error> {
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let (now, uid, host) = (call.now, user.id.clone(), host.to_owned());
    state
        .db
        .run(move |conn| {
            let ctx = Ctx::new(&config, &keys, now);
            if generate {
                apps::generate(conn, &ctx, &uid, &host)
            } else {
                apps::get(conn, &ctx, &uid, &host)
            }
        })
        .await
}

/// The hosts the person granted, with when.
pub async fn list(
    state: &AppState,
    _: &Call,
    user: &User,
) -> Result<Vec<(String, Timestamp)>, Error> {
    let uid = user.id.clone();
    state.db.run(move |conn| apps::list(conn, &uid)).await
}

/// Revokes the person's grant for the app and every token under it, on every node.
pub async fn revoke(state: &AppState, call: &Call, user: &User, host: &str) -> Result<(), Error> {
    let (now, ttl, uid, host) = (
        call.now,
        state.config.revocation_ttl(),
        user.id.clone(),
        host.to_owned(),
    );
    state
        .db
        .run(move |conn| apps::revoke(conn, now, &uid, &host, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}
