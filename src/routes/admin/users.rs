//! `/admin/users`: list and search, create, read, update, disable and enable, delete, and
//! revoke every session and token (`app::admin::users`).

use actix_web::{web, HttpResponse};

use super::dto::*;
use super::error::{ApiError, ApiResult};
use crate::app::admin::users;
use crate::core::users::{NewUser, UserUpdate};
use crate::core::Error;
use crate::routes::auth::{Admin, Admitted};
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
    Admitted { call, .. }: Admitted<Admin>,
    q: web::Query<UserQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let limit = limit(q.limit, 50)?;
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError(Error::invalid("offset", "must not be negative")));
    }
    let search = q.q.clone().filter(|s| !s.is_empty());
    let (found, total) = users::list(&state, &call, search, limit, offset).await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: found.iter().map(UserOut::from).collect(),
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
    Admitted { call, .. }: Admitted<Admin>,
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
        phone_number: b.phone_number,
        phone_verified: b.phone_number_verified,
    };
    let user = users::create(&state, &call, new, &b.password).await?;
    Ok(HttpResponse::Created().json(UserOut::from(&user)))
}

/// A user.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let user = users::get(&state, &call, &id).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Update a user; a new password revokes every older token of the user.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn update(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    body: web::Json<UpdateUser>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let change = UserUpdate {
        email: b.email,
        username: b.username,
        display_name: b.name,
        is_admin: b.admin,
        verified: b.verified,
        entity_type: None,
        phone_number: b.phone_number,
        phone_verified: b.phone_number_verified,
    };
    let user = users::update(&state, &call, &id, change, b.password).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Disable a user: sessions end, tokens stop working.
#[utoipa::path(post, path = "/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn disable(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let user = users::set_disabled(&state, &call, &id, true).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Enable a user.
#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn enable(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let user = users::set_disabled(&state, &call, &id, false).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Unlock a user locked out by wrong passwords: the wrong passwords counted against the
/// account are forgotten, and they can sign in again at once.
#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Unlocked), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn unlock(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (user, forgotten) = users::unlock(&state, &call, &id).await?;
    Ok(HttpResponse::Ok().json(Unlocked {
        user: UserOut::from(&user),
        wrong_passwords_forgotten: forgotten.max(0) as u32,
    }))
}

/// Remove every second factor of a user (authenticator app, recovery codes), for someone who
/// lost them; they sign in with the password until they set one up again. Recorded as an
/// event.
#[utoipa::path(post, path = "/admin/users/{id}/reset-second-factor", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn reset_second_factor(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    crate::app::second_factor::reset(&state, &call, &id).await?;
    let user = users::get(&state, &call, &id).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}

/// Delete a user and everything they own.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn delete(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    users::delete(&state, &call, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session and revoke every token of the user (personal access tokens included).
#[utoipa::path(post, path = "/admin/users/{id}/revoke-tokens", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn revoke_tokens(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    users::revoke_tokens(&state, &call, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
