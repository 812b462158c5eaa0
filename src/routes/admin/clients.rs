//! `/admin/clients`: list, read, create (the secret shown once), update, rotate the secret,
//! delete.

use actix_web::{web, HttpResponse};

use super::dto::*;
use super::error::ApiResult;
use crate::core::clients::{self, ClientUpdate, NewClient};
use crate::core::secrets;
use crate::routes::auth::Admin;
use crate::state::AppState;

/// Every client.
#[utoipa::path(get, path = "/admin/clients", tag = "admin",
    responses((status = 200, body = Vec<ClientOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(_: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let list = state.db.run(clients::list).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(ClientOut::from).collect::<Vec<_>>()))
}

/// A client.
#[utoipa::path(get, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ClientOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn get(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let row = state.db.run(move |conn| clients::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(ClientOut::from(&clients::Client::from(&row))))
}

/// Register a client; the answer carries its secret, once.
#[utoipa::path(post, path = "/admin/clients", tag = "admin", request_body = CreateClient,
    responses((status = 201, body = CreatedClient), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    _: Admin,
    body: web::Json<CreateClient>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let now = state.clock.now_naive();
    let master = state.config.master_key();
    let created = state
        .db
        .run(move |conn| {
            let cert_thumbprint = match &b.cert_pem {
                Some(pem) => Some(clients::cert_thumbprint(pem.as_bytes())?),
                None => None,
            };
            let seal_with = match b.kind.as_deref() {
                Some(k) if clients::ClientKind::parse(k).is_some_and(|k| k.sealed()) => {
                    Some(secrets::sealing_key(conn, master.as_ref())?)
                }
                _ => None,
            };
            clients::create(
                conn,
                now,
                NewClient {
                    id: b.client_id,
                    name: b.name,
                    secret: b.secret,
                    public: b.public,
                    redirect_uris: b.redirect_uris,
                    post_logout_redirect_uris: b.post_logout_redirect_uris,
                    grant_types: b.grant_types,
                    scopes: b.scopes,
                    resources: b.resources,
                    trusted: b.trusted,
                    kind: b.kind,
                    owner_id: b.owner,
                    cert_thumbprint,
                    expires_in: b.expires_in,
                    auth_method: b.auth_method,
                    metadata: None,
                    seal_with,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedClient {
        client_id: created.client.client_id.clone(),
        client_secret: created.secret,
        client: ClientOut::from(&created.client),
    }))
}

/// Change redirect URIs, grants, scopes, resources, name or trust.
#[utoipa::path(patch, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)), request_body = UpdateClient,
    responses((status = 200, body = ClientOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn update(
    _: Admin,
    id: web::Path<String>,
    body: web::Json<UpdateClient>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = body.into_inner();
    let now = state.clock.now_naive();
    let change = ClientUpdate {
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types: b.grant_types,
        scopes: b.scopes,
        resources: b.resources,
        trusted: b.trusted,
    };
    let client = state
        .db
        .run(move |conn| clients::update(conn, now, &id, change))
        .await?;
    Ok(HttpResponse::Ok().json(ClientOut::from(&client)))
}

/// A new generated secret; the old one stops working at once.
#[utoipa::path(post, path = "/admin/clients/{id}/rotate-secret", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn rotate_secret(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let master = state.config.master_key();
    let cid = id.clone();
    let secret = state
        .db
        .run(move |conn| {
            let key = secrets::sealing_key(conn, master.as_ref())?;
            clients::rotate_secret(conn, now, &cid, Some(&key))
        })
        .await?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        client_id: id,
        client_secret: secret,
    }))
}

/// Delete a client; everything issued to it is revoked.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)),
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
        .run(move |conn| clients::remove(conn, now, &id, ttl))
        .await?;
    state.revocations.poll().await?;
    Ok(HttpResponse::NoContent().finish())
}
