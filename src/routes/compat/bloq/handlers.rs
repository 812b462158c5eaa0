//! Handlers: thin wrappers over the core and services, in Bloq's camelCase.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::dto::*;
use super::error::render;
use super::{convert, ACCOUNT_TOKEN_TTL, CLIENT, CLIENT_REFRESH_TTL};
use crate::core::client_auth::Credentials;
use crate::core::clients::{self, NewClient};
use crate::core::oauth::TokenParams;
use crate::core::time::rfc3339;
use crate::core::users::User;
use crate::core::{accounts as core_accounts, crypto, events, Error};
use crate::db::schema::clients as clients_t;
use crate::routes::compat::{read_json, JsonError};
use crate::routes::error::json_error;
use crate::routes::extract::{basic_auth, bearer_from_header, client_ip};
use crate::services::accounts;
use crate::services::callers::{self, Caller};
use crate::services::tokens::{self, TokenOptions};
use crate::state::AppState;

const NAME: &str = "bloq";

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

/// A request made with a user's account token: who, and how to record it.
struct UserCall {
    caller: Caller,
    user: User,
    started: (chrono::DateTime<chrono::Utc>, Instant),
}

async fn user_call(req: &HttpRequest, state: &AppState) -> Result<UserCall, HttpResponse> {
    let started = (chrono::Utc::now(), Instant::now());
    let token = bearer_from_header(req).ok_or_else(|| {
        render(&Error::InvalidToken(
            "an account access token is required".into(),
        ))
    })?;
    let caller = callers::by_token(state, &token)
        .await
        .map_err(|e| render(&e))?;
    let user = caller.require_user().map_err(|e| render(&e))?.clone();
    Ok(UserCall {
        caller,
        user,
        started,
    })
}

/// Records the call as an event of the user (what `GET /users/me/events` lists).
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    call: &UserCall,
    input: Value,
    res: HttpResponse,
) -> HttpResponse {
    let input = json!({ "method": req.method().as_str(), "path": req.path(), "body": input });
    crate::routes::compat::audit(
        req,
        state,
        "cloud-accounts",
        &call.user.id,
        call.caller.client_id.as_deref(),
        input,
        &res,
        call.started,
    )
    .await;
    res
}

/// `POST /auth`: HTTP Basic (user id or email, password) -> an account access token (12 h).
pub async fn auth(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let Some(Ok((login, password))) = basic_auth(&req) else {
        return render(&Error::InvalidGrant(
            "HTTP Basic credentials (id or email, password) are required".into(),
        ));
    };
    let ip = client_ip(&req, &state.config);
    let user = match crate::services::passwords::check(&state, &login, &password, &ip, NAME).await {
        Ok(u) => u,
        Err(e) => return render(&e),
    };
    let res = match tokens::issue_for_user(
        &state,
        CLIENT,
        "Bloq accounts",
        &user.id,
        false,
        Some(ACCOUNT_TOKEN_TTL),
    )
    .await
    {
        Ok(t) => json(
            StatusCode::OK,
            Tokens {
                access_token: t.access_token,
                refresh_token: None,
            },
        ),
        Err(e) => render(&e),
    };
    let call = UserCall {
        caller: Caller {
            user: Some(user.clone()),
            client_id: None,
            scope: String::new(),
        },
        user,
        started,
    };
    finish(&req, &state, &call, json!({}), res).await
}

/// `POST /auth/token`: `clientCredentials` (a client key's id and secret) -> access (1 h) and
/// refresh (1 year) tokens acting for the key's owner; `refreshToken` -> a new pair.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body: TokenRequest = match read_json(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return json_error_of(e),
    };
    let options = TokenOptions {
        refresh_with_client_credentials: true,
        access_ttl: Some(3600),
        refresh_ttl: Some(CLIENT_REFRESH_TTL),
        door: NAME,
    };
    let result = match body.grant_type.as_str() {
        "clientCredentials" => {
            let (Some(id), Some(secret)) = (body.client_id, body.client_secret) else {
                return render(&Error::InvalidRequest(
                    "clientId and clientSecret are required".into(),
                ));
            };
            let params = TokenParams {
                grant_type: "client_credentials".into(),
                ..Default::default()
            };
            let ip = client_ip(&req, &state.config);
            // Keys registered by this door authenticate like client_secret_basic.
            tokens::token_request(
                &state,
                Credentials::Basic {
                    client_id: id,
                    secret,
                },
                params,
                &ip,
                options,
            )
            .await
        }
        "refreshToken" => match body.refresh_token {
            Some(t) => tokens::refresh_by_holder(&state, &t, options).await,
            None => return render(&Error::InvalidRequest("refreshToken is required".into())),
        },
        other => {
            return render(&Error::UnsupportedGrantType(format!(
                "grantType `{other}` is not supported; use clientCredentials or refreshToken"
            )))
        }
    };
    match result {
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
pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let res = json(StatusCode::OK, convert::me(&call.user));
    finish(&req, &state, &call, json!({}), res).await
}

/// `PUT /users/me/password`: revokes every older token, the caller's own included.
pub async fn password(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body: PasswordChange = match read_json(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return json_error_of(e),
    };
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let ip = client_ip(&req, &state.config);
    let res = match accounts::change_password(
        &state,
        &call.user,
        &body.old_password,
        &body.new_password,
        &ip,
    )
    .await
    {
        Ok(()) => json(StatusCode::OK, json!({})),
        Err(e) => render(&e),
    };
    finish(
        &req,
        &state,
        &call,
        json!({ "oldPassword": "[redacted]", "newPassword": "[redacted]" }),
        res,
    )
    .await
}

/// `POST /users/me/client-keys`: a key pair (40 hex id, 80 character secret) owned by the user.
pub async fn create_key(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let now = state.clock.now_naive();
    let owner = call.user.id.clone();
    let result = state
        .db
        .run(move |conn| {
            clients::create(
                conn,
                now,
                NewClient {
                    id: Some(crypto::random_hex(20)),
                    name: "Bloq client key".into(),
                    secret: Some(crypto::random_hex(40)),
                    grant_types: vec!["client_credentials".into(), "refresh_token".into()],
                    scopes: vec!["profile".into(), "email".into()],
                    kind: Some("client_key".into()),
                    owner_id: Some(owner),
                    ..Default::default()
                },
            )
        })
        .await;
    let res = match result {
        Ok(c) => json(
            StatusCode::OK,
            NewKey {
                client_id: c.client.client_id,
                client_secret: c.secret.unwrap_or_default(),
                created_at: rfc3339(c.client.created_at),
            },
        ),
        Err(e) => render(&e),
    };
    finish(&req, &state, &call, json!({}), res).await
}

fn own_keys(
    conn: &mut crate::db::DbConnection,
    owner: &str,
) -> Result<Vec<(String, crate::core::Timestamp)>, Error> {
    use diesel::prelude::*;
    Ok(clients_t::table
        .filter(clients_t::owner_id.eq(owner))
        .filter(clients_t::kind.eq("client_key"))
        .order(clients_t::created_at.desc())
        .select((clients_t::id, clients_t::created_at))
        .load(conn)?)
}

/// `GET /users/me/client-keys`: `[{id, createdAt}]`, never secrets.
pub async fn list_keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let owner = call.user.id.clone();
    let res = match state.db.run(move |conn| own_keys(conn, &owner)).await {
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
    };
    finish(&req, &state, &call, json!({}), res).await
}

/// `DELETE /users/me/client-keys/{id}`: 204; the key's tokens are revoked.
pub async fn delete_key(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let owner = call.user.id.clone();
    let id = path.into_inner();
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let key = id.clone();
    let result = state
        .db
        .run(move |conn| {
            if !own_keys(conn, &owner)?.iter().any(|(k, _)| *k == key) {
                return Err(Error::NotFound("client key"));
            }
            clients::remove(conn, now, &key, ttl)
        })
        .await;
    let res = match result {
        Ok(()) => {
            let _ = state.revocations.poll(&state).await;
            HttpResponse::NoContent().finish()
        }
        Err(e) => render(&e),
    };
    finish(&req, &state, &call, json!({ "id": id }), res).await
}

/// `GET /users/me/events?limit=N&before=<event id>`: newest first.
pub async fn events(
    req: HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = match user_call(&req, &state).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let limit = match query.limit.as_deref().map(str::parse::<i64>) {
        None => 25,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return render(&Error::InvalidRequest("limit must be 1 to 100".into())),
    };
    // Read your own writes: events still queued on this node go in first.
    if let Err(e) = state.audit.flush(&state).await {
        return render(&e);
    }
    let before = query.before.clone();
    let user_id = call.user.id.clone();
    let res = match state
        .db
        .run(move |conn| events::for_user(conn, &user_id, before.as_deref(), limit))
        .await
    {
        Ok(list) => json(
            StatusCode::OK,
            list.iter().map(convert::event).collect::<Vec<_>>(),
        ),
        Err(e) => render(&e),
    };
    finish(
        &req,
        &state,
        &call,
        json!({ "limit": limit, "before": query.before }),
        res,
    )
    .await
}

/// `PUT /users/{userId}/token/{token}`: verifies the email with the token it was sent.
pub async fn verify(path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (user_id, token) = path.into_inner();
    let now = state.clock.now_naive();
    match state
        .db
        .run(move |conn| core_accounts::verify_email_for(conn, now, &user_id, &token))
        .await
    {
        Ok(u) => json(
            StatusCode::OK,
            json!({ "id": u.id, "verifiedAt": u.email_verified_at.map(rfc3339) }),
        ),
        Err(Error::InvalidGrant(m)) => render(&Error::InvalidRequest(m)),
        Err(e) => render(&e),
    }
}
