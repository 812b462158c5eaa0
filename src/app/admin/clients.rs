//! Clients: list, read, register (the secret shown once; sealed for the kinds that sign with
//! it), update, rotate the secret, delete (everything issued to it is revoked).

use crate::app::Call;
use crate::core::clients::{self, Client, ClientRow, ClientUpdate, Created, NewClient};
use crate::core::{secrets, Error};
use crate::state::AppState;

/// Every client.
pub async fn list(state: &AppState, _: &Call) -> Result<Vec<Client>, Error> {
    state.db.run(clients::list).await
}

/// A client.
pub async fn get(state: &AppState, _: &Call, id: &str) -> Result<ClientRow, Error> {
    let id = id.to_owned();
    state.db.run(move |conn| clients::get(conn, &id)).await
}

/// Registers a client; `cert_pem` is a device's certificate (its thumbprint is kept).
pub async fn create(
    state: &AppState,
    call: &Call,
    mut new: NewClient,
    cert_pem: Option<String>,
) -> Result<Created, Error> {
    let (now, master) = (call.now, state.config.master_key());
    state
        .db
        .run(move |conn| {
            if let Some(pem) = &cert_pem {
                new.cert_thumbprint = Some(clients::cert_thumbprint(pem.as_bytes())?);
            }
            if new.needs_sealing() {
                new.seal_with = Some(secrets::sealing_key(conn, master.as_ref())?);
            }
            clients::create(conn, now, new)
        })
        .await
}

/// Updates a client (validated like a new one).
pub async fn update(
    state: &AppState,
    call: &Call,
    id: &str,
    change: ClientUpdate,
) -> Result<Client, Error> {
    let (now, id) = (call.now, id.to_owned());
    let (before, after) = state
        .db
        .run(move |conn| {
            let before = clients::get(conn, &id)?;
            clients::update(conn, now, &id, change)?;
            Ok((before, clients::get(conn, &id)?))
        })
        .await?;
    crate::app::token::forget_client(state, &after.id);
    crate::app::client_jwt::forget_keys(state, &before);
    crate::app::client_jwt::forget_keys(state, &after);
    Ok(Client::from(&after))
}

/// A new generated secret, answered once; the old one stops working at once.
pub async fn rotate_secret(state: &AppState, call: &Call, id: &str) -> Result<String, Error> {
    let (now, master, cid) = (call.now, state.config.master_key(), id.to_owned());
    let secret = state
        .db
        .run(move |conn| {
            let key = secrets::sealing_key(conn, master.as_ref())?;
            clients::rotate_secret(conn, now, &cid, Some(&key))
        })
        .await?;
    crate::app::token::forget_client(state, id);
    Ok(secret)
}

/// Deletes a client; everything issued to it is revoked, on every node.
pub async fn delete(state: &AppState, call: &Call, id: &str) -> Result<(), Error> {
    let (now, ttl, cid) = (call.now, state.config.revocation_ttl(), id.to_owned());
    state
        .db
        .run(move |conn| clients::remove(conn, now, &cid, ttl))
        .await?;
    crate::app::token::forget_client(state, id);
    state.revocations.catch_up().await;
    Ok(())
}
