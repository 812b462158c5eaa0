//! Node-local machinery, each piece built with the pool and clock it needs: short-lived
//! caches, worker threads (argon2, RSA), the signing keys, the revocation cache, the change
//! feed that keeps them fresh, the audit writer and the mail worker. Nothing here is a rule
//! of the domain; all of it is safe to lose with the node.

pub mod argon2;
pub mod audit;
pub mod backchannel;
pub mod cache;
pub mod changes;
pub mod fetch;
pub mod flight;
pub mod keys;
pub mod mail;
pub mod revocations;
pub mod workers;
