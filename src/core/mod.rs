//! The domain core: users, clients, keys, events, ACL rules and the discovery document.
//! Plain functions that take a connection and `now`; nothing here knows about HTTP.

pub mod acl;
pub mod clients;
pub mod crypto;
pub mod events;
pub mod keys;
pub mod oidc;
pub mod password;
pub mod time;
pub mod users;
pub mod validate;

mod error;

pub use error::Error;

/// The current time as a database timestamp (UTC, no zone).
pub type Timestamp = chrono::NaiveDateTime;
