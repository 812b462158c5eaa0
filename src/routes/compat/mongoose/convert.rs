//! Core values as Mongoose results.

use serde_json::{json, Value};

use crate::core::time::rfc3339;
use crate::core::tokens::pat::Pat;
use crate::core::tokens::SignedToken;
use crate::core::users::User;

/// `GetInfo`: the email only for the user themself or an admin.
pub fn user_info(u: &User, with_email: bool) -> Value {
    let mut v = json!({
        "id": u.id,
        "name": u.username,
        "email_verified": u.email_verified_at.is_some(),
        "created_at": rfc3339(u.created_at),
    });
    if with_email {
        v["email"] = json!(u.email);
    }
    v
}

/// `ListTokens`: never the secret.
pub fn token_list(pats: &[Pat]) -> Value {
    Value::Array(
        pats.iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "description": p.description,
                    "created_at": rfc3339(p.created_at),
                    "last_used_at": p.last_used_at.map(rfc3339),
                })
            })
            .collect(),
    )
}

/// `GenerateToken` / `GetToken`.
pub fn app_token(t: &SignedToken, host: &str) -> Value {
    let expires = chrono::DateTime::from_timestamp(t.claims.exp, 0)
        .map(|d| rfc3339(d.naive_utc()))
        .unwrap_or_default();
    json!({ "token": t.token, "host": host, "expires_at": expires })
}
