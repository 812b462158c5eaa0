//! Dynamic client registration (RFC 7591) and management (RFC 7592) as use cases: register
//! (spending the initial access token, or counting against the IP's registrations when
//! registration is open), read, update and delete with the registration access token, and the
//! admins' initial access tokens. The rules are `core::registration`'s.

use crate::app::Call;
use crate::core::clients::ClientRow;
use crate::core::registration::{self, InitialAccessToken, Request, Response};
use crate::core::throttle::{Bucket, Settle};
use crate::core::{secrets, Error};
use crate::paths;
use crate::state::AppState;

fn client_uri(state: &AppState, client_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("{}/{encoded}", state.config.url(paths::REGISTER))
}

/// Whether an initial access token can still register a client (the boundary's check; the
/// registration spends it): `invalid_token` when not.
pub async fn initial_token_live(state: &AppState, token: &str) -> Result<(), Error> {
    let (t, now) = (token.to_owned(), state.clock.now_naive());
    let live = state
        .db
        .run(move |conn| registration::initial_token_live(conn, now, &t))
        .await?;
    if live {
        Ok(())
    } else {
        Err(Error::InvalidToken(
            "the initial access token is unknown, used up or expired".into(),
        ))
    }
}

/// The dynamic client a registration access token manages (the boundary's check).
pub async fn authorized(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<ClientRow, Error> {
    let (id, t) = (client_id.to_owned(), token.to_owned());
    state
        .db
        .run(move |conn| registration::authorized(conn, &id, &t))
        .await
}

/// Registers a client for itself. With an initial access token it spends one use; without
/// (open registration) the IP's registrations are counted and limited.
pub async fn register(
    state: &AppState,
    call: &Call,
    req: Request,
    initial_token: Option<String>,
) -> Result<Response, Error> {
    let (now, master) = (call.now, state.config.master_key());
    let allow_private = state.config.allow_private_jwks_uri;
    // Open registration: the attempt takes its place in the IP's bucket first (a burst cannot
    // outrun the limit) and gives it back when no client was made.
    let places = match initial_token {
        None => Some(
            crate::app::passwords::admit(
                state,
                &[Bucket::registration(&state.config.throttle, &call.ip)],
            )
            .await?,
        ),
        Some(_) => None,
    };
    let made = state
        .db
        .run(move |conn| {
            let seal_with =
                if req.token_endpoint_auth_method.as_deref() == Some("client_secret_jwt") {
                    Some(secrets::sealing_key(conn, master.as_ref())?)
                } else {
                    None
                };
            registration::register(
                conn,
                now,
                req,
                initial_token.as_deref(),
                seal_with,
                allow_private,
            )
        })
        .await;
    if let Some(places) = places {
        let how = match &made {
            Ok(_) => Settle::Count,
            Err(_) => Settle::Release,
        };
        // The client exists by now: a failure here must not lose its secret and token (the
        // place expires on its own).
        if let Err(e) = places.settle(&[how]).await {
            tracing::warn!(error = %e, "a registration's throttle place was not settled");
        }
    }
    let (row, secret, token) = made?;
    let uri = client_uri(state, &row.id);
    Ok(registration::response(&row, secret, &token, uri))
}

/// A dynamic client as its registration access token reads it.
pub fn read(state: &AppState, row: &ClientRow, token: &str) -> Response {
    registration::response(row, None, token, client_uri(state, &row.id))
}

/// Replaces a dynamic client's metadata (RFC 7592 §2.2); the answer carries a new
/// registration access token (the old one stops working).
pub async fn update(
    state: &AppState,
    call: &Call,
    row: ClientRow,
    req: Request,
) -> Result<Response, Error> {
    let (now, allow_private) = (call.now, state.config.allow_private_jwks_uri);
    crate::app::client_jwt::forget_keys(state, &row);
    let (updated, token) = state
        .db
        .run(move |conn| registration::update(conn, now, &row, req, allow_private))
        .await?;
    crate::app::token::forget_client(state, &updated.id);
    crate::app::client_jwt::forget_keys(state, &updated);
    Ok(read(state, &updated, &token))
}

/// Deletes a dynamic client (RFC 7592 §2.3): everything issued to it is revoked.
pub async fn delete(state: &AppState, call: &Call, row: &ClientRow) -> Result<(), Error> {
    let (now, ttl, id) = (call.now, state.config.revocation_ttl(), row.id.clone());
    state
        .db
        .run(move |conn| crate::core::clients::remove(conn, now, &id, ttl))
        .await?;
    crate::app::token::forget_client(state, &row.id);
    state.revocations.catch_up().await;
    Ok(())
}

/// Issues an initial access token (answered once).
pub async fn issue_initial_token(
    state: &AppState,
    call: &Call,
    uses: u32,
    expires_in: u64,
    note: String,
) -> Result<(InitialAccessToken, String), Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| registration::issue_initial_token(conn, now, uses, expires_in, &note))
        .await
}

/// The initial access tokens that can still register a client.
pub async fn initial_tokens(
    state: &AppState,
    call: &Call,
) -> Result<Vec<InitialAccessToken>, Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| registration::list_initial_tokens(conn, now))
        .await
}

/// Revokes an initial access token.
pub async fn revoke_initial_token(state: &AppState, call: &Call, id: String) -> Result<(), Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| registration::revoke_initial_token(conn, now, &id))
        .await
}
