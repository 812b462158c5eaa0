//! `/openapi.json`: the OpenAPI 3.1 description of every JSON API, generated with utoipa from
//! the real code: each documented handler carries its own `#[utoipa::path]` annotation, and
//! the wire types it reads and answers derive `ToSchema` (the admin, OAuth and compatibility
//! doors' `dto.rs`, the error bodies of `error.rs`, the core's answers such as
//! `TokenResponse`); the schemas an annotation names are collected from it. Only the Mongoose
//! frames stay free-form (`Object`): the transport reads requests by hand, and a method's
//! result is any JSON value. The Mongoose RPC transport is one operation per route shape;
//! `Security` adds the security schemes and the admin operations' common error answers.

use crate::routes::auth::Public;
use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::admin::dto::*;
use super::compat::{bloq, cloudtrax, esalerugs, mongoose};
use super::{admin, oauth, ops};

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
        oauth::discovery::openid_configuration, oauth::discovery::oauth_authorization_server, oauth::jwks::jwks,
        ops::healthz, ops::readyz, oauth::token::token, oauth::introspect::introspect, oauth::revoke::revoke,
        oauth::par::push, oauth::device::authorize, oauth::register::register, oauth::register::read, oauth::register::update,
        oauth::register::delete,
        oauth::userinfo::get,
        mongoose::handlers::post, mongoose::handlers::rpc,
        cloudtrax::handlers::time, cloudtrax::handlers::login, cloudtrax::handlers::agreement,
        bloq::handlers::auth, bloq::handlers::token, bloq::handlers::me, bloq::handlers::list_keys,
        bloq::handlers::events, bloq::handlers::verify,
        esalerugs::handlers::create, esalerugs::handlers::sign_in, esalerugs::handlers::refresh,
        esalerugs::handlers::request_reset, esalerugs::handlers::show,
        admin::users::list, admin::users::create, admin::users::get, admin::users::update,
        admin::users::delete, admin::users::disable, admin::users::enable, admin::users::unlock, admin::users::reset_second_factor, admin::users::revoke_tokens,
        admin::clients::list, admin::clients::create, admin::clients::get, admin::clients::update,
        admin::clients::delete, admin::clients::rotate_secret, admin::clients::registration_tokens,
        admin::clients::issue_registration_token, admin::clients::revoke_registration_token,
        admin::resources::list_keys, admin::resources::rotate, admin::resources::retire,
        admin::resources::list_acl, admin::resources::add_acl, admin::resources::remove_acl,
        admin::resources::events,
    ),
    components(schemas(UserOut, UserList, Unlocked, CreateUser, UpdateUser, ClientOut, CreateClient, CreatedClient, UpdateClient,
        RotatedSecret, IssueRegistrationToken, IssuedRegistrationToken, KeyOut, RotateKey, AclOut, CreateAcl, EventOut, ErrorBody)),
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
