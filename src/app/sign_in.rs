//! Signing in on the page: the password (throttled like every sign-in), a new session in
//! place of the browser's earlier one, and whether the terms must be accepted before the
//! sign-in completes (SPEC §8).

use crate::app::{passwords, sessions, Call};
use crate::core::{terms, Error};
use crate::state::AppState;

/// A sign-in that went through.
pub struct SignedIn {
    /// The new session cookie's value.
    pub session: String,
    /// The configured terms are not accepted yet: ask before going on.
    pub needs_terms: bool,
}

/// Checks the password and starts a session; `previous` is the browser's earlier session.
pub async fn run(
    state: &AppState,
    call: &Call,
    login: &str,
    password: &str,
    previous: Option<String>,
) -> Result<SignedIn, Error> {
    let user = passwords::check(state, login, password, &call.ip, "signin").await?;
    let session = sessions::start(state, call, &user, previous).await?;
    let needs_terms = match state.config.terms_version.clone() {
        Some(version) => {
            let id = user.id.clone();
            !state
                .db
                .run(move |conn| terms::accepted(conn, &id, &version))
                .await?
        }
        None => false,
    };
    Ok(SignedIn {
        session,
        needs_terms,
    })
}

/// Accepts the current terms for the person signed in.
pub async fn accept_terms(state: &AppState, call: &Call, user_id: &str) -> Result<(), Error> {
    let Some(version) = state.config.terms_version.clone() else {
        return Ok(());
    };
    let (now, id) = (call.now, user_id.to_owned());
    state
        .db
        .run(move |conn| terms::accept(conn, now, &id, &version))
        .await
}

/// The name of the app a sign-in continues to, for "to continue to <app>": `return_to` is an
/// authorization request of a registered client. Client names are public (the consent page
/// shows them); anything else is `None`.
pub async fn continuing_to(state: &AppState, return_to: &str) -> Option<String> {
    let url = url::Url::parse("http://local").ok()?.join(return_to).ok()?;
    if url.path() != crate::paths::AUTHORIZE {
        return None;
    }
    let client_id = url
        .query_pairs()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())?;
    state
        .db
        .run(move |conn| Ok(crate::core::clients::get(conn, &client_id).ok()))
        .await
        .ok()
        .flatten()
        .map(|c| c.name)
}
