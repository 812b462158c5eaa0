//! `grant_type=password`: for trusted (first-party) clients; the client is checked before any
//! password is.

use super::{context, Input};
use crate::app::Call;
use crate::core::oauth::{flows, policy, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// Checks the person's password and issues their tokens.
pub async fn run(state: &AppState, call: &Call, input: Input) -> Result<TokenResponse, Error> {
    let Input {
        client,
        credentials: _,
        params,
        options,
        ..
    } = input;
    let username = params
        .username
        .clone()
        .ok_or_else(|| Error::InvalidRequest("username is required".into()))?;
    let password = params
        .password
        .clone()
        .ok_or_else(|| Error::InvalidRequest("password is required".into()))?;
    // The client first: a client that may not use this grant never gets a password checked.
    flows::check_password_client(&client)?;
    let scope = policy::scope(&client, params.scope.as_deref(), true)?;
    policy::check_privileged(&client, &scope, true)?;
    policy::audience(&client, &params.resources, state.config.default_audience())?;
    let door = if options.door.is_empty() {
        "token"
    } else {
        options.door
    };
    let user =
        crate::app::passwords::check_without_code(state, &username, &password, &call.ip, door)
            .await?;
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::password(conn, &ctx, &client, &params, &user, now)
        })
        .await
}
