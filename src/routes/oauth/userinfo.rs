//! `GET|POST /userinfo` (OIDC Core §5.3): the bearer token in the header or the form body
//! (RFC 6750 §2.1-2.2, not both); claims by scope; RFC 6750 errors.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::bearer_error;
use crate::core::{oidc, Error};
use crate::routes::extract::{bearer_from_header, client_ip, Form};
use crate::services::tokens;
use crate::state::AppState;

/// GET: the token in the `Authorization` header.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = bearer_from_header(&req);
    answer(&req, &state, token).await
}

/// POST: the token in the header or as `access_token` in a form body.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let header = bearer_from_header(&req);
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body_token = if is_form {
        match Form::read(&req, payload, state.config.body_limit).await {
            Ok(f) => f.get_owned("access_token"),
            Err(e) => return bearer_error(&Error::InvalidRequest(e.to_string())),
        }
    } else {
        None
    };
    if header.is_some() && body_token.is_some() {
        return bearer_error(&Error::InvalidRequest(
            "send the token in one place only".into(),
        ));
    }
    answer(&req, &state, header.or(body_token)).await
}

async fn answer(req: &HttpRequest, state: &AppState, token: Option<String>) -> HttpResponse {
    let Some(token) = token else {
        return bearer_error(&Error::InvalidToken(String::new()));
    };
    let principal = match tokens::authenticate_bearer(state, &token).await {
        Ok(p) => p,
        Err(e) => return bearer_error(&e),
    };
    let Some(user_id) = principal.user_id.clone() else {
        return bearer_error(&Error::InsufficientScope(
            "the token does not act for a user".into(),
        ));
    };
    if !principal.has_scope("openid") {
        return bearer_error(&Error::InsufficientScope(
            "the token lacks the openid scope".into(),
        ));
    }
    let now = state.clock.now_naive();
    let ip = client_ip(req, &state.config);
    let client_id = principal.client_id.clone();
    let scope = principal.scope.clone();
    let result = state
        .db
        .run(move |conn| oidc::userinfo_for(conn, now, &user_id, client_id, &scope, ip))
        .await;
    match result {
        Ok(claims) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(claims),
        Err(e) => bearer_error(&e),
    }
}
