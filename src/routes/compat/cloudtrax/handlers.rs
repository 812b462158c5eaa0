//! Handlers: the policy has verified the signature and the key's kind; parse, call one use
//! case, answer in CloudTrax's shapes. The boundary records the calls.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::dto::*;
use super::error::{core as core_error, envelope, missing};
use crate::app::{self, Call};
use crate::core::Error;
use crate::routes::auth::{Admitted, Public, SignedByAccount, SignedByApplication};
use crate::state::AppState;

fn ok(value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(value)
}

/// What a call records as its input.
fn record(call: &Call, req: &HttpRequest, body: serde_json::Value) {
    call.audit_input(json!({ "method": req.method().as_str(), "path": req.path(), "body": body }));
}

/// `GET /time`: unsigned, so clients can sync their clock.
#[utoipa::path(get, path = "/time", tag = "cloudtrax", operation_id = "ct_time", responses((status = 200, body = Time)))]
pub async fn time(_: Public, state: web::Data<AppState>) -> HttpResponse {
    ok(Time {
        time: state.clock.now().timestamp(),
    })
}

/// `POST /account/login` (signed with an application key): a new account key for the user.
#[utoipa::path(post, path = "/account/login", tag = "cloudtrax", operation_id = "ct_login", request_body = Login,
    responses((status = 200, body = LoginReply), (status = 400, body = Errors), (status = 401, body = Errors),
        (status = 403, body = Errors), (status = 413, body = Errors), (status = 429, body = Errors)))]
pub async fn login(
    Admitted { who, call }: Admitted<SignedByApplication>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body: &[u8] = if who.body.is_empty() {
        b"{}"
    } else {
        &who.body
    };
    let login: Login = match serde_json::from_slice(body) {
        Ok(l) => l,
        Err(_) => return missing("a JSON body with username and password"),
    };
    let (Some(username), Some(password)) = (
        login.username.filter(|u| !u.is_empty()),
        login.password.filter(|p| !p.is_empty()),
    ) else {
        return missing("username and password");
    };
    let signed_in = app::cloudtrax::login(&state, &call, &who.key, &username, &password).await;
    record(
        &call,
        &req,
        json!({ "username": username, "password": "[redacted]" }),
    );
    match signed_in {
        Ok((user, pair)) => ok(LoginReply {
            key: pair.key,
            secret: pair.secret,
            expire: pair
                .expires_at
                .map(|t| t.and_utc().timestamp())
                .unwrap_or(0),
            kind: "master",
            type_value: user.username.clone().unwrap_or(user.email.clone()),
            read_only: 0,
            last_network_name: "",
            last_network_id: 0,
        }),
        // One answer for an unknown user and a wrong password.
        Err(Error::InvalidGrant(_)) => envelope(20003, "Wrong password.", "account"),
        Err(e) => core_error(&e, "account"),
    }
}

fn network(path: &str) -> Option<i64> {
    path.parse::<i64>().ok().filter(|n| *n > 0)
}

/// `GET /account/credential/<net>/embed`: the embed key of a network.
pub async fn embed(
    Admitted { who, call }: Admitted<SignedByAccount>,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(net) = network(&path) else {
        return missing("network id");
    };
    record(&call, &req, json!({ "network": net }));
    match app::cloudtrax::embed_key(&state, &call, &who.user, net).await {
        Ok(pair) => ok(KeyReply {
            key: pair.key,
            secret: pair.secret,
        }),
        Err(e) => core_error(&e, "account"),
    }
}

/// `DELETE /account/credential/<net>/embed`: 14001, or 14002 when there was none.
pub async fn delete_embed(
    Admitted { who, call }: Admitted<SignedByAccount>,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(net) = network(&path) else {
        return missing("network id");
    };
    record(&call, &req, json!({ "network": net }));
    match app::cloudtrax::delete_embed_key(&state, &call, &who.user, net).await {
        Ok(true) => ok(Status::new(
            14001,
            "Deletion of key/secret succeeded.",
            "account",
        )),
        Ok(false) => envelope(
            14002,
            "Deletion of key/secret failed: there is none.",
            "account",
        ),
        Err(e) => core_error(&e, "account"),
    }
}

/// `GET /account/service_agreement`: has the user accepted the current terms?
#[utoipa::path(get, path = "/account/service_agreement", tag = "cloudtrax", operation_id = "ct_agreement",
    responses((status = 200, body = Agreement), (status = 401, body = Errors), (status = 403, body = Errors)))]
pub async fn agreement(
    Admitted { who, call }: Admitted<SignedByAccount>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    record(&call, &req, json!({}));
    match app::cloudtrax::agreement(&state, &call, &who.user).await {
        Ok(valid) => ok(Agreement { valid }),
        Err(e) => core_error(&e, "service_agreement"),
    }
}

/// `PUT /account/service_agreement`: accepts the current terms (1009).
pub async fn agree(
    Admitted { who, call }: Admitted<SignedByAccount>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    record(&call, &req, json!({}));
    match app::cloudtrax::agree(&state, &call, &who.user).await {
        Ok(()) => ok(Status::new(1009, "Success.", "service_agreement_put")),
        Err(e) => core_error(&e, "service_agreement"),
    }
}
