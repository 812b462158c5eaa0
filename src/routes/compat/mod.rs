//! The older account APIs, at their original paths: thin adapters over the core, one folder
//! per API (dto: wire types, convert: wire <-> core, handlers, error: the API's error shape).

pub mod mongoose;

use actix_web::web;

/// Mounts every compatibility door.
pub fn configure(cfg: &mut web::ServiceConfig) {
    mongoose::configure(cfg);
}
