//! Application services: the few operations that span several blocking steps and so need the
//! async runtime between them (a password check waits for an argon2 slot between two database
//! steps; bearer checks consult the node's revocation cache). Doors call these or the core;
//! the rules stay in the core functions these call.

pub mod accounts;
pub mod calls;
pub mod mail;
pub mod notices;
pub mod passwords;
pub mod principal;
pub mod tokens;
