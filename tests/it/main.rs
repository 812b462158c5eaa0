//! Portcullis integration tests: one binary, a fresh database per test (SQLite, or PostgreSQL
//! when TEST_DATABASE_URL is set). Tests that need something of the machine (a browser, an
//! SMTP server, one backend) live in `tests/env/`, where they can be reported as skipped.

mod browser_helpers;
mod helpers;

mod accounts;
mod admin;
mod architecture;
mod authz;
mod backchannel;
mod binary;
mod bloq;
mod cli;
mod cloudtrax;
mod config;
mod device;
mod discovery;
mod dpop;
mod esalerugs;
mod exchange;
mod grants;
mod housekeeping;
mod interop;
mod introspection;
mod keys;
mod migrations;
mod modern_clients;
mod mongoose;
mod oidc;
mod openapi;
mod ops;
mod pages;
mod routes;
mod second_factor;
mod token;
