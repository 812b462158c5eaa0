//! Every route this server answers, in one table: method, path, door, and the policy it needs
//! (SPEC §9). The routes are mounted from this table, so nothing is served that is not in it;
//! each entry's policy is read from its handler's first argument, so the table cannot say
//! another policy than the handler enforces. `tests/it/routes.rs` pins the table.

use actix_web::http::Method;

use super::auth::{ep, Door, Endpoint};
use super::compat::{bloq, cloudtrax, esalerugs, mongoose};
use super::{admin, oauth, ops, pages};
use crate::paths;

/// The route table.
pub fn endpoints() -> Vec<Endpoint> {
    use Door::*;
    let get = || Method::GET;
    let post = || Method::POST;
    let put = || Method::PUT;
    let patch = || Method::PATCH;
    let delete = || Method::DELETE;
    vec![
        // The standard endpoints (those a browser visits answer as pages).
        ep(
            get(),
            paths::OPENID_CONFIGURATION,
            OAuth,
            oauth::discovery::openid_configuration,
        ),
        ep(
            get(),
            paths::OAUTH_AUTHORIZATION_SERVER,
            OAuth,
            oauth::discovery::oauth_authorization_server,
        ),
        ep(get(), paths::JWKS, OAuth, oauth::jwks::jwks),
        ep(post(), paths::TOKEN, OAuth, oauth::token::token),
        ep(
            post(),
            paths::INTROSPECT,
            OAuth,
            oauth::introspect::introspect,
        ),
        ep(post(), paths::REVOKE, OAuth, oauth::revoke::revoke),
        ep(post(), paths::PAR, OAuth, oauth::par::push),
        ep(
            post(),
            paths::DEVICE_AUTHORIZATION,
            OAuth,
            oauth::device::authorize,
        ),
        ep(post(), paths::REGISTER, OAuth, oauth::register::register),
        ep(
            get(),
            paths::REGISTERED_CLIENT,
            OAuth,
            oauth::register::read,
        ),
        ep(
            put(),
            paths::REGISTERED_CLIENT,
            OAuth,
            oauth::register::update,
        ),
        ep(
            delete(),
            paths::REGISTERED_CLIENT,
            OAuth,
            oauth::register::delete,
        ),
        ep(get(), paths::AUTHORIZE, Pages, oauth::authorize::authorize),
        ep(
            post(),
            paths::AUTHORIZE,
            Pages,
            oauth::authorize::authorize_post,
        ),
        ep(post(), paths::CONSENT, Pages, oauth::authorize::decide),
        ep(get(), paths::USERINFO, OAuth, oauth::userinfo::get),
        ep(post(), paths::USERINFO, OAuth, oauth::userinfo::post),
        ep(get(), paths::LOGOUT, Pages, oauth::logout::show),
        ep(post(), paths::LOGOUT, Pages, oauth::logout::submit),
        // Pages for people.
        ep(get(), paths::HOME, Pages, pages::home),
        ep(get(), paths::STYLESHEET, Pages, pages::stylesheet),
        ep(get(), paths::FAVICON, Pages, pages::favicon),
        ep(get(), paths::PASSKEY_SCRIPT, Pages, pages::passkey_script),
        ep(get(), paths::SIGNIN, Pages, pages::signin::show),
        ep(post(), paths::SIGNIN, Pages, pages::signin::submit),
        ep(
            get(),
            paths::SECOND_FACTOR,
            Pages,
            pages::second_factor::show,
        ),
        ep(
            post(),
            paths::SECOND_FACTOR,
            Pages,
            pages::second_factor::submit,
        ),
        ep(
            post(),
            paths::PASSKEY_SIGNIN_START,
            Pages,
            pages::passkeys::signin_start,
        ),
        ep(
            post(),
            paths::PASSKEY_SIGNIN_FINISH,
            Pages,
            pages::passkeys::signin_finish,
        ),
        ep(
            post(),
            paths::PASSKEY_REGISTER_START,
            Pages,
            pages::passkeys::register_start,
        ),
        ep(
            post(),
            paths::PASSKEY_REGISTER_FINISH,
            Pages,
            pages::passkeys::register_finish,
        ),
        ep(get(), paths::TERMS, Pages, pages::terms::show),
        ep(post(), paths::TERMS, Pages, pages::terms::submit),
        ep(get(), paths::SIGNUP, Pages, pages::signup::show),
        ep(post(), paths::SIGNUP, Pages, pages::signup::submit),
        ep(get(), paths::VERIFY_EMAIL, Pages, pages::recovery::verify),
        ep(
            post(),
            paths::VERIFY_EMAIL_RESEND,
            Pages,
            pages::recovery::resend,
        ),
        ep(
            get(),
            paths::FORGOT_PASSWORD,
            Pages,
            pages::recovery::forgot,
        ),
        ep(
            post(),
            paths::FORGOT_PASSWORD,
            Pages,
            pages::recovery::forgot_submit,
        ),
        ep(get(), paths::RESET_PASSWORD, Pages, pages::recovery::reset),
        ep(
            post(),
            paths::RESET_PASSWORD,
            Pages,
            pages::recovery::reset_submit,
        ),
        ep(get(), paths::DEVICE, Pages, pages::device::show),
        ep(post(), paths::DEVICE, Pages, pages::device::submit),
        ep(get(), paths::ACCOUNT, Pages, pages::account::show),
        ep(post(), paths::ACCOUNT_ACTION, Pages, pages::account::action),
        // The admin API.
        ep(get(), "/admin/users", Admin, admin::users::list),
        ep(post(), "/admin/users", Admin, admin::users::create),
        ep(get(), "/admin/users/{id}", Admin, admin::users::get),
        ep(patch(), "/admin/users/{id}", Admin, admin::users::update),
        ep(delete(), "/admin/users/{id}", Admin, admin::users::delete),
        ep(
            post(),
            "/admin/users/{id}/disable",
            Admin,
            admin::users::disable,
        ),
        ep(
            post(),
            "/admin/users/{id}/unlock",
            Admin,
            admin::users::unlock,
        ),
        ep(
            post(),
            "/admin/users/{id}/reset-second-factor",
            Admin,
            admin::users::reset_second_factor,
        ),
        ep(
            post(),
            "/admin/users/{id}/enable",
            Admin,
            admin::users::enable,
        ),
        ep(
            post(),
            "/admin/users/{id}/revoke-tokens",
            Admin,
            admin::users::revoke_tokens,
        ),
        ep(get(), "/admin/clients", Admin, admin::clients::list),
        ep(post(), "/admin/clients", Admin, admin::clients::create),
        ep(get(), "/admin/clients/{id}", Admin, admin::clients::get),
        ep(
            patch(),
            "/admin/clients/{id}",
            Admin,
            admin::clients::update,
        ),
        ep(
            delete(),
            "/admin/clients/{id}",
            Admin,
            admin::clients::delete,
        ),
        ep(
            post(),
            "/admin/clients/{id}/rotate-secret",
            Admin,
            admin::clients::rotate_secret,
        ),
        ep(
            get(),
            "/admin/registration-tokens",
            Admin,
            admin::clients::registration_tokens,
        ),
        ep(
            post(),
            "/admin/registration-tokens",
            Admin,
            admin::clients::issue_registration_token,
        ),
        ep(
            delete(),
            "/admin/registration-tokens/{id}",
            Admin,
            admin::clients::revoke_registration_token,
        ),
        ep(get(), "/admin/keys", Admin, admin::resources::list_keys),
        ep(
            post(),
            "/admin/keys/rotate",
            Admin,
            admin::resources::rotate,
        ),
        ep(
            post(),
            "/admin/keys/{kid}/retire",
            Admin,
            admin::resources::retire,
        ),
        ep(get(), "/admin/acl", Admin, admin::resources::list_acl),
        ep(post(), "/admin/acl", Admin, admin::resources::add_acl),
        ep(
            delete(),
            "/admin/acl/{id}",
            Admin,
            admin::resources::remove_acl,
        ),
        ep(get(), "/admin/events", Admin, admin::resources::events),
        // Mongoose OS RPC: the policy of each method is in `mongoose::METHODS` (below).
        ep(post(), "/v1/{method}", Mongoose, mongoose::handlers::post),
        ep(get(), "/v1/{method}", Mongoose, mongoose::handlers::get),
        ep(post(), "/rpc", Mongoose, mongoose::handlers::rpc),
        // CloudTrax.
        ep(get(), "/time", CloudTrax, cloudtrax::handlers::time),
        ep(
            post(),
            "/account/login",
            CloudTrax,
            cloudtrax::handlers::login,
        ),
        ep(
            get(),
            "/account/credential/{network}/embed",
            CloudTrax,
            cloudtrax::handlers::embed,
        ),
        ep(
            delete(),
            "/account/credential/{network}/embed",
            CloudTrax,
            cloudtrax::handlers::delete_embed,
        ),
        ep(
            get(),
            "/account/service_agreement",
            CloudTrax,
            cloudtrax::handlers::agreement,
        ),
        ep(
            put(),
            "/account/service_agreement",
            CloudTrax,
            cloudtrax::handlers::agree,
        ),
        // Bloq.
        ep(post(), "/auth", Bloq, bloq::handlers::auth),
        ep(post(), "/auth/token", Bloq, bloq::handlers::token),
        ep(get(), "/users/me", Bloq, bloq::handlers::me),
        ep(put(), "/users/me/password", Bloq, bloq::handlers::password),
        ep(
            post(),
            "/users/me/client-keys",
            Bloq,
            bloq::handlers::create_key,
        ),
        ep(
            get(),
            "/users/me/client-keys",
            Bloq,
            bloq::handlers::list_keys,
        ),
        ep(
            delete(),
            "/users/me/client-keys/{id}",
            Bloq,
            bloq::handlers::delete_key,
        ),
        ep(get(), "/users/me/events", Bloq, bloq::handlers::events),
        ep(
            put(),
            "/users/{user_id}/token/{token}",
            Bloq,
            bloq::handlers::verify,
        ),
        // esalerugs.
        ep(post(), "/accounts", Esalerugs, esalerugs::handlers::create),
        ep(
            get(),
            "/accounts/{id}",
            Esalerugs,
            esalerugs::handlers::show,
        ),
        ep(
            put(),
            "/accounts/{id}",
            Esalerugs,
            esalerugs::handlers::update,
        ),
        ep(
            post(),
            "/account/session",
            Esalerugs,
            esalerugs::handlers::sign_in,
        ),
        ep(
            put(),
            "/account/session",
            Esalerugs,
            esalerugs::handlers::refresh,
        ),
        ep(
            delete(),
            "/account/session",
            Esalerugs,
            esalerugs::handlers::sign_out,
        ),
        ep(
            post(),
            "/account/password",
            Esalerugs,
            esalerugs::handlers::request_reset,
        ),
        ep(
            put(),
            "/account/password",
            Esalerugs,
            esalerugs::handlers::reset,
        ),
        // Operations.
        ep(get(), paths::HEALTHZ, Ops, ops::healthz),
        ep(get(), paths::READYZ, Ops, ops::readyz),
        ep(get(), paths::METRICS, Ops, ops::metrics),
        ep(get(), paths::OPENAPI, Ops, super::openapi::serve),
    ]
}

/// The table as text rows (`METHOD path door policy`), Mongoose's methods as `RPC` rows: what
/// the snapshot test pins and the README shows.
pub fn rows() -> Vec<[String; 4]> {
    let mut rows: Vec<[String; 4]> = endpoints()
        .iter()
        .map(|e| {
            [
                e.method.to_string(),
                e.path.to_owned(),
                e.door.name().to_owned(),
                e.policy.to_owned(),
            ]
        })
        .collect();
    for (method, policy) in mongoose::METHODS {
        rows.push([
            "RPC".into(),
            (*method).to_owned(),
            Door::Mongoose.name().into(),
            (*policy).to_owned(),
        ]);
    }
    rows
}
