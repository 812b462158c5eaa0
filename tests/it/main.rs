//! Portcullis integration tests: one binary, a fresh database per test (SQLite, or PostgreSQL
//! when TEST_DATABASE_URL is set).

mod helpers;

mod binary;
mod cli;
mod config;
mod discovery;
mod grants;
mod interop;
mod introspection;
mod keys;
mod migrations;
mod ops;
mod token;
