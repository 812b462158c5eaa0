//! Handlers: thin wrappers over the core and services, in Bloq's camelCase.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::dto::*;
use super::error::render;
use super::{convert, ACCOUNT_TOKEN_TTL, CLIENT_REFRESH_TTL, DOOR};
use crate::core::client_auth::Credentials;
use crate::core::clients::{self, ClientRow, NewClient};
use crate::core::oauth::TokenParams;
use crate::core::principal::Principal;
use crate::core::time::rfc3339;
use crate::core::users::User;
use crate::core::{accounts as core_accounts, crypto, events, Error};
use crate::db::schema::clients as clients_t;
use crate::routes::auth::{Account, Public, UserPassword};
use crate::routes::compat::{read_json, JsonError};
use crate::routes::error::json_error;
use crate::routes::extract::client_ip;
use crate::services::tokens::{self, TokenOptions};
use crate::services::{accounts, notices};
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

/// A request made with a user's credentials: who, and how to record it.
struct UserCall {
    principal: Principal,
    user: User,
    started: (chrono::DateTime<chrono::Utc>, Instant),
}

impl UserCall {
    fn new(principal: Principal, user: User) -> UserCall {
        UserCall {
            principal,
            user,
            started: (chrono::Utc::now(), Instant::now()),
        }
    }
}

impl From<Account> for UserCall {
    fn from(a: Account) -> UserCall {
        UserCall::new(a.principal, a.user)
    }
}

/// Whether a client is a Bloq client key (made by `POST /users/me/client-keys`): the only
/// clients `POST /auth/token` serves, and the only refresh tokens it rotates (SPEC §9).
fn is_client_key(c: &ClientRow) -> bool {
    c.kind == "client_key" && c.owner_id.is_some()
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
        call.principal.client_id.as_deref(),
        input,
        &res,
        call.started,
    )
    .await;
    res
}

/// `POST /auth`: HTTP Basic (user id or email, password) -> an account access token (12 h).
pub async fn auth(who: UserPassword, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = UserCall::new(who.principal, who.user);
    let res = match tokens::issue_for_user(
        &state,
        DOOR,
        &call.user.id,
        false,
        Some(ACCOUNT_TOKEN_TTL),
        None,
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
    finish(&req, &state, &call, json!({}), res).await
}

/// `POST /auth/token`: `clientCredentials` (a client key's id and secret) -> access (1 h) and
/// refresh (1 year) tokens acting for the key's owner; `refreshToken` -> a new pair.
pub async fn token(
    _: Public,
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
            let credentials = Credentials::Basic {
                client_id: id,
                secret,
            };
            match tokens::authenticate_client(&state, &credentials, &ip).await {
                Ok(client) if is_client_key(&client) => {
                    tokens::token_request(&state, client, credentials, params, &ip, options).await
                }
                Ok(_) => Err(Error::InvalidClient(
                    "this is not a client key of this API".into(),
                )),
                Err(e) => Err(e),
            }
        }
        "refreshToken" => match body.refresh_token {
            Some(t) => tokens::refresh_by_holder(&state, &t, is_client_key, options).await,
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
pub async fn me(who: Account, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = UserCall::from(who);
    let res = json(StatusCode::OK, convert::me(&call.user));
    finish(&req, &state, &call, json!({}), res).await
}

/// `PUT /users/me/password`: revokes every older token, the caller's own included.
pub async fn password(
    who: Account,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = UserCall::from(who);
    let body: PasswordChange = match read_json(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return json_error_of(e),
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
pub async fn create_key(
    who: Account,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = UserCall::from(who);
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
    if let Ok(c) = &result {
        notices::credential_created(&state, &call.user, "client key", &c.client.client_id).await;
    }
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
pub async fn list_keys(who: Account, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let call = UserCall::from(who);
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
    who: Account,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = UserCall::from(who);
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
            let _ = state.revocations.poll().await;
            HttpResponse::NoContent().finish()
        }
        Err(e) => render(&e),
    };
    finish(&req, &state, &call, json!({ "id": id }), res).await
}

/// `GET /users/me/events?limit=N&before=<event id>`: newest first.
pub async fn events(
    who: Account,
    req: HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let call = UserCall::from(who);
    let limit = match query.limit.as_deref().map(str::parse::<i64>) {
        None => 25,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return render(&Error::InvalidRequest("limit must be 1 to 100".into())),
    };
    // Read your own writes: events still queued on this node go in first.
    if let Err(e) = state.audit.flush().await {
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
pub async fn verify(
    _: Public,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
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
