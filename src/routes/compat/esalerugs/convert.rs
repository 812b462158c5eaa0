//! Core values as esalerugs answers.

use super::dto::{AccountReply, AccountSummary, Data, TokenReply};
use crate::core::oauth::TokenResponse;
use crate::core::users::User;

pub fn tokens(t: TokenResponse) -> TokenReply {
    TokenReply {
        token: t.access_token,
        refresh_token: t.refresh_token,
    }
}

pub fn account(u: &User, t: Option<TokenResponse>) -> AccountReply {
    let (token, refresh_token) = match t {
        Some(t) => (Some(t.access_token), t.refresh_token),
        None => (None, None),
    };
    AccountReply {
        id: u.id.clone(),
        email: u.email.clone(),
        token,
        refresh_token,
    }
}

/// `{"data": {"id", "email"}}`.
pub fn data(u: User) -> Data {
    Data {
        data: AccountSummary {
            id: u.id,
            email: u.email,
        },
    }
}
