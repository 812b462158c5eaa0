//! The older account APIs, at their original paths: thin adapters over the core, one folder
//! per API (dto: wire types, convert: wire <-> core, handlers, error: the API's error shape).

pub mod bloq;
pub mod cloudtrax;
pub mod esalerugs;
pub mod mongoose;

use actix_web::web;
use serde::de::DeserializeOwned;

use crate::routes::extract::{read_body, BodyError};

/// A JSON body that could not be read.
#[derive(Debug)]
pub enum JsonError {
    /// Over `body_limit`: 413.
    TooLarge(String),
    /// Malformed, missing fields, wrong types: 400 in the door's shape.
    Invalid(String),
}

/// Reads a JSON body of type `T` (an empty body reads as `{}`).
pub async fn read_json<T: DeserializeOwned>(
    payload: web::Payload,
    limit: usize,
) -> Result<T, JsonError> {
    let body = read_body(payload, limit).await.map_err(|e| match e {
        BodyError::TooLarge(_) => JsonError::TooLarge(e.to_string()),
        e => JsonError::Invalid(e.to_string()),
    })?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(body).map_err(|e| JsonError::Invalid(format!("invalid JSON body: {e}")))
}
