//! Handlers: the policy has verified the signature and the key's kind; call the core, answer.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::dto::*;
use super::error::{core as core_error, envelope, missing};
use crate::core::clients::ClientRow;
use crate::core::cloudtrax;
use crate::core::users::User;
use crate::core::{terms, Error};
use crate::routes::auth::{Public, SignedByAccount, SignedByApplication};
use crate::routes::extract::client_ip;
use crate::services::passwords;
use crate::state::AppState;

fn ok(value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(value)
}

/// `GET /time`: unsigned, so clients can sync their clock.
pub async fn time(_: Public, state: web::Data<AppState>) -> HttpResponse {
    ok(json!({ "time": state.clock.now().timestamp() }))
}

async fn record(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    key: &ClientRow,
    input: serde_json::Value,
    res: &HttpResponse,
    started: (chrono::DateTime<chrono::Utc>, Instant),
) {
    let input = json!({ "method": req.method().as_str(), "path": req.path(), "body": input });
    crate::routes::compat::audit(
        req,
        state,
        "cloudtrax",
        &user.id,
        Some(&key.id),
        input,
        res,
        started,
    )
    .await;
}

/// `POST /account/login` (signed with an application key): a new account key for the user.
pub async fn login(
    signed: SignedByApplication,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let SignedByApplication { key, body } = signed;
    let login: Login = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(l) => l,
        Err(_) => return missing("a JSON body with username and password"),
    };
    let (Some(username), Some(password)) = (
        login.username.filter(|u| !u.is_empty()),
        login.password.filter(|p| !p.is_empty()),
    ) else {
        return missing("username and password");
    };
    let ip = client_ip(&req, &state.config);
    let user = match passwords::check(&state, &username, &password, &ip, "cloudtrax").await {
        Ok(u) => u,
        // One answer for an unknown user and a wrong password.
        Err(Error::InvalidGrant(_)) => return envelope(20003, "Wrong password.", "account"),
        Err(e) => return core_error(&e, "account"),
    };
    let now = state.clock.now_naive();
    let master = state.config.master_key();
    let owner = user.clone();
    let res = match state
        .db
        .run(move |conn| cloudtrax::account_key(conn, now, master.as_ref(), &owner))
        .await
    {
        Ok(pair) => ok(LoginReply {
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
        Err(e) => core_error(&e, "account"),
    };
    record(
        &req,
        &state,
        &user,
        &key,
        json!({ "username": username, "password": "[redacted]" }),
        &res,
        started,
    )
    .await;
    res
}

fn network(path: &str) -> Option<i64> {
    path.parse::<i64>().ok().filter(|n| *n > 0)
}

/// `GET /account/credential/<net>/embed`: the embed key of a network.
pub async fn embed(
    signed: SignedByAccount,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let SignedByAccount { key, user, .. } = signed;
    let Some(net) = network(&path) else {
        return missing("network id");
    };
    let now = state.clock.now_naive();
    let master = state.config.master_key();
    let owner = user.clone();
    let res = match state
        .db
        .run(move |conn| cloudtrax::embed_key(conn, now, master.as_ref(), &owner, net))
        .await
    {
        Ok(pair) => ok(KeyReply {
            key: pair.key,
            secret: pair.secret,
        }),
        Err(e) => core_error(&e, "account"),
    };
    record(
        &req,
        &state,
        &user,
        &key,
        json!({ "network": net }),
        &res,
        started,
    )
    .await;
    res
}

/// `DELETE /account/credential/<net>/embed`: 14001, or 14002 when there was none.
pub async fn delete_embed(
    signed: SignedByAccount,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let SignedByAccount { key, user, .. } = signed;
    let Some(net) = network(&path) else {
        return missing("network id");
    };
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let owner = user.clone();
    let res = match state
        .db
        .run(move |conn| cloudtrax::delete_embed_key(conn, now, &owner, net, ttl))
        .await
    {
        Ok(true) => {
            let _ = state.revocations.poll().await;
            ok(Status::new(
                14001,
                "Deletion of key/secret succeeded.",
                "account",
            ))
        }
        Ok(false) => envelope(
            14002,
            "Deletion of key/secret failed: there is none.",
            "account",
        ),
        Err(e) => core_error(&e, "account"),
    };
    record(
        &req,
        &state,
        &user,
        &key,
        json!({ "network": net }),
        &res,
        started,
    )
    .await;
    res
}

/// `GET /account/service_agreement`: has the user accepted the current terms?
pub async fn agreement(
    signed: SignedByAccount,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let SignedByAccount { key, user, .. } = signed;
    let res = match state.config.terms_version.clone() {
        None => ok(json!({ "valid": true })),
        Some(version) => {
            let id = user.id.clone();
            match state
                .db
                .run(move |conn| terms::accepted(conn, &id, &version))
                .await
            {
                Ok(valid) => ok(json!({ "valid": valid })),
                Err(e) => core_error(&e, "service_agreement"),
            }
        }
    };
    record(&req, &state, &user, &key, json!({}), &res, started).await;
    res
}

/// `PUT /account/service_agreement`: accepts the current terms (1009).
pub async fn agree(
    signed: SignedByAccount,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = (chrono::Utc::now(), Instant::now());
    let SignedByAccount { key, user, .. } = signed;
    let res = match state.config.terms_version.clone() {
        None => ok(Status::new(1009, "Success.", "service_agreement_put")),
        Some(version) => {
            let now = state.clock.now_naive();
            let id = user.id.clone();
            match state
                .db
                .run(move |conn| terms::accept(conn, now, &id, &version))
                .await
            {
                Ok(()) => ok(Status::new(1009, "Success.", "service_agreement_put")),
                Err(e) => core_error(&e, "service_agreement"),
            }
        }
    };
    record(&req, &state, &user, &key, json!({}), &res, started).await;
    res
}
