//! The authorization endpoint's use cases (RFC 6749 §4.1, OIDC Core §3.1.2): check a request,
//! decide what must happen before a code (sign-in, terms, consent), record a consent, and
//! issue the code.

use crate::app::Call;
use crate::core::authorize::{
    self, AuthorizeParams, ErrorRedirect, Next, Reject, SignedIn, Validated,
};
use crate::core::{consents, oidc, Error};
use crate::state::AppState;

/// Checks a request: a page error (unknown client or redirect URI), an error for the client,
/// or the valid request.
pub async fn validate(
    state: &AppState,
    call: &Call,
    params: AuthorizeParams,
) -> Result<Result<Validated, Reject>, Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| Ok(authorize::validate(conn, now, &params)))
        .await
}

/// What must happen next for a valid request and whoever is signed in (an `id_token_hint`
/// naming someone else is a new sign-in; an invalid one is the client's error).
pub async fn next_step(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: Option<&SignedIn>,
) -> Result<Result<Next, ErrorRedirect>, Error> {
    let hint_sub = match &request.id_token_hint {
        Some(hint) => {
            let keys = state.keys.current().await;
            match oidc::verify_id_token_hint(&keys, state.config.issuer(), hint) {
                Some(claims) => Some(claims.sub),
                None => {
                    return Ok(Err(request.error(
                        "invalid_request",
                        "id_token_hint is not a valid ID token of this server",
                    )))
                }
            }
        }
        None => None,
    };
    let (now, config) = (call.now, state.config.clone());
    let (v, s) = (request.clone(), signed_in.cloned());
    state
        .db
        .run(move |conn| {
            authorize::next_step(conn, now, &config, &v, s.as_ref(), hint_sub.as_deref())
        })
        .await
}

/// Issues the code for a valid request and the person signed in.
pub async fn issue_code(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    let (now, config) = (call.now, state.config.clone());
    let (v, s) = (request.clone(), signed_in.clone());
    state
        .db
        .run(move |conn| authorize::issue_code(conn, now, &config, &v, &s))
        .await
}

/// Records the person's consent to the request's scopes for its client, then issues the code.
pub async fn consent(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    let now = call.now;
    let (user, client, scope) = (
        signed_in.user.id.clone(),
        request.client.id.clone(),
        request.scope.clone(),
    );
    state
        .db
        .run(move |conn| consents::grant(conn, now, &user, &client, &scope))
        .await?;
    issue_code(state, call, request, signed_in).await
}
