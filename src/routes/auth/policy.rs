//! The policies a route may need (SPEC §9), one extractor each. A handler names its route's
//! policy as its first argument; the extractor authenticates and judges before the handler
//! runs and answers a refusal in the door's own shape: 401 for no or bad credentials, 403 for
//! valid credentials without the right, 401 `login_required` for a sign-in that is too old.
//! Policies judged on the principal alone (`Judge`) are the same functions for every door and
//! for every Mongoose method.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::{authenticate, Door, Forms};
use crate::app::principal::Presentation;
use crate::app::Call;
use crate::config::{Config, Registration};
use crate::core::authorize::SignedIn;
use crate::core::client_auth::Credentials;
use crate::core::clients::{ClientKind, ClientRow};
use crate::core::principal::{scopes, Credential, Principal};
use crate::core::users::User;
use crate::core::{Error, Timestamp};
use crate::routes::extract::{self, client_ip, Form};
use crate::state::AppState;

/// A route's policy: what the route table says of it.
pub trait Policy {
    /// Its name in the route table.
    const NAME: &'static str;
    /// What it admits, in words (the README's "Who may do what").
    const MEANS: &'static str;
}

/// What a policy may look at besides the principal.
pub struct Gate<'a> {
    pub now: Timestamp,
    pub config: &'a Config,
}

/// A policy judged on the principal alone.
pub trait Judge: Policy + Sized {
    /// The credential forms it reads at a door (the door's own by default).
    fn forms(door: Door) -> Forms {
        door.forms()
    }

    /// Admits the principal (`None`: no credentials were presented) or says why not.
    fn judge(p: Option<Principal>, gate: &Gate) -> Result<Self, Error>;

    /// How a failed authentication is answered: a wrong password is a bad credential
    /// (`invalid_token`) wherever a principal is needed.
    fn refused(e: Error) -> Error {
        match e {
            Error::InvalidGrant(m) => Error::InvalidToken(m),
            e => e,
        }
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// The shared state and the door of the route being served.
fn context(req: &HttpRequest) -> Result<(web::Data<AppState>, Door), actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no state"))?;
    let door = req.app_data::<Door>().copied().unwrap_or(Door::Ops);
    Ok((state, door))
}

/// A refusal as an actix error carrying the door's answer.
fn refuse(req: &HttpRequest, door: Door, e: Error) -> actix_web::Error {
    let res = door.render(req, &e);
    actix_web::error::InternalError::from_response(e.to_string(), res).into()
}

/// Authenticates the request's credential (as the policy reads it) and judges it.
pub async fn admit<P: Judge>(req: &HttpRequest, state: &AppState, door: Door) -> Result<P, Error> {
    let principal = authenticate(req, state, door, P::forms(door))
        .await
        .map_err(P::refused)?;
    let gate = Gate {
        now: state.clock.now_naive(),
        config: &state.config,
    };
    P::judge(principal, &gate)
}

/// Implements `HasPrincipal` for policies that always hold a principal.
macro_rules! admitted {
    ($($t:ty),* $(,)?) => {$(
        impl HasPrincipal for $t {
            fn principal(&self) -> Option<&Principal> {
                Some(&self.principal)
            }
        }
    )*};
}

/// Implements the extractor of a principal policy.
macro_rules! judged_extractor {
    ($($t:ty),* $(,)?) => {$(
        impl FromRequest for $t {
            type Error = actix_web::Error;
            type Future = Boxed<Self>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move {
                    let (state, door) = context(&req)?;
                    match admit::<$t>(&req, &state, door).await {
                        Ok(admitted) => {
                            remember(&req, admitted.principal());
                            Ok(admitted)
                        }
                        Err(e) => Err(refuse(&req, door, e)),
                    }
                })
            }
        }
    )*};
}

/// Keeps the admitted principal on the request (the admin API's audit reads it).
fn remember(req: &HttpRequest, p: Option<&Principal>) {
    if let Some(p) = p {
        req.extensions_mut().insert(p.clone());
    }
}

/// The principal a policy admitted, if it needed one.
pub trait HasPrincipal {
    fn principal(&self) -> Option<&Principal> {
        None
    }
}

impl HasPrincipal for Public {}
impl HasPrincipal for Registrant {}
impl HasPrincipal for RegisteredClient {}
impl HasPrincipal for Session {}
impl HasPrincipal for SessionOrSignIn {}
impl HasPrincipal for Client {}
impl HasPrincipal for ConfidentialClient {}
impl HasPrincipal for SignedByApplication {}
impl HasPrincipal for SignedByAccount {
    fn principal(&self) -> Option<&Principal> {
        Some(&self.principal)
    }
}
impl HasPrincipal for Rpc {}

impl HasPrincipal for UserInfo {
    fn principal(&self) -> Option<&Principal> {
        Some(&self.principal)
    }
}

/// A request its route's policy admitted (`who`), with the context its use case receives
/// (`call`): the one extractor that builds a `Call`. For a person's call at a compatibility
/// door it also starts the API-call record, which the boundary finishes with the answer.
pub struct Admitted<P> {
    pub who: P,
    pub call: Call,
}

impl<P: Policy> Policy for Admitted<P> {
    const NAME: &'static str = P::NAME;
    const MEANS: &'static str = P::MEANS;
}

impl<P> FromRequest for Admitted<P>
where
    P: FromRequest<Error = actix_web::Error> + HasPrincipal + 'static,
{
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admitting = P::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let who = admitting.await?;
            let (state, door) = context(&req)?;
            let user_agent = req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let call = Call::new(
                who.principal().cloned(),
                client_ip(&req, &state.config),
                user_agent,
                door.name(),
                state.clock.now_naive(),
                door.audit_service(),
            );
            req.extensions_mut().insert(call.audit_slot());
            Ok(Admitted { who, call })
        })
    }
}

fn no_credentials() -> Error {
    Error::InvalidToken(String::new())
}

fn needs_account() -> Error {
    Error::InsufficientScope(
        "this needs the account's own credentials: its password, a personal access token, or a first-party token with the account scope".into(),
    )
}

fn needs_admin() -> Error {
    Error::Forbidden(
        "this needs an admin credential: a token with the admin scope, or an admin's password"
            .into(),
    )
}

/// The user of a principal with `account`, or the refusal.
fn account_user(p: &Principal) -> Result<User, Error> {
    p.account_user().cloned().ok_or_else(needs_account)
}

/// Needs nothing: anyone may call (what the body carries, such as a password, a refresh token
/// or a one-time token, is the route's own business).
#[derive(Debug, Clone, Copy)]
pub struct Public;

impl Policy for Public {
    const NAME: &'static str = "public";
    const MEANS: &'static str = "anyone; a password, refresh token or one-time token in the body is checked by the route itself";
}

impl FromRequest for Public {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Public, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Public))
    }
}

/// The caller's own account: the account's password (where the door reads it), a personal
/// access token, or an access token with the `account` scope.
#[derive(Debug, Clone)]
pub struct Account {
    pub principal: Principal,
    pub user: User,
}

impl Policy for Account {
    const NAME: &'static str = "account";
    const MEANS: &'static str = "the account's own credentials: its password (Mongoose), a personal access token, or a token with the `account` scope (first-party apps and the compatibility sign-ins)";
}

impl Judge for Account {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        let user = account_user(&p)?;
        Ok(Account { principal: p, user })
    }
}

/// The caller's own account (as `Account`), or an admin acting on any account.
#[derive(Debug, Clone)]
pub struct AccountOrAdmin {
    pub principal: Principal,
}

impl Policy for AccountOrAdmin {
    const NAME: &'static str = "account_or_admin";
    const MEANS: &'static str = "`account` (for the account itself) or `admin`";
}

impl Judge for AccountOrAdmin {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        if !p.is_admin() {
            account_user(&p)?;
        }
        Ok(AccountOrAdmin { principal: p })
    }
}

/// A change of the account's password or email without the current password (esalerugs):
/// `account` with a sign-in at most `security.reauth_window` seconds old, or `admin`.
#[derive(Debug, Clone)]
pub struct FreshAccountOrAdmin {
    pub principal: Principal,
}

impl Policy for FreshAccountOrAdmin {
    const NAME: &'static str = "fresh_account_or_admin";
    const MEANS: &'static str = "`account` from a sign-in at most `security.reauth_window` seconds old (else 401 `login_required`), or `admin`";
}

impl Judge for FreshAccountOrAdmin {
    fn judge(p: Option<Principal>, gate: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        if !p.is_admin() {
            account_user(&p)?;
            if !p.signed_in_within(gate.now, gate.config.security.reauth_window) {
                return Err(Error::LoginRequired(
                    "sign in again to change your password or email".into(),
                ));
            }
        }
        Ok(FreshAccountOrAdmin { principal: p })
    }
}

/// The admin API: a token with the `admin` scope, or an admin user's password (HTTP Basic).
/// Never a personal access token or a browser session.
#[derive(Debug, Clone)]
pub struct Admin {
    pub principal: Principal,
}

impl Policy for Admin {
    const NAME: &'static str = "admin";
    const MEANS: &'static str = "a token with the `admin` scope, or an admin user's password (HTTP Basic); never a personal access token or a session";
}

impl Judge for Admin {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        if !p.is_admin() {
            return Err(needs_admin());
        }
        Ok(Admin { principal: p })
    }
}

/// The device cloud's backend: a token with the `auth.backend` scope.
#[derive(Debug, Clone)]
pub struct Backend {
    pub principal: Principal,
}

impl Policy for Backend {
    const NAME: &'static str = "backend";
    const MEANS: &'static str = "a token with the `auth.backend` scope";
}

impl Judge for Backend {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        if !p.has(scopes::BACKEND) {
            return Err(Error::InsufficientScope(
                "this needs a token with the auth.backend scope".into(),
            ));
        }
        Ok(Backend { principal: p })
    }
}

/// `auth.backend`, or `account` (Mongoose `Account.ValidateToken`).
#[derive(Debug, Clone)]
pub struct BackendOrAccount {
    pub principal: Principal,
}

impl Policy for BackendOrAccount {
    const NAME: &'static str = "backend_or_account";
    const MEANS: &'static str = "`auth.backend` or `account`";
}

impl Judge for BackendOrAccount {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        if !p.has(scopes::BACKEND) {
            account_user(&p)?;
        }
        Ok(BackendOrAccount { principal: p })
    }
}

/// Creating an account: anyone while `registration = "open"`, else an admin. Credentials that
/// are presented must be valid either way.
#[derive(Debug, Clone)]
pub struct OpenRegistrationOrAdmin {
    pub principal: Option<Principal>,
}

impl Policy for OpenRegistrationOrAdmin {
    const NAME: &'static str = "open_registration_or_admin";
    const MEANS: &'static str = "anyone while `registration = \"open\"`, else `admin`";
}

impl Judge for OpenRegistrationOrAdmin {
    fn judge(p: Option<Principal>, gate: &Gate) -> Result<Self, Error> {
        let admin = p.as_ref().is_some_and(Principal::is_admin);
        if !admin && gate.config.registration != Registration::Open {
            let why = "registration is closed: an admin must create accounts";
            return Err(match p {
                None => Error::InvalidToken(why.into()),
                Some(_) => Error::Forbidden(why.into()),
            });
        }
        Ok(OpenRegistrationOrAdmin { principal: p })
    }
}

impl OpenRegistrationOrAdmin {
    /// Whether an admin is creating the account (not throttled, no verification forced).
    pub fn by_admin(&self) -> bool {
        self.principal.as_ref().is_some_and(Principal::is_admin)
    }
}

/// A sign-in with the account's password in HTTP Basic (Bloq `POST /auth`): no other
/// credential may be traded for an account token.
#[derive(Debug, Clone)]
pub struct UserPassword {
    pub principal: Principal,
    pub user: User,
}

impl Policy for UserPassword {
    const NAME: &'static str = "user_password";
    const MEANS: &'static str = "the account's password in HTTP Basic (a sign-in; throttled)";
}

impl Judge for UserPassword {
    fn forms(_: Door) -> Forms {
        Forms {
            basic: true,
            ..Forms::default()
        }
    }

    /// A sign-in route answers a wrong password as a wrong password (`invalid_grant`).
    fn refused(e: Error) -> Error {
        e
    }

    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(|| {
            Error::InvalidGrant(
                "HTTP Basic credentials (id or email, password) are required".into(),
            )
        })?;
        if p.credential != Credential::Password {
            return Err(Error::InvalidGrant("the password is required".into()));
        }
        let user = account_user(&p)?;
        Ok(UserPassword { principal: p, user })
    }
}

/// A user token for the userinfo endpoint: `openid` or `account` (or a personal access token),
/// in the `Authorization` header or, on POST, as `access_token` in a form body (not both).
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub principal: Principal,
    pub user: User,
}

impl Policy for UserInfo {
    const NAME: &'static str = "userinfo";
    const MEANS: &'static str = "a token with `openid` or `account` acting for a user, or a personal access token (header, or form body on POST)";
}

impl Judge for UserInfo {
    fn judge(p: Option<Principal>, _: &Gate) -> Result<Self, Error> {
        let p = p.ok_or_else(no_credentials)?;
        let user = p
            .user
            .clone()
            .ok_or_else(|| Error::InsufficientScope("the token does not act for a user".into()))?;
        if !p.has(scopes::OPENID) && !p.has(scopes::ACCOUNT) {
            return Err(Error::InsufficientScope(
                "the token lacks the openid scope".into(),
            ));
        }
        Ok(UserInfo { principal: p, user })
    }
}

impl FromRequest for UserInfo {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (state, door) = context(&req)?;
            let result = async {
                let header = super::header_token(&req, &state);
                let in_form = req.method() == actix_web::http::Method::POST
                    && req
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| {
                            v.to_ascii_lowercase()
                                .starts_with("application/x-www-form-urlencoded")
                        });
                let body_token = if in_form {
                    Form::read(&req, payload, state.config.body_limit)
                        .await
                        .map_err(|e| Error::InvalidRequest(e.to_string()))?
                        .get_owned("access_token")
                } else {
                    None
                };
                let token = match (header, body_token) {
                    (Some(_), Some(_)) => {
                        return Err(Error::InvalidRequest(
                            "send the token in one place only".into(),
                        ))
                    }
                    (h, b) => h.or(b.map(|t| (t, Presentation::Bearer))),
                };
                let principal = match token {
                    Some((t, how)) => {
                        Some(crate::app::principal::by_token(&state, &t, &how).await?)
                    }
                    None => None,
                };
                let gate = Gate {
                    now: state.clock.now_naive(),
                    config: &state.config,
                };
                UserInfo::judge(principal, &gate)
            }
            .await;
            result.map_err(|e| refuse(&req, door, e))
        })
    }
}

admitted!(
    Account,
    AccountOrAdmin,
    FreshAccountOrAdmin,
    Admin,
    Backend,
    BackendOrAccount,
    UserPassword,
);

judged_extractor!(
    Account,
    AccountOrAdmin,
    FreshAccountOrAdmin,
    Admin,
    Backend,
    BackendOrAccount,
    OpenRegistrationOrAdmin,
    UserPassword,
);

impl HasPrincipal for OpenRegistrationOrAdmin {
    fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
}

/// A signed-in browser session (the account page). Without one: a redirect to sign-in.
#[derive(Debug, Clone)]
pub struct Session(pub SignedIn);

impl Policy for Session {
    const NAME: &'static str = "session";
    const MEANS: &'static str =
        "a signed-in browser session (cookie); forms also carry a CSRF token";
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (state, door) = context(&req)?;
            match crate::routes::pages::session::current(&req, &state).await {
                Ok(Some(s)) => Ok(Session(s)),
                Ok(None) => Err(refuse(&req, door, no_credentials())),
                Err(e) => Err(refuse(&req, door, e)),
            }
        })
    }
}

/// A browser that must be signed in to go on, where the way back after signing in depends on
/// what it was doing (the consent decision returns to its authorization request): the session,
/// or `None`, and the route sends the person to sign in.
#[derive(Debug, Clone)]
pub struct SessionOrSignIn(pub Option<SignedIn>);

impl Policy for SessionOrSignIn {
    const NAME: &'static str = "session_or_sign_in";
    const MEANS: &'static str = "a signed-in browser session; without one, a redirect to sign in and back to the authorization request";
}

impl FromRequest for SessionOrSignIn {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (state, door) = context(&req)?;
            crate::routes::pages::session::current(&req, &state)
                .await
                .map(SessionOrSignIn)
                .map_err(|e| refuse(&req, door, e))
        })
    }
}

/// A client authenticated as it registered (token endpoint): the form body it sent, its
/// credentials and its row. Internal clients (those of the compatibility doors) never
/// authenticate here. Refusals are RFC 6749 §5.2 answers.
pub struct Client {
    pub client: Arc<ClientRow>,
    pub credentials: Credentials,
    pub form: Form,
}

impl Policy for Client {
    const NAME: &'static str = "client";
    const MEANS: &'static str = "a registered client, authenticated as it registered (`client_secret_basic`, `client_secret_post`, a `client_secret_jwt` or `private_key_jwt` assertion, or `none` + PKCE for public clients)";
}

/// An authenticated confidential client (introspection, revocation).
pub struct ConfidentialClient(pub Client);

impl Policy for ConfidentialClient {
    const NAME: &'static str = "confidential_client";
    const MEANS: &'static str =
        "a confidential client authenticated with its secret or a client assertion";
}

async fn client_of(req: &HttpRequest, payload: Payload, state: &AppState) -> Result<Client, Error> {
    let form = Form::read(req, payload, state.config.body_limit)
        .await
        .map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let credentials = extract::client_credentials(req, &form)?;
    let ip = client_ip(req, &state.config);
    let client = crate::app::token::authenticate_client(state, &credentials, &ip).await?;
    Ok(Client {
        client,
        credentials,
        form,
    })
}

fn oauth_refusal(e: Error) -> actix_web::Error {
    let res = crate::routes::oauth::error::oauth_error(&e);
    actix_web::error::InternalError::from_response(e.to_string(), res).into()
}

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (state, _) = context(&req)?;
            client_of(&req, payload, &state)
                .await
                .map_err(oauth_refusal)
        })
    }
}

impl FromRequest for ConfidentialClient {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (state, _) = context(&req)?;
            let client = client_of(&req, payload, &state)
                .await
                .map_err(oauth_refusal)?;
            if client.client.is_public() {
                return Err(oauth_refusal(Error::InvalidClient(
                    "only confidential clients may call this endpoint".into(),
                )));
            }
            Ok(ConfidentialClient(client))
        })
    }
}

/// Registering a client (RFC 7591 §3): an initial access token an admin issued, or no
/// credential at all while `client_registration = "open"`. The token is only looked at here;
/// the registration spends it (in the same transaction as the client it makes).
pub struct Registrant {
    pub initial_token: Option<String>,
}

impl Policy for Registrant {
    const NAME: &'static str = "registrant";
    const MEANS: &'static str = "an initial access token (Bearer) an admin issued; anyone while `client_registration = \"open\"` (limited per IP); nobody while it is `closed`";
}

impl FromRequest for Registrant {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            use crate::config::ClientRegistration;
            let (state, door) = context(&req)?;
            let token = extract::bearer_from_header(&req);
            let judged = match (state.config.client_registration, &token) {
                (ClientRegistration::Closed, _) => Err(Error::Forbidden(
                    "dynamic client registration is closed on this server".into(),
                )),
                (ClientRegistration::Token, None) => Err(Error::InvalidToken(
                    "registering a client needs an initial access token".into(),
                )),
                (ClientRegistration::Open, None) => Ok(()),
                (_, Some(t)) => crate::app::registration::initial_token_live(&state, t).await,
            };
            judged
                .map(|()| Registrant {
                    initial_token: token,
                })
                .map_err(|e| refuse(&req, door, e))
        })
    }
}

/// Managing a dynamically registered client (RFC 7592 §2): the registration access token
/// issued with it, for the client in the path. An unknown client is refused the same way
/// (401), so nothing is learned about which clients exist.
pub struct RegisteredClient {
    pub client: ClientRow,
    pub token: String,
}

impl Policy for RegisteredClient {
    const NAME: &'static str = "registration_token";
    const MEANS: &'static str =
        "the client's registration access token (Bearer), from its registration";
}

impl FromRequest for RegisteredClient {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (state, door) = context(&req)?;
            let Some(token) = extract::bearer_from_header(&req) else {
                return Err(refuse(&req, door, no_credentials()));
            };
            let client_id = req
                .match_info()
                .get("client_id")
                .unwrap_or_default()
                .to_owned();
            crate::app::registration::authorized(&state, &client_id, &token)
                .await
                .map(|client| RegisteredClient { client, token })
                .map_err(|e| refuse(&req, door, e))
        })
    }
}

/// A CloudTrax request signed with an application key (`cloudtrax_application`): the key
/// and the body it signed.
pub struct SignedByApplication {
    pub key: ClientRow,
    pub body: web::Bytes,
}

impl Policy for SignedByApplication {
    const NAME: &'static str = "cloudtrax_application";
    const MEANS: &'static str =
        "a request signed with a CloudTrax application key (made by an admin)";
}

/// A CloudTrax request signed with an account key: the key, the user it acts for, the body.
pub struct SignedByAccount {
    pub key: ClientRow,
    pub user: User,
    pub body: web::Bytes,
    /// The user, by this key (no scopes: a signature is a credential of this door only).
    pub principal: Principal,
}

impl Policy for SignedByAccount {
    const NAME: &'static str = "cloudtrax_account";
    const MEANS: &'static str = "a request signed with a CloudTrax account key (from `/account/login`), acting for its user";
}

impl FromRequest for SignedByApplication {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (state, _) = context(&req)?;
            let (key, body) =
                crate::routes::compat::cloudtrax::signed(&req, payload, &state).await?;
            if key.kind() != Some(ClientKind::CloudtraxApplication) {
                return Err(crate::routes::compat::cloudtrax::refused(
                    "Log in needs an application key.",
                ));
            }
            Ok(SignedByApplication { key, body })
        })
    }
}

impl FromRequest for SignedByAccount {
    type Error = actix_web::Error;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (state, _) = context(&req)?;
            let (key, body) =
                crate::routes::compat::cloudtrax::signed(&req, payload, &state).await?;
            let user = crate::routes::compat::cloudtrax::owner(&state, &key).await?;
            let principal = Principal::signed_request(user.clone(), &key.id);
            Ok(SignedByAccount {
                key,
                user,
                body,
                principal,
            })
        })
    }
}

/// Mongoose RPC: the method named in the request decides; each method's policy is listed in
/// the route table and judged by the same `Judge` as everywhere.
#[derive(Debug, Clone, Copy)]
pub struct Rpc;

impl Policy for Rpc {
    const NAME: &'static str = "rpc";
    const MEANS: &'static str = "per method (the `RPC` rows)";
}

impl FromRequest for Rpc {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Rpc, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Rpc))
    }
}
