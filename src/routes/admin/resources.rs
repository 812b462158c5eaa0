//! `/admin/keys`, `/admin/acl` and `/admin/events`.

use actix_web::{web, HttpResponse};

use super::dto::*;
use super::error::{ApiError, ApiResult};
use crate::app::admin::{acl, events, keys};
use crate::config::SigningAlg;
use crate::core::acl::AclRule;
use crate::core::events::EventQuery;
use crate::core::Error;
use crate::routes::auth::{Admin, Admitted};
use crate::state::AppState;

/// Signing keys and their states.
#[utoipa::path(get, path = "/admin/keys", tag = "admin",
    responses((status = 200, body = Vec<KeyOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_keys(
    Admitted { call, .. }: Admitted<Admin>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let list = keys::list(&state, &call).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(KeyOut::from).collect::<Vec<_>>()))
}

/// Create the next key (published now, signing after `keys.publish_ahead`, or at once).
#[utoipa::path(post, path = "/admin/keys/rotate", tag = "admin", request_body = RotateKey,
    responses((status = 201, body = KeyOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn rotate(
    Admitted { call, .. }: Admitted<Admin>,
    body: Option<web::Json<RotateKey>>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.map(|b| b.into_inner()).unwrap_or_default();
    let alg = match b.alg.as_deref() {
        None => None,
        Some(a) => Some(
            SigningAlg::parse(a)
                .ok_or_else(|| ApiError(Error::invalid("alg", "must be RS256, ES256 or EdDSA")))?,
        ),
    };
    let info = keys::rotate(&state, &call, alg, b.now).await?;
    Ok(HttpResponse::Created().json(KeyOut::from(&info)))
}

/// Stop a key from signing now (it stays published for `keys.retired_ttl`).
#[utoipa::path(post, path = "/admin/keys/{kid}/retire", tag = "admin", params(("kid" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn retire(
    Admitted { call, .. }: Admitted<Admin>,
    kid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    keys::retire(&state, &call, &kid).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn rule(r: &AclRule) -> AclOut {
    AclOut {
        id: r.id.clone(),
        subject: r.subject.clone(),
        target: r.target.clone(),
        command: r.command.clone(),
    }
}

/// ACL rules for Mongoose `Auth.AuthorizeCommand`.
#[utoipa::path(get, path = "/admin/acl", tag = "admin",
    responses((status = 200, body = Vec<AclOut>), (status = 401, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn list_acl(
    Admitted { call, .. }: Admitted<Admin>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let rules = acl::list(&state, &call).await?;
    Ok(HttpResponse::Ok().json(rules.iter().map(rule).collect::<Vec<_>>()))
}

/// Add a rule.
#[utoipa::path(post, path = "/admin/acl", tag = "admin", request_body = CreateAcl,
    responses((status = 201, body = AclOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn add_acl(
    Admitted { call, .. }: Admitted<Admin>,
    body: web::Json<CreateAcl>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let r = acl::add(&state, &call, b.subject, b.target, b.command).await?;
    Ok(HttpResponse::Created().json(rule(&r)))
}

/// Remove a rule.
#[utoipa::path(delete, path = "/admin/acl/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn remove_acl(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    acl::remove(&state, &call, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn time(
    field: &'static str,
    v: &Option<String>,
) -> Result<Option<crate::core::Timestamp>, ApiError> {
    v.as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.naive_utc())
                .map_err(|_| ApiError(Error::invalid(field, "must be an RFC 3339 time")))
        })
        .transpose()
}

/// Events by user, client, kind and time, newest first (page with `before`).
#[utoipa::path(get, path = "/admin/events", tag = "admin", params(EventFilter),
    responses((status = 200, body = Vec<EventOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn events(
    Admitted { call, .. }: Admitted<Admin>,
    q: web::Query<EventFilter>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(ApiError(Error::invalid("limit", "must be 1 to 500"))),
    };
    let query = EventQuery {
        user_id: q.user_id.clone(),
        client_id: q.client_id.clone(),
        kind: q.kind.clone(),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        before: q.before.clone(),
        limit,
    };
    let list = events::query(&state, &call, query).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(EventOut::from).collect::<Vec<_>>()))
}
