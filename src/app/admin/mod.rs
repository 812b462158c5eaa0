//! The admin API's use cases, one file per resource: what the CLI does, over the same core,
//! for a caller the `Admin` policy admitted.

pub mod acl;
pub mod clients;
pub mod events;
pub mod keys;
pub mod users;
