//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): a device polls
//! with its device code until the person has approved or denied it at `/device`.

use super::{context, Input};
use crate::app::Call;
use crate::core::oauth::{flows, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Answers a poll: the tokens once approved, or why not yet (`authorization_pending`,
/// `slow_down`, `access_denied`, `expired_token`).
pub async fn run(state: &AppState, _: &Call, input: Input) -> Result<TokenResponse, Error> {
    let Input {
        client,
        params,
        options,
        ..
    } = input;
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::device_code(conn, &ctx, &client, &params)
        })
        .await
}
