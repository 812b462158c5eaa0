//! oxide-auth's primitives over our database: one `DbEndpoint` per token request implements
//! `Registrar` (the already-authenticated client), `Authorizer` (single-use codes) and `Issuer`
//! (JWT access tokens, rotated refresh tokens). What the flows cannot express (why a code or a
//! refresh token was refused, what exactly was issued) travels in a side channel.

use std::borrow::Cow;
use std::cell::RefCell;

use chrono::{DateTime, Utc};
use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};
use oxide_auth::primitives::scope::Scope;

use super::Ctx;
use crate::core::clients::ClientRow;
use crate::core::grants::{self, GrantRow, NewGrant};
use crate::core::tokens::code::{self, CodeRow, Consumed};
use crate::core::tokens::refresh::{self, RefreshRow, Unusable};
use crate::core::tokens::{sign_access_token, AccessTokenRequest, SignedToken};
use crate::core::{crypto, users, Error, Timestamp};
use crate::db::DbConnection;

/// Which grant is being served, with what only that grant knows.
pub(super) enum Flow {
    AuthorizationCode,
    ClientCredentials {
        sub: String,
        with_refresh: bool,
    },
    /// A user authenticated by the caller (password grant, or a door's own sign-in route).
    Password {
        user_id: String,
        auth_time: Timestamp,
        refresh: bool,
    },
    Refresh,
}

/// What was issued, for the response.
pub(super) struct Issued {
    pub access: SignedToken,
    pub refresh: Option<String>,
    pub grant: Option<GrantRow>,
}

#[derive(Default)]
struct SideChannel {
    code: Option<CodeRow>,
    refresh: Option<RefreshRow>,
    failure: Option<Error>,
    issued: Option<Issued>,
}

pub(super) struct DbEndpoint<'a> {
    /// None for a flow that needs no database (client credentials without a refresh token or
    /// an owner): it is served without taking a connection or leaving the async runtime.
    conn: RefCell<Option<&'a mut DbConnection>>,
    ctx: &'a Ctx<'a>,
    client: &'a ClientRow,
    flow: Flow,
    /// The scope decided for a new grant (client credentials, password).
    scope: String,
    audience: Vec<String>,
    side: RefCell<SideChannel>,
    /// Accept the refresh token's holder without client authentication (doors whose API
    /// refreshes with the token alone).
    holder_ok: bool,
}

/// The endpoint's connection, for the steps that need one.
fn connected<'s>(slot: &'s mut Option<&mut DbConnection>) -> Result<&'s mut DbConnection, Error> {
    slot.as_deref_mut()
        .ok_or_else(|| Error::Internal("this flow was started without a database".into()))
}

fn time(t: Timestamp) -> DateTime<Utc> {
    t.and_utc()
}

fn scope_of(s: &str) -> Result<Scope, ()> {
    s.parse().map_err(|_| ())
}

/// The scopes of `granted` in the order they have in `reference` (oxide-auth's `Scope` is a
/// set; responses and tokens keep a stable order).
fn ordered(granted: &Scope, reference: &str) -> String {
    let set = granted.to_string();
    let set: Vec<&str> = set.split_whitespace().collect();
    let mut out: Vec<&str> = reference
        .split_whitespace()
        .filter(|s| set.contains(s))
        .collect();
    for s in &set {
        if !out.contains(s) {
            out.push(s);
        }
    }
    out.join(" ")
}

impl<'a> DbEndpoint<'a> {
    pub fn new(
        conn: Option<&'a mut DbConnection>,
        ctx: &'a Ctx<'a>,
        client: &'a ClientRow,
        flow: Flow,
        scope: String,
        audience: Vec<String>,
    ) -> DbEndpoint<'a> {
        DbEndpoint {
            conn: RefCell::new(conn),
            ctx,
            client,
            flow,
            scope,
            audience,
            side: RefCell::new(SideChannel::default()),
            holder_ok: false,
        }
    }

    /// Lets the refresh token alone authenticate its own client.
    pub fn trust_refresh_holder(&mut self) {
        self.holder_ok = true;
    }

    /// Sets the audience of the tokens about to be issued.
    pub fn set_audience(&mut self, audience: Vec<String>) {
        self.audience = audience;
    }

    /// A stand-in redirect URI for grants that have none (client credentials, password).
    pub fn placeholder_redirect(&self) -> url::Url {
        self.ctx.config.issuer_url().clone()
    }

    /// Why a primitive refused, if it said so.
    pub fn take_failure(&self) -> Option<Error> {
        self.side.borrow_mut().failure.take()
    }

    pub fn take_issued(&self) -> Option<Issued> {
        self.side.borrow_mut().issued.take()
    }

    pub fn code_row(&self) -> Option<CodeRow> {
        self.side.borrow().code.clone()
    }

    fn fail(&self, e: Error) {
        self.side.borrow_mut().failure = Some(e);
    }

    fn allows(&self, grant_type: &str) -> bool {
        serde_json::from_str::<Vec<String>>(&self.client.grant_types)
            .unwrap_or_default()
            .iter()
            .any(|g| g == grant_type)
    }

    fn sign(
        &self,
        sub: String,
        scope: String,
        audience: Vec<String>,
        grant_id: Option<String>,
        auth_time: Option<Timestamp>,
    ) -> Result<SignedToken, Error> {
        sign_access_token(
            self.ctx.keys,
            self.ctx.config.issuer(),
            self.ctx.now,
            AccessTokenRequest {
                sub,
                client_id: self.client.id.clone(),
                scope,
                audience,
                grant_id,
                auth_time,
                ttl: self.ctx.access_ttl,
            },
        )
    }

    /// Issues for a new grant (code exchange, password, client credentials).
    fn issue_new(&self, grant: &Grant) -> Result<IssuedToken, Error> {
        let now = self.ctx.now;
        let reference = match &self.flow {
            Flow::AuthorizationCode => self.side.borrow().code.as_ref().map(|c| c.scope.clone()),
            _ => Some(self.scope.clone()),
        };
        let scope = ordered(&grant.scope, reference.as_deref().unwrap_or_default());
        let (sub, new_grant, code, with_refresh) = match &self.flow {
            Flow::AuthorizationCode => {
                let code = self
                    .side
                    .borrow()
                    .code
                    .clone()
                    .ok_or_else(|| Error::Internal("code flow without a code".into()))?;
                let g = NewGrant {
                    client_id: self.client.id.clone(),
                    user_id: Some(code.user_id.clone()),
                    scope: scope.clone(),
                    audience: self.audience.clone(),
                    session_id: code.session_id.clone(),
                    auth_time: Some(code.auth_time),
                    amr: code.amr.clone(),
                    nonce: code.nonce.clone(),
                };
                (
                    code.user_id.clone(),
                    Some(g),
                    Some(code),
                    self.allows("refresh_token"),
                )
            }
            Flow::Password {
                user_id,
                auth_time,
                refresh,
            } => {
                let refresh = *refresh && self.allows("refresh_token");
                let g = refresh.then(|| NewGrant {
                    client_id: self.client.id.clone(),
                    user_id: Some(user_id.clone()),
                    scope: scope.clone(),
                    audience: self.audience.clone(),
                    auth_time: Some(*auth_time),
                    amr: Some(r#"["pwd"]"#.into()),
                    ..Default::default()
                });
                (user_id.clone(), g, None, refresh)
            }
            Flow::ClientCredentials { sub, with_refresh } => {
                let g = with_refresh.then(|| NewGrant {
                    client_id: self.client.id.clone(),
                    user_id: self.client.owner_id.clone(),
                    scope: scope.clone(),
                    audience: self.audience.clone(),
                    ..Default::default()
                });
                (sub.clone(), g, None, *with_refresh)
            }
            Flow::Refresh => {
                return Err(Error::Internal("refresh flow issues by refresh()".into()))
            }
        };
        let (grant_row, refresh_token) = match new_grant {
            Some(g) => {
                let mut slot = self.conn.borrow_mut();
                let conn = connected(&mut slot)?;
                let row = grants::create(conn, now, g)?;
                if let Some(code) = &code {
                    code::set_grant(conn, &code.code_hash, &row.id)?;
                }
                let refresh = match with_refresh {
                    true => Some(
                        refresh::create(conn, now, &row.id, &scope, self.ctx.refresh_ttl, None)?.0,
                    ),
                    false => None,
                };
                (Some(row), refresh)
            }
            None => (None, None),
        };
        let auth_time = match &self.flow {
            Flow::Password { auth_time, .. } => Some(*auth_time),
            _ => code.as_ref().map(|c| c.auth_time),
        };
        let access = self.sign(
            sub,
            scope,
            self.audience.clone(),
            grant_row.as_ref().map(|g| g.id.clone()),
            auth_time,
        )?;
        let issued = IssuedToken {
            token: access.token.clone(),
            refresh: refresh_token.clone(),
            until: DateTime::from_timestamp(access.claims.exp, 0).unwrap_or_else(Utc::now),
            token_type: TokenType::Bearer,
        };
        self.side.borrow_mut().issued = Some(Issued {
            access,
            refresh: refresh_token,
            grant: grant_row,
        });
        Ok(issued)
    }

    /// Rotates the recovered refresh token: claim it (exactly one caller wins), then issue a
    /// successor in the same family and a new access token.
    fn rotate(&self, grant: &Grant) -> Result<RefreshedToken, Error> {
        let now = self.ctx.now;
        let row = self
            .side
            .borrow()
            .refresh
            .clone()
            .ok_or_else(|| Error::Internal("refresh without a recovered token".into()))?;
        let mut slot = self.conn.borrow_mut();
        let conn = connected(&mut slot)?;
        if !refresh::claim(conn, &row, now)? {
            // Used twice (a replay or a concurrent refresh): the whole family goes.
            refresh::revoke_family(conn, &row.family_id, now)?;
            grants::revoke(
                conn,
                now,
                &row.grant_id,
                self.ctx.revocation_ttl,
                "refresh_token_reuse",
            )?;
            return Err(Error::InvalidGrant(
                "the refresh token was already used; its grant is revoked".into(),
            ));
        }
        let g = grants::get(conn, &row.grant_id)?
            .ok_or_else(|| Error::InvalidGrant("the grant no longer exists".into()))?;
        let scope = ordered(&grant.scope, &row.scope);
        let (value, _) =
            refresh::create(conn, now, &g.id, &scope, self.ctx.refresh_ttl, Some(&row))?;
        let sub = g.user_id.clone().unwrap_or_else(|| g.client_id.clone());
        let audience = if self.audience.is_empty() {
            g.audiences()
        } else {
            self.audience.clone()
        };
        let access = self.sign(sub, scope, audience, Some(g.id.clone()), g.auth_time)?;
        let refreshed = RefreshedToken {
            token: access.token.clone(),
            refresh: Some(value.clone()),
            until: DateTime::from_timestamp(access.claims.exp, 0).unwrap_or_else(Utc::now),
            token_type: TokenType::Bearer,
        };
        self.side.borrow_mut().issued = Some(Issued {
            access,
            refresh: Some(value),
            grant: Some(g),
        });
        Ok(refreshed)
    }

    /// Looks up a refresh token; a replayed one revokes its family.
    fn recover(&self, token: &str) -> Result<Option<Grant>, Error> {
        let now = self.ctx.now;
        let mut slot = self.conn.borrow_mut();
        let conn = connected(&mut slot)?;
        let Some(row) = refresh::find(conn, token)? else {
            return Err(Error::InvalidGrant("the refresh token is invalid".into()));
        };
        match refresh::usable(conn, &row, now)? {
            Ok(()) => {}
            Err(Unusable::Replayed) => {
                refresh::revoke_family(conn, &row.family_id, now)?;
                grants::revoke(
                    conn,
                    now,
                    &row.grant_id,
                    self.ctx.revocation_ttl,
                    "refresh_token_reuse",
                )?;
                return Err(Error::InvalidGrant(
                    "the refresh token was already used; its grant is revoked".into(),
                ));
            }
            Err(Unusable::Expired) => {
                return Err(Error::InvalidGrant("the refresh token has expired".into()))
            }
            Err(Unusable::GrantRevoked) => {
                return Err(Error::InvalidGrant("the refresh token was revoked".into()))
            }
        }
        let g = grants::get(conn, &row.grant_id)?
            .ok_or_else(|| Error::InvalidGrant("the refresh token was revoked".into()))?;
        let mut scope = row.scope.clone();
        if let Some(user_id) = &g.user_id {
            let user = users::get(conn, user_id)?;
            if user.disabled {
                return Err(Error::AccountDisabled);
            }
            // `admin` lasts only as long as the user's admin flag.
            scope = super::policy::for_user(&scope, &user);
        }
        if scope.is_empty() {
            return Err(Error::InvalidGrant(
                "the refresh token has no scope left".into(),
            ));
        }
        let grant = Grant {
            owner_id: g.user_id.clone().unwrap_or_else(|| g.client_id.clone()),
            client_id: g.client_id.clone(),
            scope: scope_of(&scope).map_err(|_| Error::Internal("stored scope".into()))?,
            redirect_uri: self.placeholder_redirect(),
            // The refresh token's own expiry, not the access token's (oxide-auth #141).
            until: time(row.expires_at),
            extensions: Extensions::new(),
        };
        self.side.borrow_mut().refresh = Some(row);
        Ok(Some(grant))
    }
}

impl Registrar for DbEndpoint<'_> {
    fn bound_redirect<'b>(&self, bound: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        if bound.client_id != self.client.id {
            return Err(RegistrarError::Unspecified);
        }
        let url = match bound.redirect_uri {
            Some(u) => u.into_owned(),
            None => ExactUrl::new(self.placeholder_redirect().to_string())
                .map_err(|_| RegistrarError::PrimitiveError)?,
        };
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(url)),
        })
    }

    fn negotiate(
        &self,
        client: BoundClient,
        _requested: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        // The scope was decided (and refused with invalid_scope) before the flow ran.
        Ok(PreGrant {
            client_id: client.client_id.into_owned(),
            redirect_uri: client.redirect_uri.into_owned(),
            scope: scope_of(&self.scope).map_err(|_| RegistrarError::PrimitiveError)?,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        if client_id != self.client.id {
            return Err(RegistrarError::Unspecified);
        }
        match (&self.client.secret_hash, passphrase) {
            (None, None) => Ok(()),
            (Some(_), None) if self.holder_ok => Ok(()),
            (Some(hash), Some(pass)) => {
                let pass = std::str::from_utf8(pass).map_err(|_| RegistrarError::Unspecified)?;
                if crypto::verify_secret_hash(pass, hash) {
                    Ok(())
                } else {
                    Err(RegistrarError::Unspecified)
                }
            }
            _ => Err(RegistrarError::Unspecified),
        }
    }
}

impl Authorizer for DbEndpoint<'_> {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        let now = self.ctx.now;
        let mut slot = self.conn.borrow_mut();
        code::create(
            connected(&mut slot).map_err(|_| ())?,
            now,
            self.ctx.config.tokens.code_ttl,
            code::NewCode {
                client_id: grant.client_id,
                user_id: grant.owner_id,
                redirect_uri: grant.redirect_uri.to_string(),
                scope: grant.scope.to_string(),
                auth_time: now,
                ..Default::default()
            },
        )
        .map_err(|_| ())
    }

    fn extract(&mut self, token: &str) -> Result<Option<Grant>, ()> {
        let now = self.ctx.now;
        let consumed = {
            let mut slot = self.conn.borrow_mut();
            connected(&mut slot).and_then(|conn| code::consume(conn, now, token))
        };
        match consumed {
            Ok(Consumed::Fresh(row)) => {
                let mut extensions = Extensions::new();
                if let Some(challenge) = &row.code_challenge {
                    let method = row.code_challenge_method.as_deref().unwrap_or("S256");
                    match Pkce::required().challenge(Some(method.into()), Some(challenge.into())) {
                        Ok(Some(value)) => extensions.set(&Pkce::required(), value),
                        _ => {
                            self.fail(Error::InvalidGrant(
                                "the code's PKCE challenge is unusable".into(),
                            ));
                            return Ok(None);
                        }
                    }
                }
                let Ok(redirect_uri) = url::Url::parse(&row.redirect_uri) else {
                    self.fail(Error::InvalidGrant(
                        "the code's redirect URI is unusable".into(),
                    ));
                    return Ok(None);
                };
                let grant = Grant {
                    owner_id: row.user_id.clone(),
                    client_id: row.client_id.clone(),
                    scope: scope_of(&row.scope)?,
                    redirect_uri,
                    until: time(row.expires_at),
                    extensions,
                };
                self.side.borrow_mut().code = Some(row);
                Ok(Some(grant))
            }
            Ok(Consumed::Replayed(row)) => {
                // A replayed code revokes what its first use issued (RFC 6749 §4.1.2).
                if let Some(gid) = &row.grant_id {
                    let mut slot = self.conn.borrow_mut();
                    let revoked = connected(&mut slot).and_then(|conn| {
                        grants::revoke(conn, now, gid, self.ctx.revocation_ttl, "code_replay")
                    });
                    if let Err(e) = revoked {
                        self.fail(e);
                        return Ok(None);
                    }
                }
                self.fail(Error::InvalidGrant(
                    "the authorization code was already used; the tokens it issued are revoked"
                        .into(),
                ));
                Ok(None)
            }
            Ok(Consumed::Invalid) => {
                self.fail(Error::InvalidGrant(
                    "the authorization code is invalid or expired".into(),
                ));
                Ok(None)
            }
            Err(e) => {
                self.fail(e);
                Ok(None)
            }
        }
    }
}

impl Issuer for DbEndpoint<'_> {
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        self.issue_new(&grant).map_err(|e| self.fail(e))
    }

    fn refresh(&mut self, _refresh: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        self.rotate(&grant).map_err(|e| self.fail(e))
    }

    fn recover_token<'b>(&'b self, _: &'b str) -> Result<Option<Grant>, ()> {
        // Access tokens are JWTs, verified by signature (see `tokens::verify_access_token`).
        Ok(None)
    }

    fn recover_refresh<'b>(&'b self, token: &'b str) -> Result<Option<Grant>, ()> {
        match self.recover(token) {
            Ok(g) => Ok(g),
            Err(e) => {
                self.fail(e);
                Ok(None)
            }
        }
    }
}
