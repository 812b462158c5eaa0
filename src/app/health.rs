//! Readiness: whether this node can serve, meaning the database answers in time.

use std::time::Duration;

use diesel::RunQueryDsl;

use crate::core::Error;
use crate::state::AppState;

/// How long readiness waits for the database.
pub const READY_WAIT: Duration = Duration::from_secs(2);

/// `Ok` when the database answers within `READY_WAIT`; `Unavailable` otherwise.
pub async fn ready(state: &AppState) -> Result<(), Error> {
    let check = state.db.run(|conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    });
    match tokio::time::timeout(READY_WAIT, check).await {
        Ok(result) => result,
        Err(_) => Err(Error::Unavailable("the database timed out".into())),
    }
}
