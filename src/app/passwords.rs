//! Password checks: argon2id on its own threads (`runtime::argon2`), throttled per account and
//! client IP through the database (an attempt takes its place before it is checked), with no
//! difference between unknown accounts and wrong passwords.

use std::time::{Duration, Instant};

use crate::core::throttle::{self, Admission, Bucket, Settle};
use crate::core::users::{self, User};
use crate::core::{events, password, Error};
use crate::state::AppState;

/// How long an attempt waits for the attempts ahead of it (still being checked) to settle
/// before it is refused as throttled.
const ADMISSION_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting attempt asks again when no check settles on this node (the others may
/// be checked on other nodes).
const ADMISSION_POLL: Duration = Duration::from_millis(100);

/// The places an admitted attempt holds in its throttle buckets, until it is settled. Dropped
/// unsettled (the caller went away before the check finished), they are given back: nothing
/// was learned, so nothing counts.
pub struct Places {
    state: AppState,
    held: Vec<(Bucket, String)>,
}

impl Places {
    /// Settles the attempt: one outcome per bucket, in the order they were admitted.
    pub async fn settle(mut self, outcome: &[Settle]) -> Result<(), Error> {
        let held = std::mem::take(&mut self.held);
        debug_assert_eq!(
            held.len(),
            outcome.len(),
            "one outcome per bucket, in order"
        );
        let settled = held
            .into_iter()
            .zip(outcome.iter().copied())
            .map(|((b, place), how)| (b, place, how))
            .collect::<Vec<_>>();
        let done = self
            .state
            .db
            .run(move |conn| {
                let refs: Vec<(&Bucket, &str, Settle)> = settled
                    .iter()
                    .map(|(b, p, h)| (b, p.as_str(), *h))
                    .collect();
                throttle::settle(conn, &refs)
            })
            .await;
        self.state.passwords.settled.notify_one();
        done
    }
}

impl Drop for Places {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        let pool = self.state.db.clone();
        let settled = self.state.passwords.settled.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || {
                if let Ok(mut conn) = pool.get() {
                    let refs: Vec<(&Bucket, &str, Settle)> = held
                        .iter()
                        .map(|(b, p)| (b, p.as_str(), Settle::Release))
                        .collect();
                    let _ = throttle::settle(&mut conn, &refs);
                }
                settled.notify_one();
            });
        }
    }
}

/// Takes the attempt's place in `buckets` before its credential is checked (see
/// `throttle::admit`): waits while the limit is taken up by checks still running, and is
/// `Throttled` once a bucket is full.
pub async fn admit(state: &AppState, buckets: &[Bucket]) -> Result<Places, Error> {
    let deadline = Instant::now() + ADMISSION_WAIT;
    loop {
        // Registered before asking, so a settle between the answer and the wait is not missed.
        let settled = state.passwords.settled.notified();
        let now = state.clock.now_naive();
        let b = buckets.to_vec();
        let admission = state
            .db
            .run(move |conn| {
                let refs: Vec<&Bucket> = b.iter().collect();
                throttle::admit(conn, now, &refs)
            })
            .await?;
        match admission {
            Admission::Admitted(ids) => {
                return Ok(Places {
                    state: state.clone(),
                    held: buckets.iter().cloned().zip(ids).collect(),
                })
            }
            Admission::Throttled { retry_after } => return Err(Error::Throttled { retry_after }),
            Admission::Busy if Instant::now() >= deadline => {
                return Err(Error::Throttled { retry_after: 1 })
            }
            Admission::Busy => {
                let _ = tokio::time::timeout(ADMISSION_POLL, settled).await;
            }
        }
    }
}

/// Checks a password at a door that has no place for a second factor (the password grant, the
/// compatibility sign-ins, HTTP Basic): a person who has a second factor, or whom
/// `security.second_factor` requires to have one, is refused with `SecondFactorRequired`
/// (after a right password only, so it tells nothing to a guesser), unless
/// `security.password_only_api_sign_in` allows the password alone.
pub async fn check_without_code(
    state: &AppState,
    login: &str,
    secret: &str,
    ip: &str,
    door: &'static str,
) -> Result<User, Error> {
    let user = check(state, login, secret, ip, door).await?;
    if state.config.security.password_only_api_sign_in {
        return Ok(user);
    }
    // Refused too: someone the policy requires a second factor of who has none yet.
    if crate::app::second_factor::required_by_policy(state, &user)
        || crate::app::second_factor::enrolled(state, &user.id)
            .await?
            .any()
    {
        return Err(Error::SecondFactorRequired);
    }
    Ok(user)
}

/// Checks a user's password at any door (`door` names it in events). The attempt takes its
/// place in the account's and the client IP's throttle buckets before the password is looked
/// at (`admit`), so concurrent guesses cannot outrun the limits. Wrong passwords and unknown
/// accounts are both `InvalidGrant` with one message; throttled accounts and IPs are
/// `Throttled` whether or not the password was right.
pub async fn check(
    state: &AppState,
    login: &str,
    secret: &str,
    ip: &str,
    door: &'static str,
) -> Result<User, Error> {
    let wrong = || Error::InvalidGrant("invalid username or password".into());
    let settings = state.config.throttle.clone();
    let login_owned = login.to_owned();
    let user = state
        .db
        .run(move |conn| users::find_by_login(conn, &login_owned))
        .await?;
    let key = match &user {
        Some(u) => u.id.clone(),
        None => format!("?{}", login.to_lowercase()),
    };
    let ip_bucket = Bucket::ip(&settings, ip);
    let account = Bucket::account(&settings, &key);
    let places = admit(state, &[ip_bucket, account]).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let within_policy = password::check_policy("password", secret).is_ok();
    // An error here drops `places`: they are given back (nothing was checked).
    let (ok, rehash) = match within_policy {
        true => state.passwords.verify(secret.to_owned(), hash).await?,
        false => (false, None),
    };
    if ok {
        places.settle(&[Settle::Release, Settle::Reset]).await?;
    } else {
        places.settle(&[Settle::Count, Settle::Count]).await?;
        // The IP's throttle state changed: the next check must read the database.
        state.caches.ip_ok.remove(&ip.to_owned());
    }
    let now = state.clock.now_naive();
    let ip_owned = ip.to_owned();
    let user_id = user.as_ref().map(|u| u.id.clone());
    state
        .db
        .run(move |conn| {
            let mut event = events::NewEvent {
                kind: if ok {
                    "signin.succeeded"
                } else {
                    "signin.failed"
                },
                user_id: user_id.clone(),
                ip: Some(ip_owned),
                service: Some(door.to_owned()),
                ..Default::default()
            };
            if ok {
                if let (Some(h), Some(id)) = (rehash, &user_id) {
                    users::set_password_hash(conn, id, &h)?;
                }
            } else {
                event.detail = Some(serde_json::json!({ "reason": "wrong credentials" }));
            }
            events::record(conn, now, event)?;
            Ok(())
        })
        .await?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => return Err(wrong()),
    };
    if user.disabled {
        return Err(Error::AccountDisabled);
    }
    if state.config.require_verified_email && user.email_verified_at.is_none() {
        return Err(Error::EmailNotVerified);
    }
    Ok(user)
}

/// Checks a device's credential (its secret, or a certificate matching its registered
/// thumbprint) for Mongoose `Auth.Authenticate`: throttled per client IP like every credential
/// check, the attempt admitted before it is checked. `Ok(false)` for a wrong credential.
pub async fn check_device(
    state: &AppState,
    device: crate::core::clients::ClientRow,
    credential: crate::core::devices::DeviceCredential,
    ip: &str,
) -> Result<bool, Error> {
    let bucket = Bucket::ip(&state.config.throttle, ip);
    let places = admit(state, &[bucket]).await?;
    let now = state.clock.now_naive();
    let ok = crate::core::devices::check(&device, &credential, now)?;
    let how = if ok { Settle::Release } else { Settle::Count };
    places.settle(&[how]).await?;
    if !ok {
        state.caches.ip_ok.remove(&ip.to_owned());
    }
    Ok(ok)
}
