//! The three transports, the caller's credentials, and one small function per method: parse
//! the arguments, call the core (or a service), render the result.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::convert;
use super::dto::*;
use super::error::RpcError;
use crate::config::Registration;
use crate::core::devices::{self, DeviceCredential};
use crate::core::oauth::Ctx;
use crate::core::tokens::{self, pat};
use crate::core::{acl, apps, clients, users, Error};
use crate::routes::extract::{
    basic_auth, bearer_from_header, bearer_from_query, client_ip, read_body, BodyError,
};
use crate::services::callers::{self, Caller};
use crate::services::{accounts, passwords};
use crate::state::AppState;

/// Methods with no documented result (their reply has no `result`).
const NO_RESULT: &[&str] = &[
    "Account.CreateUser",
    "Account.RevokeToken",
    "Auth.RevokeToken",
];

/// `POST /v1/<Service>.<Method>`: a whole frame, bare args, or an empty body.
pub async fn post(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let method = path.into_inner();
    let body = match read_body(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return reply(&state, &Envelope::default(), Err(body_error(e))),
    };
    let (envelope, args) = match parse_body(&body) {
        Ok(Parsed {
            envelope,
            method: framed,
            args,
        }) => {
            if let Some(m) = framed {
                if normalise(&m) != method {
                    let e = RpcError::new(
                        400,
                        format!("the frame's method {m} does not match the URL"),
                    );
                    return reply(&state, &envelope, Err(e));
                }
            }
            (envelope, args)
        }
        Err(e) => return reply(&state, &Envelope::default(), Err(e)),
    };
    serve(&req, &state, &method, envelope, args).await
}

/// `GET /v1/<Service>.<Method>?arg=..` (dotted names nest: `credentials.psk=..`).
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let method = path.into_inner();
    let mut args = Map::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if k == "access_token" {
            continue;
        }
        match k.split_once('.') {
            Some((outer, inner)) => {
                let entry = args
                    .entry(outer.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(inner.to_owned(), Value::String(v.into_owned()));
                }
            }
            None => {
                args.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    serve(
        &req,
        &state,
        &method,
        Envelope::default(),
        Value::Object(args),
    )
    .await
}

/// `POST /rpc` with a whole frame.
pub async fn rpc(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body = match read_body(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return reply(&state, &Envelope::default(), Err(body_error(e))),
    };
    match parse_body(&body) {
        Ok(Parsed {
            envelope,
            method: Some(m),
            args,
        }) => {
            let method = normalise(&m);
            serve(&req, &state, &method, envelope, args).await
        }
        Ok(Parsed { envelope, .. }) => reply(
            &state,
            &envelope,
            Err(RpcError::new(400, "the frame has no method")),
        ),
        Err(e) => reply(&state, &Envelope::default(), Err(e)),
    }
}

fn body_error(e: BodyError) -> RpcError {
    match e {
        BodyError::TooLarge(_) => RpcError::new(413, e.to_string()),
        e => RpcError::new(400, e.to_string()),
    }
}

/// `/v1/Account.CreateToken` or `Account.CreateToken` -> `Account.CreateToken`.
fn normalise(method: &str) -> String {
    method
        .trim_start_matches('/')
        .trim_start_matches("v1/")
        .to_owned()
}

struct Parsed {
    envelope: Envelope,
    method: Option<String>,
    args: Value,
}

/// A body is a frame when it has `method` or `args`; otherwise it is the args themselves.
fn parse_body(body: &[u8]) -> Result<Parsed, RpcError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Parsed {
            envelope: Envelope::default(),
            method: None,
            args: json!({}),
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RpcError::new(400, format!("malformed JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(RpcError::new(400, "the body must be a JSON object"));
    };
    if !map.contains_key("method") && !map.contains_key("args") {
        return Ok(Parsed {
            envelope: Envelope::default(),
            method: None,
            args: Value::Object(map),
        });
    }
    let envelope = Envelope {
        src: map.remove("src"),
        id: map.remove("id"),
    };
    let method = match map.remove("method") {
        None => None,
        Some(Value::String(m)) => Some(m),
        Some(_) => return Err(RpcError::new(400, "method must be a string")),
    };
    let args = match map.remove("args") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err(RpcError::new(400, "args must be an object")),
    };
    Ok(Parsed {
        envelope,
        method,
        args,
    })
}

fn args<T: DeserializeOwned>(value: &Value) -> Result<T, RpcError> {
    serde_json::from_value(value.clone()).map_err(RpcError::bad_args)
}

/// A reply frame with the error's status, or 200.
fn reply(
    state: &AppState,
    envelope: &Envelope,
    result: Result<Option<Value>, RpcError>,
) -> HttpResponse {
    let src = format!("//{}", issuer_host(state));
    let (status, body) = match result {
        Ok(result) => (
            StatusCode::OK,
            Reply {
                v: 2,
                src,
                dst: envelope.src.clone(),
                id: envelope.id.clone(),
                result,
                error: None,
            },
        ),
        Err(e) => (
            StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Reply {
                v: 2,
                src,
                dst: envelope.src.clone(),
                id: envelope.id.clone(),
                result: None,
                error: Some(ErrorBody {
                    code: e.code,
                    message: e.message,
                }),
            },
        ),
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

fn issuer_host(state: &AppState) -> String {
    url::Url::parse(state.config.issuer())
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default()
}

/// The caller's credentials as presented (checked only when a method needs them).
enum Presented {
    Basic(String, String),
    Bearer(String),
    None,
}

fn presented(req: &HttpRequest) -> Result<Presented, RpcError> {
    if let Some(basic) = basic_auth(req) {
        let (user, psk) = basic.map_err(|_| RpcError::new(401, "malformed Basic credentials"))?;
        return Ok(Presented::Basic(user, psk));
    }
    Ok(
        match bearer_from_header(req).or_else(|| bearer_from_query(req)) {
            Some(t) => Presented::Bearer(t),
            None => Presented::None,
        },
    )
}

async fn authenticate(
    state: &AppState,
    p: &Presented,
    ip: &str,
) -> Result<Option<Caller>, RpcError> {
    Ok(match p {
        Presented::Basic(user, psk) => Some(
            callers::by_password(state, user, psk, ip, "mongoose")
                .await
                .map_err(|e| match e {
                    Error::InvalidGrant(_) => RpcError::new(401, "invalid credentials"),
                    e => e.into(),
                })?,
        ),
        Presented::Bearer(t) => Some(callers::by_token(state, t).await?),
        Presented::None => None,
    })
}

fn required(caller: &Option<Caller>) -> Result<&Caller, RpcError> {
    caller
        .as_ref()
        .ok_or_else(|| RpcError::new(401, "authentication required"))
}

fn backend(caller: &Option<Caller>) -> Result<&Caller, RpcError> {
    let c = required(caller)?;
    if c.has_scope("auth.backend") {
        Ok(c)
    } else {
        Err(RpcError::new(
            403,
            "the Auth service needs a token with the auth.backend scope",
        ))
    }
}

/// Serves one call; records an event when it was made with a user's credentials.
async fn serve(
    req: &HttpRequest,
    state: &AppState,
    method: &str,
    envelope: Envelope,
    arguments: Value,
) -> HttpResponse {
    let started = chrono::Utc::now();
    let started_at = Instant::now();
    let ip = client_ip(req, &state.config);
    let mut caller = None;
    let result = async {
        let p = presented(req)?;
        caller = authenticate(state, &p, &ip).await?;
        dispatch(state, method, &arguments, &caller, &ip).await
    }
    .await;
    let result = result.map(|r| if NO_RESULT.contains(&method) { None } else { r });
    let res = reply(state, &envelope, result);
    if let Some(user) = caller.as_ref().and_then(|c| c.user.as_ref()) {
        let client_id = caller.as_ref().and_then(|c| c.client_id.as_deref());
        let service = format!("mongoose/{method}");
        crate::routes::compat::audit(
            req,
            state,
            &service,
            &user.id,
            client_id,
            arguments,
            &res,
            (started, started_at),
        )
        .await;
    }
    res
}

async fn dispatch(
    state: &AppState,
    method: &str,
    a: &Value,
    caller: &Option<Caller>,
    ip: &str,
) -> Result<Option<Value>, RpcError> {
    match method {
        "Account.CreateToken" => create_token(state, a, caller).await,
        "Account.ListTokens" => list_tokens(state, caller).await,
        "Account.RevokeToken" => revoke_token(state, a, caller).await,
        "Account.CreateUser" => create_user(state, a, caller, ip).await,
        "Account.GetInfo" => get_info(state, a, caller).await,
        "Account.UserExists" => user_exists(state, a, caller).await,
        "Account.ValidateToken" => validate_token(state, a, caller).await,
        "Auth.Authenticate" => authenticate_entity(state, a, caller, ip).await,
        "Auth.AuthorizeCommand" => authorize_command(state, a, caller).await,
        "Auth.GenerateToken" => app_token(state, a, caller, true).await,
        "Auth.GetToken" => app_token(state, a, caller, false).await,
        "Auth.ListToken" => list_app_tokens(state, caller).await,
        "Auth.RevokeToken" => revoke_app_token(state, a, caller).await,
        _ => Err(RpcError::new(404, format!("unknown method {method}"))),
    }
}

async fn create_token(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let args: CreateTokenArgs = args(a)?;
    let description = args
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Access token".into());
    let now = state.clock.now_naive();
    let (value, _) = state
        .db
        .run(move |conn| pat::create(conn, now, &user.id, &description, None))
        .await?;
    Ok(Some(json!(value)))
}

async fn list_tokens(state: &AppState, caller: &Option<Caller>) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let list = state.db.run(move |conn| pat::list(conn, &user.id)).await?;
    Ok(Some(convert::token_list(&list)))
}

async fn revoke_token(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let IdArgs { id } = args(a)?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| pat::revoke(conn, now, &user.id, &id))
        .await?;
    Ok(None)
}

async fn create_user(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
    ip: &str,
) -> Result<Option<Value>, RpcError> {
    let admin = caller.as_ref().is_some_and(Caller::is_admin);
    if !admin && state.config.registration != Registration::Open {
        return Err(match caller {
            None => RpcError::new(401, "registration is closed: an admin must create accounts"),
            Some(_) => RpcError::new(403, "registration is closed: an admin must create accounts"),
        });
    }
    let args: CreateUserArgs = args(a)?;
    let new = users::NewUser {
        id: args.id,
        email: args.email,
        username: args.name,
        ..Default::default()
    };
    accounts::create_user(state, new, &args.password, ip, "mongoose", !admin).await?;
    Ok(None)
}

/// The user named by `id` (wins) or `name` (username, case-insensitive).
async fn lookup(state: &AppState, a: &Value) -> Result<Option<users::User>, RpcError> {
    let args: LookupArgs = args(a)?;
    let (id, name) = (
        args.id.filter(|s| !s.is_empty()),
        args.name.filter(|s| !s.is_empty()),
    );
    if id.is_none() && name.is_none() {
        return Err(RpcError::new(400, "id or name is required"));
    }
    Ok(state
        .db
        .run(move |conn| {
            use crate::db::schema::users as u;
            use diesel::prelude::*;
            let found = match (&id, &name) {
                (Some(id), _) => u::table
                    .find(id)
                    .select(users::User::as_select())
                    .first(conn)
                    .optional()?,
                (None, Some(name)) => u::table
                    .filter(u::username_key.eq(name.to_lowercase()))
                    .select(users::User::as_select())
                    .first(conn)
                    .optional()?,
                _ => None,
            };
            Ok(found)
        })
        .await?)
}

async fn get_info(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    let caller = required(caller)?;
    let user = lookup(state, a)
        .await?
        .ok_or_else(|| RpcError::new(404, "user not found"))?;
    let own = caller.user.as_ref().is_some_and(|u| u.id == user.id);
    Ok(Some(convert::user_info(&user, own || caller.is_admin())))
}

async fn user_exists(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    required(caller)?;
    let found = lookup(state, a).await?;
    Ok(Some(json!({ "exists": found.is_some() })))
}

async fn validate_token(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    required(caller)?;
    let TokenArgs { token } = args(a)?;
    let invalid = || RpcError::new(401, "the token is not valid");
    if pat::looks_like_pat(&token) {
        let now = state.clock.now_naive();
        let p = state
            .db
            .run(move |conn| pat::verify(conn, now, &token))
            .await?
            .ok_or_else(invalid)?;
        return Ok(Some(json!({
            "user_id": p.user_id,
            "client_id": null,
            "scope": p.scope,
            "expires_at": p.expires_at.map(crate::core::time::rfc3339),
        })));
    }
    if !tokens::looks_like_jwt(&token) {
        return Err(invalid());
    }
    let claims = crate::services::tokens::verify_access_token(state, &token)
        .await
        .map_err(|_| invalid())?;
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
        .map(|d| crate::core::time::rfc3339(d.naive_utc()));
    Ok(Some(json!({
        "user_id": claims.is_user().then_some(claims.sub.clone()),
        "client_id": claims.client_id,
        "scope": claims.scope,
        "expires_at": expires,
    })))
}

async fn authenticate_entity(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
    ip: &str,
) -> Result<Option<Value>, RpcError> {
    backend(caller)?;
    let args: AuthenticateArgs = args(a)?;
    let credential = match (args.credentials.psk, args.credentials.cert) {
        (Some(psk), _) if !psk.is_empty() => DeviceCredential::Psk(psk),
        (_, Some(cert)) if !cert.is_empty() => DeviceCredential::Cert(cert),
        _ => return Err(RpcError::new(400, "credentials need psk or cert")),
    };
    let now = state.clock.now_naive();
    let id = args.id.clone();
    let device = state
        .db
        .run(move |conn| match clients::get(conn, &id) {
            Ok(c) => Ok(Some(c)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
    if let Some(device) = device {
        let settings = state.config.throttle.clone();
        let ip_key = ip.to_owned();
        let ip = ip.to_owned();
        let ok = state
            .db
            .run(move |conn| {
                use crate::core::throttle::{self, Bucket};
                let bucket = Bucket::ip(&settings, &ip);
                throttle::check(conn, now, &[&bucket])?;
                let ok = devices::check(&device, &credential, now)?;
                if !ok {
                    throttle::hit(conn, now, &[&bucket])?;
                }
                Ok(ok)
            })
            .await?;
        if !ok {
            state.caches.ip_ok.remove(&ip_key);
        }
        return Ok(Some(json!(ok)));
    }
    // A person: the psk is their password (certificates are for devices).
    let DeviceCredential::Psk(password) = credential else {
        return Ok(Some(json!(false)));
    };
    match passwords::check(state, &args.id, &password, ip, "mongoose").await {
        Ok(_) => Ok(Some(json!(true))),
        Err(Error::InvalidGrant(_)) => Ok(Some(json!(false))),
        Err(e) => Err(e.into()),
    }
}

async fn authorize_command(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    backend(caller)?;
    let AuthorizeCommandArgs { src, dst, cmd } = args(a)?;
    let ok = state
        .db
        .run(move |conn| acl::authorize_command(conn, &src, &dst, &cmd))
        .await?;
    Ok(Some(json!(ok)))
}

async fn app_token(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
    generate: bool,
) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let HostArgs { host } = args(a)?;
    let keys = state.keys.current(state).await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let h = host.clone();
    let token = state
        .db
        .run(move |conn| {
            let ctx = Ctx::new(&config, &keys, now);
            if generate {
                apps::generate(conn, &ctx, &user.id, &h)
            } else {
                apps::get(conn, &ctx, &user.id, &h)
            }
        })
        .await?;
    Ok(Some(convert::app_token(&token, &host)))
}

async fn list_app_tokens(
    state: &AppState,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let list = state.db.run(move |conn| apps::list(conn, &user.id)).await?;
    Ok(Some(Value::Array(
        list.into_iter()
            .map(|(host, at)| json!({ "host": host, "created_at": crate::core::time::rfc3339(at) }))
            .collect(),
    )))
}

async fn revoke_app_token(
    state: &AppState,
    a: &Value,
    caller: &Option<Caller>,
) -> Result<Option<Value>, RpcError> {
    let user = required(caller)?.require_user()?.clone();
    let HostArgs { host } = args(a)?;
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    state
        .db
        .run(move |conn| apps::revoke(conn, now, &user.id, &host, ttl))
        .await?;
    state.revocations.poll(state).await?;
    Ok(None)
}
