//! RFC 7009 revocation: a client revokes its own tokens; others are `unauthorized_client`, and
//! a person's personal access token is never a client's to revoke (SPEC §9).

use crate::app::Call;
use crate::core::clients::ClientRow;
use crate::core::tokens::{self, pat, refresh};
use crate::core::{grants, revocation, Error};
use crate::state::AppState;

/// RFC 7009: revokes a token of the calling client. Unknown tokens are fine; a token issued to
/// another client is `unauthorized_client` — except to a client that registered itself, which
/// is answered as for an unknown token, so that it learns nothing of tokens not its own.
pub async fn run(
    state: &AppState,
    call: &Call,
    client: &ClientRow,
    token: &str,
) -> Result<(), Error> {
    match revoke(state, call, client, token).await {
        Err(Error::UnauthorizedClient(_)) if client.dynamic => Ok(()),
        other => other,
    }
}

async fn revoke(state: &AppState, _: &Call, client: &ClientRow, token: &str) -> Result<(), Error> {
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let value = token.to_owned();
    let client_id = client.id.clone();
    if tokens::looks_like_jwt(token) {
        let keys = state.keys.current().await;
        let claims = match tokens::verify_access_token(&keys, state.config.issuer(), now, token) {
            Ok(c) => c,
            Err(_) => return Ok(()), // invalid or expired: nothing to revoke
        };
        if claims.client_id != client_id {
            return Err(Error::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map(|t| t.naive_utc())
            .unwrap_or(now);
        state
            .db
            .run(move |conn| {
                revocation::record(conn, now, revocation::Kind::Jti, &claims.jti, None, expires)
            })
            .await?;
    } else if pat::looks_like_pat(token) {
        // A personal access token is never issued to a client: no client may revoke one.
        let live = state
            .db
            .run(move |conn| pat::verify(conn, now, &value))
            .await?;
        if live.is_some() {
            return Err(Error::UnauthorizedClient(
                "a personal access token is revoked by its owner, not by a client".into(),
            ));
        }
        return Ok(());
    } else {
        state
            .db
            .run(move |conn| {
                let Some(row) = refresh::find(conn, &value)? else {
                    return Ok(());
                };
                let Some(g) = grants::get(conn, &row.grant_id)? else {
                    return Ok(());
                };
                if g.client_id != client_id {
                    return Err(Error::UnauthorizedClient(
                        "the token was issued to another client".into(),
                    ));
                }
                grants::revoke(conn, now, &g.id, ttl, "revoked_by_client")?;
                Ok(())
            })
            .await?;
    }
    state.revocations.catch_up().await;
    Ok(())
}
