//! Handlers: parse `{"account": {...}}`, call one use case, answer. The policy has
//! authenticated the caller; the boundary records calls made with a person's credentials.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::dto::*;
use super::error::{bad_body, render};
use super::{convert, DOOR};
use crate::app::accounts::{self, Update, Updated};
use crate::app::token::{self, TokenOptions};
use crate::core::clients::ClientRow;
use crate::core::users::NewUser;
use crate::core::Error;
use crate::routes::auth::{Account, AccountOrAdmin, Admitted, FreshAccountOrAdmin, Public};
use crate::routes::compat::{read_json, JsonError};
use crate::routes::error::{json_error, ErrorBody};
use crate::state::AppState;

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

/// Whether a refresh token is one of this door's (its sign-ins'): the only ones
/// `PUT /account/session` rotates (SPEC §9).
fn from_this_door(c: &ClientRow) -> bool {
    c.id == DOOR.id
}

/// `POST /accounts`: sign up; 201 with a token (and a refresh token with remember_me).
#[utoipa::path(post, path = "/accounts", tag = "esalerugs", operation_id = "es_create", request_body = inline(Envelope<Credentials>),
    responses((status = 201, body = TokenReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create(
    Admitted { call, .. }: Admitted<Public>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<Credentials> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let new = NewUser {
        email: account.email.trim().to_owned(),
        ..Default::default()
    };
    match accounts::sign_up_with_tokens(
        &state,
        &call,
        new,
        &account.password,
        DOOR,
        account.remember_me,
    )
    .await
    {
        Ok(t) => json(StatusCode::CREATED, convert::tokens(t)),
        Err(e) => render(&e),
    }
}

/// `POST /account/session`: sign in.
#[utoipa::path(post, path = "/account/session", tag = "esalerugs", operation_id = "es_session", request_body = inline(Envelope<Credentials>),
    responses((status = 200, body = TokenReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    Admitted { call, .. }: Admitted<Public>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<Credentials> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let signed_in = accounts::sign_in_with_tokens(
        &state,
        &call,
        &account.email,
        &account.password,
        DOOR,
        account.remember_me,
    )
    .await;
    match signed_in {
        Ok(t) => json(StatusCode::OK, convert::tokens(t)),
        Err(Error::InvalidGrant(_)) => {
            render(&Error::InvalidGrant("invalid email or password".into()))
        }
        Err(e) => render(&e),
    }
}

/// `PUT /account/session`: a new token from a refresh token (rotated; returned again only
/// with remember_me).
#[utoipa::path(put, path = "/account/session", tag = "esalerugs", operation_id = "es_refresh", request_body = inline(Envelope<RefreshBody>),
    responses((status = 200, body = TokenReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn refresh(_: Public, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let Envelope { account }: Envelope<RefreshBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let options = TokenOptions {
        door: "esalerugs",
        ..Default::default()
    };
    match token::refresh_by_holder(&state, &account.refresh_token, from_this_door, options).await {
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
pub async fn sign_out(
    Admitted { who, call }: Admitted<Account>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match accounts::end_sessions_and_tokens(&state, &call, &who.user).await {
        Ok(()) => json(StatusCode::OK, convert::account(&who.user, None)),
        Err(e) => render(&e),
    }
}

/// `GET /accounts/{id}`.
#[utoipa::path(get, path = "/accounts/{id}", tag = "esalerugs", operation_id = "es_show", params(("id" = String, Path)),
    responses((status = 200, body = Data), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    Admitted { call, .. }: Admitted<AccountOrAdmin>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(json!({ "id": path.as_str() }));
    match accounts::reachable(&state, &call, &path).await {
        Ok(u) => json(StatusCode::OK, convert::data(u)),
        Err(e) => render(&e),
    }
}

/// `PUT /accounts/{id}`: a new email (verified again) and/or a new password (a password change:
/// every older token is revoked); answers a fresh token for the account itself.
pub async fn update(
    Admitted { call, .. }: Admitted<FreshAccountOrAdmin>,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<UpdateBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    call.audit_input(json!({
        "email": account.email,
        "password": account.password.as_ref().map(|_| "[redacted]"),
    }));
    let change = Update {
        email: account.email,
        password: account.password,
    };
    match accounts::update(&state, &call, DOOR, &path, change).await {
        Ok(Updated::Token(t)) => json(
            StatusCode::OK,
            TokenReply {
                token: t.access_token,
                refresh_token: None,
            },
        ),
        Ok(Updated::Account(u)) => json(StatusCode::OK, convert::data(u)),
        Err(e) => render(&e),
    }
}

/// `POST /account/password`: sends a reset email when the account exists; always `{id, email}`.
#[utoipa::path(post, path = "/account/password", tag = "esalerugs", operation_id = "es_reset_request", request_body = inline(Envelope<ResetRequest>),
    responses((status = 200, body = AccountSummary), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn request_reset(
    Admitted { call, .. }: Admitted<Public>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<ResetRequest> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    match accounts::request_reset_anonymously(&state, &call, &account.email).await {
        Ok((id, email)) => json(StatusCode::OK, AccountSummary { id, email }),
        Err(e) => render(&e),
    }
}

/// `PUT /account/password`: sets the password with the emailed token; every older token is
/// revoked; a fresh token (and refresh token) with remember_me.
pub async fn reset(
    Admitted { call, .. }: Admitted<Public>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Envelope { account }: Envelope<ResetBody> = match body(payload, &state).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let reset = accounts::reset_with_tokens(
        &state,
        &call,
        &account.reset_password_token,
        &account.password,
        DOOR,
        account.remember_me,
    )
    .await;
    match reset {
        Ok((user, tokens)) => json(StatusCode::OK, convert::account(&user, tokens)),
        Err(Error::InvalidGrant(_)) => render(&Error::InvalidRequest(
            "the reset token is invalid, used or expired".into(),
        )),
        Err(e) => render(&e),
    }
}
