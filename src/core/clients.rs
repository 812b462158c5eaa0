//! OAuth clients, and every key/secret pair of the older APIs (they are clients too): creation
//! with validation, generated 256-bit secrets stored only as hashes, listing and removal.

use chrono::Duration;
use diesel::prelude::*;
use serde::Serialize;

pub use super::client_metadata::ClientMetadata;
use super::{crypto, events, validate, Error, Timestamp};
use crate::db::schema::{clients, revocations, users};
use crate::db::{is_unique_violation, DbConnection, JsonList};

/// What a client is (SPEC §2): an app, or a key of one of the older APIs, or one of the
/// compatibility doors' own clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    App,
    Device,
    /// A Bloq client key.
    ClientKey,
    /// A CloudTrax account key.
    ApiKey,
    /// A CloudTrax embed key.
    Embed,
    CloudtraxApplication,
    /// A compatibility door's own client: never registered, never authenticating.
    Internal,
}

impl ClientKind {
    /// The kinds a client can be registered with.
    pub const REGISTRABLE: [ClientKind; 6] = [
        ClientKind::App,
        ClientKind::Device,
        ClientKind::ClientKey,
        ClientKind::ApiKey,
        ClientKind::Embed,
        ClientKind::CloudtraxApplication,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::App => "app",
            ClientKind::Device => "device",
            ClientKind::ClientKey => "client_key",
            ClientKind::ApiKey => "api_key",
            ClientKind::Embed => "embed",
            ClientKind::CloudtraxApplication => "cloudtrax_application",
            ClientKind::Internal => "internal",
        }
    }

    /// A kind by name (any kind, internal included).
    pub fn parse(name: &str) -> Option<ClientKind> {
        ClientKind::REGISTRABLE
            .into_iter()
            .chain([ClientKind::Internal])
            .find(|k| k.as_str() == name)
    }

    /// Keys whose secret must be readable: requests are HMAC-signed with it (CloudTrax).
    pub fn sealed(self) -> bool {
        matches!(
            self,
            ClientKind::CloudtraxApplication | ClientKind::ApiKey | ClientKind::Embed
        )
    }
}

/// Token endpoint authentication methods (RFC 7591 §2, OIDC Core §9).
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];
/// Scopes a client is allowed when none are given.
pub const DEFAULT_SCOPES: &str = "openid profile email address phone offline_access";

/// A stored client. List-valued columns hold JSON arrays, parsed as the row is read.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub secret_hash: Option<String>,
    pub secret_sealed: Option<String>,
    pub name: String,
    pub kind: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub redirect_uris: JsonList,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub post_logout_redirect_uris: JsonList,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub grant_types: JsonList,
    pub scopes: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub resources: JsonList,
    pub token_endpoint_auth_method: String,
    pub trusted: bool,
    pub owner_id: Option<String>,
    pub cert_thumbprint: Option<String>,
    pub metadata: String,
    pub expires_at: Option<Timestamp>,
    pub tokens_valid_after: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Registered through `/register` (RFC 7591): never trusted.
    pub dynamic: bool,
    /// The hash of its registration access token (RFC 7592), for dynamic clients.
    pub registration_token_hash: Option<String>,
}

impl ClientRow {
    /// A confidential app named `id` with nothing registered, for unit tests of rules.
    #[cfg(test)]
    pub fn for_tests(id: &str) -> ClientRow {
        ClientRow {
            id: id.to_owned(),
            secret_hash: Some("sha256:".into()),
            secret_sealed: None,
            name: id.to_owned(),
            kind: "app".into(),
            redirect_uris: Vec::new().into(),
            post_logout_redirect_uris: Vec::new().into(),
            grant_types: Vec::new().into(),
            scopes: String::new(),
            resources: Vec::new().into(),
            token_endpoint_auth_method: "client_secret_basic".into(),
            trusted: false,
            owner_id: None,
            cert_thumbprint: None,
            metadata: "{}".into(),
            expires_at: None,
            tokens_valid_after: None,
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
            dynamic: false,
            registration_token_hash: None,
        }
    }

    /// What it registered beyond the columns (the `metadata` JSON).
    pub fn meta(&self) -> ClientMetadata {
        ClientMetadata::parse(&self.metadata)
    }

    /// Whether people must sign in to this app with a second factor (`metadata`'s
    /// `require_second_factor`).
    pub fn requires_second_factor(&self) -> bool {
        self.meta().require_second_factor
    }

    /// A public client: it cannot keep a secret and authenticates with `none` (PKCE).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == "none"
    }

    /// What the client is (`None` only for a row no version of Portcullis wrote).
    pub fn kind(&self) -> Option<ClientKind> {
        ClientKind::parse(&self.kind)
    }

    /// An internal client: the holder of tokens a compatibility door issues for people. It
    /// authenticates nowhere; only its own door uses its tokens.
    pub fn is_internal(&self) -> bool {
        self.kind() == Some(ClientKind::Internal)
    }

    /// Whether its secret is sealed (readable) as well as hashed: the kinds that sign with it,
    /// and `client_secret_jwt` clients (whose assertions are HMACs keyed with it).
    pub fn is_sealed(&self) -> bool {
        self.kind().is_some_and(ClientKind::sealed)
            || self.token_endpoint_auth_method == "client_secret_jwt"
    }
}

/// A client as callers see it (no secret material).
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub resources: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub trusted: bool,
    pub public: bool,
    pub owner: Option<String>,
    pub cert_thumbprint: Option<String>,
    #[serde(serialize_with = "super::time::ser_opt")]
    pub expires_at: Option<Timestamp>,
    #[serde(serialize_with = "super::time::ser")]
    pub created_at: Timestamp,
    /// People must sign in to this app with a second factor.
    pub require_second_factor: bool,
    /// Registered through `/register` (RFC 7591): untrusted, managed with its registration
    /// access token.
    pub dynamic: bool,
    /// Its metadata beyond the columns (keys, PAR, descriptive fields).
    pub metadata: ClientMetadata,
}

impl From<&ClientRow> for Client {
    fn from(r: &ClientRow) -> Client {
        let metadata = r.meta();
        Client {
            client_id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            redirect_uris: r.redirect_uris.to_vec(),
            post_logout_redirect_uris: r.post_logout_redirect_uris.to_vec(),
            grant_types: r.grant_types.to_vec(),
            scope: r.scopes.clone(),
            resources: r.resources.to_vec(),
            token_endpoint_auth_method: r.token_endpoint_auth_method.clone(),
            trusted: r.trusted,
            public: r.is_public(),
            owner: r.owner_id.clone(),
            cert_thumbprint: r.cert_thumbprint.clone(),
            expires_at: r.expires_at,
            created_at: r.created_at,
            require_second_factor: metadata.require_second_factor,
            dynamic: r.dynamic,
            metadata,
        }
    }
}

/// What a new client needs; empty lists take defaults that fit the rest.
#[derive(Debug, Default, Clone)]
pub struct NewClient {
    pub id: Option<String>,
    pub name: String,
    /// A chosen secret; generated (256 bits) when `None` for a confidential client.
    pub secret: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
    pub trusted: bool,
    /// `app` when `None`.
    pub kind: Option<String>,
    pub owner_id: Option<String>,
    pub cert_thumbprint: Option<String>,
    pub expires_in: Option<u64>,
    /// `client_secret_basic` (`none` for public clients) when `None`.
    pub auth_method: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// Seal the secret with this key so it can be read back (HMAC-signing keys: CloudTrax,
    /// `client_secret_jwt`).
    pub seal_with: Option<super::crypto::MasterKey>,
    /// Registered through `/register`: never trusted, never `account` or `admin`.
    pub dynamic: bool,
    /// The registration access token of a dynamic client (stored hashed).
    pub registration_token: Option<String>,
    /// Admit a plain-http or private `jwks_uri` (`allow_private_jwks_uri`, development).
    pub allow_private_jwks_uri: bool,
}

impl NewClient {
    /// Whether its secret must be sealed (readable) as well as hashed: the kinds that sign
    /// requests with it (CloudTrax) and `client_secret_jwt` clients.
    pub fn needs_sealing(&self) -> bool {
        self.kind
            .as_deref()
            .and_then(ClientKind::parse)
            .is_some_and(ClientKind::sealed)
            || self.auth_method.as_deref() == Some("client_secret_jwt")
    }
}

/// A created client and, once, its secret in plain text.
#[derive(Debug, Clone)]
pub struct Created {
    pub client: Client,
    pub secret: Option<String>,
}

/// The SHA-256 thumbprint (lowercase hex of the DER) of a PEM certificate.
pub fn cert_thumbprint(pem: &[u8]) -> Result<String, Error> {
    let cert = openssl::x509::X509::from_pem(pem)
        .map_err(|_| Error::invalid("cert", "is not a PEM X.509 certificate"))?;
    let der = cert
        .to_der()
        .map_err(|e| Error::Internal(format!("certificate encoding: {e}")))?;
    Ok(crypto::sha256_hex(&der))
}

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// Creates a client after checking that its settings fit together.
pub fn create(conn: &mut DbConnection, now: Timestamp, new: NewClient) -> Result<Created, Error> {
    if let Some(id) = &new.id {
        validate::id("client_id", id)?;
    }
    validate::text("name", &new.name, 200)?;
    let kind = new
        .kind
        .clone()
        .unwrap_or_else(|| ClientKind::App.as_str().into());
    let kind_of = ClientKind::parse(&kind)
        .filter(|k| ClientKind::REGISTRABLE.contains(k))
        .ok_or_else(|| {
            let names: Vec<&str> = ClientKind::REGISTRABLE.iter().map(|k| k.as_str()).collect();
            Error::invalid(
                "kind",
                format!("`{kind}` is not one of {}", names.join(", ")),
            )
        })?;
    let auth_method = match (&new.auth_method, new.public) {
        (Some(m), _) => m.clone(),
        (None, true) => "none".into(),
        (None, false) => "client_secret_basic".into(),
    };
    one_of("auth_method", &auth_method, AUTH_METHODS)?;
    let public = new.public || auth_method == "none";
    let keyed = auth_method == "private_key_jwt";
    if auth_method.ends_with("_jwt") && !matches!(kind_of, ClientKind::App | ClientKind::Device) {
        return Err(Error::invalid(
            "auth_method",
            format!("a {kind} key authenticates with its secret, not a JWT"),
        ));
    }
    if public && auth_method != "none" {
        return Err(Error::invalid(
            "auth_method",
            "a public client authenticates with `none`",
        ));
    }
    if public && new.secret.is_some() {
        return Err(Error::invalid("secret", "a public client has no secret"));
    }
    if keyed && new.secret.is_some() {
        return Err(Error::invalid(
            "secret",
            "a private_key_jwt client authenticates with its keys, not a secret",
        ));
    }
    let metadata = new
        .metadata
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    if !metadata.is_object() {
        return Err(Error::invalid("metadata", "must be a JSON object"));
    }
    ClientMetadata::parse(&metadata.to_string()).check(&auth_method, new.allow_private_jwks_uri)?;
    if let Some(s) = &new.secret {
        if s.is_empty() || s.len() > 1024 || s.chars().any(|c| c.is_control()) {
            return Err(Error::invalid(
                "secret",
                "must be 1 to 1024 printable characters",
            ));
        }
    }
    for uri in new.redirect_uris.iter() {
        validate::redirect_uri("redirect_uri", uri)?;
    }
    for uri in new.post_logout_redirect_uris.iter() {
        validate::redirect_uri("post_logout_redirect_uri", uri)?;
    }
    for uri in new.resources.iter() {
        let parsed = url::Url::parse(uri)
            .map_err(|_| Error::invalid("resource", format!("`{uri}` is not an absolute URI")))?;
        if parsed.fragment().is_some() {
            return Err(Error::invalid("resource", "must not contain a fragment"));
        }
    }
    let grant_types = if new.grant_types.is_empty() {
        let mut g = Vec::new();
        if !new.redirect_uris.is_empty() {
            g.push("authorization_code".to_string());
            g.push("refresh_token".to_string());
        }
        // A public device signs a person in with the device grant (RFC 8628), and stays
        // signed in. (A confidential device, such as a Mongoose device with its PSK, gets it
        // only when asked for with --grant.)
        if kind_of == ClientKind::Device && public {
            g.push(super::device::GRANT_TYPE.to_string());
            if !g.iter().any(|x| x == "refresh_token") {
                g.push("refresh_token".to_string());
            }
        }
        if !public {
            g.push("client_credentials".to_string());
        }
        if g.is_empty() {
            return Err(Error::invalid(
                "redirect_uri",
                "a public client needs at least one redirect URI",
            ));
        }
        g
    } else {
        dedup(new.grant_types.clone())
    };
    for g in &grant_types {
        if super::oauth::GrantType::parse(g).is_none() {
            let names: Vec<&str> = super::oauth::GrantType::ALL
                .iter()
                .map(|g| g.as_str())
                .collect();
            return Err(Error::invalid(
                "grant",
                format!("`{g}` is not one of {}", names.join(", ")),
            ));
        }
    }
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    if has("authorization_code") && new.redirect_uris.is_empty() {
        return Err(Error::invalid(
            "redirect_uri",
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if has("client_credentials") && public {
        return Err(Error::invalid(
            "grant",
            "client_credentials is only for confidential clients",
        ));
    }
    if new.dynamic && new.trusted {
        return Err(Error::invalid(
            "trusted",
            "a dynamically registered client is never trusted",
        ));
    }
    if has("password") && !new.trusted {
        return Err(Error::invalid(
            "grant",
            "the password grant is only for trusted (first-party) clients",
        ));
    }
    let scopes = if new.scopes.is_empty() {
        DEFAULT_SCOPES.split(' ').map(str::to_owned).collect()
    } else {
        dedup(
            new.scopes
                .iter()
                .flat_map(|s| s.split_whitespace().map(str::to_owned))
                .collect(),
        )
    };
    for s in &scopes {
        validate::scope_token(s)?;
    }
    if !new.trusted
        && scopes
            .iter()
            .any(|s| s == super::principal::scopes::ACCOUNT)
    {
        return Err(Error::invalid(
            "scope",
            "the account scope is only for trusted (first-party) clients",
        ));
    }
    if new.dynamic && scopes.iter().any(|s| s == super::principal::scopes::ADMIN) {
        return Err(Error::invalid(
            "scope",
            "the admin scope is never given to a dynamically registered client",
        ));
    }
    if let Some(owner) = &new.owner_id {
        let exists: i64 = users::table
            .filter(users::id.eq(owner))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(Error::invalid("owner", format!("no user `{owner}`")));
        }
    }
    let expires_at = match new.expires_in {
        Some(0) => return Err(Error::invalid("expires_in", "must be at least 1 second")),
        Some(secs) => Some(
            now + Duration::try_seconds(secs as i64)
                .ok_or_else(|| Error::invalid("expires_in", "is too large"))?,
        ),
        None => None,
    };
    let secret = if public || keyed {
        None
    } else {
        Some(
            new.secret
                .clone()
                .unwrap_or_else(|| crypto::random_token(32)),
        )
    };
    let secret_sealed = match (&secret, &new.seal_with) {
        (Some(s), Some(key)) => Some(key.seal(s.as_bytes()).map_err(Error::Internal)?),
        _ => None,
    };
    if (kind_of == ClientKind::CloudtraxApplication || auth_method == "client_secret_jwt")
        && secret_sealed.is_none()
    {
        return Err(Error::Internal(format!(
            "a {} client needs its secret sealed",
            if auth_method == "client_secret_jwt" {
                "client_secret_jwt"
            } else {
                "cloudtrax_application"
            }
        )));
    }
    let row = ClientRow {
        id: new
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        secret_hash: secret.as_deref().map(crypto::secret_hash),
        secret_sealed,
        name: new.name.clone(),
        kind,
        redirect_uris: dedup(new.redirect_uris.clone()).into(),
        post_logout_redirect_uris: dedup(new.post_logout_redirect_uris.clone()).into(),
        grant_types: grant_types.into(),
        scopes: scopes.join(" "),
        resources: dedup(new.resources.clone()).into(),
        token_endpoint_auth_method: auth_method,
        trusted: new.trusted,
        owner_id: new.owner_id.clone(),
        cert_thumbprint: new.cert_thumbprint.clone(),
        metadata: metadata.to_string(),
        expires_at,
        tokens_valid_after: None,
        created_at: now,
        updated_at: now,
        dynamic: new.dynamic,
        registration_token_hash: new.registration_token.as_deref().map(crypto::secret_hash),
    };
    crate::db::transaction(conn, |conn| {
        super::ids::claim(conn, &row.id, super::ids::Kind::Client)?;
        diesel::insert_into(clients::table)
            .values(row.clone())
            .execute(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict("a client with this id already exists".into())
                } else {
                    e.into()
                }
            })?;
        let mut event = events::NewEvent::client("client.created", &row.id);
        event.user_id = row.owner_id.clone();
        event.detail = Some(serde_json::json!({
            "kind": row.kind,
            "name": row.name,
            "dynamic": row.dynamic,
        }));
        events::record(conn, now, event)?;
        Ok::<(), Error>(())
    })?;
    Ok(Created {
        client: Client::from(&row),
        secret,
    })
}

/// A client row by id.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<ClientRow, Error> {
    clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("client"))
}

/// Every client, oldest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, Error> {
    let rows: Vec<ClientRow> = clients::table
        .order((clients::created_at.asc(), clients::id.asc()))
        .select(ClientRow::as_select())
        .load(conn)?;
    Ok(rows.iter().map(Client::from).collect())
}

/// Deletes a client with its grants, codes and refresh tokens, and records a revocation so
/// that every access token it holds becomes inactive on every node.
pub fn remove(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    max_token_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        let n = diesel::delete(clients::table.find(id)).execute(conn)?;
        if n == 0 {
            return Err(Error::NotFound("client"));
        }
        super::ids::release(conn, id)?;
        diesel::insert_into(revocations::table)
            .values((
                revocations::kind.eq("client"),
                revocations::subject.eq(id),
                revocations::not_before.eq(Some(now)),
                revocations::created_at.eq(now),
                revocations::expires_at.eq(now + Duration::seconds(max_token_ttl as i64)),
            ))
            .execute(conn)?;
        events::record(conn, now, events::NewEvent::client("client.deleted", id))?;
        Ok(())
    })
}

/// Makes sure an internal client exists (one that holds tokens a door issues for people,
/// e.g. the Mongoose app grants or esalerugs sessions). It has no secret, cannot be used at
/// the token endpoint, and is trusted; `grant_types` says what its tokens may do (e.g.
/// `refresh_token`) and `scopes` what they carry. Idempotent across nodes; a client made by an
/// older version gets the scopes of this one.
pub fn ensure_internal(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    name: &str,
    grant_types: &[&str],
    scopes: &str,
) -> Result<ClientRow, Error> {
    if let Ok(mut c) = get(conn, id) {
        if c.scopes != scopes {
            diesel::update(clients::table.find(id))
                .set((clients::scopes.eq(scopes), clients::updated_at.eq(now)))
                .execute(conn)?;
            c.scopes = scopes.to_owned();
        }
        return Ok(c);
    }
    let row = ClientRow {
        id: id.to_owned(),
        secret_hash: None,
        secret_sealed: None,
        name: name.to_owned(),
        kind: ClientKind::Internal.as_str().into(),
        redirect_uris: JsonList::default(),
        post_logout_redirect_uris: JsonList::default(),
        grant_types: JsonList(grant_types.iter().map(|g| g.to_string()).collect()),
        scopes: scopes.to_owned(),
        resources: JsonList::default(),
        token_endpoint_auth_method: "none".into(),
        trusted: true,
        owner_id: None,
        cert_thumbprint: None,
        metadata: "{}".into(),
        expires_at: None,
        tokens_valid_after: None,
        created_at: now,
        updated_at: now,
        dynamic: false,
        registration_token_hash: None,
    };
    let inserted = crate::db::transaction(conn, |conn| {
        super::ids::claim(conn, id, super::ids::Kind::Client)?;
        diesel::insert_into(clients::table)
            .values(row.clone())
            .execute(conn)
            .map_err(Error::from)
    });
    match inserted {
        Ok(_) => Ok(row),
        // Another node made it first.
        Err(Error::Database(e)) if is_unique_violation(&e) => get(conn, id),
        Err(e) => Err(e),
    }
}

/// What an admin may change on a client (absent fields stay). The result is checked like a
/// new client.
#[derive(Debug, Default, Clone)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub trusted: Option<bool>,
    pub require_second_factor: Option<bool>,
    /// The whole metadata (dynamic registration's update, RFC 7592 §2.2); its
    /// `require_second_factor` is kept from the stored one.
    pub metadata: Option<ClientMetadata>,
    /// Or a change to the keys and request settings, merged into the stored metadata.
    pub metadata_patch: Option<super::client_metadata::MetadataPatch>,
    /// Admit a plain-http or private `jwks_uri` (development).
    pub allow_private_jwks_uri: bool,
}

/// Updates a client after validating the whole result (as `create` does).
pub fn update(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    u: ClientUpdate,
) -> Result<Client, Error> {
    let row = get(conn, id)?;
    let current = Client::from(&row);
    // The metadata as it will be: the stored JSON (other fields kept), with the new typed
    // fields and the second-factor requirement.
    let mut metadata: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.metadata).unwrap_or_default();
    let typed = match (&u.metadata, &u.metadata_patch) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(p)) => Some(p.apply(&row.meta())?),
        (None, None) => None,
    };
    if let Some(m) = &typed {
        for key in [
            "jwks",
            "jwks_uri",
            "token_endpoint_auth_signing_alg",
            "request_object_signing_alg",
            "require_pushed_authorization_requests",
            "require_signed_request_object",
            "dpop_bound_access_tokens",
            "token_exchange_audiences",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "client_uri",
            "logo_uri",
            "tos_uri",
            "policy_uri",
            "contacts",
            "software_id",
            "software_version",
        ] {
            metadata.remove(key);
        }
        let mut typed = m.clone();
        typed.require_second_factor = false;
        if let serde_json::Value::Object(fields) =
            serde_json::to_value(&typed).map_err(|e| Error::Internal(e.to_string()))?
        {
            metadata.extend(fields);
        }
    }
    if let Some(required) = u.require_second_factor {
        metadata.insert("require_second_factor".into(), required.into());
    }
    let metadata = serde_json::Value::Object(metadata);
    // Validate the merged result with the same rules as creation.
    let probe = NewClient {
        name: u.name.clone().unwrap_or(current.name.clone()),
        public: current.public,
        secret: None,
        redirect_uris: u
            .redirect_uris
            .clone()
            .unwrap_or(current.redirect_uris.clone()),
        post_logout_redirect_uris: u
            .post_logout_redirect_uris
            .clone()
            .unwrap_or(current.post_logout_redirect_uris.clone()),
        grant_types: u.grant_types.clone().unwrap_or(current.grant_types.clone()),
        scopes: u
            .scopes
            .clone()
            .unwrap_or_else(|| vec![current.scope.clone()]),
        resources: u.resources.clone().unwrap_or(current.resources.clone()),
        trusted: u.trusted.unwrap_or(current.trusted),
        // The kind is not changing; a plain one keeps the probe free of sealing (a throwaway
        // key stands in for `client_secret_jwt`'s, whose secret is not changing either).
        kind: Some("app".into()),
        auth_method: Some(current.token_endpoint_auth_method.clone()),
        metadata: Some(metadata.clone()),
        dynamic: row.dynamic,
        allow_private_jwks_uri: u.allow_private_jwks_uri,
        seal_with: Some(super::crypto::MasterKey::from_bytes(rand::random())),
        ..Default::default()
    };
    let checked = crate::db::transaction(conn, |conn| {
        // A dry run of create's checks inside a transaction that is rolled back.
        let r = create(
            conn,
            now,
            NewClient {
                id: Some(format!("probe-{}", uuid::Uuid::new_v4().simple())),
                secret: None,
                ..probe.clone()
            },
        );
        Err::<(), _>(match r {
            Ok(c) => ProbeResult::Ok(Box::new(c.client)),
            Err(e) => ProbeResult::Err(e),
        })
    });
    let merged = match checked {
        Err(ProbeResult::Ok(c)) => *c,
        Err(ProbeResult::Err(e)) => return Err(e),
        Ok(()) => unreachable!("the probe always rolls back"),
    };
    diesel::update(clients::table.find(id))
        .set((
            clients::name.eq(&merged.name),
            clients::redirect_uris.eq(String::from(JsonList(merged.redirect_uris))),
            clients::post_logout_redirect_uris
                .eq(String::from(JsonList(merged.post_logout_redirect_uris))),
            clients::grant_types.eq(String::from(JsonList(merged.grant_types))),
            clients::scopes.eq(&merged.scope),
            clients::resources.eq(String::from(JsonList(merged.resources))),
            clients::trusted.eq(merged.trusted),
            clients::metadata.eq(metadata.to_string()),
            clients::updated_at.eq(now),
        ))
        .execute(conn)?;
    events::record(conn, now, events::NewEvent::client("client.updated", id))?;
    Ok(Client::from(&get(conn, id)?))
}

/// The outcome of a rolled-back validation run.
#[derive(Debug)]
enum ProbeResult {
    Ok(Box<Client>),
    Err(Error),
}

impl From<diesel::result::Error> for ProbeResult {
    fn from(e: diesel::result::Error) -> Self {
        ProbeResult::Err(e.into())
    }
}

/// Gives a confidential client a new generated secret (returned once); the old one stops
/// working at once. Sealed kinds get the new secret sealed with `seal_with`.
pub fn rotate_secret(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    seal_with: Option<&super::crypto::MasterKey>,
) -> Result<String, Error> {
    let row = get(conn, id)?;
    if row.secret_hash.is_none() {
        return Err(Error::invalid(
            "client_id",
            format!(
                "this client has no secret (it authenticates with {})",
                row.token_endpoint_auth_method
            ),
        ));
    }
    let secret = crypto::random_token(32);
    let sealed = match (row.is_sealed(), seal_with) {
        (true, Some(k)) => Some(k.seal(secret.as_bytes()).map_err(Error::Internal)?),
        (true, None) => return Err(Error::Internal("a sealed key needs the sealing key".into())),
        (false, _) => None,
    };
    diesel::update(clients::table.find(id))
        .set((
            clients::secret_hash.eq(Some(crypto::secret_hash(&secret))),
            clients::secret_sealed.eq(sealed),
            clients::updated_at.eq(now),
        ))
        .execute(conn)?;
    events::record(
        conn,
        now,
        events::NewEvent::client("client.secret_rotated", id),
    )?;
    Ok(secret)
}
