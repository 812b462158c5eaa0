//! Bloq client keys (seed 003): a person makes, lists and deletes keys for their own services,
//! and a key trades its id and secret (or its refresh token) for tokens acting for its owner.

use crate::app::token::{self, TokenOptions};
use crate::app::{notices, Call};
use crate::core::client_auth::Credentials;
use crate::core::client_keys;
use crate::core::clients::Created;
use crate::core::oauth::{GrantType, TokenParams, TokenResponse};
use crate::core::users::User;
use crate::core::{Error, Timestamp};
use crate::state::AppState;

/// Makes a key for `owner` (its secret is in the answer, once) and tells the account.
pub async fn create(state: &AppState, call: &Call, owner: &User) -> Result<Created, Error> {
    let (now, id) = (call.now, owner.id.clone());
    let created = state
        .db
        .run(move |conn| client_keys::create(conn, now, &id))
        .await?;
    notices::credential_created(state, owner, "client key", &created.client.client_id).await;
    Ok(created)
}

/// The owner's keys, newest first: (id, created).
pub async fn list(
    state: &AppState,
    _: &Call,
    owner: &User,
) -> Result<Vec<(String, Timestamp)>, Error> {
    let id = owner.id.clone();
    state.db.run(move |conn| client_keys::list(conn, &id)).await
}

/// Deletes one of the owner's keys; its tokens stop working on every node.
pub async fn delete(state: &AppState, call: &Call, owner: &User, key: &str) -> Result<(), Error> {
    let (now, ttl) = (call.now, state.config.revocation_ttl());
    let (owner, key) = (owner.id.clone(), key.to_owned());
    state
        .db
        .run(move |conn| client_keys::delete(conn, now, &owner, &key, ttl))
        .await?;
    state.revocations.catch_up().await;
    Ok(())
}

/// What a key trades for tokens.
pub enum Grant {
    /// The key's id and secret: an access token (1 hour) and a refresh token (1 year).
    ClientCredentials { client_id: String, secret: String },
    /// One of a key's refresh tokens: a new pair (rotated).
    Refresh { token: String },
}

/// Tokens of a key, acting for its owner with the key's scopes. Only client keys, and only
/// their refresh tokens: any other client is `invalid_client`, any other refresh token
/// `invalid_grant` (SPEC §9).
pub async fn token(state: &AppState, call: &Call, grant: Grant) -> Result<TokenResponse, Error> {
    let options = TokenOptions {
        refresh_with_client_credentials: true,
        access_ttl: Some(client_keys::ACCESS_TTL),
        refresh_ttl: Some(client_keys::REFRESH_TTL),
        door: "bloq",
    };
    match grant {
        Grant::ClientCredentials { client_id, secret } => {
            // Keys authenticate like client_secret_basic.
            let credentials = Credentials::Basic { client_id, secret };
            let client = token::authenticate_client(state, &credentials, &call.ip).await?;
            if !client_keys::is_client_key(&client) {
                return Err(Error::InvalidClient(
                    "this is not a client key of this API".into(),
                ));
            }
            let params = TokenParams {
                grant_type: GrantType::ClientCredentials.as_str().into(),
                ..Default::default()
            };
            let input = token::Input {
                client,
                credentials,
                params,
                options,
                dpop: Default::default(),
            };
            token::run(state, call, input).await
        }
        Grant::Refresh { token: value } => {
            token::refresh_by_holder(state, &value, client_keys::is_client_key, options).await
        }
    }
}
