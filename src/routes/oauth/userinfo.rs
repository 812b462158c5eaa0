//! `GET|POST /userinfo` (OIDC Core §5.3): the `UserInfo` policy reads the bearer token (header,
//! or form body on POST) and admits `openid` or `account` tokens of a user; claims by scope.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::bearer_error;
use crate::core::oidc;
use crate::core::principal::scopes;
use crate::routes::auth::UserInfo;
use crate::routes::extract::client_ip;
use crate::state::AppState;

/// GET: the token in the `Authorization` header.
pub async fn get(who: UserInfo, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(who, &req, &state).await
}

/// POST: the token in the header or as `access_token` in a form body.
pub async fn post(who: UserInfo, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(who, &req, &state).await
}

async fn answer(who: UserInfo, req: &HttpRequest, state: &AppState) -> HttpResponse {
    let now = state.clock.now_naive();
    let ip = client_ip(req, &state.config);
    let p = who.principal;
    // A first-party account credential sees every claim of its user.
    let granted: Vec<String> = if p.has(scopes::ACCOUNT) {
        ["openid", "profile", "email", "address"]
            .map(str::to_owned)
            .to_vec()
    } else {
        p.scopes.clone()
    };
    let user = who.user;
    let client_id = p.client_id.clone();
    let result = state
        .db
        .run(move |conn| oidc::userinfo_for(conn, now, &user, client_id, &granted, ip))
        .await;
    match result {
        Ok(claims) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(claims),
        Err(e) => bearer_error(&e),
    }
}
