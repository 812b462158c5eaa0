//! Portcullis: an OAuth 2 / OpenID Connect authorization server with server-rendered pages and
//! compatibility doors for older account APIs. See README.md for the map of the code.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod db;
pub mod paths;
pub mod routes;
pub mod runtime;
pub mod server;
pub mod state;
pub mod telemetry;
