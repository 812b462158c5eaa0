//! Handlers: parse Bloq's camelCase, call one use case, answer. The policy has authenticated
//! the caller; the boundary records calls made with a person's credentials.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::dto::*;
use super::error::render;
use super::{convert, ACCOUNT_TOKEN_TTL, DOOR};
use crate::app::client_keys::{self, Grant};
use crate::app::{accounts, token};
use crate::core::time::rfc3339;
use crate::core::Error;
use crate::routes::auth::{Account, Admitted, Public, UserPassword};
use crate::routes::compat::{read_json, JsonError};
use crate::routes::error::{json_error, ErrorBody};
use crate::state::AppState;

fn json(status: StatusCode, value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(value)
}

fn json_error_of(e: JsonError) -> HttpResponse {
    match e {
        JsonError::TooLarge(m) => json_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", &m),
        JsonError::Invalid(m) => render(&Error::InvalidRequest(m)),
    }
}

/// What a call to `/users/me*` records as its input.
fn input(req: &actix_web::HttpRequest, body: serde_json::Value) -> serde_json::Value {
    json!({ "method": req.method().as_str(), "path": req.path(), "body": body })
}

/// `POST /auth`: HTTP Basic (user id or email, password) -> an account access token (12 h).
#[utoipa::path(post, path = "/auth", tag = "bloq", operation_id = "bloq_auth",
    responses((status = 200, body = Tokens), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn auth(
    Admitted { who, call }: Admitted<UserPassword>,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(input(&req, json!({})));
    let issued = token::issue_for_user(
        &state,
        DOOR,
        &who.user.id,
        false,
        Some(ACCOUNT_TOKEN_TTL),
        None,
    )
    .await;
    match issued {
        Ok(t) => json(
            StatusCode::OK,
            Tokens {
                access_token: t.access_token,
                refresh_token: None,
            },
        ),
        Err(e) => render(&e),
    }
}

/// `POST /auth/token`: `clientCredentials` (a client key's id and secret) -> access (1 h) and
/// refresh (1 year) tokens acting for the key's owner; `refreshToken` -> a new pair.
#[utoipa::path(post, path = "/auth/token", tag = "bloq", operation_id = "bloq_token", request_body = TokenRequest,
    responses((status = 200, body = Tokens), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    Admitted { call, .. }: Admitted<Public>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body: TokenRequest = match read_json(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return json_error_of(e),
    };
    let grant = match (body.grant_type.as_str(), body.client_id, body.client_secret) {
        ("clientCredentials", Some(client_id), Some(secret)) => {
            Grant::ClientCredentials { client_id, secret }
        }
        ("clientCredentials", _, _) => {
            return render(&Error::InvalidRequest(
                "clientId and clientSecret are required".into(),
            ))
        }
        ("refreshToken", _, _) => match body.refresh_token {
            Some(token) => Grant::Refresh { token },
            None => return render(&Error::InvalidRequest("refreshToken is required".into())),
        },
        (other, _, _) => {
            return render(&Error::UnsupportedGrantType(format!(
                "grantType `{other}` is not supported; use clientCredentials or refreshToken"
            )))
        }
    };
    match client_keys::token(&state, &call, grant).await {
        Ok(t) => json(
            StatusCode::OK,
            Tokens {
                access_token: t.access_token,
                refresh_token: t.refresh_token,
            },
        ),
        Err(e) => render(&e),
    }
}

/// `GET /users/me`.
#[utoipa::path(get, path = "/users/me", tag = "bloq", operation_id = "bloq_me",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    call.audit_input(input(&req, json!({})));
    json(StatusCode::OK, convert::me(&who.user))
}

/// `PUT /users/me/password`: revokes every older token, the caller's own included.
pub async fn password(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(input(
        &req,
        json!({ "oldPassword": "[redacted]", "newPassword": "[redacted]" }),
    ));
    let body: PasswordChange = match read_json(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return json_error_of(e),
    };
    let changed = accounts::change_password(
        &state,
        &who.user,
        &body.old_password,
        &body.new_password,
        &call.ip,
    )
    .await;
    match changed {
        Ok(()) => json(StatusCode::OK, json!({})),
        Err(e) => render(&e),
    }
}

/// `POST /users/me/client-keys`: a key pair (40 hex id, 80 character secret) owned by the user.
pub async fn create_key(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(input(&req, json!({})));
    match client_keys::create(&state, &call, &who.user).await {
        Ok(c) => json(
            StatusCode::OK,
            NewKey {
                client_id: c.client.client_id,
                client_secret: c.secret.unwrap_or_default(),
                created_at: rfc3339(c.client.created_at),
            },
        ),
        Err(e) => render(&e),
    }
}

/// `GET /users/me/client-keys`: `[{id, createdAt}]`, never secrets.
#[utoipa::path(get, path = "/users/me/client-keys", tag = "bloq", operation_id = "bloq_keys",
    responses((status = 200, body = Vec<KeyItem>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(input(&req, json!({})));
    match client_keys::list(&state, &call, &who.user).await {
        Ok(keys) => json(
            StatusCode::OK,
            keys.into_iter()
                .map(|(id, at)| KeyItem {
                    id,
                    created_at: rfc3339(at),
                })
                .collect::<Vec<_>>(),
        ),
        Err(e) => render(&e),
    }
}

/// `DELETE /users/me/client-keys/{id}`: 204; the key's tokens are revoked.
pub async fn delete_key(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    call.audit_input(input(&req, json!({ "id": path.as_str() })));
    match client_keys::delete(&state, &call, &who.user, &path).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => render(&e),
    }
}

/// `GET /users/me/events?limit=N&before=<event id>`: newest first.
#[utoipa::path(get, path = "/users/me/events", tag = "bloq", operation_id = "bloq_events", params(EventsQuery),
    responses((status = 200, body = Vec<Event>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    Admitted { who, call }: Admitted<Account>,
    req: actix_web::HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let limit = match query.limit.as_deref().map(str::parse::<i64>) {
        None => 25,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return render(&Error::InvalidRequest("limit must be 1 to 100".into())),
    };
    call.audit_input(input(
        &req,
        json!({ "limit": limit, "before": query.before }),
    ));
    match accounts::events(&state, &call, &who.user, query.before.clone(), limit).await {
        Ok(list) => json(
            StatusCode::OK,
            list.iter().map(convert::event).collect::<Vec<_>>(),
        ),
        Err(e) => render(&e),
    }
}

/// `PUT /users/{userId}/token/{token}`: verifies the email with the token it was sent.
#[utoipa::path(put, path = "/users/{user_id}/token/{token}", tag = "bloq", operation_id = "bloq_verify",
    params(("user_id" = String, Path), ("token" = String, Path)),
    responses((status = 200, body = Verified), (status = 400, body = ErrorBody)))]
pub async fn verify(
    Admitted { call, .. }: Admitted<Public>,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (user_id, token) = path.into_inner();
    match accounts::verify_email_for(&state, &call, &user_id, &token).await {
        Ok(u) => json(
            StatusCode::OK,
            Verified {
                id: u.id,
                verified_at: u.email_verified_at.map(rfc3339),
            },
        ),
        Err(Error::InvalidGrant(m)) => render(&Error::InvalidRequest(m)),
        Err(e) => render(&e),
    }
}
