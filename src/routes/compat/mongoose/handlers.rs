//! The three transports, the caller's credentials, and one small function per method: parse
//! the arguments, call the core (or a service), render the result.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::convert;
use super::dto::*;
use super::error::RpcError;
use crate::app::{self, Call};
use crate::core::devices::DeviceCredential;
use crate::core::users;
use crate::core::Error;
use crate::routes::auth::{
    self, Account, AccountOrAdmin, Admitted, Backend, BackendOrAccount, Door, Gate, Judge,
    OpenRegistrationOrAdmin, Policy, Rpc,
};
use crate::routes::extract::{read_body, BodyError};
use crate::state::AppState;

/// Methods with no documented result (their reply has no `result`).
const NO_RESULT: &[&str] = &[
    "Account.CreateUser",
    "Account.RevokeToken",
    "Auth.RevokeToken",
];

/// `POST /v1/<Service>.<Method>`: a whole frame, bare args, or an empty body.
#[utoipa::path(post, path = "/v1/{method}", tag = "mongoose", operation_id = "mongoose_call",
    params(("method" = String, Path, description = "Service.Method, e.g. Account.ListTokens")),
    request_body(content = Object, description = "a whole frame, or just the args"),
    responses((status = 200, body = Reply), (status = 400, body = Reply), (status = 401, body = Reply), (status = 403, body = Reply),
        (status = 404, body = Reply), (status = 409, body = Reply), (status = 413, body = Reply), (status = 429, body = Reply)),
    security((), ("basic" = []), ("bearer" = [])))]
pub async fn post(
    Admitted { call, .. }: Admitted<Rpc>,
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
    serve(&req, &state, call, &method, envelope, args).await
}

/// `GET /v1/<Service>.<Method>?arg=..` (dotted names nest: `credentials.psk=..`).
pub async fn get(
    Admitted { call, .. }: Admitted<Rpc>,
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
        call,
        &method,
        Envelope::default(),
        Value::Object(args),
    )
    .await
}

/// `POST /rpc` with a whole frame.
#[utoipa::path(post, path = "/rpc", tag = "mongoose", operation_id = "mongoose_rpc",
    request_body(content = Object, description = "a whole frame"),
    responses((status = 200, body = Reply), (status = 400, body = Reply), (status = 401, body = Reply), (status = 403, body = Reply),
        (status = 404, body = Reply), (status = 409, body = Reply), (status = 413, body = Reply), (status = 429, body = Reply)),
    security((), ("basic" = []), ("bearer" = [])))]
pub async fn rpc(
    Admitted { call, .. }: Admitted<Rpc>,
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
            serve(&req, &state, call, &method, envelope, args).await
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

/// A method call: the arguments and the call's context (who, from where, when).
struct Invocation<'a> {
    state: &'a AppState,
    args: &'a Value,
    call: Call,
}

impl Invocation<'_> {
    /// Judges the caller by the method's policy, as every door does.
    fn admit<P: Judge>(&self) -> Result<P, RpcError> {
        let gate = Gate {
            now: self.call.now,
            config: &self.state.config,
        };
        P::judge(self.call.principal.clone(), &gate).map_err(|e| match e {
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

        async fn dispatch(inv: &Invocation<'_>, method: &str) -> Result<Option<Value>, RpcError> {
            match method {
                $($name => {
                    let who = inv.admit::<$policy>()?;
                    $handler(inv, who).await
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
/// every method), then the method's policy and function. A call made with a person's
/// credentials is recorded (the boundary writes it with the answer).
async fn serve(
    req: &HttpRequest,
    state: &AppState,
    call: Call,
    method: &str,
    envelope: Envelope,
    arguments: Value,
) -> HttpResponse {
    let result = async {
        let principal = auth::authenticate(req, state, Door::Mongoose, Door::Mongoose.forms())
            .await
            .map_err(|e| match e {
                Error::InvalidGrant(_) => RpcError::new(401, "invalid credentials"),
                e => e.into(),
            })?;
        if let Some(user) = principal.as_ref().and_then(|p| p.user.as_ref()) {
            let client = principal.as_ref().and_then(|p| p.client_id.as_deref());
            call.audit_as(&format!("mongoose/{method}"), &user.id, client);
            call.audit_input(arguments.clone());
        }
        let inv = Invocation {
            state,
            args: &arguments,
            call: call.clone().with_principal(principal),
        };
        dispatch(&inv, method).await
    }
    .await;
    let result = result.map(|r| if NO_RESULT.contains(&method) { None } else { r });
    reply(state, &envelope, result)
}

async fn create_token(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let args: CreateTokenArgs = args(inv.args)?;
    let description = args
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Access token".into());
    let (value, _) =
        app::personal_tokens::create(inv.state, &inv.call, &who.user, &description).await?;
    Ok(Some(json!(value)))
}

async fn list_tokens(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let list = app::personal_tokens::list(inv.state, &inv.call, &who.user).await?;
    Ok(Some(convert::token_list(&list)))
}

async fn revoke_token(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let IdArgs { id } = args(inv.args)?;
    app::personal_tokens::revoke(inv.state, &inv.call, &who.user, &id).await?;
    Ok(None)
}

async fn create_user(
    inv: &Invocation<'_>,
    who: OpenRegistrationOrAdmin,
) -> Result<Option<Value>, RpcError> {
    let admin = who.by_admin();
    let args: CreateUserArgs = args(inv.args)?;
    let new = users::NewUser {
        id: args.id,
        email: args.email,
        username: args.name,
        ..Default::default()
    };
    app::accounts::create_user(
        inv.state,
        new,
        &args.password,
        &inv.call.ip,
        "mongoose",
        !admin,
    )
    .await?;
    Ok(None)
}

/// The user named by `id` (wins) or `name` (username, case-insensitive).
async fn lookup(inv: &Invocation<'_>) -> Result<Option<users::User>, RpcError> {
    let args: LookupArgs = args(inv.args)?;
    let (id, name) = (
        args.id.filter(|s| !s.is_empty()),
        args.name.filter(|s| !s.is_empty()),
    );
    if id.is_none() && name.is_none() {
        return Err(RpcError::new(400, "id or name is required"));
    }
    Ok(app::users::lookup(inv.state, &inv.call, id, name).await?)
}

async fn get_info(inv: &Invocation<'_>, who: AccountOrAdmin) -> Result<Option<Value>, RpcError> {
    let user = lookup(inv)
        .await?
        .ok_or_else(|| RpcError::new(404, "user not found"))?;
    let p = &who.principal;
    let own = p.account_user().is_some_and(|u| u.id == user.id);
    Ok(Some(convert::user_info(&user, own || p.is_admin())))
}

async fn user_exists(inv: &Invocation<'_>, _: AccountOrAdmin) -> Result<Option<Value>, RpcError> {
    let found = lookup(inv).await?;
    Ok(Some(json!({ "exists": found.is_some() })))
}

async fn validate_token(
    inv: &Invocation<'_>,
    _: BackendOrAccount,
) -> Result<Option<Value>, RpcError> {
    let TokenArgs { token } = args(inv.args)?;
    let found = app::access_token::describe(inv.state, &token).await?;
    let d = found.ok_or_else(|| RpcError::new(401, "the token is not valid"))?;
    Ok(Some(json!({
        "user_id": d.user_id,
        "client_id": d.client_id,
        "scope": d.scope,
        "expires_at": d.expires_at.map(crate::core::time::rfc3339),
    })))
}

async fn authenticate_entity(inv: &Invocation<'_>, _: Backend) -> Result<Option<Value>, RpcError> {
    let args: AuthenticateArgs = args(inv.args)?;
    let credential = match (args.credentials.psk, args.credentials.cert) {
        (Some(psk), _) if !psk.is_empty() => DeviceCredential::Psk(psk),
        (_, Some(cert)) if !cert.is_empty() => DeviceCredential::Cert(cert),
        _ => return Err(RpcError::new(400, "credentials need psk or cert")),
    };
    let ok = app::device_auth::run(inv.state, &inv.call, &args.id, credential).await?;
    Ok(Some(json!(ok)))
}

async fn authorize_command(inv: &Invocation<'_>, _: Backend) -> Result<Option<Value>, RpcError> {
    let AuthorizeCommandArgs { src, dst, cmd } = args(inv.args)?;
    let ok = app::users::may_command(inv.state, &inv.call, src, dst, cmd).await?;
    Ok(Some(json!(ok)))
}

async fn generate_app_token(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    app_token(inv, who, true).await
}

async fn get_app_token(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    app_token(inv, who, false).await
}

async fn app_token(
    inv: &Invocation<'_>,
    who: Account,
    generate: bool,
) -> Result<Option<Value>, RpcError> {
    let HostArgs { host } = args(inv.args)?;
    let token = app::app_tokens::token(inv.state, &inv.call, &who.user, &host, generate).await?;
    Ok(Some(convert::app_token(&token, &host)))
}

async fn list_app_tokens(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let list = app::app_tokens::list(inv.state, &inv.call, &who.user).await?;
    Ok(Some(Value::Array(
        list.into_iter()
            .map(|(host, at)| json!({ "host": host, "created_at": crate::core::time::rfc3339(at) }))
            .collect(),
    )))
}

async fn revoke_app_token(inv: &Invocation<'_>, who: Account) -> Result<Option<Value>, RpcError> {
    let HostArgs { host } = args(inv.args)?;
    app::app_tokens::revoke(inv.state, &inv.call, &who.user, &host).await?;
    Ok(None)
}
