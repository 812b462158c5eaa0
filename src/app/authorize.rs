//! The authorization endpoint's use cases (RFC 6749 §4.1, OIDC Core §3.1.2): check a request,
//! decide what must happen before a code (sign-in, terms, consent), record a consent, and
//! issue the code.

use crate::app::Call;
use crate::core::authorize::{
    self, AuthorizeParams, ErrorRedirect, Next, Reject, SignedIn, Validated,
};
use crate::core::clients::ClientRow;
use crate::core::{consents, oidc, pushed, Error};
use crate::state::AppState;

/// Checks a request: a page error (unknown client or redirect URI), an error for the client,
/// or the valid request. A `request_uri` of this server opens the request kept behind it
/// (pushed to `/par`, or a request object kept by [`keep_request_object`]).
pub async fn validate(
    state: &AppState,
    call: &Call,
    params: AuthorizeParams,
) -> Result<Result<Validated, Reject>, Error> {
    let (now, require_par) = (call.now, state.config.require_pushed_authorization_requests);
    state
        .db
        .run(move |conn| {
            let params = match open_kept(conn, now, params)? {
                Ok(p) => p,
                Err(r) => return Ok(Err(r)),
            };
            Ok(authorize::validate(conn, now, &params, require_par)
                .map_err(Reject::for_the_browser))
        })
        .await
}

/// Whether an error that needed no action of the person (`prompt=none`, a bad
/// `id_token_hint`) may go back to the client: always for a client an admin registered; for one
/// that registered itself only when the person is signed in and has consented to it before,
/// else the error is a page (RFC 9700 §4.11.2).
pub async fn may_bounce(
    state: &AppState,
    request: &Validated,
    signed_in: Option<&SignedIn>,
) -> Result<bool, Error> {
    if !request.client.dynamic {
        return Ok(true);
    }
    let Some(s) = signed_in else {
        return Ok(false);
    };
    let (user, client) = (s.user.id.clone(), request.client.id.clone());
    state
        .db
        .run(move |conn| consents::any(conn, &user, &client))
        .await
}

/// The request behind a `request_uri` (the other parameters are ignored, RFC 9126 §4), or the
/// parameters as they are.
fn open_kept(
    conn: &mut crate::db::DbConnection,
    now: crate::core::Timestamp,
    params: AuthorizeParams,
) -> Result<Result<AuthorizeParams, Reject>, Error> {
    let Some(uri) = &params.request_uri else {
        return Ok(Ok(params));
    };
    if params.request.is_some() {
        return Ok(Err(Reject::Page(
            "The request has both request and request_uri.".into(),
        )));
    }
    let Some(client_id) = &params.client_id else {
        return Ok(Err(Reject::Page("The request has no client_id.".into())));
    };
    Ok(match pushed::open(conn, now, client_id, uri)? {
        Err(m) => Err(outer_error(conn, &params, "invalid_request_uri", m)),
        Ok(kept) => {
            let mut p = AuthorizeParams::from_pairs(&kept.pairs);
            p.pushed = kept.pushed;
            p.signed = kept.signed;
            p.kept = Some((kept.hash, kept.started_at));
            Ok(p)
        }
    })
}

/// A request whose `request_uri` cannot be opened: `core::authorize::outer_error` for the
/// client the query names.
fn outer_error(
    conn: &mut crate::db::DbConnection,
    params: &AuthorizeParams,
    error: &'static str,
    message: &str,
) -> Reject {
    let client = params
        .client_id
        .as_deref()
        .and_then(|id| crate::core::clients::get(conn, id).ok());
    authorize::outer_error(client.as_ref(), params, error, message)
}

/// A signed request object sent to `/authorize` (RFC 9101 by value): checked with the
/// client's keys, validated, and kept like a pushed request; the client and the `request_uri`
/// to go on with.
pub async fn keep_request_object(
    state: &AppState,
    call: &Call,
    params: AuthorizeParams,
) -> Result<Result<(String, String), Reject>, Error> {
    let (Some(client_id), Some(jwt)) = (params.client_id.clone(), params.request.clone()) else {
        return Ok(Err(Reject::Page("The request has no client_id.".into())));
    };
    let lookup = client_id.clone();
    let client = match state
        .db
        .run(move |conn| crate::core::clients::get(conn, &lookup))
        .await
    {
        Ok(c) => c,
        Err(Error::NotFound(_)) => {
            return Ok(Err(Reject::Page(
                "The application is not registered here.".into(),
            )))
        }
        Err(e) => return Err(e),
    };
    let pairs = match crate::app::client_jwt::request_object(state, &client, &jwt).await {
        Ok(p) => p,
        Err(m) => {
            return Ok(Err(
                match authorize::outer_error(
                    Some(&client),
                    &params,
                    "invalid_request_object",
                    &format!("the request object {m}"),
                ) {
                    Reject::Page(_) => Reject::Page(format!(
                        "The signed request is not valid: the request object {m}."
                    )),
                    r => r,
                },
            ))
        }
    };
    // OIDC Core §6.1: the parameters outside the object that OAuth requires must agree.
    let inside = AuthorizeParams::from_pairs(&pairs);
    if params
        .response_type
        .as_ref()
        .is_some_and(|outer| inside.response_type.as_ref() != Some(outer))
    {
        return Ok(Err(Reject::Page(
            "The signed request is not valid: response_type differs inside and outside the request object.".into(),
        )));
    }
    let (now, require_par) = (call.now, state.config.require_pushed_authorization_requests);
    state
        .db
        .run(move |conn| {
            let mut p = inside;
            p.signed = true;
            if let Err(r) = authorize::validate(conn, now, &p, require_par) {
                return Ok(Err(r.for_the_browser()));
            }
            let uri = pushed::keep_object(conn, now, &client_id, &jwt, &pairs)?;
            Ok(Ok((client_id, uri)))
        })
        .await
}

/// A pushed authorization request (RFC 9126 §2) of an authenticated client: the form's
/// parameters (or the request object among them), validated as `/authorize` would, kept
/// behind a new `request_uri`. Answers the URI and its lifetime, or the error for the client
/// (`error`, description).
pub async fn push(
    state: &AppState,
    call: &Call,
    client: &ClientRow,
    form: Vec<(String, String)>,
) -> Result<Result<(String, i64), (&'static str, String)>, Error> {
    const AUTHENTICATION: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];
    let mut pairs: Vec<(String, String)> = form
        .into_iter()
        .filter(|(k, _)| !AUTHENTICATION.contains(&k.as_str()))
        .collect();
    let get = |pairs: &[(String, String)], k: &str| {
        pairs
            .iter()
            .find(|(x, v)| x == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    if get(&pairs, "request_uri").is_some() {
        return Ok(Err((
            "invalid_request",
            "request_uri is not allowed at the PAR endpoint".into(),
        )));
    }
    if get(&pairs, "client_id").is_some_and(|id| id != client.id) {
        return Ok(Err((
            "invalid_request",
            "client_id is not the authenticated client".into(),
        )));
    }
    let mut signed = false;
    if let Some(jwt) = get(&pairs, "request") {
        pairs = match crate::app::client_jwt::request_object(state, client, &jwt).await {
            Ok(p) => p,
            Err(m) => {
                return Ok(Err((
                    "invalid_request_object",
                    format!("the request object {m}"),
                )))
            }
        };
        signed = true;
    } else if get(&pairs, "client_id").is_none() {
        pairs.push(("client_id".into(), client.id.clone()));
    }
    let (now, client_id) = (call.now, client.id.clone());
    state
        .db
        .run(move |conn| {
            let mut p = AuthorizeParams::from_pairs(&pairs);
            p.pushed = true;
            p.signed = signed;
            match authorize::validate(conn, now, &p, false) {
                Err(Reject::Page(m)) => return Ok(Err(("invalid_request", m))),
                Err(Reject::Redirect(e)) => return Ok(Err((e.error, e.description))),
                Ok(_) => {}
            }
            Ok(Ok(pushed::push(conn, now, &client_id, &pairs, signed)?))
        })
        .await
}

/// What must happen next for a valid request and whoever is signed in (an `id_token_hint`
/// naming someone else is a new sign-in; an invalid one is the client's error).
pub async fn next_step(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: Option<&SignedIn>,
) -> Result<Result<Next, ErrorRedirect>, Error> {
    let hint_sub = match &request.id_token_hint {
        Some(hint) => {
            let keys = state.keys.current().await;
            match oidc::verify_id_token_hint(&keys, state.config.issuer(), hint) {
                Some(claims) => Some(claims.sub),
                None => {
                    return Ok(Err(request.error(
                        "invalid_request",
                        "id_token_hint is not a valid ID token of this server",
                    )))
                }
            }
        }
        None => None,
    };
    let (now, config) = (call.now, state.config.clone());
    let (v, s) = (request.clone(), signed_in.cloned());
    state
        .db
        .run(move |conn| {
            authorize::next_step(conn, now, &config, &v, s.as_ref(), hint_sub.as_deref())
        })
        .await
}

/// Issues the code for a valid request and the person signed in.
pub async fn issue_code(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    let (now, config) = (call.now, state.config.clone());
    let (v, s) = (request.clone(), signed_in.clone());
    state
        .db
        .run(move |conn| authorize::issue_code(conn, now, &config, &v, &s))
        .await
}

/// Records the person's consent to the request's scopes for its client, then issues the code.
pub async fn consent(
    state: &AppState,
    call: &Call,
    request: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    let now = call.now;
    let (user, client, scope) = (
        signed_in.user.id.clone(),
        request.client.id.clone(),
        request.scope.clone(),
    );
    state
        .db
        .run(move |conn| consents::grant(conn, now, &user, &client, &scope))
        .await?;
    issue_code(state, call, request, signed_in).await
}
