//! The standard OAuth 2 / OpenID Connect endpoints.

pub(crate) mod authorize;
pub(crate) mod device;
pub(crate) mod discovery;
pub mod dto;
pub mod error;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod logout;
pub(crate) mod par;
pub(crate) mod register;
pub(crate) mod revoke;
pub mod token;
pub(crate) mod userinfo;
