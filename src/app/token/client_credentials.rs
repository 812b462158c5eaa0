//! `grant_type=client_credentials`: a client acting for itself, or a key acting for its owner.
//! With ES256/EdDSA and nothing to store it never leaves the async runtime; RS256 signs on the
//! signing threads.

use super::{context, Input};
use crate::app::Call;
use crate::core::oauth::{flows, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Issues the client's tokens.
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
    if !flows::client_credentials_needs_db(&client, options.refresh_with_client_credentials) {
        // Pure computation: no connection; signed here, or on the signing threads when slow.
        let cheap = keys.signing_key(now).is_some_and(|k| k.alg.signs_cheaply());
        let issue = move || {
            let ctx = context(&config, &keys, now, options);
            flows::client_credentials(None, &ctx, &client, &credentials, &params, false)
        };
        return match cheap {
            true => issue(),
            false => state.signers.run(issue).await,
        };
    }
    state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::client_credentials(
                Some(conn),
                &ctx,
                &client,
                &credentials,
                &params,
                options.refresh_with_client_credentials,
            )
        })
        .await
}
