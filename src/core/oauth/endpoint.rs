//! The answers to oxide-auth's state machines, from our database: one `DbEndpoint` per token
//! request, for a client the caller has already authenticated (once, in `client_auth`). The
//! flows (`flows.rs`) drive the machines and call these methods for each step; every method
//! returns our own `Error` (why a code or a refresh token was refused) and what it issued, so
//! nothing travels beside the machine.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, RefreshedToken, TokenType};
use oxide_auth::primitives::registrar::{BoundClient, ExactUrl, PreGrant, RegisteredUrl};
use oxide_auth::primitives::scope::Scope;

use super::Ctx;
use crate::core::clients::ClientRow;
use crate::core::grants::{self, GrantRow, NewGrant};
use crate::core::tokens::code::{self, CodeRow, Consumed};
use crate::core::tokens::refresh::{self, RefreshRow, Unusable};
use crate::core::tokens::{sign_access_token, AccessTokenRequest, SignedToken};
use crate::core::{users, Error, Timestamp};
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
    /// A device's authorization, approved by a person at `/device` (RFC 8628).
    Device {
        user_id: String,
        auth_time: Timestamp,
        amr: Option<String>,
        session_id: Option<String>,
    },
}

/// What was issued, for the response.
pub(super) struct Issued {
    pub access: SignedToken,
    pub refresh: Option<String>,
    pub grant: Option<GrantRow>,
}

impl Issued {
    fn until(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.access.claims.exp, 0).unwrap_or_else(Utc::now)
    }

    /// What oxide-auth's machines expect back from an issue step.
    pub fn as_issued_token(&self) -> IssuedToken {
        IssuedToken {
            token: self.access.token.clone(),
            refresh: self.refresh.clone(),
            until: self.until(),
            token_type: TokenType::Bearer,
        }
    }

    /// What oxide-auth's machines expect back from a refresh step.
    pub fn as_refreshed_token(&self) -> RefreshedToken {
        RefreshedToken {
            token: self.access.token.clone(),
            refresh: self.refresh.clone(),
            until: self.until(),
            token_type: TokenType::Bearer,
        }
    }
}

pub(super) struct DbEndpoint<'a> {
    /// None for a flow that needs no database (client credentials without a refresh token or
    /// an owner): it is served without taking a connection or leaving the async runtime.
    conn: Option<&'a mut DbConnection>,
    ctx: &'a Ctx<'a>,
    /// The client the caller authenticated.
    client: &'a ClientRow,
    flow: Flow,
    /// The scope decided for a new grant (client credentials, password).
    scope: String,
    audience: Vec<String>,
    /// The code being exchanged, once recovered.
    code: Option<CodeRow>,
    /// The refresh token being rotated, once recovered.
    refresh: Option<RefreshRow>,
    /// The thumbprint of the key of the request's DPoP proof, which the caller checked: the
    /// access token is bound to it, and so is a public client's refresh token.
    jkt: Option<String>,
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
            conn,
            ctx,
            client,
            flow,
            scope,
            audience,
            code: None,
            refresh: None,
            jkt: None,
        }
    }

    /// Binds what is issued to the key of a checked DPoP proof (RFC 9449 §5): the access
    /// token always, the refresh token of a public client (a confidential client's is bound
    /// to its authentication already).
    pub fn bind(&mut self, jkt: Option<String>) {
        self.jkt = jkt;
    }

    /// The key a new refresh token is bound to.
    fn refresh_jkt(&self) -> Option<&str> {
        self.jkt.as_deref().filter(|_| self.client.is_public())
    }

    /// Sets the audience of the tokens about to be issued.
    pub fn set_audience(&mut self, audience: Vec<String>) {
        self.audience = audience;
    }

    /// A stand-in redirect URI for grants that have none (client credentials, password).
    pub fn placeholder_redirect(&self) -> url::Url {
        self.ctx.config.issuer_url().clone()
    }

    /// The code being exchanged, once recovered.
    pub fn code_row(&self) -> Option<&CodeRow> {
        self.code.as_ref()
    }

    /// Answers a machine's authentication step. The caller authenticated the client already
    /// (`client_auth::verify`, or the refresh token's holder for a door): the step only has to
    /// name that client.
    pub fn authenticated(&self, client_id: &str) -> Result<(), Error> {
        if client_id == self.client.id {
            Ok(())
        } else {
            Err(Error::InvalidClient("client authentication failed".into()))
        }
    }

    /// Binds the client to the placeholder redirect URI (client credentials has none).
    pub fn bound(&self, client_id: &str) -> Result<BoundClient<'static>, Error> {
        self.authenticated(client_id)?;
        let url = ExactUrl::new(self.placeholder_redirect().to_string())
            .map_err(|_| Error::Internal("the issuer is not a URL".into()))?;
        Ok(BoundClient {
            client_id: Cow::Owned(client_id.to_owned()),
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(url)),
        })
    }

    /// The pre-grant for a bound client: the scope was decided (and refused with
    /// `invalid_scope`) before the flow ran.
    pub fn negotiate(&self, client: BoundClient) -> Result<PreGrant, Error> {
        Ok(PreGrant {
            client_id: client.client_id.into_owned(),
            redirect_uri: client.redirect_uri.into_owned(),
            scope: scope_of(&self.scope)
                .map_err(|_| Error::Internal("the decided scope does not parse".into()))?,
        })
    }

    fn allows(&self, grant_type: &str) -> bool {
        self.client.grant_types.iter().any(|g| g == grant_type)
    }

    fn sign(
        &self,
        sub: String,
        scope: String,
        audience: Vec<String>,
        grant_id: Option<String>,
        auth_time: Option<Timestamp>,
        amr: Option<&str>,
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
                amr: amr.and_then(|a| serde_json::from_str(a).ok()),
                ttl: self.ctx.access_ttl,
                jkt: self.jkt.clone(),
                act: None,
            },
        )
    }

    /// Issues for a new grant (code exchange, password, client credentials).
    pub fn issue(&mut self, grant: &Grant) -> Result<Issued, Error> {
        let now = self.ctx.now;
        let reference = match &self.flow {
            Flow::AuthorizationCode => self.code.as_ref().map(|c| c.scope.clone()),
            _ => Some(self.scope.clone()),
        };
        let scope = ordered(&grant.scope, reference.as_deref().unwrap_or_default());
        let (sub, new_grant, code, with_refresh) = match &self.flow {
            Flow::AuthorizationCode => {
                let code = self
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
            Flow::Device {
                user_id,
                auth_time,
                amr,
                session_id,
            } => {
                let g = NewGrant {
                    client_id: self.client.id.clone(),
                    user_id: Some(user_id.clone()),
                    scope: scope.clone(),
                    audience: self.audience.clone(),
                    session_id: session_id.clone(),
                    auth_time: Some(*auth_time),
                    amr: amr.clone(),
                    nonce: None,
                };
                (user_id.clone(), Some(g), None, self.allows("refresh_token"))
            }
            Flow::Refresh => {
                return Err(Error::Internal("refresh flow issues by refresh()".into()))
            }
        };
        let (grant_row, refresh_token) = match new_grant {
            Some(g) => {
                let jkt = self.refresh_jkt().map(str::to_owned);
                let conn = connected(&mut self.conn)?;
                let refresh_ttl = self.ctx.refresh_ttl;
                // The grant, its code's link to it and its refresh token, all or nothing.
                crate::db::transaction(conn, |conn| -> Result<_, Error> {
                    let row = grants::create(conn, now, g)?;
                    if let Some(code) = &code {
                        code::set_grant(conn, &code.code_hash, &row.id)?;
                    }
                    let refresh = match with_refresh {
                        true => Some(
                            refresh::create(
                                conn,
                                now,
                                &row.id,
                                &scope,
                                refresh_ttl,
                                None,
                                jkt.as_deref(),
                            )?
                            .0,
                        ),
                        false => None,
                    };
                    Ok((Some(row), refresh))
                })?
            }
            None => (None, None),
        };
        let auth_time = match &self.flow {
            Flow::Password { auth_time, .. } | Flow::Device { auth_time, .. } => Some(*auth_time),
            _ => code.as_ref().map(|c| c.auth_time),
        };
        let amr = match &self.flow {
            Flow::Password { .. } => Some(r#"["pwd"]"#.to_owned()),
            Flow::Device { amr, .. } => amr.clone(),
            _ => code.as_ref().and_then(|c| c.amr.clone()),
        };
        let access = self.sign(
            sub,
            scope,
            self.audience.clone(),
            grant_row.as_ref().map(|g| g.id.clone()),
            auth_time,
            amr.as_deref(),
        )?;
        Ok(Issued {
            access,
            refresh: refresh_token,
            grant: grant_row,
        })
    }

    /// Rotates the recovered refresh token: claim it (exactly one caller wins), then issue a
    /// successor in the same family and a new access token.
    pub fn rotate(&mut self, grant: &Grant) -> Result<Issued, Error> {
        let now = self.ctx.now;
        let row = self
            .refresh
            .clone()
            .ok_or_else(|| Error::Internal("refresh without a recovered token".into()))?;
        let conn = connected(&mut self.conn)?;
        let refresh_ttl = self.ctx.refresh_ttl;
        // Claim and successor commit together: a failure in between (a timeout, a lost
        // connection) leaves the token unused, so the client's retry is not taken for reuse.
        let rotated = crate::db::transaction(conn, |conn| -> Result<_, Error> {
            if !refresh::claim(conn, &row, now)? {
                return Ok(None);
            }
            let g = grants::get(conn, &row.grant_id)?
                .ok_or_else(|| Error::InvalidGrant("the grant no longer exists".into()))?;
            let scope = ordered(&grant.scope, &row.scope);
            // A bound token's successor stays bound to the same key.
            let jkt = row.dpop_jkt.clone();
            let (value, _) = refresh::create(
                conn,
                now,
                &g.id,
                &scope,
                refresh_ttl,
                Some(&row),
                jkt.as_deref(),
            )?;
            Ok(Some((g, scope, value)))
        })?;
        let Some((g, scope, value)) = rotated else {
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
        };
        let sub = g.user_id.clone().unwrap_or_else(|| g.client_id.clone());
        let audience = if self.audience.is_empty() {
            g.audiences()
        } else {
            self.audience.clone()
        };
        let access = self.sign(
            sub,
            scope,
            audience,
            Some(g.id.clone()),
            g.auth_time,
            g.amr.as_deref(),
        )?;
        Ok(Issued {
            access,
            refresh: Some(value),
            grant: Some(g),
        })
    }

    /// Looks up a refresh token; a replayed one revokes its family.
    pub fn recover(&mut self, token: &str) -> Result<Grant, Error> {
        let now = self.ctx.now;
        let conn = connected(&mut self.conn)?;
        let Some(row) = refresh::find(conn, token)? else {
            return Err(Error::InvalidGrant("the refresh token is invalid".into()));
        };
        // A bound refresh token is good only with a proof by its key (RFC 9449 §5); checked
        // first, so that one without the key cannot even trigger reuse detection.
        if let Some(bound) = &row.dpop_jkt {
            match &self.jkt {
                None => {
                    return Err(Error::InvalidDpopProof(
                        "the refresh token is bound to a DPoP key: send a DPoP proof by it".into(),
                    ))
                }
                Some(jkt) if !crate::core::crypto::ct_eq(jkt, bound) => {
                    return Err(Error::InvalidGrant(
                        "the refresh token is bound to another DPoP key".into(),
                    ))
                }
                Some(_) => {}
            }
        }
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
        self.refresh = Some(row);
        Ok(grant)
    }

    /// Consumes an authorization code (single use): the grant it carries. A replayed code
    /// revokes what its first exchange issued (RFC 6749 §4.1.2).
    pub fn extract(&mut self, token: &str) -> Result<Grant, Error> {
        let now = self.ctx.now;
        let conn = connected(&mut self.conn)?;
        let row = match code::consume(conn, now, token)? {
            Consumed::Fresh(row) => row,
            Consumed::Replayed(row) => {
                if let Some(gid) = &row.grant_id {
                    grants::revoke(conn, now, gid, self.ctx.revocation_ttl, "code_replay")?;
                }
                return Err(Error::InvalidGrant(
                    "the authorization code was already used; the tokens it issued are revoked"
                        .into(),
                ));
            }
            Consumed::Invalid => {
                return Err(Error::InvalidGrant(
                    "the authorization code is invalid or expired".into(),
                ))
            }
        };
        let mut extensions = Extensions::new();
        if let Some(challenge) = &row.code_challenge {
            let method = row.code_challenge_method.as_deref().unwrap_or("S256");
            match Pkce::required().challenge(Some(method.into()), Some(challenge.into())) {
                Ok(Some(value)) => extensions.set(&Pkce::required(), value),
                _ => {
                    return Err(Error::InvalidGrant(
                        "the code's PKCE challenge is unusable".into(),
                    ))
                }
            }
        }
        let redirect_uri = url::Url::parse(&row.redirect_uri)
            .map_err(|_| Error::InvalidGrant("the code's redirect URI is unusable".into()))?;
        let grant = Grant {
            owner_id: row.user_id.clone(),
            client_id: row.client_id.clone(),
            scope: scope_of(&row.scope)
                .map_err(|_| Error::InvalidGrant("the code's scope is unusable".into()))?,
            redirect_uri,
            until: time(row.expires_at),
            extensions,
        };
        self.code = Some(row);
        Ok(grant)
    }
}
