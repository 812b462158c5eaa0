//! Handlers: parse `{"account": {...}}`, call the core and services, answer.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::dto::*;
use super::error::{bad_body, render};
use super::{convert, DOOR};
use crate::core::clients::ClientRow;
use crate::core::principal::Principal;
use crate::core::users::{self, NewUser, User};
use crate::core::{accounts as core_accounts, password, revocation, secrets, Error};
use crate::routes::auth::{Account, AccountOrAdmin, FreshAccountOrAdmin, Public};
use crate::routes::compat::{read_json, JsonError};
use crate::routes::error::json_error;
use crate::routes::extract::client_ip;
use crate::services::tokens::{self, TokenOptions};
use crate::services::{accounts, notices, passwords};
use crate::state::AppState;

const NAME: &str = "esalerugs";

async fn body<T: DeserializeOwned>(
    payload: web::Payload,
    state: &AppState,
) -> Result<Envelope<T>, HttpResponse> {
    read_json(payload, state.config.body_limit)
        .await
        .map_err(|e| match e {
            JsonError::TooLarge(m) => {
                json_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", &m)
            }
            JsonError::Invalid(m) => render(&bad_body(m)),
        })
}

fn json(status: StatusCode, value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(value)
}

/// This door's tokens for a person: `account` tokens of its internal client; `auth_time` is
/// the sign-in's (now, unless a change hands back a token for an older sign-in).
async fn issue(
    state: &AppState,
    user_id: &str,
    remember_me: bool,
    auth_time: Option<crate::core::Timestamp>,
) -> Result<crate::core::oauth::TokenResponse, Error> {
    tokens::issue_for_user(state, DOOR, user_id, remember_me, None, auth_time).await
}

/// Whether a refresh token is one of this door's (its sign-ins'): the only ones
/// `PUT /account/session` rotates (SPEC §9).
fn from_this_door(c: &ClientRow) -> bool {
    c.id == DOOR.id
}

/// Records a call made with the user's credentials.
async fn audit_call(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    caller: &Principal,
    input: serde_json::Value,
    res: &HttpResponse,
    started: (chrono::DateTime<chrono::Utc>, Instant),
) {
    crate::routes::compat::audit(
        req,
        state,
        "esalerugs",
        &user.id,
        caller.client_id.as_deref(),
        input,
        res,
        started,
    )
    .await;
}

/// `POST /accounts`: sign up; 201 with a token (and a refresh token with remember_me).
pub async fn create(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<Credentials> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let ip = client_ip(&req, &state.config);
    let new = NewUser {
        email: account.email.trim().to_owned(),
        ..Default::default()
    };
    let result = async {
        let user = accounts::sign_up(&state, new, &account.password, &ip, NAME).await?;
        issue(&state, &user.id, account.remember_me, None).await
    }
    .await;
    match result {
        Ok(t) => json(StatusCode::CREATED, convert::tokens(t)),
        Err(e) => render(&e),
    }
}

/// `POST /account/session`: sign in.
pub async fn sign_in(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<Credentials> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let ip = client_ip(&req, &state.config);
    let result = async {
        let user = passwords::check(&state, &account.email, &account.password, &ip, NAME).await?;
        issue(&state, &user.id, account.remember_me, None).await
    }
    .await;
    match result {
        Ok(t) => json(StatusCode::OK, convert::tokens(t)),
        Err(Error::InvalidGrant(_)) => {
            render(&Error::InvalidGrant("invalid email or password".into()))
        }
        Err(e) => render(&e),
    }
}

/// `PUT /account/session`: a new token from a refresh token (rotated; returned again only
/// with remember_me).
pub async fn refresh(_: Public, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let Envelope { account }: Envelope<RefreshBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let options = TokenOptions {
        door: NAME,
        ..Default::default()
    };
    match tokens::refresh_by_holder(&state, &account.refresh_token, from_this_door, options).await {
        Ok(mut t) => {
            if !account.remember_me {
                t.refresh_token = None;
            }
            json(StatusCode::OK, convert::tokens(t))
        }
        Err(e) => render(&e),
    }
}

/// `DELETE /account/session`: signs out everywhere (sessions, refresh and access tokens; PATs
/// stay), as a password change does.
pub async fn sign_out(who: Account, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let Account { principal, user } = who;
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let id = user.id.clone();
    let res = match state
        .db
        .run(move |conn| revocation::cut_off_user(conn, now, &id, ttl, "signed_out"))
        .await
    {
        Ok(()) => {
            let _ = state.revocations.poll().await;
            json(StatusCode::OK, convert::account(&user, None))
        }
        Err(e) => render(&e),
    };
    audit_call(&req, &state, &user, &principal, json!({}), &res, started).await;
    res
}

/// The account a path names, when the caller may act on it: the account itself (with
/// `account`), or an admin.
async fn target(state: &AppState, p: &Principal, id: &str) -> Result<User, Error> {
    let own = p.account_user().is_some_and(|u| u.id == id);
    if !own && !p.is_admin() {
        return Err(Error::Forbidden(
            "only the account itself or an admin".into(),
        ));
    }
    let id = id.to_owned();
    state.db.run(move |conn| users::get(conn, &id)).await
}

/// `GET /accounts/{id}`.
pub async fn show(
    who: AccountOrAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let c = who.principal;
    let res = match target(&state, &c, &path).await {
        Ok(u) => json(
            StatusCode::OK,
            json!({ "data": { "id": u.id, "email": u.email } }),
        ),
        Err(e) => render(&e),
    };
    if let Some(user) = c.user.clone() {
        audit_call(
            &req,
            &state,
            &user,
            &c,
            json!({ "id": path.as_str() }),
            &res,
            started,
        )
        .await;
    }
    res
}

/// `PUT /accounts/{id}`: a new email (verified again) and/or a new password (a password change:
/// every older token is revoked); answers a fresh token for the account itself.
pub async fn update(
    who: FreshAccountOrAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let c = who.principal;
    let Envelope { account }: Envelope<UpdateBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let input = json!({ "email": account.email, "password": account.password.as_ref().map(|_| "[redacted]") });
    let result = async {
        let user = target(&state, &c, &path).await?;
        if account.email.is_none() && account.password.is_none() {
            return Err(Error::invalid("account", "give email and/or password"));
        }
        if let Some(p) = &account.password {
            password::check_new("password", p)?;
        }
        let now = state.clock.now_naive();
        if let Some(email) = account.email.clone() {
            let id = user.id.clone();
            let changed = state
                .db
                .run(move |conn| core_accounts::change_email(conn, now, &id, &email))
                .await?;
            if changed.email_key != user.email_key {
                notices::email_changed(&state, &user, &changed).await?;
            }
        }
        if let Some(p) = account.password.clone() {
            let hash = state.passwords.hash(p).await?;
            let ttl = state.config.revocation_ttl();
            let id = user.id.clone();
            let now = state.clock.now_naive();
            state
                .db
                .run(move |conn| core_accounts::change_password(conn, now, &id, &hash, ttl))
                .await?;
            state.revocations.poll().await?;
        }
        let own = c.account_user().is_some_and(|u| u.id == user.id);
        if own {
            // The new token keeps the caller's sign-in time: a change does not renew it.
            let t = issue(&state, &user.id, false, c.auth_time).await?;
            Ok(json!({ "token": t.access_token }))
        } else {
            let id = user.id.clone();
            let u = state.db.run(move |conn| users::get(conn, &id)).await?;
            Ok(json!({ "data": { "id": u.id, "email": u.email } }))
        }
    }
    .await;
    let res = match result {
        Ok(v) => json(StatusCode::OK, v),
        Err(e) => render(&e),
    };
    if let Some(user) = c.user.clone() {
        audit_call(&req, &state, &user, &c, input, &res, started).await;
    }
    res
}

/// The address as this route answers it (trimmed, lowercased) and a stable pseudo-random id
/// derived from it with a server secret: the same for every address, known or not, so the
/// answer reveals nothing (SPEC §9).
async fn answer_id(state: &AppState, email: &str) -> Result<(String, String), Error> {
    let key = email.trim().to_lowercase();
    let master = state.config.master_key();
    let k = key.clone();
    let secret = state
        .db
        .run(move |conn| secrets::server_key(conn, master.as_ref(), "esalerugs-ids"))
        .await?;
    let h = secrets::hmac_hex(&secret, k.as_bytes());
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(&h[..32], &mut bytes).map_err(|e| Error::Internal(e.to_string()))?;
    let id = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    Ok((id, key))
}

/// `POST /account/password`: sends a reset email when the account exists; always `{id, email}`.
pub async fn request_reset(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<ResetRequest> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let ip = client_ip(&req, &state.config);
    if let Err(e) = crate::core::validate::email(account.email.trim()) {
        return render(&e);
    }
    match accounts::request_reset(&state, &account.email, &ip).await {
        Ok(()) => {}
        Err(e @ Error::Throttled { .. }) => return render(&e),
        Err(e) => tracing::error!(error = %e, "esalerugs reset request failed"),
    }
    match answer_id(&state, &account.email).await {
        Ok((id, email)) => json(StatusCode::OK, json!({ "id": id, "email": email })),
        Err(e) => render(&e),
    }
}

/// `PUT /account/password`: sets the password with the emailed token; every older token is
/// revoked; a fresh token (and refresh token) with remember_me.
pub async fn reset(_: Public, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let Envelope { account }: Envelope<ResetBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let result = async {
        let user =
            accounts::reset_password(&state, &account.reset_password_token, &account.password)
                .await
                .map_err(|e| match e {
                    Error::InvalidGrant(_) => {
                        Error::InvalidRequest("the reset token is invalid, used or expired".into())
                    }
                    e => e,
                })?;
        let t = if account.remember_me {
            Some(issue(&state, &user.id, true, None).await?)
        } else {
            None
        };
        Ok(convert::account(&user, t))
    }
    .await;
    match result {
        Ok(r) => json(StatusCode::OK, r),
        Err(e) => render(&e),
    }
}
