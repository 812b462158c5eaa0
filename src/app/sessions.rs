//! Browser sessions: who a session cookie names, starting one for a person who just proved
//! who they are (replacing the browser's earlier one), and ending one.

use crate::app::Call;
use crate::core::authorize::SignedIn;
use crate::core::users::User;
use crate::core::{sessions, Error};
use crate::state::AppState;

/// The person signed in with this session cookie's value, if the session is live.
pub async fn current(state: &AppState, value: String) -> Result<Option<SignedIn>, Error> {
    let now = state.clock.now_naive();
    let found = state
        .db
        .run(move |conn| sessions::find(conn, now, &value))
        .await?;
    Ok(found.map(|(s, user)| SignedIn {
        user,
        sid: s.sid,
        auth_time: s.auth_time,
        amr: s.amr,
    }))
}

/// Starts a session for `user` in this browser (its cookie's value), ending the browser's
/// `previous` one. `amr` says how the person proved who they are (RFC 8176: `pwd`, `otp`,
/// `mfa`, ...).
pub async fn start(
    state: &AppState,
    call: &Call,
    user: &User,
    previous: Option<String>,
    amr: Vec<String>,
) -> Result<String, Error> {
    let (now, ttl) = (state.clock.now_naive(), state.config.tokens.session_ttl);
    let (id, agent, ip) = (user.id.clone(), call.user_agent.clone(), call.ip.clone());
    let (value, _) = state
        .db
        .run(move |conn| sessions::create(conn, now, &id, ttl, agent.as_deref(), Some(&ip), &amr))
        .await?;
    if let Some(old) = previous {
        end(state, call, old).await?;
    }
    Ok(value)
}

/// Ends the session with this cookie's value.
pub async fn end(state: &AppState, call: &Call, value: String) -> Result<(), Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| sessions::end(conn, now, &value))
        .await?;
    state.logouts.wake();
    Ok(())
}
