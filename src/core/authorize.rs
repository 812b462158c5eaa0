//! Authorization requests (RFC 6749 §4.1, OIDC Core §3.1.2): validation, and what a request
//! needs before a code can be issued (a sign-in, terms, consent). Errors about the client or
//! redirect URI are shown to the person; every other error goes back to the client.

use chrono::Duration;

use super::clients::{self, ClientRow};
use super::oauth::policy;
use super::tokens::code::{self, NewCode};
use super::users::User;
use super::{consents, terms, Error, Timestamp};
use crate::config::Config;
use crate::db::DbConnection;

/// The parameters as received (query or form). Unknown parameters are ignored.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    /// Requested authentication context classes, in order of preference (OIDC Core §3.1.2.1).
    pub acr_values: Option<String>,
    pub resources: Vec<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// A parameter that appeared twice (RFC 6749 §3.1).
    pub repeated: Option<String>,
    /// The request was pushed to `/par` (RFC 9126) by the authenticated client.
    pub pushed: bool,
    /// The request came as a signed request object (RFC 9101).
    pub signed: bool,
    /// The kept request behind its `request_uri` (hash, when a browser started with it).
    pub kept: Option<(String, Timestamp)>,
}

/// Parameters that may not repeat in an authorization request.
const SINGLE: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "acr_values",
    "request",
    "request_uri",
];

impl AuthorizeParams {
    /// Reads the parameters from pairs (query string, form body, a kept request); empty values
    /// count as absent.
    pub fn from_pairs(pairs: &[(String, String)]) -> AuthorizeParams {
        let mut p = AuthorizeParams::default();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            if SINGLE.contains(&k.as_str())
                && pairs[..i].iter().any(|(x, y)| x == k && !y.is_empty())
            {
                p.repeated.get_or_insert_with(|| k.clone());
            }
            let v = Some(v.clone());
            match k.as_str() {
                "client_id" => p.client_id = v,
                "redirect_uri" => p.redirect_uri = v,
                "response_type" => p.response_type = v,
                "response_mode" => p.response_mode = v,
                "scope" => p.scope = v,
                "state" => p.state = v,
                "nonce" => p.nonce = v,
                "code_challenge" => p.code_challenge = v,
                "code_challenge_method" => p.code_challenge_method = v,
                "prompt" => p.prompt = v,
                "max_age" => p.max_age = v,
                "login_hint" => p.login_hint = v,
                "id_token_hint" => p.id_token_hint = v,
                "acr_values" => p.acr_values = v,
                "resource" => p.resources.extend(v),
                "request" => p.request = v,
                "request_uri" => p.request_uri = v,
                _ => {}
            }
        }
        p
    }
}

/// Why a request cannot go on.
#[derive(Debug, Clone)]
pub enum Reject {
    /// Unknown client or unregistered redirect URI: shown as a page, never redirected.
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect(ErrorRedirect),
}

/// An error answer for the client (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
#[derive(Debug, Clone)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
    /// The client registered itself: nobody checked its redirect URIs (see
    /// [`Reject::for_the_browser`]).
    pub stranger: bool,
}

impl Reject {
    /// What the browser gets: an error for a client that registered itself is shown here
    /// rather than sent to its unchecked redirect URI, so that this server is nobody's open
    /// redirector (RFC 9700 §4.11.2). `/par` answers its errors to the client itself and
    /// skips this.
    pub fn for_the_browser(self) -> Reject {
        match self {
            Reject::Redirect(e) if e.stranger => Reject::Page(format!(
                "The application sent an invalid request ({}): {}.",
                e.error, e.description
            )),
            r => r,
        }
    }
}

/// The error for a request whose request object or `request_uri` cannot be opened (RFC 9126
/// §4, RFC 9101 §6.3): back to `client` when the query names one of its registered redirect
/// URIs, else a page.
pub fn outer_error(
    client: Option<&ClientRow>,
    params: &AuthorizeParams,
    error: &'static str,
    message: &str,
) -> Reject {
    match (client, &params.redirect_uri) {
        (Some(c), Some(uri)) if c.redirect_uris.iter().any(|r| r == uri) => {
            Reject::Redirect(ErrorRedirect {
                redirect_uri: uri.clone(),
                error,
                description: message.to_owned(),
                state: params.state.clone(),
                stranger: c.dynamic,
            })
            .for_the_browser()
        }
        _ => Reject::Page(message.to_owned()),
    }
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A valid request.
#[derive(Debug, Clone)]
pub struct Validated {
    pub client: ClientRow,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub resource: Option<String>,
    /// The request asks for a second factor (`acr_values` names `mfa`).
    pub wants_mfa: bool,
    /// The hash of the kept request's URI (PAR, request objects): issuing the code consumes it.
    pub kept: Option<String>,
    /// A sign-in at or after this time is fresh for this request (`prompt=login`, `max_age`):
    /// when the browser started with its kept request.
    pub fresh_since: Option<Timestamp>,
}

impl Validated {
    /// An error to send back to the client.
    pub fn error(&self, error: &'static str, description: impl Into<String>) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.into(),
            state: self.state.clone(),
            stranger: self.client.dynamic,
        }
    }

    /// Whether the request asks for OpenID Connect.
    pub fn openid(&self) -> bool {
        self.scope.split_whitespace().any(|s| s == "openid")
    }
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates a request: first the client and redirect URI (a `Page` error), then the rest (a
/// `Redirect` error). `require_par` is the server-wide `require_pushed_authorization_requests`.
pub fn validate(
    conn: &mut DbConnection,
    now: Timestamp,
    params: &AuthorizeParams,
    require_par: bool,
) -> Result<Validated, Reject> {
    let client_id = params
        .client_id
        .as_deref()
        .ok_or_else(|| Reject::Page("The request has no client_id.".into()))?;
    let client = match clients::get(conn, client_id) {
        Ok(c) => c,
        Err(Error::NotFound(_)) => {
            return Err(Reject::Page(
                "The application is not registered here.".into(),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "authorization request: client look-up failed");
            return Err(Reject::Page(
                "The request could not be checked; please try again.".into(),
            ));
        }
    };
    if client.expires_at.is_some_and(|t| t <= now) {
        return Err(Reject::Page(
            "The application's registration has expired.".into(),
        ));
    }
    let registered = &client.redirect_uris[..];
    let redirect_uri = match (&params.redirect_uri, registered) {
        (Some(uri), _) if registered.iter().any(|r| r == uri) => uri.clone(),
        (Some(_), _) => {
            return Err(Reject::Page(
                "The redirect URI is not registered for this application.".into(),
            ))
        }
        (None, [only]) => only.clone(),
        (None, _) => return Err(Reject::Page("The request has no redirect_uri.".into())),
    };
    let stranger = client.dynamic;
    let fail = |error: &'static str, description: &str| {
        Err(Reject::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_owned(),
            state: params.state.clone(),
            stranger,
        }))
    };
    if let Some(name) = &params.repeated {
        return fail(
            "invalid_request",
            &format!("parameter `{name}` is repeated"),
        );
    }
    // Request objects and request URIs were opened before (`app::authorize`); one inside
    // another is refused (RFC 9101 §4, RFC 9126 §2.1).
    if params.request.is_some() {
        return fail(
            "invalid_request_object",
            "a request object cannot carry another",
        );
    }
    if params.request_uri.is_some() {
        return fail(
            "invalid_request",
            "a pushed request cannot carry a request_uri",
        );
    }
    let meta = client.meta();
    if (require_par || meta.require_pushed_authorization_requests) && !params.pushed {
        return fail(
            "invalid_request",
            "this client must push its authorization requests first (PAR, RFC 9126)",
        );
    }
    if meta.require_signed_request_object && !params.signed {
        return fail(
            "invalid_request",
            "this client must sign its authorization requests (a request object, RFC 9101)",
        );
    }
    match params.response_type.as_deref() {
        None => return fail("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    if !policy::allows_grant(&client, "authorization_code") {
        return fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        );
    }
    let scope = match policy::scope(&client, params.scope.as_deref(), true)
        .and_then(|s| policy::check_privileged(&client, &s, true).map(|_| s))
    {
        Ok(s) => s,
        Err(e) => return fail("invalid_scope", &e.to_string()),
    };
    let public = client.is_public();
    let code_challenge = match (
        &params.code_challenge,
        params.code_challenge_method.as_deref(),
    ) {
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
        (None, None) if public => {
            return fail(
                "invalid_request",
                "public clients must use PKCE (code_challenge with S256)",
            )
        }
        (None, None) => None,
        (Some(_), Some("plain")) => {
            return fail(
                "invalid_request",
                "the plain PKCE method is not allowed; use S256",
            )
        }
        (Some(_), None) => {
            return fail("invalid_request", "code_challenge_method=S256 is required")
        }
        (Some(_), Some(m)) if m != "S256" => {
            return fail(
                "invalid_request",
                "unsupported code_challenge_method; use S256",
            )
        }
        (Some(c), Some(_)) if !is_pkce_value(c) => {
            return fail("invalid_request", "code_challenge is malformed")
        }
        (Some(c), Some(_)) => Some(c.clone()),
    };
    let mut prompt = Prompt::default();
    for p in params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
    {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => {
                return fail(
                    "invalid_request",
                    &format!("unsupported prompt value `{p}`"),
                )
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return fail("invalid_request", "max_age must be a non-negative integer"),
        },
    };
    let resource = match params.resources.as_slice() {
        [] => None,
        [one] => match policy::audience(&client, std::slice::from_ref(one), "") {
            Ok(_) => Some(one.clone()),
            Err(e) => return fail("invalid_target", &e.to_string()),
        },
        _ => return fail("invalid_target", "one resource per authorization request"),
    };
    if params.nonce.as_deref().is_some_and(|n| n.len() > 512) {
        return fail("invalid_request", "nonce is too long");
    }
    if params.state.as_deref().is_some_and(|s| s.len() > 2048) {
        return fail("invalid_request", "state is too long");
    }
    Ok(Validated {
        client,
        redirect_uri,
        scope,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.login_hint.clone(),
        id_token_hint: params.id_token_hint.clone(),
        resource,
        wants_mfa: params
            .acr_values
            .as_deref()
            .is_some_and(|v| v.split_whitespace().any(|a| a == super::factors::ACR_MFA)),
        kept: params.kept.as_ref().map(|(h, _)| h.clone()),
        fresh_since: params.kept.as_ref().map(|(_, t)| *t),
    })
}

/// The signed-in person, as the authorization endpoint sees them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub sid: String,
    pub auth_time: Timestamp,
    pub amr: String,
}

/// What must happen before a code can be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Sign in (again).
    SignIn,
    /// Give the second factor (the session has none, and the app or the policy needs one).
    SecondFactor,
    /// The app or the policy needs a second factor the person has not set up.
    SetUpSecondFactor,
    /// Accept the terms.
    Terms,
    /// Ask for consent.
    Consent,
    /// Issue the code.
    Issue,
}

/// Decides the next step for a valid request. `hint_sub` is the subject of a verified
/// `id_token_hint`. With `prompt=none` every interactive step becomes an error for the client.
pub fn next_step(
    conn: &mut DbConnection,
    now: Timestamp,
    config: &Config,
    req: &Validated,
    signed_in: Option<&SignedIn>,
    hint_sub: Option<&str>,
) -> Result<Result<Next, ErrorRedirect>, Error> {
    let none = req.prompt.none;
    let Some(s) = signed_in else {
        return Ok(if none {
            Err(req.error("login_required", "the user is not signed in"))
        } else {
            Ok(Next::SignIn)
        });
    };
    let too_old = req
        .max_age
        .is_some_and(|max| now - s.auth_time > Duration::seconds(max as i64));
    let other_user = hint_sub.is_some_and(|sub| sub != s.user.id);
    // A sign-in since a kept request started satisfies its prompt=login and max_age (the
    // round trip through sign-in cannot drop them from the URL, as it does for plain ones).
    let fresh = req.fresh_since.is_some_and(|t| s.auth_time >= t);
    if (!fresh && (req.prompt.login || too_old)) || other_user {
        return Ok(if none {
            Err(req.error("login_required", "the user must sign in again"))
        } else {
            Ok(Next::SignIn)
        });
    }
    if let Some(step) = prerequisite(conn, config, &req.client, s, req.wants_mfa)? {
        return Ok(if none {
            Err(req.error(
                "interaction_required",
                match step {
                    Next::Terms => "the user must accept the terms",
                    _ => "the user must sign in with a second factor",
                },
            ))
        } else {
            Ok(step)
        });
    }
    let consented = req.client.trusted
        || (!req.prompt.consent && consents::covers(conn, &s.user.id, &req.client.id, &req.scope)?);
    if !consented {
        return Ok(if none {
            Err(req.error("consent_required", "the user has not consented"))
        } else {
            Ok(Next::Consent)
        });
    }
    Ok(Ok(Next::Issue))
}

/// What a signed-in person must do before acting for `client` (here, or at `/device`): give a
/// second factor (asked for by the app with `acr_values`, which a person without one simply
/// does not meet; required by the app or by the policy, which they must then set up), or
/// accept the terms. `None` when nothing.
pub fn prerequisite(
    conn: &mut DbConnection,
    config: &Config,
    client: &ClientRow,
    s: &SignedIn,
    wants_mfa: bool,
) -> Result<Option<Next>, Error> {
    let required =
        client.requires_second_factor() || config.security.second_factor.requires(s.user.is_admin);
    if required || wants_mfa {
        let amr: Vec<String> = serde_json::from_str(&s.amr).unwrap_or_default();
        if super::factors::acr_of(&amr) != super::factors::ACR_MFA {
            let enrolled = super::factors::enrolled(conn, &s.user.id)?.any();
            match (enrolled, required) {
                (true, _) => return Ok(Some(Next::SecondFactor)),
                (false, true) => return Ok(Some(Next::SetUpSecondFactor)),
                (false, false) => {}
            }
        }
    }
    if let Some(version) = &config.terms_version {
        if !terms::accepted(conn, &s.user.id, version)? {
            return Ok(Some(Next::Terms));
        }
    }
    Ok(None)
}

/// Issues a code for a valid request and a signed-in person; returns its value.
pub fn issue_code(
    conn: &mut DbConnection,
    now: Timestamp,
    config: &Config,
    req: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    crate::db::transaction(conn, |conn| {
        if let Some(hash) = &req.kept {
            if !super::pushed::consume(conn, hash)? {
                return Err(Error::InvalidRequest(
                    "this authorization request was already used; start again from the application"
                        .into(),
                ));
            }
        }
        new_code(conn, now, config, req, signed_in)
    })
}

fn new_code(
    conn: &mut DbConnection,
    now: Timestamp,
    config: &Config,
    req: &Validated,
    signed_in: &SignedIn,
) -> Result<String, Error> {
    code::create(
        conn,
        now,
        config.tokens.code_ttl,
        NewCode {
            client_id: req.client.id.clone(),
            user_id: signed_in.user.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scope: policy::for_user(&req.scope, &signed_in.user),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            code_challenge_method: req.code_challenge.as_ref().map(|_| "S256".into()),
            resource: req.resource.clone(),
            session_id: Some(signed_in.sid.clone()),
            auth_time: signed_in.auth_time,
            amr: Some(signed_in.amr.clone()),
        },
    )
}

/// The authorization request to come back to after a sign-in: the same parameters without
/// `max_age` and without `prompt=login`, which the sign-in that just happened satisfies
/// (`max_age=0` would otherwise loop forever).
pub fn after_sign_in(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(k, _)| k != "max_age")
        .map(|(k, val)| {
            if k == "prompt" {
                let kept: Vec<&str> = val.split_whitespace().filter(|p| *p != "login").collect();
                (k.clone(), kept.join(" "))
            } else {
                (k.clone(), val.clone())
            }
        })
        .filter(|(_, val)| !val.is_empty())
        .collect()
}
