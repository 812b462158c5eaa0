//! Verifying this server's access tokens with the node's caches and revocation copy.

use crate::core::tokens::{self, AccessClaims};
use crate::core::Error;
use crate::state::AppState;

/// Verifies an access token: signature, claims (issuer, expiry, `iat` and `nbf`), then the
/// revocation set. A signature that checked out under the same published keys is not checked
/// again. The audience is the caller's business (introspection describes any audience; this
/// server's own routes want the issuer: `app::principal`).
pub async fn verify_access_token(state: &AppState, token: &str) -> Result<AccessClaims, Error> {
    let keys = state.keys.current().await;
    let cached = state
        .caches
        .verified
        .get(token)
        .filter(|((fingerprint, _), _)| *fingerprint == keys.fingerprint());
    let claims = match cached {
        Some(((_, claims), _)) => claims,
        None => {
            let claims = tokens::verify_signature(&keys, token)?;
            state
                .caches
                .verified
                .insert(token.to_owned(), (keys.fingerprint(), claims.clone()));
            claims
        }
    };
    tokens::check_claims(&claims, state.config.issuer(), state.clock.now_naive())?;
    if state.revocations.revokes(&claims).await {
        return Err(Error::InvalidToken("the token has been revoked".into()));
    }
    Ok(claims)
}

/// What `Account.ValidateToken` says of a token (an access token or a personal access token):
/// its user, client, scope and expiry, or `None` when it is not active. A DPoP-bound token is
/// not active here: the RPC carries no proof, and a bound token without one is no credential
/// (RFC 9449 §7.2).
pub async fn describe(state: &AppState, token: &str) -> Result<Option<Description>, Error> {
    use crate::core::tokens::pat;
    if pat::looks_like_pat(token) {
        let (now, value) = (state.clock.now_naive(), token.to_owned());
        let found = state
            .db
            .run(move |conn| pat::verify(conn, now, &value))
            .await?;
        return Ok(found.map(|p| Description {
            user_id: Some(p.user_id),
            client_id: None,
            scope: p.scope,
            expires_at: p.expires_at,
        }));
    }
    if !tokens::looks_like_jwt(token) {
        return Ok(None);
    }
    match verify_access_token(state, token).await {
        Ok(claims) if claims.cnf.is_some() => Ok(None),
        Ok(claims) => Ok(Some(Description {
            user_id: claims.is_user().then(|| claims.sub.clone()),
            client_id: Some(claims.client_id),
            scope: claims.scope,
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0).map(|d| d.naive_utc()),
        })),
        Err(Error::InvalidToken(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An active token, described.
#[derive(Debug, Clone)]
pub struct Description {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub scope: String,
    pub expires_at: Option<crate::core::Timestamp>,
}
