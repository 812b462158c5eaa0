//! ACL rules for Mongoose `Auth.AuthorizeCommand`: list, add, remove.

use crate::app::Call;
use crate::core::acl::{self, AclRule};
use crate::core::Error;
use crate::state::AppState;

/// Every rule.
pub async fn list(state: &AppState, _: &Call) -> Result<Vec<AclRule>, Error> {
    state.db.run(acl::list).await
}

/// Adds a rule: `subject` may send commands matching `command` to `target` (or `*`).
pub async fn add(
    state: &AppState,
    call: &Call,
    subject: String,
    target: String,
    command: String,
) -> Result<AclRule, Error> {
    let now = call.now;
    state
        .db
        .run(move |conn| acl::add(conn, now, &subject, &target, &command))
        .await
}

/// Removes a rule.
pub async fn remove(state: &AppState, call: &Call, id: &str) -> Result<(), Error> {
    let (now, id) = (call.now, id.to_owned());
    state.db.run(move |conn| acl::remove(conn, now, &id)).await
}
