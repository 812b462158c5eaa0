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
use crate::core::devices::DeviceCredential;
use crate::core::oauth::Ctx;
use crate::core::principal::Principal;
use crate::core::tokens::{self, pat};
use crate::core::{acl, apps, clients, users, Error};
use crate::routes::auth::{
    self, Account, AccountOrAdmin, Backend, BackendOrAccount, Door, Gate, Judge,
    OpenRegistrationOrAdmin, Policy, Rpc,
};
use crate::routes::extract::{client_ip, read_body, BodyError};
use crate::services::{accounts, notices, passwords};
use crate::state::AppState;

/// Methods with no documented result (their reply has no `result`).
const NO_RESULT: &[&str] = &[
    "Account.CreateUser",
    "Account.RevokeToken",
    "Auth.RevokeToken",
];

/// `POST /v1/<Service>.<Method>`: a whole frame, bare args, or an empty body.
pub async fn post(
    _: Rpc,
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
    _: Rpc,
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
    _: Rpc,
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
pub(crate) fn reply(
    state: &AppState,
    envelope: &Envelope,
    result: Result<Option<Value>, RpcError>,
) -> HttpResponse {
    let src = format!("//{}", issuer_host(state));
    let retry_after = result.as_ref().err().and_then(|e| e.retry_after);
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
    let mut res = HttpResponse::build(status);
    res.insert_header(("Cache-Control", "no-store"));
    if let Some(secs) = body.error.as_ref().and(retry_after) {
        res.insert_header(("Retry-After", secs.to_string()));
    }
    res.json(body)
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

/// A method call: the arguments, who is calling (if anyone), and from where.
struct Call<'a> {
    state: &'a AppState,
    args: &'a Value,
    principal: Option<Principal>,
    ip: &'a str,
}

impl Call<'_> {
    /// Judges the caller by the method's policy, as every door does.
    fn admit<P: Judge>(&self) -> Result<P, RpcError> {
        let gate = Gate {
            now: self.state.clock.now_naive(),
            config: &self.state.config,
        };
        P::judge(self.principal.clone(), &gate).map_err(|e| match e {
            Error::InvalidToken(m) if m.is_empty() => RpcError::new(401, "authentication required"),
            e => e.into(),
        })
    }
}

/// Every method, the policy it needs, and its function: the dispatcher and the route table's
/// `RPC` rows are made from this one list.
macro_rules! methods {
    ($($name:literal => $policy:ty => $handler:ident),* $(,)?) => {
        /// Every method with the policy it needs (listed in the route table).
        pub const METHODS: &[(&str, &str)] = &[$(($name, <$policy as Policy>::NAME)),*];

        async fn dispatch(call: &Call<'_>, method: &str) -> Result<Option<Value>, RpcError> {
            match method {
                $($name => {
                    let who = call.admit::<$policy>()?;
                    $handler(call, who).await
                })*
                _ => Err(RpcError::new(404, format!("unknown method {method}"))),
            }
        }
    };
}

methods! {
    "Account.CreateToken" => Account => create_token,
    "Account.ListTokens" => Account => list_tokens,
    "Account.RevokeToken" => Account => revoke_token,
    "Account.CreateUser" => OpenRegistrationOrAdmin => create_user,
    "Account.GetInfo" => AccountOrAdmin => get_info,
    "Account.UserExists" => AccountOrAdmin => user_exists,
    "Account.ValidateToken" => BackendOrAccount => validate_token,
    "Auth.Authenticate" => Backend => authenticate_entity,
    "Auth.AuthorizeCommand" => Backend => authorize_command,
    "Auth.GenerateToken" => Account => generate_app_token,
    "Auth.GetToken" => Account => get_app_token,
    "Auth.ListToken" => Account => list_app_tokens,
    "Auth.RevokeToken" => Account => revoke_app_token,
}

/// Serves one call: authenticates whatever credential is presented (a bad one is 401 for
/// every method), then the method's policy and function; records an event when it was made
/// with a user's credentials.
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
    let mut principal = None;
    let result = async {
        principal = auth::authenticate(req, state, Door::Mongoose, Door::Mongoose.forms())
            .await
            .map_err(|e| match e {
                Error::InvalidGrant(_) => RpcError::new(401, "invalid credentials"),
                e => e.into(),
            })?;
        let call = Call {
            state,
            args: &arguments,
            principal: principal.clone(),
            ip: &ip,
        };
        dispatch(&call, method).await
    }
    .await;
    let result = result.map(|r| if NO_RESULT.contains(&method) { None } else { r });
    let res = reply(state, &envelope, result);
    if let Some(user) = principal.as_ref().and_then(|p| p.user.as_ref()) {
        let client_id = principal.as_ref().and_then(|p| p.client_id.as_deref());
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

async fn create_token(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let args: CreateTokenArgs = args(call.args)?;
    let description = args
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Access token".into());
    let now = call.state.clock.now_naive();
    let (uid, d) = (who.user.id.clone(), description.clone());
    let (value, _) = call
        .state
        .db
        .run(move |conn| pat::create(conn, now, &uid, &d, None))
        .await?;
    notices::credential_created(call.state, &who.user, "personal access token", &description).await;
    Ok(Some(json!(value)))
}

async fn list_tokens(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let uid = who.user.id;
    let list = call.state.db.run(move |conn| pat::list(conn, &uid)).await?;
    Ok(Some(convert::token_list(&list)))
}

async fn revoke_token(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let IdArgs { id } = args(call.args)?;
    let now = call.state.clock.now_naive();
    let uid = who.user.id;
    call.state
        .db
        .run(move |conn| pat::revoke(conn, now, &uid, &id))
        .await?;
    Ok(None)
}

async fn create_user(
    call: &Call<'_>,
    who: OpenRegistrationOrAdmin,
) -> Result<Option<Value>, RpcError> {
    let admin = who.by_admin();
    let args: CreateUserArgs = args(call.args)?;
    let new = users::NewUser {
        id: args.id,
        email: args.email,
        username: args.name,
        ..Default::default()
    };
    accounts::create_user(call.state, new, &args.password, call.ip, "mongoose", !admin).await?;
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
        .run(move |conn| users::find_by_id_or_username(conn, id.as_deref(), name.as_deref()))
        .await?)
}

async fn get_info(call: &Call<'_>, who: AccountOrAdmin) -> Result<Option<Value>, RpcError> {
    let user = lookup(call.state, call.args)
        .await?
        .ok_or_else(|| RpcError::new(404, "user not found"))?;
    let p = &who.principal;
    let own = p.account_user().is_some_and(|u| u.id == user.id);
    Ok(Some(convert::user_info(&user, own || p.is_admin())))
}

async fn user_exists(call: &Call<'_>, _: AccountOrAdmin) -> Result<Option<Value>, RpcError> {
    let found = lookup(call.state, call.args).await?;
    Ok(Some(json!({ "exists": found.is_some() })))
}

async fn validate_token(call: &Call<'_>, _: BackendOrAccount) -> Result<Option<Value>, RpcError> {
    let state = call.state;
    let TokenArgs { token } = args(call.args)?;
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

async fn authenticate_entity(call: &Call<'_>, _: Backend) -> Result<Option<Value>, RpcError> {
    let state = call.state;
    let args: AuthenticateArgs = args(call.args)?;
    let credential = match (args.credentials.psk, args.credentials.cert) {
        (Some(psk), _) if !psk.is_empty() => DeviceCredential::Psk(psk),
        (_, Some(cert)) if !cert.is_empty() => DeviceCredential::Cert(cert),
        _ => return Err(RpcError::new(400, "credentials need psk or cert")),
    };
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
        let ok = passwords::check_device(state, device, credential, call.ip).await?;
        return Ok(Some(json!(ok)));
    }
    // A person: the psk is their password (certificates are for devices).
    let DeviceCredential::Psk(password) = credential else {
        return Ok(Some(json!(false)));
    };
    match passwords::check(state, &args.id, &password, call.ip, "mongoose").await {
        Ok(_) => Ok(Some(json!(true))),
        Err(Error::InvalidGrant(_) | Error::AccountDisabled | Error::EmailNotVerified) => {
            Ok(Some(json!(false)))
        }
        Err(e) => Err(e.into()),
    }
}

async fn authorize_command(call: &Call<'_>, _: Backend) -> Result<Option<Value>, RpcError> {
    let AuthorizeCommandArgs { src, dst, cmd } = args(call.args)?;
    let ok = call
        .state
        .db
        .run(move |conn| acl::authorize_command(conn, &src, &dst, &cmd))
        .await?;
    Ok(Some(json!(ok)))
}

async fn generate_app_token(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    app_token(call, who, true).await
}

async fn get_app_token(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    app_token(call, who, false).await
}

async fn app_token(
    call: &Call<'_>,
    who: Account,
    generate: bool,
) -> Result<Option<Value>, RpcError> {
    let state = call.state;
    let HostArgs { host } = args(call.args)?;
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let (h, uid) = (host.clone(), who.user.id);
    let token = state
        .db
        .run(move |conn| {
            let ctx = Ctx::new(&config, &keys, now);
            if generate {
                apps::generate(conn, &ctx, &uid, &h)
            } else {
                apps::get(conn, &ctx, &uid, &h)
            }
        })
        .await?;
    Ok(Some(convert::app_token(&token, &host)))
}

async fn list_app_tokens(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let uid = who.user.id;
    let list = call
        .state
        .db
        .run(move |conn| apps::list(conn, &uid))
        .await?;
    Ok(Some(Value::Array(
        list.into_iter()
            .map(|(host, at)| json!({ "host": host, "created_at": crate::core::time::rfc3339(at) }))
            .collect(),
    )))
}

async fn revoke_app_token(call: &Call<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let state = call.state;
    let HostArgs { host } = args(call.args)?;
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let uid = who.user.id;
    state
        .db
        .run(move |conn| apps::revoke(conn, now, &uid, &host, ttl))
        .await?;
    state.revocations.poll().await?;
    Ok(None)
}
