//! Signing keys: list, rotate (publish the next key), retire. Every change is read back at once
//! on this node, and within `KEY_REFRESH_SECS` on the others.

use crate::app::Call;
use crate::config::SigningAlg;
use crate::core::keys::{self, KeyInfo};
use crate::core::Error;
use crate::state::AppState;

/// The keys and their states.
pub async fn list(state: &AppState, call: &Call) -> Result<Vec<KeyInfo>, Error> {
    let (now, ttl) = (call.now, state.config.keys.retired_ttl);
    state.db.run(move |conn| keys::list(conn, now, ttl)).await
}

/// Creates the next key of `alg` (the configured algorithm by default): published now,
/// signing after `keys.publish_ahead`, or at once with `now`.
pub async fn rotate(
    state: &AppState,
    call: &Call,
    alg: Option<SigningAlg>,
    at_once: bool,
) -> Result<KeyInfo, Error> {
    let alg = alg.unwrap_or(state.config.keys.algorithm);
    let (now, settings, master) = (
        call.now,
        state.config.keys.clone(),
        state.config.master_key(),
    );
    let kid = state
        .db
        .run(move |conn| {
            keys::rotate(conn, now, alg, &settings, master.as_ref(), at_once).map(|r| r.kid)
        })
        .await?;
    state.keys.reload().await?;
    list(state, call)
        .await?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::Internal("the new key vanished".into()))
}

/// Stops a key from signing now (it stays published for `keys.retired_ttl`).
pub async fn retire(state: &AppState, call: &Call, kid: &str) -> Result<(), Error> {
    let (now, ttl, kid) = (call.now, state.config.keys.retired_ttl, kid.to_owned());
    state
        .db
        .run(move |conn| keys::retire(conn, now, &kid, ttl))
        .await?;
    state.keys.reload().await?;
    Ok(())
}
