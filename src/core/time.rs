//! Timestamps in JSON: RFC 3339 UTC strings (`2026-11-22T11:28:47Z`), as SPEC §8 requires.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serializer;

/// A database timestamp as RFC 3339 UTC, whole seconds.
pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(serialize_with = "time::ser")]` for `NaiveDateTime` fields.
pub fn ser<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// `#[serde(serialize_with = "time::ser_opt")]` for `Option<NaiveDateTime>` fields.
pub fn ser_opt<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}
