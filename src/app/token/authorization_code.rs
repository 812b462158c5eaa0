//! `grant_type=authorization_code`: the code of an authorization request, once, with PKCE; a
//! replayed code revokes what its first exchange issued.

use super::{context, Input};
use crate::app::Call;
use crate::core::oauth::{flows, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Exchanges the code.
pub async fn run(state: &AppState, _: &Call, input: Input) -> Result<TokenResponse, Error> {
    let Input {
        client,
        credentials,
        params,
        options,
        ..
    } = input;
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let result = state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::authorization_code(conn, &ctx, &client, &credentials, &params)
        })
        .await;
    if let Err(Error::InvalidGrant(_)) = &result {
        // A replayed code revoked a grant: honour it on this node at once.
        state.revocations.catch_up().await;
    }
    result
}
