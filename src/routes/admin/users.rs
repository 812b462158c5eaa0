//! `/admin/users`: list and search, create, read, update, disable and enable, delete, and
//! revoke every session and token.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::*;
use super::error::{ApiError, ApiResult};
use crate::app::{accounts, notices};
use crate::core::users::{self, NewUser, UserUpdate};
use crate::core::{accounts as core_accounts, password, Error};
use crate::routes::auth::Admin;
use crate::routes::extract::client_ip;
use crate::state::AppState;

fn limit(v: Option<i64>, default: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError(Error::invalid("limit", "must be 1 to 500"))),
    }
}

/// List users (paged, optional search).
#[utoipa::path(get, path = "/admin/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = UserList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    _: Admin,
    q: web::Query<UserQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let limit = limit(q.limit, 50)?;
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError(Error::invalid("offset", "must not be negative")));
    }
    let search = q.q.clone().filter(|s| !s.is_empty());
    let (users, total) = state
        .db
        .run(move |conn| users::search(conn, search.as_deref(), limit, offset))
        .await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: users.iter().map(UserOut::from).collect(),
        total,
        limit,
        offset,
    }))
}

/// Create a user (a verification email follows unless `verified`).
#[utoipa::path(post, path = "/admin/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = UserOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    _: Admin,
    req: HttpRequest,
    body: web::Json<CreateUser>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let new = NewUser {
        id: b.id,
        email: b.email,
        username: b.username,
        display_name: b.name,
        password_hash: None,
        is_admin: b.admin,
        verified: b.verified,
    };
    let ip = client_ip(&req, &state.config);
    let user = accounts::create_user(&state, new, &b.password, &ip, "admin", false).await?;
    Ok(HttpResponse::Created().json(UserOut::from(&user)))
}

/// A user.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let user = state.db.run(move |conn| users::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Update a user; a new password revokes every older token of the user.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn update(
    _: Admin,
    id: web::Path<String>,
    body: web::Json<UpdateUser>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = body.into_inner();
    if let Some(p) = &b.password {
        password::check_new("password", p)?;
    }
    let now = state.clock.now_naive();
    let change = UserUpdate {
        email: b.email,
        username: b.username,
        display_name: b.name,
        is_admin: b.admin,
        verified: b.verified,
        entity_type: None,
    };
    let uid = id.clone();
    let (before, mut user) = state
        .db
        .run(move |conn| {
            let before = users::get(conn, &uid)?;
            Ok((before, users::update(conn, now, &uid, change)?))
        })
        .await?;
    if user.email_key != before.email_key {
        // The old address is told; the new one is asked to confirm (unless marked verified).
        notices::email_changed(&state, &before, &user).await?;
    }
    if let Some(p) = b.password {
        let hash = state.passwords.hash(p).await?;
        let ttl = state.config.revocation_ttl();
        let uid = id.clone();
        let now = state.clock.now_naive();
        user = state
            .db
            .run(move |conn| {
                core_accounts::change_password(conn, now, &uid, &hash, ttl)?;
                users::get(conn, &uid)
            })
            .await?;
        state.revocations.poll().await?;
    }
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

async fn set_disabled(id: String, disabled: bool, state: &AppState) -> ApiResult<HttpResponse> {
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    let user = state
        .db
        .run(move |conn| users::set_disabled(conn, now, &id, disabled, ttl))
        .await?;
    state.revocations.poll().await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Disable a user: sessions end, tokens stop working.
#[utoipa::path(post, path = "/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn disable(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_disabled(id.into_inner(), true, &state).await
}

/// Enable a user.
#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn enable(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_disabled(id.into_inner(), false, &state).await
}

/// Delete a user and everything they own.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn delete(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    state
        .db
        .run(move |conn| users::delete(conn, now, &id, ttl))
        .await?;
    state.revocations.poll().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session and revoke every token of the user (personal access tokens included).
#[utoipa::path(post, path = "/admin/users/{id}/revoke-tokens", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn revoke_tokens(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let ttl = state.config.revocation_ttl();
    state
        .db
        .run(move |conn| {
            users::get(conn, &id)?;
            core_accounts::sign_out_everywhere(conn, now, &id, ttl)
        })
        .await?;
    state.revocations.poll().await?;
    Ok(HttpResponse::NoContent().finish())
}
