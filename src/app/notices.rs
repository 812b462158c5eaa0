//! Notices to a person about changes to their account that they should know of even when they
//! did not make them (SPEC §9 "Notices"): an email change (to the old address, besides the
//! verification email to the new one), and a new credential that survives a password change
//! (a personal access token, a Bloq client key). A notice that cannot be queued is logged: the
//! change it tells of has been made and is not undone for it.

use crate::app::mail::{self, Email};
use crate::core::users::User;
use crate::core::Error;
use crate::paths;
use crate::state::AppState;

fn when(state: &AppState) -> String {
    state.clock.now().format("%Y-%m-%d %H:%M").to_string()
}

/// The account's email changed from `before`'s to `after`'s: a notice to the old address, and
/// the verification link to the new one (unless it is already verified; its failure is the
/// caller's, as for every verification email).
pub async fn email_changed(state: &AppState, before: &User, after: &User) -> Result<(), Error> {
    let forgot = state.config.url(paths::FORGOT_PASSWORD);
    let sent = mail::send(
        state,
        Email::EmailChanged {
            to: &before.email,
            new_address: &after.email,
            when: &when(state),
            forgot_link: &forgot,
        },
    )
    .await;
    if let Err(e) = sent {
        tracing::error!(error = %e, user = %after.id, "could not queue the email-change notice");
    }
    if after.email_verified_at.is_none() {
        super::accounts::send_verification(state, after).await?;
    }
    Ok(())
}

/// A credential that acts on the account until revoked was made: `what` it is (in words) and
/// the `label` the person knows it by.
pub async fn credential_created(state: &AppState, user: &User, what: &str, label: &str) {
    let account = state.config.url(paths::ACCOUNT);
    let sent = mail::send(
        state,
        Email::NewCredential {
            to: &user.email,
            what,
            label,
            when: &when(state),
            account_link: &account,
        },
    )
    .await;
    if let Err(e) = sent {
        tracing::error!(error = %e, user = %user.id, "could not queue the new-credential notice");
    }
}
