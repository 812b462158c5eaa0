//! Looking people up by id or username (Mongoose `Account.GetInfo` and `UserExists`), and
//! whether each commanding entity may command another (`Auth.AuthorizeCommand`).

use crate::app::Call;
use crate::core::users::{self, User};
use crate::core::{acl, Error};
use crate::state::AppState;

/// The person with this id, or else (no id) this username.
pub async fn lookup(
    state: &AppState,
    _: &Call,
    id: Option<String>,
    username: Option<String>,
) -> Result<Option<User>, Error> {
    state
        .db
        .run(move |conn| users::find_by_id_or_username(conn, id.as_deref(), username.as_deref()))
        .await
}

/// Whether `src` may send `cmd` to `dst`: itself, a device it owns, or an ACL rule.
pub async fn may_command(
    state: &AppState,
    _: &Call,
    src: String,
    dst: String,
    cmd: String,
) -> Result<bool, Error> {
    state
        .db
        .run(move |conn| acl::authorize_command(conn, &src, &dst, &cmd))
        .await
}
