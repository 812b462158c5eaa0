//! Which scopes and audiences a token may carry.

use crate::core::clients::ClientRow;
use crate::core::principal::scopes::{ACCOUNT, ADMIN, PRIVILEGED};
use crate::core::users::User;
use crate::core::{validate, Error};

/// Scopes that mean something only for a user's sign-in, left out of a client's default scope.
const SIGN_IN_SCOPES: &[&str] = &["openid", "offline_access"];

/// The scope of a new grant: the requested scopes when every one is allowed for the client
/// (`invalid_scope` otherwise), or the client's allowed scopes minus sign-in-only ones, and for
/// a person's grant (`for_user`) minus the privileged ones, which are only ever granted when
/// asked for (SPEC §9).
pub fn scope(client: &ClientRow, requested: Option<&str>, for_user: bool) -> Result<String, Error> {
    let allowed: Vec<&str> = client.scopes.split_whitespace().collect();
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        Some(requested) => {
            let mut out: Vec<&str> = Vec::new();
            for s in requested.split(' ').filter(|s| !s.is_empty()) {
                validate::scope_token(s)
                    .map_err(|_| Error::InvalidScope(format!("`{s}` is not a valid scope")))?;
                if !allowed.contains(&s) {
                    return Err(Error::InvalidScope(format!(
                        "scope `{s}` is not allowed for this client"
                    )));
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(out.join(" "))
        }
        None => Ok(allowed
            .into_iter()
            .filter(|s| !SIGN_IN_SCOPES.contains(s))
            .filter(|s| !(for_user && PRIVILEGED.contains(s)))
            .collect::<Vec<_>>()
            .join(" ")),
    }
}

/// The privileged scopes of SPEC §9: `account` goes only to trusted (first-party) clients;
/// `admin` in a grant for a user (`user_grant`) only through a trusted client. A client acting
/// for itself gets `admin` when it is registered with it. `invalid_scope` otherwise.
pub fn check_privileged(client: &ClientRow, scope: &str, user_grant: bool) -> Result<(), Error> {
    for s in scope.split_whitespace() {
        if s == ACCOUNT && !client.trusted {
            return Err(Error::InvalidScope(
                "the account scope is only for trusted (first-party) clients".into(),
            ));
        }
        if s == ADMIN && user_grant && !client.trusted {
            return Err(Error::InvalidScope(
                "the admin scope is only for trusted (first-party) clients".into(),
            ));
        }
    }
    Ok(())
}

/// A user's grant carries `admin` only while the user has the admin flag: the scope without it
/// otherwise (a narrower scope than asked, RFC 6749 §3.3).
pub fn for_user(scope: &str, user: &User) -> String {
    if user.is_admin || !scope.split_whitespace().any(|s| s == ADMIN) {
        return scope.to_owned();
    }
    scope
        .split_whitespace()
        .filter(|s| *s != ADMIN)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The audience of access tokens: the requested RFC 8707 resources when each is registered for
/// the client (`invalid_target` otherwise), else the default audience.
pub fn audience(
    client: &ClientRow,
    resources: &[String],
    default: &str,
) -> Result<Vec<String>, Error> {
    if resources.is_empty() {
        return Ok(vec![default.to_owned()]);
    }
    let registered = &client.resources;
    let mut out = Vec::new();
    for r in resources {
        let ok = url::Url::parse(r)
            .map(|u| u.fragment().is_none())
            .unwrap_or(false);
        if !ok {
            return Err(Error::InvalidTarget(format!(
                "resource `{r}` is not an absolute URI"
            )));
        }
        if !registered.iter().any(|x| x == r) {
            return Err(Error::InvalidTarget(format!(
                "resource `{r}` is not registered for this client"
            )));
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// Whether the client is allowed a grant type.
pub fn allows_grant(client: &ClientRow, grant_type: &str) -> bool {
    client.grant_types.iter().any(|g| g == grant_type)
}
