//! The grants of the token endpoint, for a client the caller has authenticated. The
//! authorization-code, refresh and client-credentials grants run oxide-auth's state machines,
//! answering each step from `DbEndpoint`; errors are mapped here to RFC 6749 §5.2 (oxide-auth
//! would answer 500 or `invalid_request` for some). The password grant (not in oxide-auth)
//! issues through the same `DbEndpoint`.

use std::borrow::Cow;

use oxide_auth::code_grant::accesstoken::{self as at, AccessToken, Authorization};
use oxide_auth::code_grant::client_credentials::{self as cc, ClientCredentials};
use oxide_auth::code_grant::error::{AccessTokenError, AccessTokenErrorType};
use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::code_grant::refresh::{self as rf, Refresh};
use oxide_auth::primitives::grant::{Extensions, Grant};

use super::endpoint::{DbEndpoint, Flow, Issued};
use super::{policy, Ctx, TokenParams, TokenResponse};
use crate::core::client_auth::Credentials;
use crate::core::clients::ClientRow;
use crate::core::{Error, Timestamp};
use crate::db::DbConnection;

/// The request as oxide-auth's machines read it: parameters plus the client's credentials,
/// normalised (Basic and body credentials look the same here; public clients present none).
struct Req<'a> {
    params: &'a TokenParams,
    client_id: &'a str,
    secret: Option<&'a str>,
}

impl at::Request for Req<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        self.params.code.as_deref().map(Cow::Borrowed)
    }
    fn authorization(&self) -> Authorization<'_> {
        match self.secret {
            Some(s) => Authorization::UsernamePassword(self.client_id.into(), s.as_bytes().into()),
            None => Authorization::None,
        }
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        self.secret
            .is_none()
            .then_some(Cow::Borrowed(self.client_id))
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.params.redirect_uri.as_deref().map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.params.grant_type))
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "code_verifier" => self.params.code_verifier.as_deref().map(Cow::Borrowed),
            _ => None,
        }
    }
}

impl rf::Request for Req<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        self.params.refresh_token.as_deref().map(Cow::Borrowed)
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.params.scope.as_deref().map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.params.grant_type))
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.secret
            .map(|s| (Cow::Borrowed(self.client_id), Cow::Borrowed(s.as_bytes())))
    }
    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

impl cc::Request for Req<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.secret
            .map(|s| (Cow::Borrowed(self.client_id), Cow::Borrowed(s.as_bytes())))
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.params.scope.as_deref().map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.params.grant_type))
    }
    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

/// Maps an oxide-auth error description to ours. (Our own steps' errors never reach it: they
/// return before the machine sees them.)
fn map_kind(mut description: Option<&mut AccessTokenError>) -> Error {
    match description.as_mut().map(|d| d.kind()) {
        Some(AccessTokenErrorType::InvalidClient) => {
            Error::InvalidClient("client authentication failed".into())
        }
        Some(AccessTokenErrorType::InvalidGrant) => Error::InvalidGrant(
            "the grant was issued to another client or redirect URI, or has expired".into(),
        ),
        Some(AccessTokenErrorType::UnauthorizedClient) => {
            Error::UnauthorizedClient("the client may not use this grant".into())
        }
        Some(AccessTokenErrorType::UnsupportedGrantType) => {
            Error::UnsupportedGrantType("unsupported grant_type".into())
        }
        Some(AccessTokenErrorType::InvalidScope) => {
            Error::InvalidScope("the requested scope exceeds the granted scope".into())
        }
        Some(_) => Error::InvalidRequest("a required parameter is missing or malformed".into()),
        None => Error::Internal("token flow failed".into()),
    }
}

fn respond(ctx: &Ctx, issued: Issued) -> TokenResponse {
    TokenResponse {
        expires_in: issued.access.claims.exp - ctx.now.and_utc().timestamp(),
        scope: issued.access.claims.scope.clone(),
        token_type: issued.access.claims.token_type(),
        access_token: issued.access.token,
        refresh_token: issued.refresh,
        id_token: None,
        issued_token_type: None,
        grant_id: issued.grant.map(|g| g.id),
    }
}

fn require_grant(client: &ClientRow, grant_type: &str) -> Result<(), Error> {
    if policy::allows_grant(client, grant_type) {
        Ok(())
    } else {
        Err(Error::UnauthorizedClient(format!(
            "this client is not allowed the {grant_type} grant"
        )))
    }
}

/// Adds an ID token (OIDC Core §3.1.3.3, §12.2) for a user's grant with the `openid` scope;
/// the nonce only on the code exchange. `issued` is what the flow's issue step made.
fn with_id_token(
    issued: Option<Issued>,
    ctx: &Ctx,
    with_nonce: bool,
) -> Result<TokenResponse, Error> {
    let issued =
        issued.ok_or_else(|| Error::Internal("the flow finished without issuing".into()))?;
    let id_token = match &issued.grant {
        Some(g) if g.user_id.is_some() && issued.access.claims.has_scope("openid") => {
            Some(crate::core::oidc::sign_id_token(
                ctx.keys,
                ctx.config,
                ctx.now,
                g,
                &issued.access.token,
                with_nonce,
            )?)
        }
        _ => None,
    };
    let mut res = respond(ctx, issued);
    res.id_token = id_token;
    Ok(res)
}

/// Whether `client_credentials` needs the database for this client: to check a key's owner,
/// or to store a refresh token. Otherwise it is pure computation and `conn` may be None.
pub fn client_credentials_needs_db(client: &ClientRow, with_refresh: bool) -> bool {
    client.owner_id.is_some() || with_refresh
}

/// `grant_type=client_credentials`. Tokens of a key owned by a user act for the owner.
/// `with_refresh` issues a refresh token too (only doors whose API promises one ask).
/// `conn` may be None when [`client_credentials_needs_db`] says so.
pub fn client_credentials(
    mut conn: Option<&mut DbConnection>,
    ctx: &Ctx,
    client: &ClientRow,
    credentials: &Credentials,
    params: &TokenParams,
    with_refresh: bool,
) -> Result<TokenResponse, Error> {
    require_grant(client, "client_credentials")?;
    if client.is_public() {
        return Err(Error::UnauthorizedClient(
            "client_credentials is only for confidential clients".into(),
        ));
    }
    let scope = policy::scope(client, params.scope.as_deref(), false)?;
    // A key owned by a user acts for them: its tokens are a user's grant (SPEC §9).
    policy::check_privileged(client, &scope, client.owner_id.is_some())?;
    let (sub, scope) = match &client.owner_id {
        Some(owner) => {
            let conn = conn.as_deref_mut().ok_or_else(|| {
                Error::Internal("client_credentials for an owned key needs the database".into())
            })?;
            let user = crate::core::users::get(conn, owner)?;
            if user.disabled {
                return Err(Error::InvalidGrant("the key's owner is disabled".into()));
            }
            (owner.clone(), policy::for_user(&scope, &user))
        }
        None => (client.id.clone(), scope),
    };
    let audience = policy::audience(client, &params.resources, ctx.config.default_audience())?;
    let req = Req {
        params,
        client_id: &client.id,
        secret: credentials.passphrase(),
    };
    let flow = Flow::ClientCredentials { sub, with_refresh };
    let mut ep = DbEndpoint::new(conn, ctx, client, flow, scope, audience);
    ep.bind(params.dpop_jkt.clone());
    let mut machine = ClientCredentials::new(&req);
    let mut input = cc::Input::None;
    loop {
        input = match machine.advance(input) {
            cc::Output::Authenticate { client, .. } => {
                ep.authenticated(client)?;
                cc::Input::Authenticated
            }
            cc::Output::Binding { client_id } => cc::Input::Bound {
                bound_client: ep.bound(client_id)?,
            },
            cc::Output::Extend => cc::Input::Extended {
                extensions: Extensions::new(),
            },
            cc::Output::Negotiate { bound_client, .. } => {
                let pre_grant = ep.negotiate(bound_client.clone())?;
                cc::Input::Negotiated { pre_grant }
            }
            cc::Output::Ok {
                pre_grant,
                extensions,
            } => {
                let grant = Grant {
                    owner_id: pre_grant.client_id.clone(),
                    client_id: pre_grant.client_id.clone(),
                    scope: pre_grant.scope.clone(),
                    redirect_uri: ep.placeholder_redirect(),
                    until: crate::core::tokens::after(ctx.now, ctx.access_ttl).and_utc(),
                    extensions: extensions.clone(),
                };
                return Ok(respond(ctx, ep.issue(&grant)?));
            }
            cc::Output::Err(mut e) => return Err(map_kind(e.description())),
        };
    }
}

/// `grant_type=authorization_code`: single use, exact redirect URI, PKCE (required for public
/// clients, S256 only), a replay revokes what the first exchange issued.
pub fn authorization_code(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    credentials: &Credentials,
    params: &TokenParams,
) -> Result<TokenResponse, Error> {
    require_grant(client, "authorization_code")?;
    if params.code.is_none() {
        return Err(Error::InvalidRequest("code is required".into()));
    }
    if params.redirect_uri.is_none() {
        return Err(Error::InvalidRequest("redirect_uri is required".into()));
    }
    let requested_audience = if params.resources.is_empty() {
        None
    } else {
        Some(policy::audience(
            client,
            &params.resources,
            ctx.config.default_audience(),
        )?)
    };
    let req = Req {
        params,
        client_id: &client.id,
        secret: credentials.passphrase(),
    };
    let public = client.is_public();
    let mut ep = DbEndpoint::new(
        Some(conn),
        ctx,
        client,
        Flow::AuthorizationCode,
        String::new(),
        Vec::new(),
    );
    ep.bind(params.dpop_jkt.clone());
    let mut issued = None;
    let mut machine = AccessToken::new(&req);
    let mut input = at::Input::None;
    loop {
        input = match machine.advance(input) {
            at::Output::Authenticate { client, .. } => {
                ep.authenticated(client)?;
                at::Input::Authenticated
            }
            at::Output::Recover { code } => {
                let code = code.to_owned();
                at::Input::Recovered(Some(Box::new(ep.extract(&code)?)))
            }
            at::Output::Extend { extensions } => {
                let challenge = extensions.remove(&Pkce::required());
                if public && challenge.is_none() {
                    return Err(Error::InvalidGrant("public clients must use PKCE".into()));
                }
                if challenge.is_none() && params.code_verifier.is_some() {
                    return Err(Error::InvalidGrant(
                        "code_verifier given, but the authorization request had no code_challenge"
                            .into(),
                    ));
                }
                Pkce::optional()
                    .verify(
                        challenge,
                        params.code_verifier.as_deref().map(Cow::Borrowed),
                    )
                    .map_err(|_| Error::InvalidGrant("PKCE verification failed".into()))?;
                at::Input::Extended {
                    access_extensions: Extensions::new(),
                }
            }
            at::Output::Issue { grant } => {
                let grant = grant.clone();
                // The audience: the resource of the authorization request, or of this one.
                let code_resource = ep.code_row().and_then(|c| c.resource.clone());
                let audience = match (&requested_audience, code_resource) {
                    (Some(a), _) => a.clone(),
                    (None, Some(r)) => vec![r],
                    (None, None) => vec![ctx.config.default_audience().to_owned()],
                };
                ep.set_audience(audience);
                let made = ep.issue(&grant)?;
                let token = made.as_issued_token();
                issued = Some(made);
                at::Input::Issued(token)
            }
            at::Output::Ok(_) => return with_id_token(issued, ctx, true),
            at::Output::Err(mut e) => return Err(map_kind(e.description())),
        };
    }
}

/// `grant_type=refresh_token`: the token is rotated; a reused one revokes its family.
pub fn refresh(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    credentials: &Credentials,
    params: &TokenParams,
) -> Result<TokenResponse, Error> {
    refresh_with(conn, ctx, client, credentials, params)
}

fn refresh_with(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    credentials: &Credentials,
    params: &TokenParams,
) -> Result<TokenResponse, Error> {
    require_grant(client, "refresh_token")?;
    if params.refresh_token.is_none() {
        return Err(Error::InvalidRequest("refresh_token is required".into()));
    }
    let audience = if params.resources.is_empty() {
        Vec::new()
    } else {
        policy::audience(client, &params.resources, ctx.config.default_audience())?
    };
    let req = Req {
        params,
        client_id: &client.id,
        secret: credentials.passphrase(),
    };
    let mut ep = DbEndpoint::new(
        Some(conn),
        ctx,
        client,
        Flow::Refresh,
        String::new(),
        audience,
    );
    ep.bind(params.dpop_jkt.clone());
    let mut issued = None;
    let mut machine = Refresh::new(&req);
    let mut input = rf::Input::None;
    loop {
        input = match machine.advance(input) {
            rf::Output::Unauthenticated { client: who, pass } => {
                if pass.is_none() && who != client.id {
                    return Err(Error::InvalidGrant(
                        "the refresh token was issued to another client".into(),
                    ));
                }
                ep.authenticated(who)?;
                rf::Input::Authenticated {
                    scope: params.scope.as_deref().map(Cow::Borrowed),
                }
            }
            rf::Output::RecoverRefresh { token } => {
                let token = token.to_owned();
                rf::Input::Recovered {
                    scope: params.scope.as_deref().map(Cow::Borrowed),
                    grant: Some(Box::new(ep.recover(&token)?)),
                }
            }
            rf::Output::Refresh { grant, .. } => {
                let made = ep.rotate(&grant)?;
                let refreshed = made.as_refreshed_token();
                issued = Some(made);
                rf::Input::Refreshed(refreshed)
            }
            rf::Output::Ok(_) => return with_id_token(issued, ctx, false),
            rf::Output::Err(mut e) => return Err(map_kind(e.description())),
        };
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): a device's
/// poll. Until the person has decided, the answer is `authorization_pending` (or `slow_down`,
/// `access_denied`, `expired_token`); once approved, the tokens of a new grant for the person
/// who approved, with the scope and audience asked for at `/device_authorization`, and an ID
/// token with `openid`. The authorization is claimed in the transaction that issues them, so
/// two racing polls get one set of tokens.
pub fn device_code(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    params: &TokenParams,
) -> Result<TokenResponse, Error> {
    use crate::core::device;
    require_grant(client, device::GRANT_TYPE)?;
    let code = params
        .device_code
        .as_deref()
        .ok_or_else(|| Error::InvalidRequest("device_code is required".into()))?;
    let row = device::poll(conn, ctx.now, &client.id, code)?;
    let used = || Error::InvalidGrant("the device code was already used".into());
    crate::db::transaction(conn, |conn| {
        if !device::claim(conn, &row)? {
            return Err(used());
        }
        let user_id = row.user_id.clone().ok_or_else(used)?;
        let user = match crate::core::users::get(conn, &user_id) {
            Ok(u) if !u.disabled => u,
            Ok(_) => return Err(Error::AccountDisabled),
            Err(Error::NotFound(_)) => return Err(used()),
            Err(e) => return Err(e),
        };
        let scope = policy::for_user(&row.scope, &user);
        if scope.is_empty() {
            return Err(Error::InvalidGrant(
                "nothing of the asked scope is left for this person".into(),
            ));
        }
        let flow = Flow::Device {
            user_id: user.id.clone(),
            auth_time: row.auth_time.unwrap_or(ctx.now),
            amr: row.amr.clone(),
            session_id: row.session_id.clone(),
        };
        let mut ep = DbEndpoint::new(
            Some(conn),
            ctx,
            client,
            flow,
            scope.clone(),
            row.audiences(),
        );
        ep.bind(params.dpop_jkt.clone());
        let grant = Grant {
            owner_id: user.id.clone(),
            client_id: client.id.clone(),
            scope: scope
                .parse()
                .map_err(|_| Error::Internal("a device code's scope does not parse".into()))?,
            redirect_uri: ep.placeholder_redirect(),
            until: crate::core::tokens::after(ctx.now, ctx.access_ttl).and_utc(),
            extensions: Extensions::new(),
        };
        let issued = ep.issue(&grant)?;
        with_id_token(Some(issued), ctx, false)
    })
}

/// Issues tokens for a user whose password the caller has just verified (the password grant
/// and the older APIs' sign-in routes). The client must be trusted and allowed the grant.
pub fn password(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    params: &TokenParams,
    user: &crate::core::users::User,
    auth_time: Timestamp,
) -> Result<TokenResponse, Error> {
    check_password_client(client)?;
    let scope = policy::scope(client, params.scope.as_deref(), true)?;
    policy::check_privileged(client, &scope, true)?;
    let scope = policy::for_user(&scope, user);
    let user_id = user.id.as_str();
    let audience = policy::audience(client, &params.resources, ctx.config.default_audience())?;
    let flow = Flow::Password {
        user_id: user_id.to_owned(),
        auth_time,
        refresh: true,
    };
    let mut ep = DbEndpoint::new(Some(conn), ctx, client, flow, scope.clone(), audience);
    ep.bind(params.dpop_jkt.clone());
    let grant = Grant {
        owner_id: user_id.to_owned(),
        client_id: client.id.clone(),
        scope: scope
            .parse()
            .map_err(|_| Error::InvalidScope("invalid scope".into()))?,
        redirect_uri: ep.placeholder_redirect(),
        until: crate::core::tokens::after(ctx.now, ctx.access_ttl).and_utc(),
        extensions: Extensions::new(),
    };
    Ok(respond(ctx, ep.issue(&grant)?))
}

/// The password grant is for trusted (first-party) clients allowed it; checked before any
/// password is looked at.
pub fn check_password_client(client: &ClientRow) -> Result<(), Error> {
    if !client.trusted {
        return Err(Error::UnauthorizedClient(
            "the password grant is only for trusted clients".into(),
        ));
    }
    require_grant(client, "password")
}

/// Issues tokens for a user a door has just authenticated itself (its own sign-in route),
/// under that door's internal client; a refresh token when `with_refresh`.
pub fn issue_for_user(
    conn: &mut DbConnection,
    ctx: &Ctx,
    client: &ClientRow,
    user_id: &str,
    with_refresh: bool,
    auth_time: Timestamp,
) -> Result<TokenResponse, Error> {
    // A door's own sign-in acts as the person everywhere (userinfo included): every scope of
    // its internal client, `openid` too.
    let scope = policy::scope(client, Some(&client.scopes), true)?;
    let audience = vec![ctx.config.default_audience().to_owned()];
    let flow = Flow::Password {
        user_id: user_id.to_owned(),
        auth_time,
        refresh: with_refresh,
    };
    let mut ep = DbEndpoint::new(Some(conn), ctx, client, flow, scope.clone(), audience);
    let grant = Grant {
        owner_id: user_id.to_owned(),
        client_id: client.id.clone(),
        scope: scope
            .parse()
            .map_err(|_| Error::Internal("internal client scope".into()))?,
        redirect_uri: ep.placeholder_redirect(),
        until: crate::core::tokens::after(ctx.now, ctx.access_ttl).and_utc(),
        extensions: Extensions::new(),
    };
    Ok(respond(ctx, ep.issue(&grant)?))
}

/// Refreshes with the refresh token alone (its grant's client, no client authentication):
/// for older APIs whose refresh requests carry no client credentials. Only a token whose
/// client `accepts` (the door's own families, SPEC §9) is refreshed; any other is
/// `invalid_grant`, exactly like an unknown one. Rotation and reuse detection as everywhere.
pub fn refresh_by_holder(
    conn: &mut DbConnection,
    ctx: &Ctx,
    params: &TokenParams,
    accepts: fn(&ClientRow) -> bool,
) -> Result<TokenResponse, Error> {
    let value = params
        .refresh_token
        .as_deref()
        .ok_or_else(|| Error::InvalidRequest("refresh_token is required".into()))?;
    let row = crate::core::tokens::refresh::find(conn, value)?
        .ok_or_else(|| Error::InvalidGrant("the refresh token is invalid".into()))?;
    let grant = crate::core::grants::get(conn, &row.grant_id)?
        .ok_or_else(|| Error::InvalidGrant("the refresh token is invalid".into()))?;
    let client = crate::core::clients::get(conn, &grant.client_id).map_err(|e| match e {
        Error::NotFound(_) => Error::InvalidGrant("the refresh token is invalid".into()),
        e => e,
    })?;
    if !accepts(&client) {
        return Err(Error::InvalidGrant("the refresh token is invalid".into()));
    }
    let credentials = Credentials::None {
        client_id: client.id.clone(),
    };
    refresh_with(conn, ctx, &client, &credentials, params)
}
