//! Acceptance of the configured terms-of-service version.

use diesel::prelude::*;

use super::{events, Error, Timestamp};
use crate::db::schema::terms_acceptances as terms;
use crate::db::{is_unique_violation, DbConnection};

/// Whether the user accepted this version.
pub fn accepted(conn: &mut DbConnection, user_id: &str, version: &str) -> Result<bool, Error> {
    let n: i64 = terms::table
        .filter(terms::user_id.eq(user_id))
        .filter(terms::version.eq(version))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records acceptance (idempotent).
pub fn accept(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    version: &str,
) -> Result<(), Error> {
    if accepted(conn, user_id, version)? {
        return Ok(());
    }
    match diesel::insert_into(terms::table)
        .values((
            terms::user_id.eq(user_id),
            terms::version.eq(version),
            terms::accepted_at.eq(now),
        ))
        .execute(conn)
    {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    events::record(
        conn,
        now,
        events::NewEvent::user("terms.accepted", user_id)
            .with_detail(serde_json::json!({ "version": version })),
    )?;
    Ok(())
}
