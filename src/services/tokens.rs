//! Token operations every door shares: client authentication, the token request (all four
//! grants), tokens a door issues for its own sign-ins, access-token verification,
//! introspection and revocation.

use std::sync::Arc;

use serde_json::Value;

use crate::core::client_auth::{self, Credentials};
use crate::core::clients::ClientRow;
use crate::core::oauth::{flows, introspect as intro, policy, Ctx, TokenParams, TokenResponse};
use crate::core::tokens::{self, pat, refresh, AccessClaims};
use crate::core::{grants, revocation, Error};
use crate::state::AppState;

/// The grant types of the token endpoint.
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
];

/// Options a door may set on a token request.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenOptions {
    /// Issue a refresh token with client credentials (Bloq's API promises one).
    pub refresh_with_client_credentials: bool,
    /// Access-token lifetime in seconds instead of the configured one.
    pub access_ttl: Option<u64>,
    /// Refresh-token lifetime in seconds instead of the configured one.
    pub refresh_ttl: Option<u64>,
    /// Door name for events.
    pub door: &'static str,
}

/// Authenticates a client with the node's caches: the client row (5 s, dropped when the
/// revocation log cuts the client off) and the IP's throttle state (2 s, dropped on any
/// failure). Wrong secrets and unknown clients count against the IP, as everywhere.
pub async fn authenticate_client(
    state: &AppState,
    credentials: &Credentials,
    ip: &str,
) -> Result<Arc<ClientRow>, Error> {
    use crate::core::throttle::{self, Bucket};
    let now = state.clock.now_naive();
    let caches = &state.caches;
    let checks_secret = credentials.secret().is_some();
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
    match client_auth::verify(&client, credentials, now) {
        Ok(()) => Ok(client),
        Err((e, counts)) => failed(state, e, counts).await,
    }
}

/// Forgets a client on this node (after a change made here).
pub fn forget_client(state: &AppState, client_id: &str) {
    state.caches.clients.remove(&client_id.to_owned());
}

/// The flows' context with a door's lifetime overrides.
fn context<'a>(
    config: &'a crate::config::Config,
    keys: &'a crate::core::keys::KeySet,
    now: crate::core::Timestamp,
    options: TokenOptions,
) -> Ctx<'a> {
    let mut ctx = Ctx::new(config, keys, now);
    if let Some(ttl) = options.access_ttl {
        ctx.access_ttl = ttl;
    }
    if let Some(ttl) = options.refresh_ttl {
        ctx.refresh_ttl = ttl;
    }
    ctx
}

/// Serves a token request of a client the door has authenticated: runs its grant.
pub async fn token_request(
    state: &AppState,
    client: Arc<ClientRow>,
    credentials: Credentials,
    params: TokenParams,
    ip: &str,
    options: TokenOptions,
) -> Result<TokenResponse, Error> {
    if params.grant_type.is_empty() {
        return Err(Error::InvalidRequest("grant_type is required".into()));
    }
    if !GRANT_TYPES.contains(&params.grant_type.as_str()) {
        return Err(Error::UnsupportedGrantType(format!(
            "grant_type `{}` is not supported",
            params.grant_type
        )));
    }
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    if params.grant_type == "password" {
        return password_grant(state, client, credentials, params, ip, options, keys).await;
    }
    if params.grant_type == "client_credentials"
        && !flows::client_credentials_needs_db(&client, options.refresh_with_client_credentials)
    {
        // Pure computation: no connection; signed here, or on the signing threads when slow.
        let cheap = keys.signing_key(now).is_some_and(|k| k.alg.signs_cheaply());
        let issue = move || {
            let ctx = context(&config, &keys, now, options);
            flows::client_credentials(None, &ctx, &client, &credentials, &params, false)
        };
        return match cheap {
            true => issue(),
            false => state.signers.run(issue).await,
        };
    }
    let result = state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            match params.grant_type.as_str() {
                "client_credentials" => flows::client_credentials(
                    Some(conn),
                    &ctx,
                    &client,
                    &credentials,
                    &params,
                    options.refresh_with_client_credentials,
                ),
                "authorization_code" => {
                    flows::authorization_code(conn, &ctx, &client, &credentials, &params)
                }
                _ => flows::refresh(conn, &ctx, &client, &credentials, &params),
            }
        })
        .await;
    if let Err(Error::InvalidGrant(_)) = &result {
        // A replayed code or refresh token revoked a grant: honour it on this node at once.
        state.revocations.poll().await?;
    }
    result
}

async fn password_grant(
    state: &AppState,
    client: Arc<ClientRow>,
    credentials: Credentials,
    params: TokenParams,
    ip: &str,
    options: TokenOptions,
    keys: Arc<crate::core::keys::KeySet>,
) -> Result<TokenResponse, Error> {
    let username = params
        .username
        .clone()
        .ok_or_else(|| Error::InvalidRequest("username is required".into()))?;
    let password = params
        .password
        .clone()
        .ok_or_else(|| Error::InvalidRequest("password is required".into()))?;
    // The client first: a client that may not use this grant never gets a password checked.
    flows::check_password_client(&client)?;
    let scope = policy::scope(&client, params.scope.as_deref(), true)?;
    policy::check_privileged(&client, &scope, true)?;
    policy::audience(&client, &params.resources, state.config.default_audience())?;
    let door = if options.door.is_empty() {
        "token"
    } else {
        options.door
    };
    let user = super::passwords::check(state, &username, &password, ip, door).await?;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::password(conn, &ctx, &client, &credentials, &params, &user, now)
        })
        .await
}

/// The internal client of a compatibility door: the holder of the tokens it issues for people.
#[derive(Debug, Clone, Copy)]
pub struct DoorClient {
    pub id: &'static str,
    pub name: &'static str,
    /// What its tokens carry (`account` for the doors' own sign-ins).
    pub scopes: &'static str,
}

/// Issues tokens for a user a door authenticated itself, under the door's internal client
/// (created on first use); with a refresh token when asked. `auth_time` is when the person
/// proved who they are (now for a sign-in; the caller's own for a token handed back after a
/// change).
pub async fn issue_for_user(
    state: &AppState,
    door: DoorClient,
    user_id: &str,
    with_refresh: bool,
    access_ttl: Option<u64>,
    auth_time: Option<crate::core::Timestamp>,
) -> Result<TokenResponse, Error> {
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let user_id = user_id.to_owned();
    state
        .db
        .run(move |conn| {
            let client = crate::core::clients::ensure_internal(
                conn,
                now,
                door.id,
                door.name,
                &["refresh_token"],
                door.scopes,
            )?;
            let mut ctx = Ctx::new(&config, &keys, now);
            if let Some(ttl) = access_ttl {
                ctx.access_ttl = ttl;
            }
            flows::issue_for_user(
                conn,
                &ctx,
                &client,
                &user_id,
                with_refresh,
                auth_time.unwrap_or(now),
            )
        })
        .await
}

/// Refreshes with the refresh token alone, for the older APIs whose refresh requests carry no
/// client credentials: only tokens whose client `accepts` (the door's own families); any
/// other is `invalid_grant`. Rotation and reuse detection as everywhere.
pub async fn refresh_by_holder(
    state: &AppState,
    refresh_token: &str,
    accepts: fn(&ClientRow) -> bool,
    options: TokenOptions,
) -> Result<TokenResponse, Error> {
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let params = TokenParams {
        grant_type: "refresh_token".into(),
        refresh_token: Some(refresh_token.to_owned()),
        ..Default::default()
    };
    let result = state
        .db
        .run(move |conn| {
            let ctx = context(&config, &keys, now, options);
            flows::refresh_by_holder(conn, &ctx, &params, accepts)
        })
        .await;
    if let Err(Error::InvalidGrant(_)) = &result {
        state.revocations.poll().await?;
    }
    result
}

/// Verifies an access token: signature, claims (issuer, expiry, `iat` and `nbf`), then the
/// revocation set. A signature that checked out under the same published keys is not checked
/// again. The audience is the caller's business (introspection describes any audience; this
/// server's own routes want the issuer: `services::principal`).
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

/// An introspection answer: an access token's, straight from its claims, or any other.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Introspection {
    Access(intro::AccessAnswer),
    Other(Value),
}

/// RFC 7662: what the token is, or `{"active": false}`. Refresh tokens are described only to
/// the client they were issued to (SPEC §9).
pub async fn introspect(
    state: &AppState,
    caller: &ClientRow,
    token: &str,
) -> Result<Introspection, Error> {
    let inactive = || Ok(Introspection::Other(intro::inactive()));
    let now = state.clock.now_naive();
    if tokens::looks_like_jwt(token) {
        let claims = match verify_access_token(state, token).await {
            Ok(c) => c,
            Err(Error::InvalidToken(_)) => return inactive(),
            Err(e) => return Err(e),
        };
        if !claims.is_user() {
            return Ok(Introspection::Access(intro::access_token(claims, None)));
        }
        // The username (5 s cache; a disabled or deleted user is already caught by the
        // revocation set).
        let name = match state.caches.usernames.get(&claims.sub) {
            Some((name, _)) => name,
            None => {
                let sub = claims.sub.clone();
                let name = state
                    .db
                    .run(move |conn| intro::username(conn, &sub))
                    .await?;
                state
                    .caches
                    .usernames
                    .insert(claims.sub.clone(), name.clone());
                name
            }
        };
        return match name {
            Some(n) => Ok(Introspection::Access(intro::access_token(claims, Some(n)))),
            None => inactive(),
        };
    }
    let value = token.to_owned();
    let issuer = state.config.issuer().to_owned();
    let caller = caller.id.clone();
    state
        .db
        .run(move |conn| intro::opaque(conn, now, &issuer, &caller, &value))
        .await
        .map(Introspection::Other)
}

/// RFC 7009: revokes a token of the calling client. Unknown tokens are fine; a token issued to
/// another client is `unauthorized_client`.
pub async fn revoke(state: &AppState, client: &ClientRow, token: &str) -> Result<(), Error> {
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let value = token.to_owned();
    let client_id = client.id.clone();
    if tokens::looks_like_jwt(token) {
        let keys = state.keys.current().await;
        let claims = match tokens::verify_access_token(&keys, state.config.issuer(), now, token) {
            Ok(c) => c,
            Err(_) => return Ok(()), // invalid or expired: nothing to revoke
        };
        if claims.client_id != client_id {
            return Err(Error::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map(|t| t.naive_utc())
            .unwrap_or(now);
        state
            .db
            .run(move |conn| {
                revocation::record(conn, now, revocation::Kind::Jti, &claims.jti, None, expires)
            })
            .await?;
    } else if pat::looks_like_pat(token) {
        // A personal access token is never issued to a client: no client may revoke one.
        let live = state
            .db
            .run(move |conn| pat::verify(conn, now, &value))
            .await?;
        if live.is_some() {
            return Err(Error::UnauthorizedClient(
                "a personal access token is revoked by its owner, not by a client".into(),
            ));
        }
        return Ok(());
    } else {
        state
            .db
            .run(move |conn| {
                let Some(row) = refresh::find(conn, &value)? else {
                    return Ok(());
                };
                let Some(g) = grants::get(conn, &row.grant_id)? else {
                    return Ok(());
                };
                if g.client_id != client_id {
                    return Err(Error::UnauthorizedClient(
                        "the token was issued to another client".into(),
                    ));
                }
                grants::revoke(conn, now, &g.id, ttl, "revoked_by_client")?;
                Ok(())
            })
            .await?;
    }
    state.revocations.poll().await
}
