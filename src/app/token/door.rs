//! Tokens the compatibility doors issue for their own sign-ins (under each door's internal
//! client), and their refresh by the token alone (the older APIs send no client credentials):
//! only the door's own families.

use super::{context, TokenOptions};
use crate::core::clients::ClientRow;
use crate::core::oauth::{flows, Ctx, TokenParams, TokenResponse};
use crate::core::Error;
use crate::state::AppState;

/// The internal client of a compatibility door: the holder of the tokens it issues for people.
#[derive(Debug, Clone, Copy)]
pub struct DoorClient {
    pub id: &'static str,
    pub name: &'static str,
    /// What its tokens carry (`account` for the doors' own sign-ins).
    pub scopes: &'static str,
}

/// Issues tokens for a user a door authenticated itself, under the door's internal client
/// (created on first use); with a refresh token when asked. `auth_time` is when the person
/// proved who they are (now for a sign-in; the caller's own for a token handed back after a
/// change).
pub async fn issue_for_user(
    state: &AppState,
    door: DoorClient,
    user_id: &str,
    with_refresh: bool,
    access_ttl: Option<u64>,
    auth_time: Option<crate::core::Timestamp>,
) -> Result<TokenResponse, Error> {
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let user_id = user_id.to_owned();
    state
        .db
        .run(move |conn| {
            let client = crate::core::clients::ensure_internal(
                conn,
                now,
                door.id,
                door.name,
                &["refresh_token"],
                door.scopes,
            )?;
            let mut ctx = Ctx::new(&config, &keys, now);
            if let Some(ttl) = access_ttl {
                ctx.access_ttl = ttl;
            }
            flows::issue_for_user(
                conn,
                &ctx,
                &client,
                &user_id,
                with_refresh,
                auth_time.unwrap_or(now),
            )
        })
        .await
}

/// Refreshes with the refresh token alone, for the older APIs whose refresh requests carry no
/// client credentials: only tokens whose client `accepts` (the door's own families); any
/// other is `invalid_grant`. Rotation and reuse detection as everywhere.
pub async fn refresh_by_holder(
    state: &AppState,
    refresh_token: &str,
    accepts: fn(&ClientRow) -> bool,
    options: TokenOptions,
) -> Result<TokenResponse, Error> {
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let params = TokenParams {
        grant_type: "refresh_token".into(),
        refresh_token: Some(refresh_token.to_owned()),
        ..Default::default()
    };
    let result = state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::refresh_by_holder(conn, &ctx, &params, accepts)
        })
        .await;
    if let Err(Error::InvalidGrant(_)) = &result {
        state.revocations.catch_up().await;
    }
    result
}
