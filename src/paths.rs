//! Every path this server answers, in one place: routing and the discovery document share them.

pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/jwks";
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const LOGOUT: &str = "/logout";
pub const SIGNIN: &str = "/signin";
pub const CONSENT: &str = "/consent";
pub const TERMS: &str = "/terms";
pub const SIGNUP: &str = "/signup";
pub const VERIFY_EMAIL: &str = "/verify-email";
pub const FORGOT_PASSWORD: &str = "/forgot-password";
pub const RESET_PASSWORD: &str = "/reset-password";
pub const ACCOUNT: &str = "/account";
pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const HOME: &str = "/";
pub const STATIC: &str = "/static";
pub const STYLESHEET: &str = "/static/portcullis.css";
pub const VERIFY_EMAIL_RESEND: &str = "/verify-email/resend";
pub const ACCOUNT_ACTION: &str = "/account/actions/{action:.+}";
pub const OPENAPI: &str = "/openapi.json";
