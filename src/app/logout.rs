//! OpenID Connect RP-Initiated Logout 1.0: which app is asking (by `id_token_hint` or
//! `client_id`) and where the browser may go afterwards (only a registered
//! `post_logout_redirect_uri`), then the end of the session.

use crate::app::Call;
use crate::core::{clients, oidc, sessions, Error};
use crate::state::AppState;

/// What a logout request asks, as received.
#[derive(Debug, Default)]
pub struct Request {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// A valid logout request.
#[derive(Debug)]
pub struct Logout {
    pub redirect: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
}

/// Checks a logout request: the hint is this server's ID token, the client exists, and the
/// redirect URI is registered for it. `Invalid` (with the reason to show) otherwise.
pub async fn validate(state: &AppState, _: &Call, req: Request) -> Result<Logout, Error> {
    let bad = |m: &str| Error::invalid("logout", m);
    let mut client_id = req.client_id;
    if let Some(hint) = req.id_token_hint {
        let keys = state.keys.current().await;
        let claims = oidc::verify_id_token_hint(&keys, state.config.issuer(), &hint)
            .ok_or_else(|| bad("The ID token hint is not valid."))?;
        if client_id.as_ref().is_some_and(|c| *c != claims.aud) {
            return Err(bad("client_id does not match the ID token."));
        }
        client_id = Some(claims.aud);
    }
    let client = match client_id {
        Some(id) => match state.db.run(move |conn| clients::get(conn, &id)).await {
            Ok(c) => Some(c),
            Err(Error::NotFound(_)) => return Err(bad("The application is not registered here.")),
            Err(e) => return Err(e),
        },
        None => None,
    };
    if let Some(uri) = &req.post_logout_redirect_uri {
        let Some(c) = &client else {
            return Err(bad(
                "post_logout_redirect_uri needs id_token_hint or client_id.",
            ));
        };
        if !c.post_logout_redirect_uris.iter().any(|r| r == uri) {
            return Err(bad(
                "The post-logout redirect URI is not registered for this application.",
            ));
        }
    }
    Ok(Logout {
        redirect: req.post_logout_redirect_uri,
        state: req.state,
        client_id: client.as_ref().map(|c| c.id.clone()),
        client_name: client.map(|c| c.name),
    })
}

/// Ends the browser session whose cookie value this is.
pub async fn end_session(state: &AppState, call: &Call, session: String) -> Result<(), Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| sessions::end(conn, now, &session))
        .await?;
    state.logouts.wake();
    Ok(())
}
