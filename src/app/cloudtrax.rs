//! CloudTrax account management (seed 002): a sign-in with an application key makes an account
//! key; account keys fetch and delete per-network embed keys, and read or accept the terms.

use crate::app::Call;
use crate::core::clients::ClientRow;
use crate::core::cloudtrax::{self, KeyPair};
use crate::core::users::User;
use crate::core::{terms, Error};
use crate::state::AppState;

/// `POST /account/login`: the person's password (throttled like every sign-in), then a new
/// account key acting for them. The call is recorded as theirs from here on.
pub async fn login(
    state: &AppState,
    call: &Call,
    application: &ClientRow,
    username: &str,
    password: &str,
) -> Result<(User, KeyPair), Error> {
    let user =
        crate::app::passwords::check_without_code(state, username, password, &call.ip, call.door)
            .await?;
    call.audit_as("cloudtrax", &user.id, Some(&application.id));
    let (now, master, owner) = (call.now, state.config.master_key(), user.clone());
    let pair = state
        .db
        .run(move |conn| cloudtrax::account_key(conn, now, master.as_ref(), &owner))
        .await?;
    Ok((user, pair))
}

/// The embed key of one of the person's networks (made on first use).
pub async fn embed_key(
    state: &AppState,
    call: &Call,
    user: &User,
    network: i64,
) -> Result<KeyPair, Error> {
    let (now, master, owner) = (call.now, state.config.master_key(), user.clone());
    state
        .db
        .run(move |conn| cloudtrax::embed_key(conn, now, master.as_ref(), &owner, network))
        .await
}

/// Deletes a network's embed key (its tokens stop on every node); whether there was one.
pub async fn delete_embed_key(
    state: &AppState,
    call: &Call,
    user: &User,
    network: i64,
) -> Result<bool, Error> {
    let (now, ttl, owner) = (call.now, state.config.revocation_ttl(), user.clone());
    let deleted = state
        .db
        .run(move |conn| cloudtrax::delete_embed_key(conn, now, &owner, network, ttl))
        .await?;
    if deleted {
        state.revocations.catch_up().await;
    }
    Ok(deleted)
}

/// Whether the person accepted the current terms (always, when none are configured).
pub async fn agreement(state: &AppState, _: &Call, user: &User) -> Result<bool, Error> {
    let Some(version) = state.config.terms_version.clone() else {
        return Ok(true);
    };
    let id = user.id.clone();
    state
        .db
        .run(move |conn| terms::accepted(conn, &id, &version))
        .await
}

/// Accepts the current terms for the person.
pub async fn agree(state: &AppState, call: &Call, user: &User) -> Result<(), Error> {
    let Some(version) = state.config.terms_version.clone() else {
        return Ok(());
    };
    let (now, id) = (call.now, user.id.clone());
    state
        .db
        .run(move |conn| terms::accept(conn, now, &id, &version))
        .await
}

/// What a signed request carries: the `Authorization` and `Signature` headers, the request
/// target as sent (path and `?query`) and the body.
pub struct Signed {
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub target: String,
    pub body: bytes::Bytes,
}

/// Verifies a signed request (signature, clock, single-use nonce): the key that signed it, or
/// the CloudTrax error to answer.
pub async fn verify(
    state: &AppState,
    signed: Signed,
) -> Result<Result<ClientRow, cloudtrax::CtError>, Error> {
    let now = state.clock.now_naive();
    let master = state.config.master_key();
    state
        .db
        .run(move |conn| {
            let request = cloudtrax::SignedRequest {
                authorization: signed.authorization.as_deref(),
                signature: signed.signature.as_deref(),
                target: &signed.target,
                body: &signed.body,
            };
            cloudtrax::verify(conn, now, master.as_ref(), &request)
        })
        .await
}

/// The user an account key acts for (`Forbidden` for other keys and gone or disabled users).
pub async fn owner(state: &AppState, key: &ClientRow) -> Result<User, Error> {
    let k = key.clone();
    state
        .db
        .run(move |conn| cloudtrax::account_owner(conn, &k))
        .await
}
