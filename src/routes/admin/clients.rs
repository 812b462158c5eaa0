//! `/admin/clients`: list, read, create (the secret shown once), update, rotate the secret,
//! delete.

use actix_web::{web, HttpResponse};

use super::dto::*;
use super::error::ApiResult;
use crate::app::admin::clients;
use crate::core::clients::{Client, ClientMetadata, ClientUpdate, NewClient};
use crate::core::registration::InitialAccessToken;
use crate::routes::auth::{Admin, Admitted};
use crate::state::AppState;

/// Every client.
#[utoipa::path(get, path = "/admin/clients", tag = "admin",
    responses((status = 200, body = Vec<ClientOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    Admitted { call, .. }: Admitted<Admin>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let list = clients::list(&state, &call).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(ClientOut::from).collect::<Vec<_>>()))
}

/// A client.
#[utoipa::path(get, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ClientOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn get(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let row = clients::get(&state, &call, &id).await?;
    Ok(HttpResponse::Ok().json(ClientOut::from(&Client::from(&row))))
}

/// Register a client; the answer carries its secret, once.
#[utoipa::path(post, path = "/admin/clients", tag = "admin", request_body = CreateClient,
    responses((status = 201, body = CreatedClient), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    Admitted { call, .. }: Admitted<Admin>,
    body: web::Json<CreateClient>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let new = NewClient {
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
        expires_in: b.expires_in,
        auth_method: b.auth_method,
        metadata: Some(
            ClientMetadata {
                require_second_factor: b.require_second_factor,
                jwks: b.jwks,
                jwks_uri: b.jwks_uri,
                token_endpoint_auth_signing_alg: b.token_endpoint_auth_signing_alg,
                request_object_signing_alg: b.request_object_signing_alg,
                require_pushed_authorization_requests: b.require_pushed_authorization_requests,
                require_signed_request_object: b.require_signed_request_object,
                dpop_bound_access_tokens: b.dpop_bound_access_tokens,
                token_exchange_audiences: b.token_exchange_audiences,
                backchannel_logout_uri: b.backchannel_logout_uri,
                backchannel_logout_session_required: b.backchannel_logout_session_required,
                ..Default::default()
            }
            .to_value(),
        ),
        allow_private_jwks_uri: state.config.allow_private_jwks_uri,
        ..Default::default()
    };
    let created = clients::create(&state, &call, new, b.cert_pem).await?;
    Ok(HttpResponse::Created().json(CreatedClient {
        client_id: created.client.client_id.clone(),
        client_secret: created.secret,
        client: ClientOut::from(&created.client),
    }))
}

/// Change redirect URIs, grants, scopes, resources, name, trust, keys or request settings.
#[utoipa::path(patch, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)), request_body = UpdateClient,
    responses((status = 200, body = ClientOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn update(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    body: web::Json<UpdateClient>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let change = ClientUpdate {
        metadata_patch: Some(b.metadata_patch()),
        metadata: None,
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types: b.grant_types,
        scopes: b.scopes,
        resources: b.resources,
        trusted: b.trusted,
        require_second_factor: b.require_second_factor,
        allow_private_jwks_uri: state.config.allow_private_jwks_uri,
    };
    let client = clients::update(&state, &call, &id, change).await?;
    Ok(HttpResponse::Ok().json(ClientOut::from(&client)))
}

/// A new generated secret; the old one stops working at once.
#[utoipa::path(post, path = "/admin/clients/{id}/rotate-secret", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn rotate_secret(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let secret = clients::rotate_secret(&state, &call, &id).await?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        client_id: id.into_inner(),
        client_secret: secret,
    }))
}

/// Delete a client; everything issued to it is revoked.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("basic" = [])))]
pub async fn delete(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    clients::delete(&state, &call, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue an initial access token for dynamic client registration (RFC 7591 §3): good for
/// `uses` registrations (1 by default) within `expires_in` seconds (a day by default); the
/// token is shown once.
#[utoipa::path(post, path = "/admin/registration-tokens", tag = "admin", request_body = IssueRegistrationToken,
    responses((status = 201, body = IssuedRegistrationToken), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn issue_registration_token(
    Admitted { call, .. }: Admitted<Admin>,
    body: web::Json<IssueRegistrationToken>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let (info, token) = crate::app::registration::issue_initial_token(
        &state,
        &call,
        b.uses.unwrap_or(1),
        b.expires_in.unwrap_or(86_400),
        b.note.unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Created().json(IssuedRegistrationToken {
        initial_access_token: token,
        token: info,
    }))
}

/// The initial access tokens that can still register a client.
#[utoipa::path(get, path = "/admin/registration-tokens", tag = "admin",
    responses((status = 200, body = Vec<InitialAccessToken>)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn registration_tokens(
    Admitted { call, .. }: Admitted<Admin>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let list = crate::app::registration::initial_tokens(&state, &call).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Revoke an initial access token.
#[utoipa::path(delete, path = "/admin/registration-tokens/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn revoke_registration_token(
    Admitted { call, .. }: Admitted<Admin>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    crate::app::registration::revoke_initial_token(&state, &call, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
