//! Signing in on the page: the password (throttled like every sign-in), a new session in
//! place of the browser's earlier one, and whether the terms must be accepted before the
//! sign-in completes (SPEC §8).

use crate::app::{passwords, second_factor, sessions, Call};
use crate::core::users::User;
use crate::core::{terms, Error};
use crate::state::AppState;

/// A right password, and what comes next.
pub enum SignedIn {
    /// Signed in: the new session cookie's value.
    Session {
        session: String,
        /// The configured terms are not accepted yet: ask before going on.
        needs_terms: bool,
        /// The policy requires a second factor this person has not set up: send them to set
        /// one up (apps that need one are refused until then).
        must_enrol: bool,
    },
    /// The person has a second factor: the sign-in step's cookie value (no session yet).
    SecondFactor { step: String },
}

/// Checks the password; starts a session, or the second-factor step for a person who has a
/// second factor. `previous` is the browser's earlier session; `return_to` where the sign-in
/// goes.
pub async fn run(
    state: &AppState,
    call: &Call,
    login: &str,
    password: &str,
    previous: Option<String>,
    return_to: &str,
) -> Result<SignedIn, Error> {
    let user = passwords::check(state, login, password, &call.ip, "signin").await?;
    after_password(state, call, &user, previous, return_to).await
}

/// What follows a right password (at sign-in, or a new one set through a reset link or at
/// sign-up): the second-factor step for a person who has one, a session otherwise.
pub async fn after_password(
    state: &AppState,
    call: &Call,
    user: &User,
    previous: Option<String>,
    return_to: &str,
) -> Result<SignedIn, Error> {
    let enrolled = second_factor::enrolled(state, &user.id).await?;
    if enrolled.any() {
        let step = second_factor::begin_step(state, call, user, return_to).await?;
        return Ok(SignedIn::SecondFactor { step });
    }
    let session = sessions::start(state, call, user, previous, vec!["pwd".into()]).await?;
    Ok(SignedIn::Session {
        session,
        needs_terms: needs_terms(state, user).await?,
        must_enrol: second_factor::required_by_policy(state, user),
    })
}

/// A sign-in with a passkey alone (a discoverable credential with user verification: what
/// the person has and what they know or are, so `hwk` and `mfa`).
pub async fn with_passkey(
    state: &AppState,
    call: &Call,
    user: &User,
    previous: Option<String>,
) -> Result<SignedIn, Error> {
    let amr = vec!["hwk".to_string(), "mfa".to_string()];
    let session = sessions::start(state, call, user, previous, amr).await?;
    Ok(SignedIn::Session {
        session,
        needs_terms: needs_terms(state, user).await?,
        must_enrol: false,
    })
}

/// Whether the person must accept the configured terms before going on.
pub async fn needs_terms(state: &AppState, user: &User) -> Result<bool, Error> {
    Ok(match state.config.terms_version.clone() {
        Some(version) => {
            let id = user.id.clone();
            !state
                .db
                .run(move |conn| terms::accepted(conn, &id, &version))
                .await?
        }
        None => false,
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
/// authorization request of a registered app that may use the code flow and has not
/// expired (the consent page shows the same name); anything else is `None`.
pub async fn continuing_to(state: &AppState, return_to: &str) -> Option<String> {
    let url = url::Url::parse("http://local").ok()?.join(return_to).ok()?;
    if url.path() != crate::paths::AUTHORIZE {
        return None;
    }
    let client_id = url
        .query_pairs()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| Ok(crate::core::clients::get(conn, &client_id).ok()))
        .await
        .ok()
        .flatten()
        .filter(|c| {
            c.grant_types.0.iter().any(|g| g == "authorization_code")
                && c.expires_at.is_none_or(|at| at > now)
        })
        .map(|c| c.name)
}
