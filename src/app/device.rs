//! The device authorization grant's use cases (RFC 8628): a device asks for a pair of codes
//! (`/device_authorization`); a signed-in person looks a user code up at `/device` and
//! approves or denies it. Wrong user codes count against the client IP like wrong passwords,
//! so they cannot be guessed; every decision is an event. The device's polls are a grant of
//! the token endpoint (`app::token::device_code`).

use crate::app::passwords;
use crate::app::Call;
use crate::core::authorize::{self, Next, SignedIn};
use crate::core::clients::{self, ClientRow};
use crate::core::device::{self, Approver, Started};
use crate::core::events::{self, NewEvent};
use crate::core::oauth::policy;
use crate::core::principal::scopes::PRIVILEGED;
use crate::core::throttle::{self, Bucket, Settle};
use crate::core::Error;
use crate::state::AppState;

/// Starts a device authorization for an authenticated client, with the scope and resources it
/// asked for (checked as for its other grants).
pub async fn start(
    state: &AppState,
    call: &Call,
    client: &ClientRow,
    scope: Option<&str>,
    resources: &[String],
) -> Result<Started, Error> {
    if !policy::allows_grant(client, device::GRANT_TYPE) {
        return Err(Error::UnauthorizedClient(
            "this client may not use the device authorization grant".into(),
        ));
    }
    let scope = policy::scope(client, scope, true)?;
    // A device is far from the person who approves it (RFC 8628 §5.4): it never gets the
    // scopes that manage the account or the server, whoever asks.
    if let Some(s) = scope.split_whitespace().find(|s| PRIVILEGED.contains(s)) {
        return Err(Error::InvalidScope(format!(
            "`{s}` is not available through the device grant"
        )));
    }
    if scope.is_empty() {
        return Err(Error::InvalidScope("ask for at least one scope".into()));
    }
    let audience = policy::audience(client, resources, state.config.default_audience())?;
    let (now, client_id) = (call.now, client.id.clone());
    let bucket = Bucket::device_start(&state.config.throttle, &call.ip);
    state
        .db
        .run(move |conn| {
            throttle::check(conn, now, &[&bucket])?;
            throttle::hit(conn, now, &[&bucket])?;
            device::start(conn, now, &client_id, &scope, &audience)
        })
        .await
}

/// A pending device authorization, as the person sees it before deciding.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The user code as the device shows it (`WDJB-MJHT`).
    pub user_code: String,
    pub client: ClientRow,
    pub scope: String,
    /// What the person must do first (a second factor, the terms), if anything.
    pub first: Option<Next>,
}

/// Looks a typed user code up for a signed-in person. A code that names nothing pending
/// (mistyped, expired, decided, or guessed) is `None` and counts against the client IP and
/// the person (their own buckets, apart from sign-in failures); once either has too many,
/// every look-up is `Throttled` until its window passes.
pub async fn find(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    typed: &str,
) -> Result<Option<Pending>, Error> {
    // A user code is a low-entropy secret: each look-up takes its place in the buckets before
    // it happens, so no burst of concurrent guesses gets more than the limits (SPEC §9).
    let settings = &state.config.throttle;
    let places = passwords::admit(
        state,
        &[
            Bucket::device_code_ip(settings, &call.ip),
            Bucket::device_code_user(settings, &signed_in.user.id),
        ],
    )
    .await?;
    let (now, config) = (call.now, state.config.clone());
    let code = device::normalize(typed);
    let s = signed_in.clone();
    let found = state
        .db
        .run(move |conn| {
            let found = match &code {
                Some(code) => device::pending_by_user_code(conn, now, code)?,
                None => None,
            };
            let (Some(code), Some(row)) = (code, found) else {
                return Ok(None);
            };
            let client = clients::get(conn, &row.client_id)?;
            let first = authorize::prerequisite(conn, &config, &client, &s, false)?;
            Ok(Some(Pending {
                user_code: device::display(&code),
                client,
                scope: row.scope,
                first,
            }))
        })
        .await;
    let how = match &found {
        Ok(None) => Settle::Count,
        _ => Settle::Release,
    };
    places.settle(&[how, how]).await?;
    found
}

/// The person's decision on a user code they looked up: approve (the device's next poll gets
/// tokens acting for them) or deny. `false` when the code is no longer pending (decided in
/// another tab, expired); a code that never was counts against the IP as in [`find`].
pub async fn decide(
    state: &AppState,
    call: &Call,
    signed_in: &SignedIn,
    typed: &str,
    approve: bool,
) -> Result<bool, Error> {
    let Some(pending) = find(state, call, signed_in, typed).await? else {
        return Ok(false);
    };
    if approve && pending.first.is_some() {
        return Err(Error::Forbidden(
            "finish signing in (second factor, terms) before approving a device".into(),
        ));
    }
    let (now, ip, door) = (call.now, call.ip.clone(), call.door);
    let code = device::normalize(&pending.user_code).unwrap_or_default();
    let approver = Approver {
        user_id: signed_in.user.id.clone(),
        session_id: signed_in.sid.clone(),
        auth_time: signed_in.auth_time,
        amr: signed_in.amr.clone(),
    };
    let client_id = pending.client.id.clone();
    state
        .db
        .run(move |conn| {
            crate::db::transaction(conn, |conn| {
                let decided = device::decide(conn, now, &code, approve.then_some(&approver))?;
                if decided {
                    events::record(
                        conn,
                        now,
                        NewEvent {
                            kind: if approve {
                                "device.approved"
                            } else {
                                "device.denied"
                            },
                            user_id: Some(approver.user_id.clone()),
                            client_id: Some(client_id),
                            ip: Some(ip),
                            service: Some(door.to_owned()),
                            ..Default::default()
                        },
                    )?;
                }
                Ok(decided)
            })
        })
        .await
}
