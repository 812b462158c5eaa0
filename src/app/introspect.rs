//! RFC 7662 introspection: what a token is, for a confidential client; refresh tokens only to
//! their own client (SPEC §9).

use crate::app::Call;
use crate::core::clients::ClientRow;
use crate::core::oauth::introspect::{self as intro, Introspection};
use crate::core::tokens;
use crate::core::Error;
use crate::state::AppState;

/// RFC 7662: what the token is, or `{"active": false}`. Refresh tokens are described only to
/// the client they were issued to (SPEC §9).
pub async fn run(
    state: &AppState,
    _: &Call,
    caller: &ClientRow,
    token: &str,
) -> Result<Introspection, Error> {
    let inactive = || Ok(intro::inactive());
    let now = state.clock.now_naive();
    if tokens::looks_like_jwt(token) {
        let claims = match crate::app::access_token::verify_access_token(state, token).await {
            Ok(c) => c,
            Err(Error::InvalidToken(_)) => return inactive(),
            Err(e) => return Err(e),
        };
        // A client that registered itself learns about its own tokens only: anyone may
        // register one, and it must not become an oracle for other people's tokens.
        if caller.dynamic && claims.client_id != caller.id {
            return inactive();
        }
        if !claims.is_user() {
            return Ok(Introspection::Access(intro::access_token(claims, None)));
        }
        // The username (5 s cache; a disabled or deleted user is already caught by the
        // revocation set).
        let name = match state.caches.usernames.get(&claims.sub) {
            Some((name, _)) => name,
            None => {
                let sub = claims.sub.clone();
                let name = state
                    .db
                    .run(move |conn| intro::username(conn, &sub))
                    .await?;
                state
                    .caches
                    .usernames
                    .insert(claims.sub.clone(), name.clone());
                name
            }
        };
        return match name {
            Some(n) => Ok(Introspection::Access(intro::access_token(claims, Some(n)))),
            None => inactive(),
        };
    }
    if caller.dynamic && crate::core::tokens::pat::looks_like_pat(token) {
        return inactive();
    }
    let value = token.to_owned();
    let issuer = state.config.issuer().to_owned();
    let caller = caller.id.clone();
    state
        .db
        .run(move |conn| intro::opaque(conn, now, &issuer, &caller, &value))
        .await
}
