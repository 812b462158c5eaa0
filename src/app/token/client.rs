//! Client authentication at the token, introspection and revocation endpoints, with the
//! node's caches: the client row and the IP's throttle state (the rules are
//! `core::client_auth`'s).

use std::sync::Arc;

use crate::core::client_auth::{self, Credentials};
use crate::core::clients::ClientRow;
use crate::core::Error;
use crate::state::AppState;

/// Authenticates a client with the node's caches: the client row (5 s, dropped when the
/// revocation log cuts the client off) and the IP's throttle state (2 s, dropped on any
/// failure). Wrong secrets, bad assertions and unknown clients count against the IP, as
/// everywhere.
pub async fn authenticate_client(
    state: &AppState,
    credentials: &Credentials,
    ip: &str,
) -> Result<Arc<ClientRow>, Error> {
    use crate::core::throttle::{self, Bucket};
    let now = state.clock.now_naive();
    let caches = &state.caches;
    let checks_secret = credentials.proves();
    if checks_secret && caches.ip_ok.get(&ip.to_owned()).is_none() {
        let settings = state.config.throttle.clone();
        let ip_owned = ip.to_owned();
        state
            .db
            .run(move |conn| throttle::check(conn, now, &[&Bucket::ip(&settings, &ip_owned)]))
            .await?;
        caches.ip_ok.insert(ip.to_owned(), ());
    }
    let id = credentials.client_id().to_owned();
    let cached = caches.clients.get(&id).filter(|(_, at)| {
        // A cut-off (deletion) newer than the cached copy invalidates it.
        let loaded_ms = now.and_utc().timestamp_millis() - at.elapsed().as_millis() as i64;
        state
            .revocations
            .client_cut_off(&id)
            .is_none_or(|cut| cut < loaded_ms)
    });
    let client = match cached {
        Some((c, _)) => Some(c),
        None => {
            let lookup = id.clone();
            let found = state
                .db
                .run(move |conn| match crate::core::clients::get(conn, &lookup) {
                    Ok(c) => Ok(Some(Arc::new(c))),
                    Err(Error::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                })
                .await?;
            if let Some(c) = &found {
                caches.clients.insert(id.clone(), c.clone());
            }
            found
        }
    };
    let failed = |state: &AppState, e: Error, counts: bool| {
        let state = state.clone();
        let ip = ip.to_owned();
        async move {
            if counts {
                state.caches.ip_ok.remove(&ip);
                let settings = state.config.throttle.clone();
                let now = state.clock.now_naive();
                state
                    .db
                    .run(move |conn| throttle::hit(conn, now, &[&Bucket::ip(&settings, &ip)]))
                    .await?;
            }
            Err::<Arc<ClientRow>, Error>(e)
        }
    };
    let Some(client) = client else {
        return failed(
            state,
            Error::InvalidClient("client authentication failed".into()),
            checks_secret,
        )
        .await;
    };
    if let Err((e, counts)) = client_auth::verify(&client, credentials, now) {
        return failed(state, e, counts).await;
    }
    if let Credentials::Assertion { assertion, .. } = credentials {
        match crate::app::client_jwt::check_assertion(state, &client, assertion).await {
            Ok(()) => {}
            Err(e @ Error::InvalidClient(_)) => return failed(state, e, true).await,
            Err(e) => return Err(e),
        }
    }
    Ok(client)
}

/// Forgets a client on this node (after a change made here).
pub fn forget_client(state: &AppState, client_id: &str) {
    state.caches.clients.remove(&client_id.to_owned());
}
