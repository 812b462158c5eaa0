//! OIDC userinfo (Core §5.3): the claims the caller's token releases about its user, recorded
//! as an API call of that user through the audit queue (no database write on the request).

use crate::app::Call;
use crate::core::events::NewEvent;
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
        Some(p) if p.has(scopes::ACCOUNT) => ["openid", "profile", "email", "address", "phone"]
            .map(str::to_owned)
            .to_vec(),
        Some(p) => p.scopes.clone(),
        None => Vec::new(),
    };
    state.audit.push(
        call.now,
        NewEvent {
            kind: "api.call",
            user_id: Some(user.id.clone()),
            client_id: p.and_then(|p| p.client_id.clone()),
            service: Some("userinfo".into()),
            ip: Some(call.ip.clone()),
            ..Default::default()
        },
    );
    let scopes: Vec<&str> = granted.iter().map(String::as_str).collect();
    Ok(oidc::userinfo(user, &scopes))
}
