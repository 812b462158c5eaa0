//! The domain core: users, clients, keys, events, ACL rules and the discovery document.
//! Plain functions that take a connection and `now`; nothing here knows about HTTP.

pub mod accounts;
pub mod acl;
pub mod apps;
pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod client_jwt;
pub mod client_keys;
pub mod client_metadata;
pub mod clients;
pub mod cloudtrax;
mod common_passwords;
pub mod consents;
pub mod crypto;
pub mod device;
pub mod devices;
pub mod dpop;
pub mod ecdsa;
pub mod email;
pub mod events;
pub mod exchange;
pub mod factors;
pub mod grants;
pub mod housekeeping;
pub mod ids;
pub mod keys;
pub mod netaddr;
pub mod oauth;
pub mod oidc;
pub mod onetime;
pub mod passkeys;
pub mod password;
pub mod principal;
pub mod pushed;
pub mod registration;
pub mod revocation;
pub mod secrets;
pub mod sessions;
pub mod terms;
pub mod throttle;
pub mod time;
pub mod tokens;
pub mod users;
pub mod validate;

mod error;

pub use error::Error;

/// The current time as a database timestamp (UTC, no zone).
pub type Timestamp = chrono::NaiveDateTime;
