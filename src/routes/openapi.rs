//! `/openapi.json`: the OpenAPI 3.1 description of every JSON API, generated with utoipa. The
//! admin handlers carry their own annotations; the standard endpoints' JSON answers and the
//! compatibility REST routes are described here (the functions below exist only for their
//! annotations). The Mongoose RPC transport is one operation per route shape.

#![allow(dead_code)]

use crate::routes::auth::Public;
use std::sync::OnceLock;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::admin::dto::*;

/// RFC 6749 §5.2 (and the `{error, error_description}` of the older JSON APIs).
#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
}

/// RFC 6749 token request (every grant's parameters; which apply depends on `grant_type`).
#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    /// authorization_code, client_credentials, password or refresh_token.
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// RFC 7662 / RFC 7009 request.
#[derive(Serialize, ToSchema)]
pub struct TokenForm {
    pub token: String,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 7662 answer: `{"active": false}` or the token's description.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub username: Option<String>,
    pub token_type: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub iss: Option<String>,
    /// A string or an array of strings.
    pub aud: Option<serde_json::Value>,
    pub jti: Option<String>,
}

/// A JSON Web Key Set.
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// A health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: Option<String>,
    pub error: Option<String>,
}

/// Mongoose reply frame.
#[derive(Serialize, ToSchema)]
pub struct RpcFrame {
    pub v: i64,
    pub src: String,
    /// The request's `src`, any JSON value.
    pub dst: Option<serde_json::Value>,
    /// The request's `id`, any JSON value.
    pub id: Option<serde_json::Value>,
    /// The method's result, any JSON value.
    pub result: Option<serde_json::Value>,
    pub error: Option<RpcErrorBody>,
}

/// A Mongoose error: the HTTP status and a message.
#[derive(Serialize, ToSchema)]
pub struct RpcErrorBody {
    pub code: u16,
    pub message: String,
}

/// CloudTrax error envelope.
#[derive(Serialize, ToSchema)]
pub struct CloudTraxErrors {
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<serde_json::Value>,
}

/// An esalerugs body: `{"account": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct AccountEnvelope {
    #[schema(value_type = Object)]
    pub account: serde_json::Value,
}

/// An arbitrary JSON object.
#[derive(Serialize, ToSchema)]
pub struct AnyObject {}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "OpenID Connect Discovery 1.0", body = Object)))]
fn openid_configuration() {}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "RFC 8414 metadata", body = Object)))]
fn oauth_authorization_server() {}

#[utoipa::path(get, path = "/jwks", tag = "discovery", responses((status = 200, body = Jwks, content_type = "application/jwk-set+json")))]
fn jwks() {}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
fn readyz() {}

#[utoipa::path(post, path = "/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 413, body = OAuthError), (status = 429, body = OAuthError)),
    security((), ("basic" = [])))]
fn token() {}

#[utoipa::path(post, path = "/introspect", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 413, body = OAuthError), (status = 429, body = OAuthError)),
    security(("basic" = [])))]
fn introspect() {}

#[utoipa::path(post, path = "/revoke", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or unknown"), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 413, body = OAuthError), (status = 429, body = OAuthError)),
    security(("basic" = [])))]
fn revoke() {}

#[utoipa::path(get, path = "/userinfo", tag = "oauth",
    responses((status = 200, body = Object), (status = 400, body = OAuthError), (status = 401, body = OAuthError), (status = 403, body = OAuthError)),
    security(("bearer" = [])))]
fn userinfo() {}

#[utoipa::path(post, path = "/v1/{method}", tag = "mongoose", params(("method" = String, Path, description = "Service.Method, e.g. Account.ListTokens")),
    request_body(content = Object, description = "a whole frame, or just the args"),
    responses((status = 200, body = RpcFrame), (status = 400, body = RpcFrame), (status = 401, body = RpcFrame), (status = 403, body = RpcFrame),
        (status = 404, body = RpcFrame), (status = 409, body = RpcFrame), (status = 413, body = RpcFrame), (status = 429, body = RpcFrame)),
    security((), ("basic" = []), ("bearer" = [])))]
fn mongoose_call() {}

#[utoipa::path(post, path = "/rpc", tag = "mongoose", request_body(content = Object, description = "a whole frame"),
    responses((status = 200, body = RpcFrame), (status = 400, body = RpcFrame), (status = 401, body = RpcFrame), (status = 403, body = RpcFrame),
        (status = 404, body = RpcFrame), (status = 409, body = RpcFrame), (status = 413, body = RpcFrame), (status = 429, body = RpcFrame)),
    security((), ("basic" = []), ("bearer" = [])))]
fn mongoose_rpc() {}

#[utoipa::path(get, path = "/time", tag = "cloudtrax", responses((status = 200, body = Object)))]
fn ct_time() {}

#[utoipa::path(post, path = "/account/login", tag = "cloudtrax", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = CloudTraxErrors), (status = 401, body = CloudTraxErrors),
        (status = 403, body = CloudTraxErrors), (status = 413, body = CloudTraxErrors), (status = 429, body = CloudTraxErrors)))]
fn ct_login() {}

#[utoipa::path(get, path = "/account/service_agreement", tag = "cloudtrax",
    responses((status = 200, body = Object), (status = 401, body = CloudTraxErrors), (status = 403, body = CloudTraxErrors)))]
fn ct_agreement() {}

#[utoipa::path(post, path = "/auth", tag = "bloq",
    responses((status = 200, body = Object), (status = 401, body = OAuthError), (status = 429, body = OAuthError)), security(("basic" = [])))]
fn bloq_auth() {}

#[utoipa::path(post, path = "/auth/token", tag = "bloq", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 403, body = OAuthError), (status = 413, body = OAuthError), (status = 429, body = OAuthError)))]
fn bloq_token() {}

#[utoipa::path(get, path = "/users/me", tag = "bloq",
    responses((status = 200, body = Object), (status = 401, body = OAuthError), (status = 403, body = OAuthError)), security(("bearer" = [])))]
fn bloq_me() {}

#[utoipa::path(get, path = "/users/me/client-keys", tag = "bloq",
    responses((status = 200, body = Vec<Object>), (status = 401, body = OAuthError), (status = 403, body = OAuthError)), security(("bearer" = [])))]
fn bloq_keys() {}

#[utoipa::path(get, path = "/users/me/events", tag = "bloq", params(("limit" = Option<i64>, Query), ("before" = Option<String>, Query)),
    responses((status = 200, body = Vec<Object>), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 403, body = OAuthError), (status = 404, body = OAuthError)), security(("bearer" = [])))]
fn bloq_events() {}

#[utoipa::path(put, path = "/users/{user_id}/token/{token}", tag = "bloq", params(("user_id" = String, Path), ("token" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = OAuthError)))]
fn bloq_verify() {}

#[utoipa::path(post, path = "/accounts", tag = "esalerugs", request_body = AccountEnvelope,
    responses((status = 201, body = Object), (status = 400, body = OAuthError), (status = 401, body = OAuthError), (status = 409, body = OAuthError),
        (status = 413, body = OAuthError), (status = 429, body = OAuthError)))]
fn es_create() {}

#[utoipa::path(post, path = "/account/session", tag = "esalerugs", request_body = AccountEnvelope,
    responses((status = 200, body = Object), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 403, body = OAuthError), (status = 413, body = OAuthError), (status = 429, body = OAuthError)))]
fn es_session() {}

#[utoipa::path(put, path = "/account/session", tag = "esalerugs", request_body = AccountEnvelope,
    responses((status = 200, body = Object), (status = 400, body = OAuthError), (status = 401, body = OAuthError),
        (status = 403, body = OAuthError), (status = 413, body = OAuthError)))]
fn es_refresh() {}

#[utoipa::path(post, path = "/account/password", tag = "esalerugs", request_body = AccountEnvelope,
    responses((status = 200, body = Object), (status = 400, body = OAuthError), (status = 413, body = OAuthError), (status = 429, body = OAuthError)))]
fn es_reset_request() {}

#[utoipa::path(get, path = "/accounts/{id}", tag = "esalerugs", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401, body = OAuthError), (status = 403, body = OAuthError), (status = 404, body = OAuthError)),
    security(("bearer" = [])))]
fn es_show() {}

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        // Every admin operation can answer these, in the same error shape.
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let common = [
            ("400", "invalid input"),
            ("401", "no or invalid credentials"),
            ("403", "not an admin"),
            ("404", "not found"),
            ("413", "body too large"),
            ("415", "the body must be JSON"),
            ("429", "too many failed credential checks"),
        ];
        for (path, item) in api.paths.paths.iter_mut() {
            if !path.starts_with("/admin") {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ]
            .into_iter()
            .flatten()
            {
                for (code, what) in common {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(what).into());
                }
            }
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "OAuth 2 / OpenID Connect authorization server: standard endpoints, the admin API and the compatibility routes."),
    paths(
        openid_configuration, oauth_authorization_server, jwks, healthz, readyz, token, introspect, revoke, userinfo,
        mongoose_call, mongoose_rpc, ct_time, ct_login, ct_agreement,
        bloq_auth, bloq_token, bloq_me, bloq_keys, bloq_events, bloq_verify,
        es_create, es_session, es_refresh, es_reset_request, es_show,
        super::admin::users::list, super::admin::users::create, super::admin::users::get, super::admin::users::update,
        super::admin::users::delete, super::admin::users::disable, super::admin::users::enable, super::admin::users::revoke_tokens,
        super::admin::clients::list, super::admin::clients::create, super::admin::clients::get, super::admin::clients::update,
        super::admin::clients::delete, super::admin::clients::rotate_secret,
        super::admin::resources::list_keys, super::admin::resources::rotate, super::admin::resources::retire,
        super::admin::resources::list_acl, super::admin::resources::add_acl, super::admin::resources::remove_acl,
        super::admin::resources::events,
    ),
    components(schemas(OAuthError, TokenResponse, TokenRequest, TokenForm, Introspection, Jwks, Health, RpcFrame, RpcErrorBody, CloudTraxErrors,
        AccountEnvelope, UserOut, UserList, CreateUser, UpdateUser, ClientOut, CreateClient, CreatedClient, UpdateClient,
        RotatedSecret, KeyOut, RotateKey, AclOut, CreateAcl, EventOut, ErrorBody)),
    modifiers(&Security),
    tags((name = "discovery"), (name = "oauth"), (name = "operations"), (name = "admin"), (name = "mongoose"),
        (name = "cloudtrax"), (name = "bloq"), (name = "esalerugs")),
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".into())
    })
}

/// `GET /openapi.json`.
pub async fn serve(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(document())
}
