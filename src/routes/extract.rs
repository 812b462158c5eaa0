//! Extractors every door shares: form bodies (size-limited, no repeated parameters), client
//! credentials (HTTP Basic, URL-decoded per RFC 6749 §2.3.1, or in the body; never both),
//! bearer tokens (RFC 6750 header, the `Bearer: <token>` form of the older APIs, the
//! `access_token` query parameter) and the client IP behind trusted proxies.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use base64::Engine;
use futures_util::StreamExt;

use crate::config::Config;
use crate::core::client_auth::Credentials;
use crate::core::Error;

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than `body_limit`: 413.
    TooLarge(usize),
    /// Another content type than the door accepts: 415 (or the door's 400).
    ContentType(&'static str),
    /// Malformed: 400.
    Malformed(String),
}

impl BodyError {
    /// As a core error, for doors that answer every bad request with 400.
    pub fn into_error(self) -> Error {
        Error::InvalidRequest(self.to_string())
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(n) => write!(f, "the request body exceeds {n} bytes"),
            BodyError::ContentType(t) => write!(f, "the content type must be {t}"),
            BodyError::Malformed(m) => write!(f, "{m}"),
        }
    }
}

/// Reads the whole body (an extracted `web::Payload` or a raw one), refusing more than
/// `limit` bytes.
pub async fn read_body<S>(mut payload: S, limit: usize) -> Result<web::Bytes, BodyError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    // A body that comes in one chunk (most do) is handed on without a copy.
    let mut first: Option<web::Bytes> = None;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => BodyError::TooLarge(limit),
            e => BodyError::Malformed(format!("could not read the request body: {e}")),
        })?;
        let so_far = first.as_ref().map_or(0, |f| f.len()) + body.len();
        if so_far + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        match first.take() {
            None if body.is_empty() => first = Some(chunk),
            None => body.extend_from_slice(&chunk),
            Some(f) => {
                body.extend_from_slice(&f);
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| body.freeze()))
}

/// Parameters of an `application/x-www-form-urlencoded` body. Empty values count as absent
/// (RFC 6749 §3.1).
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

/// Parameters that may repeat (RFC 8707 `resource`, RFC 8693 `audience`).
const REPEATABLE: &[&str] = &["resource", "audience"];

impl Form {
    /// Parses a form body; a repeated parameter is an error.
    pub fn parse(body: &[u8]) -> Result<Form, BodyError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !REPEATABLE.contains(&k.as_str()) && pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(BodyError::Malformed(format!("parameter `{k}` is repeated")));
            }
        }
        Ok(Form(pairs))
    }

    /// Reads and parses a form body, checking the content type.
    pub async fn read<S>(req: &HttpRequest, payload: S, limit: usize) -> Result<Form, BodyError>
    where
        S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
    {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(BodyError::ContentType("application/x-www-form-urlencoded"));
        }
        let body = read_body(payload, limit).await?;
        Form::parse(&body)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes one part of HTTP Basic credentials: `application/x-www-form-urlencoded` encoding
/// (RFC 6749 §2.3.1).
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The `Authorization: Basic` credentials, raw (not URL-decoded), if present.
pub fn basic_auth(req: &HttpRequest) -> Option<Result<(String, String), Error>> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let malformed = || Error::InvalidClient("malformed Basic credentials".into());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| malformed());
    Some(decoded.and_then(|bytes| {
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
        if text.contains('\0') {
            return Err(malformed());
        }
        let (user, pass) = text.split_once(':').ok_or_else(malformed)?;
        Ok((user.to_owned(), pass.to_owned()))
    }))
}

/// The client's credentials from the Basic header (URL-decoded) or the body, never both.
pub fn client_credentials(req: &HttpRequest, form: &Form) -> Result<Credentials, Error> {
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        return client_assertion(req, body_id, body_secret, assertion_type, assertion);
    }
    match basic_auth(req) {
        Some(basic) => {
            let (id, secret) = basic?;
            let (id, secret) = (form_decode(&id), form_decode(&secret));
            if body_secret.is_some() {
                return Err(Error::InvalidClient(
                    "use one client authentication method, not Basic and client_secret together"
                        .into(),
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(Error::InvalidClient(
                    "client_id in the body differs from the Basic credentials".into(),
                ));
            }
            Ok(Credentials::Basic {
                client_id: id,
                secret,
            })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Credentials::Post {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(id), None) => Ok(Credentials::None {
                client_id: id.to_owned(),
            }),
            (None, Some(_)) => Err(Error::InvalidClient(
                "client_secret without client_id".into(),
            )),
            (None, None) => Err(Error::InvalidClient(
                "client authentication is required".into(),
            )),
        },
    }
}

/// A JWT client assertion (RFC 7523 §2.2): alone (no Basic, no `client_secret`), of the
/// jwt-bearer type; the client is `client_id` or, without one, the assertion's `sub`.
fn client_assertion(
    req: &HttpRequest,
    body_id: Option<&str>,
    body_secret: Option<&str>,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
) -> Result<Credentials, Error> {
    use crate::core::client_jwt;
    if basic_auth(req).is_some() || body_secret.is_some() {
        return Err(Error::InvalidClient(
            "use one client authentication method, not a client assertion and a secret".into(),
        ));
    }
    if assertion_type != Some(client_jwt::ASSERTION_TYPE) {
        return Err(Error::InvalidClient(format!(
            "client_assertion_type must be {}",
            client_jwt::ASSERTION_TYPE
        )));
    }
    let assertion = assertion
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::InvalidClient("client_assertion is missing".into()))?;
    let sub = client_jwt::peek(assertion)
        .map_err(|m| Error::InvalidClient(format!("client_assertion {m}")))?
        .claims
        .get("sub")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let client_id = match (body_id, sub) {
        (Some(id), Some(sub)) if id != sub => {
            return Err(Error::InvalidClient(
                "client_id differs from the assertion's sub".into(),
            ))
        }
        (Some(id), _) => id.to_owned(),
        (None, Some(sub)) => sub,
        (None, None) => {
            return Err(Error::InvalidClient(
                "client_assertion names no client (sub)".into(),
            ))
        }
    };
    Ok(Credentials::Assertion {
        client_id,
        assertion: assertion.to_owned(),
    })
}

/// A bearer token from `Authorization: Bearer <t>` (or the older `Bearer: <t>` form).
pub fn bearer_from_header(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = value.split_once(' ')?;
    let scheme = scheme.trim_end_matches(':');
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// A token in `Authorization: DPoP <token>` (RFC 9449 §7.1).
pub fn dpop_token_from_header(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("dpop") && !token.is_empty()).then(|| token.to_owned())
}

/// The request's `DPoP` proof headers.
pub fn dpop_proof(req: &HttpRequest) -> crate::app::dpop::ProofHeader {
    use crate::app::dpop::ProofHeader;
    let mut values = req.headers().get_all("dpop");
    match (values.next(), values.next()) {
        (None, _) => ProofHeader::None,
        (Some(v), None) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() && !s.contains(',') => {
                ProofHeader::One(s.trim().to_owned())
            }
            _ => ProofHeader::Several,
        },
        (Some(_), Some(_)) => ProofHeader::Several,
    }
}

/// A token in the `access_token` query parameter (the Mongoose "GET parameters" form).
pub fn bearer_from_query(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, v)| k == "access_token" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// The caller's IP: the peer, or the client named by `Forwarded` / `X-Forwarded-For` when the
/// peer is a trusted proxy (walking back through trusted proxies).
pub fn client_ip(req: &HttpRequest, config: &Config) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !config.trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for v in req.headers().get_all("x-forwarded-for") {
        if let Ok(s) = v.to_str() {
            hops.extend(s.split(',').filter_map(|h| h.trim().parse::<IpAddr>().ok()));
        }
    }
    if hops.is_empty() {
        for v in req.headers().get_all(header::FORWARDED) {
            if let Ok(s) = v.to_str() {
                for part in s.split([',', ';']) {
                    if let Some(f) = part.trim().strip_prefix("for=") {
                        let f = f.trim_matches('"').trim_start_matches('[');
                        let f = f.split(']').next().unwrap_or(f);
                        if let Ok(ip) = f.parse::<IpAddr>() {
                            hops.push(ip);
                        } else if let Some((host, _port)) = f.rsplit_once(':') {
                            if let Ok(ip) = host.parse::<IpAddr>() {
                                hops.push(ip);
                            }
                        }
                    }
                }
            }
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !config.trusted_proxies.contains(ip))
        .or(hops.first())
        .unwrap_or(&peer)
        .to_string()
}
