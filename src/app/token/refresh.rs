//! `grant_type=refresh_token`: rotation; a reused token revokes its family.

use super::{context, Input};
use crate::app::Call;
use crate::core::oauth::{flows, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Rotates the refresh token.
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
            flows::refresh(conn, &ctx, &client, &credentials, &params)
        })
        .await;
    if let Err(Error::InvalidGrant(_)) = &result {
        // A replayed refresh token revoked its grant: honour it on this node at once.
        state.revocations.catch_up().await;
    }
    result
}
