//! The application layer, between the doors and the core: one use case per file, each an
//! `async fn run(state, &Call, input) -> Result<output, Error>` (or a few named ones for one
//! resource). A use case owns the order of its steps, the hops off the async runtime
//! (database, argon2, RSA), and the refreshing of the node's caches its changes call for;
//! the rules are the core's. Doors call use cases and nothing below them.

pub mod access_token;
pub mod account;
pub mod accounts;
pub mod admin;
pub mod app_tokens;
pub mod authorize;
pub mod call;
pub mod calls;
pub mod client_jwt;
pub mod client_keys;
pub mod cloudtrax;
pub mod device;
pub mod device_auth;
pub mod dpop;
pub mod health;
pub mod housekeeping;
pub mod introspect;
pub mod logout;
pub mod mail;
pub mod notices;
pub mod passkeys;
pub mod passwords;
pub mod personal_tokens;
pub mod principal;
pub mod registration;
pub mod revoke;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod token;
pub mod userinfo;
pub mod users;

pub use call::Call;
