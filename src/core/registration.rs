//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): the
//! metadata a client may register for itself, checked strictly and turned into an untrusted
//! client (never `account` or `admin`, never the password grant); initial access tokens that
//! admins hand out (hashed, limited uses, expiring); the registration access token that reads,
//! updates and deletes the client (hashed on the client row).

use chrono::Duration;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client_metadata::ClientMetadata;
use super::clients::{self, ClientRow, ClientUpdate, NewClient};
use super::{crypto, events, oidc, Error, Timestamp};
use crate::db::schema::initial_access_tokens as iat;
use crate::db::DbConnection;

/// Grant types a client may register for itself (the password grant is for first-party
/// clients an admin registers).
pub const GRANTS: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    super::device::GRANT_TYPE,
];
/// The name of a client that gave none.
const UNNAMED: &str = "Unnamed client";

/// Client metadata as a client sends it (RFC 7591 §2). Fields this server does not know are
/// ignored, as §2 asks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Request {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    #[serde(flatten)]
    pub meta: ClientMetadata,
}

impl Request {
    /// From the JSON body; a field of the wrong type is `invalid_client_metadata`.
    pub fn parse(body: &[u8]) -> Result<Request, Error> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("metadata", format!("the body is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(Error::invalid("metadata", "the body must be a JSON object"));
        }
        // An admin's settings, not the client's.
        for field in ["require_second_factor", "token_exchange_audiences"] {
            if value.get(field).is_some() {
                return Err(Error::invalid(
                    field,
                    "is set by an admin, not at registration",
                ));
            }
        }
        serde_json::from_value(value).map_err(|e| Error::invalid("metadata", e.to_string()))
    }
}

/// A redirect URI a client may register for itself: https, or http on a loopback address
/// (native apps, RFC 8252 §7.3), or, for a public (native) client, its own reverse-domain
/// scheme (RFC 8252 §7.1, `com.example.app:/cb`); no fragment.
fn check_redirect_uri(field: &'static str, uri: &str, native: bool) -> Result<(), Error> {
    super::validate::redirect_uri(field, uri)?;
    let u = url::Url::parse(uri).map_err(|_| Error::invalid(field, "is not an absolute URI"))?;
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        s if native && s.contains('.') => Ok(()),
        _ => Err(Error::invalid(
            field,
            format!("`{uri}` must use https (or http on a loopback address)"),
        )),
    }
}

/// The checked client a registration (or an update) asks for.
struct Checked {
    method: String,
    grants: Vec<String>,
    scopes: Vec<String>,
    name: String,
}

fn check(req: &Request) -> Result<Checked, Error> {
    let method = req
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| "client_secret_basic".into());
    let native = method == "none";
    for uri in &req.redirect_uris {
        check_redirect_uri("redirect_uri", uri, native)?;
    }
    for uri in &req.post_logout_redirect_uris {
        check_redirect_uri("post_logout_redirect_uri", uri, native)?;
    }
    let grants = req
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    for g in &grants {
        if !GRANTS.contains(&g.as_str()) {
            return Err(Error::invalid(
                "grant_types",
                format!("`{g}` is not one of {}", GRANTS.join(", ")),
            ));
        }
    }
    let code = grants.iter().any(|g| g == "authorization_code");
    let response_types = req.response_types.clone().unwrap_or_else(|| {
        if code {
            vec!["code".into()]
        } else {
            Vec::new()
        }
    });
    if response_types.iter().any(|r| r != "code") {
        return Err(Error::invalid("response_types", "only `code` is supported"));
    }
    if code != response_types.iter().any(|r| r == "code") {
        return Err(Error::invalid(
            "response_types",
            "the code response type goes with the authorization_code grant, and only with it",
        ));
    }
    let person = code || grants.iter().any(|g| g == super::device::GRANT_TYPE);
    if grants.iter().any(|g| g == "refresh_token") && !person {
        return Err(Error::invalid(
            "grant_types",
            "refresh_token goes with authorization_code or the device grant",
        ));
    }
    if code && req.redirect_uris.is_empty() {
        return Err(Error::invalid(
            "redirect_uri",
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if let Some(alg) = &req.id_token_signed_response_alg {
        if alg != "RS256" {
            return Err(Error::invalid(
                "id_token_signed_response_alg",
                "ID tokens are signed with RS256",
            ));
        }
    }
    let scopes: Vec<String> = match &req.scope {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => clients::DEFAULT_SCOPES
            .split(' ')
            .map(str::to_owned)
            .collect(),
    };
    for s in &scopes {
        if !oidc::SCOPES.contains(&s.as_str()) {
            return Err(Error::invalid(
                "scope",
                format!(
                    "`{s}` is not available to self-registered clients (they may ask for {})",
                    oidc::SCOPES.join(", ")
                ),
            ));
        }
    }
    let name = req
        .client_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| UNNAMED.into());
    Ok(Checked {
        method,
        grants,
        scopes,
        name,
    })
}

/// A registered client as RFC 7591 §3.2.1 answers it (and RFC 7592 §3 reads it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Response {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire (present with a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub registration_access_token: String,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub meta: ClientMetadata,
}

/// The answer for a client; `secret` only when just made, `token` is the registration access
/// token the caller holds.
pub fn response(row: &ClientRow, secret: Option<String>, token: &str, uri: String) -> Response {
    let c = clients::Client::from(row);
    let mut meta = c.metadata.clone();
    meta.require_second_factor = false;
    let code = c.grant_types.iter().any(|g| g == "authorization_code");
    Response {
        client_id: c.client_id,
        client_secret_expires_at: (!c.public && c.token_endpoint_auth_method != "private_key_jwt")
            .then_some(0),
        client_secret: secret,
        client_id_issued_at: row.created_at.and_utc().timestamp(),
        registration_access_token: token.to_owned(),
        registration_client_uri: uri,
        client_name: c.name,
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        grant_types: c.grant_types,
        response_types: if code {
            vec!["code".into()]
        } else {
            Vec::new()
        },
        token_endpoint_auth_method: c.token_endpoint_auth_method,
        scope: c.scope,
        meta,
    }
}

/// Spends one use of an initial access token (atomically: concurrent registrations cannot
/// overspend it); an unknown, spent or expired one is `invalid_token`.
pub fn spend_initial_token(
    conn: &mut DbConnection,
    now: Timestamp,
    token: &str,
) -> Result<(), Error> {
    let n = diesel::update(
        iat::table
            .filter(iat::token_hash.eq(crypto::secret_hash(token)))
            .filter(iat::uses_left.gt(0))
            .filter(iat::expires_at.gt(now)),
    )
    .set(iat::uses_left.eq(iat::uses_left - 1))
    .execute(conn)?;
    if n == 0 {
        return Err(Error::InvalidToken(
            "the initial access token is unknown, used up or expired".into(),
        ));
    }
    Ok(())
}

/// Whether an initial access token can still register a client (the boundary's check; the
/// registration spends it).
pub fn initial_token_live(
    conn: &mut DbConnection,
    now: Timestamp,
    token: &str,
) -> Result<bool, Error> {
    let n: i64 = iat::table
        .filter(iat::token_hash.eq(crypto::secret_hash(token)))
        .filter(iat::uses_left.gt(0))
        .filter(iat::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Registers a client for itself: checks the metadata, then (in one transaction) spends the
/// initial access token when one was used and creates the untrusted client with a new
/// registration access token. Answers the client row, its secret (once) and the token.
pub fn register(
    conn: &mut DbConnection,
    now: Timestamp,
    req: Request,
    initial_token: Option<&str>,
    seal_with: Option<crypto::MasterKey>,
    allow_private_jwks_uri: bool,
) -> Result<(ClientRow, Option<String>, String), Error> {
    if req.client_id.is_some() || req.client_secret.is_some() {
        return Err(Error::invalid(
            "client_id",
            "the server chooses the client_id and client_secret",
        ));
    }
    let c = check(&req)?;
    let token = crypto::random_token(32);
    let new = NewClient {
        name: c.name,
        public: c.method == "none",
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grant_types: c.grants,
        scopes: c.scopes,
        auth_method: Some(c.method),
        metadata: Some(
            serde_json::to_value(&req.meta).map_err(|e| Error::Internal(e.to_string()))?,
        ),
        seal_with,
        dynamic: true,
        registration_token: Some(token.clone()),
        allow_private_jwks_uri,
        ..Default::default()
    };
    let created = crate::db::transaction(conn, |conn| {
        if let Some(t) = initial_token {
            spend_initial_token(conn, now, t)?;
        }
        clients::create(conn, now, new)
    })?;
    let row = clients::get(conn, &created.client.client_id)?;
    Ok((row, created.secret, token))
}

/// The dynamic client a registration access token manages, or `invalid_token` (for an unknown
/// client too, RFC 7592 §2).
pub fn authorized(
    conn: &mut DbConnection,
    client_id: &str,
    token: &str,
) -> Result<ClientRow, Error> {
    let refused =
        || Error::InvalidToken("the registration access token is not valid for this client".into());
    let row = match clients::get(conn, client_id) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Err(refused()),
        Err(e) => return Err(e),
    };
    match &row.registration_token_hash {
        Some(hash) if row.dynamic && crypto::verify_secret_hash(token, hash) => Ok(row),
        _ => Err(refused()),
    }
}

/// Replaces a dynamic client's metadata (RFC 7592 §2.2: what the request leaves out goes back
/// to its default). The client_id must be the client's; a client_secret, if sent, its own;
/// the authentication method cannot change. The registration access token is replaced (the
/// new one is answered; RFC 7592 §3), and a change of redirect URIs forgets every consent
/// given to the client, so that a leaked token cannot quietly send people's codes elsewhere.
pub fn update(
    conn: &mut DbConnection,
    now: Timestamp,
    row: &ClientRow,
    req: Request,
    allow_private_jwks_uri: bool,
) -> Result<(ClientRow, String), Error> {
    if req.client_id.as_deref() != Some(row.id.as_str()) {
        return Err(Error::invalid(
            "client_id",
            "must be sent, and be this client's",
        ));
    }
    if let Some(secret) = &req.client_secret {
        let right = row
            .secret_hash
            .as_deref()
            .is_some_and(|h| crypto::verify_secret_hash(secret, h));
        if !right {
            return Err(Error::invalid(
                "client_secret",
                "is not this client's secret",
            ));
        }
    }
    let c = check(&req)?;
    if c.method != row.token_endpoint_auth_method {
        return Err(Error::invalid(
            "token_endpoint_auth_method",
            format!(
                "cannot change from {} (register a new client instead)",
                row.token_endpoint_auth_method
            ),
        ));
    }
    let moved = req.redirect_uris[..] != row.redirect_uris[..];
    let token = crypto::random_token(32);
    crate::db::transaction(conn, |conn| {
        clients::update(
            conn,
            now,
            &row.id,
            ClientUpdate {
                name: Some(c.name),
                redirect_uris: Some(req.redirect_uris),
                post_logout_redirect_uris: Some(req.post_logout_redirect_uris),
                grant_types: Some(c.grants),
                scopes: Some(c.scopes),
                metadata: Some(req.meta),
                allow_private_jwks_uri,
                ..Default::default()
            },
        )?;
        // Only if the token that was checked is still the client's: of two updates racing with
        // one token, the second finds it replaced.
        use crate::db::schema::clients as c;
        let rotated = diesel::update(
            c::table
                .find(&row.id)
                .filter(c::registration_token_hash.eq(row.registration_token_hash.clone())),
        )
        .set(c::registration_token_hash.eq(crypto::secret_hash(&token)))
        .execute(conn)?;
        if rotated != 1 {
            return Err(Error::InvalidToken(
                "the registration access token was replaced meanwhile".into(),
            ));
        }
        if moved {
            diesel::delete(
                crate::db::schema::consents::table
                    .filter(crate::db::schema::consents::client_id.eq(&row.id)),
            )
            .execute(conn)?;
        }
        Ok::<(), Error>(())
    })?;
    Ok((clients::get(conn, &row.id)?, token))
}

/// An initial access token as admins see it (never the token itself).
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = iat)]
pub struct InitialAccessToken {
    pub id: String,
    pub note: String,
    pub uses_left: i32,
    #[serde(serialize_with = "super::time::ser")]
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[serde(serialize_with = "super::time::ser")]
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// Issues an initial access token good for `uses` registrations within `expires_in` seconds;
/// the token is answered once.
pub fn issue_initial_token(
    conn: &mut DbConnection,
    now: Timestamp,
    uses: u32,
    expires_in: u64,
    note: &str,
) -> Result<(InitialAccessToken, String), Error> {
    if uses == 0 || uses > 10_000 {
        return Err(Error::invalid("uses", "must be 1 to 10000"));
    }
    if expires_in == 0 || expires_in > 366 * 86_400 {
        return Err(Error::invalid("expires_in", "must be 1 second to a year"));
    }
    if !note.is_empty() {
        super::validate::text("note", note, 200)?;
    }
    let token = crypto::random_token(32);
    let row = InitialAccessToken {
        id: uuid::Uuid::new_v4().to_string(),
        note: note.to_owned(),
        uses_left: uses as i32,
        created_at: now,
        expires_at: now + Duration::seconds(expires_in as i64),
    };
    crate::db::transaction(conn, |conn| {
        diesel::insert_into(iat::table)
            .values((
                iat::id.eq(&row.id),
                iat::token_hash.eq(crypto::secret_hash(&token)),
                iat::uses_left.eq(row.uses_left),
                iat::note.eq(&row.note),
                iat::created_at.eq(now),
                iat::expires_at.eq(row.expires_at),
            ))
            .execute(conn)?;
        let event = events::NewEvent {
            kind: "client.initial_token_issued",
            detail: Some(serde_json::json!({ "id": row.id, "uses": uses, "note": note })),
            ..Default::default()
        };
        events::record(conn, now, event).map(|_| ())
    })?;
    Ok((row, token))
}

/// The initial access tokens that can still register a client.
pub fn list_initial_tokens(
    conn: &mut DbConnection,
    now: Timestamp,
) -> Result<Vec<InitialAccessToken>, Error> {
    Ok(iat::table
        .filter(iat::uses_left.gt(0))
        .filter(iat::expires_at.gt(now))
        .order(iat::created_at.asc())
        .select(InitialAccessToken::as_select())
        .load(conn)?)
}

/// Revokes an initial access token.
pub fn revoke_initial_token(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
) -> Result<(), Error> {
    let n = diesel::delete(iat::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("initial access token"));
    }
    let event = events::NewEvent {
        kind: "client.initial_token_revoked",
        detail: Some(serde_json::json!({ "id": id })),
        ..Default::default()
    };
    events::record(conn, now, event).map(|_| ())
}
