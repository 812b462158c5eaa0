//! Configuration: one typed struct, from built-in defaults, an optional TOML file and
//! `PORTCULLIS_*` environment variables (highest precedence), validated before anything starts.
//!
//! Environment names are the setting's path in upper case with `_` for `.`:
//! `bind` is `PORTCULLIS_BIND`, `tokens.access_token_ttl` is `PORTCULLIS_TOKENS_ACCESS_TOKEN_TTL`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

/// The environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "PORTCULLIS_";
/// Nested sections; `PORTCULLIS_<SECTION>_<FIELD>` maps to `<section>.<field>`.
const SECTIONS: &[&str] = &[
    "tokens",
    "keys",
    "throttle",
    "argon2",
    "smtp",
    "security",
    "housekeeping",
    "events",
    "branding",
];
/// Environment variables that are read by the CLI, not by the configuration.
const NOT_SETTINGS: &[&str] = &["config"];

/// A configuration that could not be loaded or is invalid. The message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(String),
    #[error("invalid configuration: `{setting}`: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

/// Whether people may create their own accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    Open,
    Closed,
}

/// Who may register OAuth clients at `/register` (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientRegistration {
    /// With an initial access token an admin issued (the default).
    Token,
    /// Anyone (rate-limited per IP), and with an initial access token too.
    Open,
    /// Nobody: `/register` refuses and discovery does not advertise it.
    Closed,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// JWS algorithms Portcullis signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    /// Whether a signature costs little enough (tens of microseconds, not the ~1 ms of
    /// RSA-2048) to be made on the async runtime rather than on the signing threads.
    pub fn signs_cheaply(self) -> bool {
        !matches!(self, SigningAlg::RS256)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(SigningAlg::RS256),
            "ES256" => Some(SigningAlg::ES256),
            "EdDSA" => Some(SigningAlg::EdDSA),
            _ => None,
        }
    }
}

/// The issuer URL, parsed once (see [`Config::issuer_url`]).
#[derive(Debug, Clone, Default)]
pub struct ParsedIssuer(std::sync::OnceLock<url::Url>);

/// The whole configuration. Every field has a default that works on a laptop.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    #[serde(deserialize_with = "text")]
    pub bind: String,
    /// The issuer URL (`iss`); defaults to `http://<bind>` (127.0.0.1 for a wildcard bind).
    #[serde(deserialize_with = "opt_text")]
    pub issuer: Option<String>,
    /// Where the SQLite database, the outbox and other files live.
    pub data_dir: PathBuf,
    /// `sqlite://<path>` or `postgres://...`; defaults to `sqlite://<data_dir>/portcullis.db`.
    #[serde(deserialize_with = "opt_text")]
    pub database_url: Option<String>,
    /// Maximum open database connections per node.
    pub database_pool_size: u32,
    /// Seconds a request waits for the database (pool checkout, connecting and statements
    /// together) before it is answered 503.
    pub database_timeout: u64,
    /// `open` lets people sign up; `closed` leaves account creation to admins.
    pub registration: Registration,
    /// Dynamic client registration (RFC 7591): `token` (with an initial access token an admin
    /// issued), `open` (anyone, rate-limited per IP) or `closed`.
    pub client_registration: ClientRegistration,
    /// Every authorization request must be pushed first (RFC 9126 PAR), for every client.
    pub require_pushed_authorization_requests: bool,
    /// Fetch clients' `jwks_uri` from loopback and private addresses, and over plain http
    /// (development only: in production this lets a client make the server call its network).
    pub allow_private_jwks_uri: bool,
    /// Current terms-of-service version users must accept; none when unset.
    #[serde(deserialize_with = "opt_text")]
    pub terms_version: Option<String>,
    /// Where the terms of service are published (an http or https URL), linked from the
    /// terms page.
    #[serde(deserialize_with = "opt_text")]
    pub terms_url: Option<String>,
    /// Refuse sign-in until the email address is verified.
    pub require_verified_email: bool,
    /// 32 bytes, base64 or hex: encrypts signing keys (and other sealed secrets) at rest.
    #[serde(deserialize_with = "opt_text")]
    pub master_key: Option<String>,
    /// Default `aud` of access tokens; the issuer URL when unset.
    #[serde(deserialize_with = "opt_text")]
    pub default_audience: Option<String>,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (list or comma-separated).
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Seconds a request body may take to arrive (slower: 408).
    pub request_timeout: u64,
    /// HTTP worker threads; the number of CPUs when unset.
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish on SIGTERM.
    pub shutdown_timeout: u64,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `portcullis=debug`.
    #[serde(deserialize_with = "text")]
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    pub tokens: TokenSettings,
    pub keys: KeySettings,
    pub throttle: ThrottleSettings,
    pub argon2: Argon2Settings,
    pub smtp: SmtpSettings,
    pub security: SecuritySettings,
    pub housekeeping: HousekeepingSettings,
    pub events: EventSettings,
    pub branding: BrandingSettings,
    /// `issuer` parsed on first use (the token path needs it as a URL on every request);
    /// derived, leave it at its default.
    #[serde(skip)]
    pub issuer_url: ParsedIssuer,
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub id_token_ttl: u64,
    pub code_ttl: u64,
    pub session_ttl: u64,
    pub verify_email_ttl: u64,
    pub reset_password_ttl: u64,
}

/// Signing keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Algorithm of keys created at first start and by `keys rotate`.
    pub algorithm: SigningAlg,
    /// Seconds a new key is published in JWKS before it signs (verifiers' cache time).
    pub publish_ahead: u64,
    /// Seconds a superseded key stays published (at least the longest token lifetime).
    pub retired_ttl: u64,
}

/// Throttling of credential checks (SPEC §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    pub account_failures: u32,
    pub account_window: u64,
    pub ip_failures: u32,
    pub ip_window: u64,
    pub signups_per_ip: u32,
    pub signup_window: u64,
    /// Clients one IP may register at `/register` per `signup_window`.
    pub registrations_per_ip: u32,
}

/// argon2id parameters for people's passwords (OWASP defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once per node; the number of CPUs when 0.
    pub max_concurrent: usize,
}

/// Rules for sensitive changes (SPEC §9).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Seconds after a sign-in during which a token may change the account's password or
    /// email without the current password (esalerugs `PUT /accounts/{id}`).
    pub reauth_window: u64,
    /// Who must have a second factor: `optional` (those who set one up), `admins`, or
    /// `everyone`. Someone who must and has none is sent to set one up before any app.
    pub second_factor: SecondFactorPolicy,
    /// Let a person who has a second factor sign in with the password alone at the doors that
    /// have no place for a code (the password grant, the compatibility sign-ins). Off: they
    /// are told to use a personal access token or a client key.
    pub password_only_api_sign_in: bool,
    /// Ask DPoP clients for a server nonce in their proofs at the token endpoint (RFC 9449 §8):
    /// a proof made in advance, or stolen with its key's signature, is then useless after a
    /// few minutes. Costs a clients' first token request one round trip.
    pub dpop_nonce: bool,
}

/// Who must sign in with a second factor (`security.second_factor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecondFactorPolicy {
    Optional,
    Admins,
    Everyone,
}

impl SecondFactorPolicy {
    /// Whether this person must use a second factor.
    pub fn requires(self, is_admin: bool) -> bool {
        match self {
            SecondFactorPolicy::Optional => false,
            SecondFactorPolicy::Admins => is_admin,
            SecondFactorPolicy::Everyone => true,
        }
    }
}

/// The housekeeping job (SPEC §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HousekeepingSettings {
    /// Seconds between passes on each node (each node runs it; passes are safe together).
    pub interval: u64,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        HousekeepingSettings { interval: 300 }
    }
}

/// The event log (audit trail).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    /// Days events are kept; 0 keeps them forever.
    pub retention_days: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings { retention_days: 90 }
    }
}

/// How the pages and emails present the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingSettings {
    /// The product name in page titles, headings and emails.
    #[serde(deserialize_with = "text")]
    pub name: String,
    /// A logo shown above every page's heading: an http(s) URL or a path on this server.
    #[serde(deserialize_with = "opt_text")]
    pub logo_url: Option<String>,
    /// The colour of buttons and links, `#rgb` or `#rrggbb`.
    #[serde(deserialize_with = "text")]
    pub accent_color: String,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        BrandingSettings {
            name: "Portcullis".into(),
            logo_url: None,
            accent_color: "#2f5bd3".into(),
        }
    }
}

impl BrandingSettings {
    /// The accent as (red, green, blue); `validate` has checked it.
    pub fn accent_rgb(&self) -> (u8, u8, u8) {
        parse_colour(&self.accent_color).unwrap_or((0x2f, 0x5b, 0xd3))
    }

    /// Text on the accent colour: white or near-black, whichever has more contrast (WCAG 2
    /// relative luminance).
    pub fn accent_text(&self) -> &'static str {
        let (r, g, b) = self.accent_rgb();
        let lin = |c: u8| {
            let c = c as f64 / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let l = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
        // Contrast with white is 1.05 / (l + 0.05); with #111 about (l + 0.05) / 0.056.
        if 1.05 / (l + 0.05) >= (l + 0.05) / 0.056 {
            "#fff"
        } else {
            "#111"
        }
    }

    /// The logo's origin, for the pages' Content-Security-Policy (`None` for a path here).
    pub fn logo_origin(&self) -> Option<String> {
        let logo = self.logo_url.as_deref()?;
        let url = url::Url::parse(logo).ok()?;
        Some(url.origin().ascii_serialization())
    }
}

/// `#rgb` or `#rrggbb`.
fn parse_colour(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let at = |i: usize, n: usize| u8::from_str_radix(&hex[i..i + n], 16).ok();
    match hex.len() {
        3 => Some((at(0, 1)? * 17, at(1, 1)? * 17, at(2, 1)? * 17)),
        6 => Some((at(0, 2)?, at(2, 2)?, at(4, 2)?)),
        _ => None,
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            reauth_window: 900,
            second_factor: SecondFactorPolicy::Optional,
            password_only_api_sign_in: false,
            dpop_nonce: false,
        }
    }
}

/// Outgoing email. Without a host, messages are written to `<data_dir>/outbox/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    #[serde(deserialize_with = "opt_text")]
    pub host: Option<String>,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    #[serde(deserialize_with = "text")]
    pub tls: String,
    #[serde(deserialize_with = "opt_text")]
    pub username: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub password: Option<String>,
    #[serde(deserialize_with = "text")]
    pub from: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            issuer: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_pool_size: 10,
            database_timeout: crate::db::DEFAULT_TIMEOUT_SECS,
            registration: Registration::Closed,
            client_registration: ClientRegistration::Token,
            require_pushed_authorization_requests: false,
            allow_private_jwks_uri: false,
            terms_version: None,
            terms_url: None,
            require_verified_email: false,
            master_key: None,
            default_audience: None,
            trusted_proxies: Vec::new(),
            body_limit: 64 * 1024,
            request_timeout: 30,
            workers: None,
            shutdown_timeout: 30,
            log: "info".into(),
            log_format: LogFormat::Text,
            tokens: TokenSettings::default(),
            keys: KeySettings::default(),
            throttle: ThrottleSettings::default(),
            argon2: Argon2Settings::default(),
            smtp: SmtpSettings::default(),
            security: SecuritySettings::default(),
            housekeeping: HousekeepingSettings::default(),
            events: EventSettings::default(),
            branding: BrandingSettings::default(),
            issuer_url: ParsedIssuer::default(),
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 86400,
            id_token_ttl: 3600,
            code_ttl: 60,
            session_ttl: 14 * 86400,
            verify_email_ttl: 86400,
            reset_password_ttl: 3600,
        }
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            algorithm: SigningAlg::RS256,
            publish_ahead: 300,
            retired_ttl: 86400,
        }
    }
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            account_failures: 5,
            account_window: 900,
            ip_failures: 50,
            ip_window: 900,
            signups_per_ip: 10,
            signup_window: 3600,
            registrations_per_ip: 20,
        }
    }
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Argon2Settings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
        }
    }
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: None,
            port: 587,
            tls: "starttls".into(),
            username: None,
            password: None,
            from: "Portcullis <no-reply@localhost>".into(),
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if given), then `PORTCULLIS_*` variables; fills in
    /// derived values and validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(env_provider());
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.finish().map_err(|e| match e {
            ConfigError::Invalid { setting, message } => {
                let message = match origin(figment.find_metadata(setting), setting) {
                    Some(o) => format!("{message} ({o})"),
                    None => message,
                };
                ConfigError::Invalid { setting, message }
            }
            other => other,
        })
    }

    /// Fills in derived values (issuer, database URL) and validates. Used by `load` and by tests
    /// that build a `Config` in code.
    pub fn finish(mut self) -> Result<Config, ConfigError> {
        // `bind` must be host:port always; a host name is resolved only to derive the issuer.
        self.bind_shape()?;
        if self.issuer.is_none() {
            self.issuer = Some(format!("http://{}", self.bind_authority()?));
        }
        self.issuer_url = ParsedIssuer::default(); // parsed anew from the final issuer
        if self.database_url.is_none() {
            let path = self.data_dir.join("portcullis.db");
            self.database_url = Some(format!("sqlite://{}", path.display()));
        }
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let issuer = self.issuer();
        let parsed = url::Url::parse(issuer)
            .map_err(|e| invalid("issuer", format!("`{issuer}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(invalid(
                "issuer",
                "must be an http or https URL with a host",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("issuer", "must not have a query or fragment"));
        }
        if let Some(aud) = &self.default_audience {
            if aud.trim().is_empty() {
                return Err(invalid("default_audience", "must not be empty"));
            }
        }
        crate::db::DatabaseUrl::parse(self.database_url())
            .map_err(|e| invalid("database_url", e))?;
        if self.database_pool_size == 0 {
            return Err(invalid("database_pool_size", "must be at least 1"));
        }
        if self.database_timeout == 0 || self.database_timeout > 300 {
            return Err(invalid(
                "database_timeout",
                "must be between 1 second and 5 minutes",
            ));
        }
        if let Some(v) = &self.terms_version {
            if v.trim().is_empty() || v.len() > 64 {
                return Err(invalid("terms_version", "must be 1 to 64 characters"));
            }
        }
        if let Some(u) = &self.terms_url {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                return Err(invalid(
                    "terms_url",
                    format!("`{u}` is not an http or https URL"),
                ));
            }
        }
        let b = &self.branding;
        if b.name.trim().is_empty()
            || b.name.chars().count() > 64
            || b.name.chars().any(char::is_control)
        {
            return Err(invalid("branding.name", "must be 1 to 64 characters"));
        }
        if parse_colour(&b.accent_color).is_none() {
            return Err(invalid(
                "branding.accent_color",
                format!("`{}` is not a colour such as #2f5bd3", b.accent_color),
            ));
        }
        if let Some(logo) = &b.logo_url {
            let absolute = url::Url::parse(logo)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            let local = logo.starts_with('/')
                && !logo.starts_with("//")
                && !logo
                    .chars()
                    .any(|c| c.is_whitespace() || c == '\\' || c.is_control());
            if absolute && logo.starts_with("http:") && issuer.starts_with("https:") {
                return Err(invalid(
                    "branding.logo_url",
                    "must be https when the issuer is (browsers block http images on https pages)",
                ));
            }
            if !(absolute || local) {
                return Err(invalid(
                    "branding.logo_url",
                    format!("`{logo}` is not an http or https URL or a path starting with /"),
                ));
            }
        }
        if let Some(key) = &self.master_key {
            crate::core::crypto::MasterKey::parse(key).map_err(|e| invalid("master_key", e))?;
        }
        if self.body_limit < 1024 {
            return Err(invalid("body_limit", "must be at least 1024 bytes"));
        }
        if self.request_timeout == 0 || self.request_timeout > 3600 {
            return Err(invalid(
                "request_timeout",
                "must be between 1 second and 1 hour",
            ));
        }
        if self.security.reauth_window == 0 || self.security.reauth_window > 30 * 86400 {
            return Err(invalid(
                "security.reauth_window",
                "must be between 1 second and 30 days",
            ));
        }
        if self.housekeeping.interval < 10 || self.housekeeping.interval > 86_400 {
            return Err(invalid(
                "housekeeping.interval",
                "must be between 10 seconds and 1 day",
            ));
        }
        if self.events.retention_days > 36_500 {
            return Err(invalid(
                "events.retention_days",
                "must be at most 36500 (0 keeps events forever)",
            ));
        }
        if self.workers == Some(0) {
            return Err(invalid("workers", "must be at least 1"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return Err(invalid(
                "log",
                format!("`{}` is not a log filter", self.log),
            ));
        }
        let t = &self.tokens;
        for (name, value) in [
            ("tokens.access_token_ttl", t.access_token_ttl),
            ("tokens.refresh_token_ttl", t.refresh_token_ttl),
            ("tokens.id_token_ttl", t.id_token_ttl),
            ("tokens.code_ttl", t.code_ttl),
            ("tokens.session_ttl", t.session_ttl),
            ("tokens.verify_email_ttl", t.verify_email_ttl),
            ("tokens.reset_password_ttl", t.reset_password_ttl),
        ] {
            if value == 0 || value > 10 * 365 * 86400 {
                return Err(invalid(name, "must be between 1 second and 10 years"));
            }
        }
        if self.keys.retired_ttl < t.access_token_ttl.max(t.id_token_ttl) {
            return Err(invalid(
                "keys.retired_ttl",
                "must be at least the access and ID token lifetimes, or verifiers would lose keys of live tokens",
            ));
        }
        let propagation = self.key_propagation_secs();
        if self.keys.publish_ahead < propagation {
            return Err(invalid(
                "keys.publish_ahead",
                format!(
                    "must be at least {propagation} seconds (the key refresh plus `database_timeout`), the time every node may need to publish a new key before any signs with it"
                ),
            ));
        }
        let th = &self.throttle;
        for (name, value) in [
            ("throttle.account_failures", th.account_failures as u64),
            ("throttle.account_window", th.account_window),
            ("throttle.ip_failures", th.ip_failures as u64),
            ("throttle.ip_window", th.ip_window),
            ("throttle.signups_per_ip", th.signups_per_ip as u64),
            ("throttle.signup_window", th.signup_window),
            (
                "throttle.registrations_per_ip",
                th.registrations_per_ip as u64,
            ),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
        }
        let a = &self.argon2;
        argon2::Params::new(a.memory_kib, a.iterations, a.parallelism, None)
            .map_err(|e| invalid("argon2", format!("invalid argon2 parameters: {e}")))?;
        if !matches!(self.smtp.tls.as_str(), "none" | "starttls" | "tls") {
            return Err(invalid("smtp.tls", "must be none, starttls or tls"));
        }
        if let Some(host) = &self.smtp.host {
            if host.trim().is_empty() {
                return Err(invalid("smtp.host", "must not be empty when set"));
            }
        }
        if !self.smtp.from.contains('@') {
            return Err(invalid("smtp.from", "must contain an email address"));
        }
        Ok(())
    }

    /// The issuer as a parsed URL (parsed once; `finish` has validated it).
    pub fn issuer_url(&self) -> &url::Url {
        self.issuer_url.0.get_or_init(|| {
            url::Url::parse(self.issuer())
                .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1:8080").expect("literal URL"))
        })
    }

    /// The longest a new signing key may take to be published by every node, notices or
    /// not: the key refresh interval plus one bounded reload.
    pub fn key_propagation_secs(&self) -> u64 {
        crate::runtime::keys::KEY_REFRESH_SECS as u64 + self.database_timeout
    }

    /// How long verifiers may cache the JWK set: a key is published `keys.publish_ahead`
    /// before it signs, less the time every node may take to publish it; at most 300 s.
    pub fn jwks_max_age(&self) -> u64 {
        self.keys
            .publish_ahead
            .saturating_sub(self.key_propagation_secs())
            .min(300)
    }

    /// `bind` is an address:port or host:port (resolving comes later, when needed).
    fn bind_shape(&self) -> Result<(), ConfigError> {
        if self.bind.parse::<SocketAddr>().is_ok() {
            return Ok(());
        }
        match self.bind.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(()),
            _ => Err(invalid(
                "bind",
                format!(
                    "`{}` is not host:port, such as 127.0.0.1:8080 or localhost:8080",
                    self.bind
                ),
            )),
        }
    }

    /// `bind` checked, as the issuer's authority: an address (a wildcard one as 127.0.0.1), or
    /// a host name that resolves (`localhost:8080`).
    fn bind_authority(&self) -> Result<String, ConfigError> {
        if let Ok(bind) = self.bind.parse::<SocketAddr>() {
            let bind = if bind.ip().is_unspecified() {
                SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bind.port())
            } else {
                bind
            };
            return Ok(bind.to_string());
        }
        let bad = |why: String| invalid("bind", format!("`{}` {why}", self.bind));
        let (host, port) = self
            .bind
            .rsplit_once(':')
            .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            .ok_or_else(|| {
                bad("is not host:port, such as 127.0.0.1:8080 or localhost:8080".into())
            })?;
        use std::net::ToSocketAddrs;
        match self.bind.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(_)) => Ok(format!("{host}:{port}")),
            Ok(None) => Err(bad("resolves to no address".into())),
            Err(e) => Err(bad(format!("does not resolve: {e}"))),
        }
    }

    /// The issuer URL exactly as configured (or derived from `bind`).
    pub fn issuer(&self) -> &str {
        self.issuer.as_deref().unwrap_or("http://127.0.0.1:8080")
    }

    /// An absolute URL of one of this server's paths.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer().trim_end_matches('/'), path)
    }

    /// The database URL (configured, or the SQLite file under `data_dir`).
    pub fn database_url(&self) -> &str {
        self.database_url
            .as_deref()
            .unwrap_or("sqlite://./data/portcullis.db")
    }

    /// The default access-token audience.
    pub fn default_audience(&self) -> &str {
        self.default_audience.as_deref().unwrap_or(self.issuer())
    }

    /// How long revocation entries are kept: the longest access-token lifetime any door issues
    /// (the configured one, or the 12 hours of Bloq account tokens).
    pub fn revocation_ttl(&self) -> u64 {
        self.tokens.access_token_ttl.max(12 * 3600)
    }

    /// What housekeeping may delete, from the lifetimes and windows configured here.
    pub fn housekeeping_rules(&self) -> crate::core::housekeeping::Rules {
        let th = &self.throttle;
        crate::core::housekeeping::Rules {
            longest_access_ttl: self.revocation_ttl(),
            longest_throttle_window: th.account_window.max(th.ip_window).max(th.signup_window),
            events_retention_days: self.events.retention_days,
        }
    }

    /// The parsed master key, if one is configured (validated at load).
    pub fn master_key(&self) -> Option<crate::core::crypto::MasterKey> {
        self.master_key
            .as_deref()
            .and_then(|k| crate::core::crypto::MasterKey::parse(k).ok())
    }
}

/// The `PORTCULLIS_*` environment provider with section prefixes mapped to nested keys. Only
/// variables that name a setting are read (see `unknown_environment`).
fn env_provider() -> Env {
    let known = setting_keys();
    Env::prefixed(ENV_PREFIX)
        .filter(move |key| known.contains(&setting_key(key.as_str())))
        .map(|key| setting_key(key.as_str()).into())
}

/// The setting an environment variable (without its prefix) names: `TOKENS_ACCESS_TOKEN_TTL`
/// is `tokens.access_token_ttl`.
fn setting_key(var: &str) -> String {
    let lower = var.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = lower.strip_prefix(&format!("{section}_")) {
            return format!("{section}.{rest}");
        }
    }
    lower
}

/// Every setting's key (`bind`, `tokens.access_token_ttl`), read from the defaults.
fn setting_keys() -> Vec<String> {
    let mut keys = Vec::new();
    if let Ok(serde_json::Value::Object(top)) = serde_json::to_value(Config::default()) {
        for (key, value) in top {
            match value {
                serde_json::Value::Object(fields) if SECTIONS.contains(&key.as_str()) => {
                    keys.extend(fields.keys().map(|f| format!("{key}.{f}")));
                }
                _ => keys.push(key),
            }
        }
    }
    keys
}

/// `PORTCULLIS_*` variables that name no setting, each with a warning naming the closest one.
/// They are ignored rather than refused: a Kubernetes Service named `portcullis` puts
/// `PORTCULLIS_PORT`, `PORTCULLIS_SERVICE_HOST` and more into every pod of its namespace, and
/// deployment scripts set such variables too. (An unknown key in the TOML file is an error.)
pub fn unknown_environment() -> Vec<String> {
    let known = setting_keys();
    let mut warnings = Vec::new();
    for (var, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = setting_key(rest);
        if known.contains(&key) || NOT_SETTINGS.contains(&key.as_str()) {
            continue;
        }
        let closest = known
            .iter()
            .map(|k| (edit_distance(k, &key), k))
            .min()
            .filter(|(d, _)| *d <= 3)
            .map(|(_, k)| format!(" (did you mean {ENV_PREFIX}{}?)", env_name(k)))
            .unwrap_or_default();
        warnings.push(format!("{var} is not a setting; ignored{closest}"));
    }
    warnings.sort();
    warnings
}

/// The environment variable of a setting key.
fn env_name(key: &str) -> String {
    key.replace('.', "_").to_ascii_uppercase()
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Names the setting as an operator writes it (`tokens.access_token_ttl`) and where the value
/// came from (the TOML file, or the exact environment variable).
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_ascii_lowercase();
            let source = origin(e.metadata.as_ref(), &key)
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            let what = describe_kind(&e.kind);
            if key.is_empty() {
                format!("{what}{source}")
            } else {
                format!("`{key}`: {what}{source}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where a setting's value came from: `from PORTCULLIS_BIND`, `in /etc/portcullis.toml`, or
/// nothing for a default.
fn origin(metadata: Option<&figment::Metadata>, key: &str) -> Option<String> {
    let m = metadata?;
    if m.name.contains("environment") {
        return Some(format!(
            "from {ENV_PREFIX}{}",
            key.replace('.', "_").to_ascii_uppercase()
        ));
    }
    match m.source.as_ref() {
        Some(figment::Source::File(path)) => Some(format!("in {}", path.display())),
        _ => None,
    }
}

/// figment's error, without its doubled quoting of lists (``` ``a` or `b`` ```).
fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kind {
        Kind::UnknownVariant(found, expected) => {
            format!(
                "unknown value `{found}`: expected one of {}",
                list(expected)
            )
        }
        Kind::UnknownField(found, expected) => {
            format!(
                "unknown setting `{found}`; the settings here are {}",
                list(expected)
            )
        }
        other => other.to_string(),
    }
}

/// A text setting. Environment values that look like numbers or booleans (`PORTCULLIS_SMTP_PASSWORD=12345`)
/// arrive typed; take them as the text they were.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(RawText::deserialize(d)?.into_string())
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<RawText>::deserialize(d)?.map(RawText::into_string))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawText {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl RawText {
    fn into_string(self) -> String {
        match self {
            RawText::S(s) => s,
            RawText::I(i) => i.to_string(),
            RawText::U(u) => u.to_string(),
            RawText::F(f) => f.to_string(),
            RawText::B(b) => b.to_string(),
        }
    }
}

fn list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        One(String),
    }
    let items = match Raw::deserialize(d)? {
        Raw::List(v) => v,
        Raw::One(s) => s.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not an IP address")))
        })
        .collect()
}
