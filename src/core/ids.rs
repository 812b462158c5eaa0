//! One id space for users and clients (SPEC §9): an id names a user or a client, never both,
//! so a credential's subject is never ambiguous. Every user and client id is also a row of
//! `principal_ids`, written in the same transaction; whichever comes second is a conflict.

use diesel::prelude::*;

use super::Error;
use crate::db::schema::principal_ids as ids;
use crate::db::{is_unique_violation, DbConnection};

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Client,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Client => "client",
        }
    }
}

/// Claims `id` for a new user or client (inside the transaction that creates it). `Conflict`
/// when the other kind has it; the same kind is left to that table's own key.
pub fn claim(conn: &mut DbConnection, id: &str, kind: Kind) -> Result<(), Error> {
    let taken = || Error::Conflict("this id is taken".into());
    let existing: Option<String> = ids::table
        .find(id)
        .select(ids::kind)
        .first(conn)
        .optional()?;
    match existing {
        Some(k) if k == kind.as_str() => Ok(()),
        Some(_) => Err(taken()),
        None => match diesel::insert_into(ids::table)
            .values((ids::id.eq(id), ids::kind.eq(kind.as_str())))
            .execute(conn)
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(taken()),
            Err(e) => Err(e.into()),
        },
    }
}

/// Frees an id (its user or client was deleted).
pub fn release(conn: &mut DbConnection, id: &str) -> Result<(), Error> {
    diesel::delete(ids::table.find(id)).execute(conn)?;
    Ok(())
}
