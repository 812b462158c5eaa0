//! OIDC userinfo (Core §5.3): the claims the caller's token releases about its user, recorded
//! as an API call of that user.

use crate::app::Call;
use crate::core::oidc::{self, UserInfoClaims};
use crate::core::principal::scopes;
use crate::core::users::User;
use crate::core::Error;
use crate::state::AppState;

/// The user's claims, by the scopes of the call's token: every claim for a first-party account
/// credential (an `account` token, a personal access token).
pub async fn run(state: &AppState, call: &Call, user: &User) -> Result<UserInfoClaims, Error> {
    let p = call.principal.as_ref();
    let granted: Vec<String> = match p {
        Some(p) if p.has(scopes::ACCOUNT) => ["openid", "profile", "email", "address"]
            .map(str::to_owned)
            .to_vec(),
        Some(p) => p.scopes.clone(),
        None => Vec::new(),
    };
    let (now, ip, user) = (call.now, call.ip.clone(), user.clone());
    let client_id = p.and_then(|p| p.client_id.clone());
    state
        .db
        .run(move |conn| oidc::userinfo_for(conn, now, &user, client_id, &granted, ip))
        .await
}
