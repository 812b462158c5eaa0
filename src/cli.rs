//! The command line (SPEC §7): `serve` (the default), `migrate`, and the operator commands for
//! users, clients, signing keys and ACL rules. Every command reads the same configuration and
//! database as the server; `--json` prints machine-readable output on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::clock::Clock;
use crate::config::{Config, SigningAlg};
use crate::core::{acl, clients, keys, password, time::rfc3339, users};
use crate::db::DbPool;
use crate::server;

/// Portcullis: an OAuth 2 / OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file; PORTCULLIS_* variables override it, and settings in neither keep their defaults.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients (and keys of the older APIs).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage ACL rules for Mongoose Auth.AuthorizeCommand.
    #[command(subcommand)]
    Acl(AclCommand),
    /// Delete what can no longer be used (expired codes, sessions, tokens...) now, as the
    /// server's housekeeping job does every `housekeeping.interval` seconds.
    Housekeeping,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add(UserAdd),
    /// List users.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Disable a user (by id, username or email): ends their sessions and cuts off their tokens.
    Disable {
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Enable a disabled user (by id, username or email).
    Enable {
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Let a user locked out by wrong passwords sign in again at once (by id, username or
    /// email).
    Unlock {
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Remove every second factor of a user (authenticator app, recovery codes), for someone
    /// who lost them (by id, username or email); they sign in with the password until they
    /// set one up again.
    ResetSecondFactor {
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Set a user's phone number (OpenID's `phone` scope), or remove it with `--remove`.
    Phone {
        #[arg(value_name = "USER")]
        id: String,
        /// In international form, such as +44 20 7946 0958.
        #[arg(
            value_name = "NUMBER",
            required_unless_present = "remove",
            conflicts_with = "remove"
        )]
        number: Option<String>,
        /// Mark the number as verified.
        #[arg(long, conflicts_with = "remove")]
        verified: bool,
        /// Remove the phone number.
        #[arg(long)]
        remove: bool,
    },
}

#[derive(Debug, Args)]
pub struct UserAdd {
    #[arg(long)]
    pub email: String,
    /// 8 to 1024 characters.
    #[arg(long)]
    pub password: String,
    #[arg(long)]
    pub username: Option<String>,
    /// Choose the user id (1-64 of [A-Za-z0-9._-]); a UUID otherwise.
    #[arg(long)]
    pub id: Option<String>,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Make the user an administrator.
    #[arg(long)]
    pub admin: bool,
    /// Mark the email address as verified.
    #[arg(long)]
    pub verified: bool,
    /// Phone number in international form, such as +44 20 7946 0958.
    #[arg(long)]
    pub phone: Option<String>,
    /// Mark the phone number as verified.
    #[arg(long, requires = "phone")]
    pub phone_verified: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, once, its secret.
    Add(Box<ClientAdd>),
    /// List clients.
    List,
    /// Delete a client and revoke everything issued to it.
    Remove { id: String },
    /// Issue an initial access token for dynamic client registration (`POST /register`,
    /// RFC 7591); prints it once.
    RegistrationToken {
        /// Registrations it allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Seconds it lives.
        #[arg(long, value_name = "SECS", default_value_t = 86_400)]
        expires_in: u64,
        /// What it is for (shown by `registration-tokens`).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the initial access tokens that can still register a client.
    RegistrationTokens,
    /// Revoke an initial access token.
    RevokeRegistrationToken { id: String },
}

#[derive(Debug, Args)]
pub struct ClientAdd {
    #[arg(long)]
    pub name: String,
    /// Choose the client id; a UUID otherwise.
    #[arg(long)]
    pub id: Option<String>,
    /// Use this secret instead of a generated 256-bit one.
    #[arg(long, conflicts_with = "public")]
    pub secret: Option<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    pub public: bool,
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable): authorization_code, refresh_token, client_credentials, password.
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<String>,
    /// Allowed scope (repeatable, or space-separated).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// RFC 8707 resource this client may request tokens for (repeatable).
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,
    /// First-party client: skips consent, may use the password grant.
    #[arg(long)]
    pub trusted: bool,
    /// app, device, client_key, api_key, embed or cloudtrax_application.
    #[arg(long)]
    pub kind: Option<String>,
    /// The user who owns this key; its client-credentials tokens act for them.
    #[arg(long, value_name = "USER_ID")]
    pub owner: Option<String>,
    /// PEM certificate a device authenticates with (its SHA-256 thumbprint is stored).
    #[arg(long, value_name = "PEM")]
    pub cert_file: Option<PathBuf>,
    /// The client stops working after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub expires_in: Option<u64>,
    /// client_secret_basic (default), client_secret_post, client_secret_jwt, private_key_jwt
    /// (with --jwks-uri or --jwks-file), or none (public clients).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// People must sign in to this app with a second factor.
    #[arg(long)]
    pub require_second_factor: bool,
    /// Where the client publishes its public keys (https), for private_key_jwt and signed
    /// request objects.
    #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
    pub jwks_uri: Option<String>,
    /// A JSON file with the client's public keys (a JWK Set).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Its authorization requests must be pushed first (PAR, RFC 9126).
    #[arg(long)]
    pub require_par: bool,
    /// Its token requests must carry a DPoP proof, binding its tokens to a key (RFC 9449).
    #[arg(long)]
    pub require_dpop: bool,
    /// An audience it may exchange tokens for (RFC 8693; repeat for several; with
    /// `--grant urn:ietf:params:oauth:grant-type:token-exchange`).
    #[arg(long, value_name = "AUDIENCE")]
    pub exchange_audience: Vec<String>,
    /// Where it is told, server to server, that a person's session ended (OpenID Connect
    /// Back-Channel Logout).
    #[arg(long, value_name = "URL")]
    pub backchannel_logout_uri: Option<String>,
    /// Its logout tokens must carry the session id (`sid`).
    #[arg(long)]
    pub backchannel_logout_session_required: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the next signing key: published now, signing after `keys.publish_ahead` seconds.
    Rotate {
        /// RS256, ES256 or EdDSA; the configured `keys.algorithm` by default.
        #[arg(long, value_parser = signing_alg)]
        alg: Option<SigningAlg>,
        /// Sign with the new key at once (after a compromise; verifiers may briefly miss it).
        #[arg(long)]
        now: bool,
    },
    /// List keys and their states (next, active, retired, expired).
    List,
    /// Stop a key from signing; it stays published for `keys.retired_ttl` seconds.
    Retire {
        /// The key id (older base64url kids may start with `-`; they are accepted as they are).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Allow SUBJECT to send commands matching GLOB to TARGET (or * for any target).
    Add {
        #[arg(long)]
        subject: String,
        #[arg(long)]
        target: String,
        #[arg(long)]
        command: String,
    },
    /// List rules.
    List,
    /// Remove a rule by id.
    Remove { id: String },
}

/// The id of the user a command names: an id, a username or an email, as at sign-in.
fn user_id(conn: &mut crate::db::DbConnection, login: &str) -> anyhow::Result<String> {
    users::find_by_login(conn, login)?
        .map(|u| u.id)
        .ok_or_else(|| {
            anyhow::anyhow!("user not found: `{login}` (give an id, a username or an email)")
        })
}

/// `--alg`: a usage error (exit 2) when it is not one we sign with.
fn signing_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(s).ok_or_else(|| format!("`{s}` is not RS256, ES256 or EdDSA"))
}

/// Entry point of the binary: parse, load configuration, dispatch. Exit code 2 for usage and
/// configuration errors, 1 for failures.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init_logging(&config);
    for warning in crate::config::unknown_environment() {
        tracing::warn!("{warning}");
    }
    let result = match cli.command {
        None | Some(Command::Serve) => serve(config),
        Some(command) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            run(&config, &Clock::system(), command, cli.json, &mut out)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let state = server::build_state(config, Clock::system())?;
    actix_web::rt::System::new().block_on(server::serve(state))
}

fn open(config: &Config) -> anyhow::Result<DbPool> {
    server::open_database(config).context("opening the database")
}

fn print_json(out: &mut dyn Write, value: &serde_json::Value) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Runs one operator command against the configured database, writing to `out`.
pub fn run(
    config: &Config,
    clock: &Clock,
    command: Command,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        Command::Serve => anyhow::bail!("`serve` is not an operator command"),
        Command::Migrate => {
            let pool = server::connect(config, 1)?;
            let applied = crate::db::migrate(&mut *pool.get()?)?;
            if json {
                print_json(out, &json!({ "applied": applied }))
            } else if applied.is_empty() {
                writeln!(out, "database is up to date")?;
                Ok(())
            } else {
                for name in applied {
                    writeln!(out, "applied {name}")?;
                }
                Ok(())
            }
        }
        Command::User(cmd) => run_user(config, clock, cmd, json, out),
        Command::Client(cmd) => run_client(config, clock, cmd, json, out),
        Command::Keys(cmd) => run_keys(config, clock, cmd, json, out),
        Command::Acl(cmd) => run_acl(config, clock, cmd, json, out),
        Command::Housekeeping => {
            let pool = open(config)?;
            let rules = config.housekeeping_rules();
            // The job is async (each batch bounded by database_timeout); it gets a runtime of
            // its own on a thread of its own, so the CLI also works when called from async code.
            let swept = std::thread::scope(|s| {
                s.spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    Ok::<_, anyhow::Error>(runtime.block_on(crate::app::housekeeping::sweep(
                        &pool,
                        clock,
                        &rules,
                        usize::MAX,
                    )))
                })
                .join()
                .map_err(|_| anyhow::anyhow!("housekeeping panicked"))?
            })?;
            if let Some((table, error)) = swept.failed.first() {
                anyhow::bail!("housekeeping of {table} failed: {error}");
            }
            let mut deleted = serde_json::Map::new();
            for (table, rows) in &swept.rows {
                let total = deleted.get(*table).and_then(|v| v.as_u64()).unwrap_or(0);
                deleted.insert((*table).into(), json!(total + *rows as u64));
            }
            if json {
                print_json(out, &json!({ "deleted": deleted }))
            } else {
                for (table, rows) in &deleted {
                    writeln!(out, "{table}: {rows} deleted")?;
                }
                Ok(())
            }
        }
    }
}

fn user_json(u: &users::User) -> serde_json::Value {
    json!({
        "id": u.id,
        "email": u.email,
        "username": u.username,
        "name": u.display_name,
        "admin": u.is_admin,
        "email_verified": u.email_verified_at.is_some(),
        "phone_number": u.phone_number,
        "phone_number_verified": u.phone_number_verified,
        "disabled": u.disabled,
        "created_at": rfc3339(u.created_at),
    })
}

fn run_user(
    config: &Config,
    clock: &Clock,
    cmd: UserCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = open(config)?;
    let mut conn = pool.get()?;
    let now = clock.now_naive();
    match cmd {
        UserCommand::Add(a) => {
            password::check_policy("password", &a.password)?;
            let new = users::NewUser {
                id: a.id,
                email: a.email,
                username: a.username,
                display_name: a.name,
                password_hash: None,
                is_admin: a.admin,
                verified: a.verified,
                phone_number: a.phone,
                phone_verified: a.phone_verified,
            };
            users::validate_new(&new)?;
            let new = users::NewUser {
                password_hash: Some(password::hash(&config.argon2, &a.password)?),
                ..new
            };
            let user = users::create(&mut conn, now, new)?;
            if json {
                print_json(out, &user_json(&user))
            } else {
                writeln!(out, "created user {} <{}>", user.id, user.email)?;
                Ok(())
            }
        }
        UserCommand::List { limit, offset } => {
            let list = users::list(&mut conn, limit.clamp(1, 10_000), offset.max(0))?;
            if json {
                return print_json(out, &json!(list.iter().map(user_json).collect::<Vec<_>>()));
            }
            writeln!(out, "{:<38} {:<32} {:<20} FLAGS", "ID", "EMAIL", "USERNAME")?;
            for u in list {
                let mut flags = Vec::new();
                if u.is_admin {
                    flags.push("admin");
                }
                if u.email_verified_at.is_some() {
                    flags.push("verified");
                }
                if u.disabled {
                    flags.push("disabled");
                }
                writeln!(
                    out,
                    "{:<38} {:<32} {:<20} {}",
                    u.id,
                    u.email,
                    u.username.as_deref().unwrap_or("-"),
                    flags.join(",")
                )?;
            }
            Ok(())
        }
        UserCommand::Disable { id } | UserCommand::Enable { id } | UserCommand::Unlock { id }
            if id.is_empty() =>
        {
            anyhow::bail!("a user id is required")
        }
        UserCommand::ResetSecondFactor { id } => {
            let id = user_id(&mut conn, &id)?;
            let had = crate::core::factors::reset(&mut conn, now, &id)?;
            let user = users::get(&mut conn, &id)?;
            if json {
                print_json(out, &user_json(&user))
            } else if had {
                writeln!(
                    out,
                    "removed the second factors of {id}; they sign in with their password until they set one up"
                )?;
                Ok(())
            } else {
                writeln!(out, "user {id} had no second factor")?;
                Ok(())
            }
        }
        UserCommand::Unlock { id } => {
            let id = user_id(&mut conn, &id)?;
            let window = config.throttle.account_window;
            let (user, forgotten) = users::unlock(&mut conn, now, &id, window)?;
            if json {
                print_json(
                    out,
                    &json!({ "user": user_json(&user), "wrong_passwords_forgotten": forgotten }),
                )
            } else if forgotten > 0 {
                writeln!(
                    out,
                    "unlocked user {id}: {forgotten} wrong password(s) forgotten, they can sign in now"
                )?;
                Ok(())
            } else {
                writeln!(
                    out,
                    "user {id} had no wrong passwords counted: nothing to unlock"
                )?;
                Ok(())
            }
        }
        UserCommand::Phone {
            id,
            number,
            verified,
            remove,
        } => {
            let id = user_id(&mut conn, &id)?;
            let change = users::UserUpdate {
                phone_number: Some(if remove { None } else { number }),
                // Without --verified an unchanged number keeps its flag; a new one is
                // unverified anyway.
                phone_verified: verified.then_some(true),
                ..Default::default()
            };
            let user = users::update(&mut conn, now, &id, change)?;
            if json {
                print_json(out, &user_json(&user))
            } else {
                match &user.phone_number {
                    Some(n) => writeln!(
                        out,
                        "phone number of {id} is {n}{}",
                        if user.phone_number_verified {
                            " (verified)"
                        } else {
                            ""
                        }
                    )?,
                    None => writeln!(out, "removed the phone number of {id}")?,
                }
                Ok(())
            }
        }
        UserCommand::Disable { id } => {
            let id = user_id(&mut conn, &id)?;
            let user = users::set_disabled(&mut conn, now, &id, true, config.revocation_ttl())?;
            if json {
                print_json(out, &user_json(&user))
            } else {
                writeln!(
                    out,
                    "disabled user {id}; their sessions and tokens are revoked"
                )?;
                Ok(())
            }
        }
        UserCommand::Enable { id } => {
            let id = user_id(&mut conn, &id)?;
            let user = users::set_disabled(&mut conn, now, &id, false, config.revocation_ttl())?;
            if json {
                print_json(out, &user_json(&user))
            } else {
                writeln!(out, "enabled user {id}")?;
                Ok(())
            }
        }
    }
}

fn run_client(
    config: &Config,
    clock: &Clock,
    cmd: ClientCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = open(config)?;
    let mut conn = pool.get()?;
    let now = clock.now_naive();
    match cmd {
        ClientCommand::Add(a) => {
            let a = *a;
            let cert_thumbprint = match &a.cert_file {
                Some(path) => {
                    let pem = std::fs::read(path)
                        .with_context(|| format!("reading --cert-file {}", path.display()))?;
                    Some(clients::cert_thumbprint(&pem)?)
                }
                None => None,
            };
            let jwks = match &a.jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading --jwks-file {}", path.display()))?;
                    Some(
                        serde_json::from_str::<serde_json::Value>(&text).with_context(|| {
                            format!("--jwks-file {} is not JSON", path.display())
                        })?,
                    )
                }
                None => None,
            };
            let metadata = clients::ClientMetadata {
                require_second_factor: a.require_second_factor,
                jwks,
                jwks_uri: a.jwks_uri,
                require_pushed_authorization_requests: a.require_par,
                dpop_bound_access_tokens: a.require_dpop,
                token_exchange_audiences: a.exchange_audience,
                backchannel_logout_uri: a.backchannel_logout_uri,
                backchannel_logout_session_required: a.backchannel_logout_session_required,
                ..Default::default()
            };
            let mut new = clients::NewClient {
                id: a.id,
                name: a.name,
                secret: a.secret,
                public: a.public,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                grant_types: a.grants,
                scopes: a.scopes,
                resources: a.resources,
                trusted: a.trusted,
                kind: a.kind,
                owner_id: a.owner,
                cert_thumbprint,
                expires_in: a.expires_in,
                auth_method: a.auth_method,
                metadata: Some(metadata.to_value()),
                allow_private_jwks_uri: config.allow_private_jwks_uri,
                ..Default::default()
            };
            // Keys that sign requests (CloudTrax kinds, client_secret_jwt): their secret is
            // sealed, not just hashed.
            if new.needs_sealing() {
                new.seal_with = Some(crate::core::secrets::sealing_key(
                    &mut conn,
                    config.master_key().as_ref(),
                )?);
            }
            let created = clients::create(&mut conn, now, new)?;
            if json {
                return print_json(
                    out,
                    &json!({
                        "client_id": created.client.client_id,
                        "client_secret": created.secret,
                        "client": created.client,
                    }),
                );
            }
            writeln!(out, "client_id:     {}", created.client.client_id)?;
            match &created.secret {
                Some(s) => {
                    writeln!(out, "client_secret: {s}")?;
                    writeln!(
                        out,
                        "(the secret is shown only now; it is stored as a hash)"
                    )?;
                }
                None => writeln!(out, "public client: no secret (PKCE required)")?,
            }
            Ok(())
        }
        ClientCommand::List => {
            let list = clients::list(&mut conn)?;
            if json {
                return print_json(out, &json!(list));
            }
            writeln!(
                out,
                "{:<38} {:<24} {:<12} {:<8} {:<20} GRANTS",
                "CLIENT ID", "NAME", "KIND", "BY", "AUTH"
            )?;
            for c in list {
                writeln!(
                    out,
                    "{:<38} {:<24} {:<12} {:<8} {:<20} {}",
                    c.client_id,
                    c.name,
                    c.kind,
                    // Who registered it: an admin, or the client itself (never trusted).
                    if c.dynamic { "itself" } else { "admin" },
                    c.token_endpoint_auth_method,
                    c.grant_types.join(",")
                )?;
            }
            Ok(())
        }
        ClientCommand::RegistrationToken {
            uses,
            expires_in,
            note,
        } => {
            let (info, token) = crate::core::registration::issue_initial_token(
                &mut conn, now, uses, expires_in, &note,
            )?;
            if json {
                return print_json(
                    out,
                    &json!({ "initial_access_token": token, "token": info }),
                );
            }
            writeln!(out, "initial_access_token: {token}")?;
            writeln!(
                out,
                "id {}: {} registration(s), until {}",
                info.id,
                info.uses_left,
                crate::core::time::rfc3339(info.expires_at)
            )?;
            writeln!(
                out,
                "(shown once; send it as `Authorization: Bearer` to POST /register)"
            )?;
            Ok(())
        }
        ClientCommand::RegistrationTokens => {
            let list = crate::core::registration::list_initial_tokens(&mut conn, now)?;
            if json {
                return print_json(out, &json!(list));
            }
            writeln!(out, "{:<38} {:<6} {:<22} NOTE", "ID", "USES", "EXPIRES")?;
            for t in list {
                writeln!(
                    out,
                    "{:<38} {:<6} {:<22} {}",
                    t.id,
                    t.uses_left,
                    crate::core::time::rfc3339(t.expires_at),
                    t.note
                )?;
            }
            Ok(())
        }
        ClientCommand::RevokeRegistrationToken { id } => {
            crate::core::registration::revoke_initial_token(&mut conn, now, &id)?;
            if json {
                print_json(out, &json!({ "revoked": id }))
            } else {
                writeln!(out, "revoked initial access token {id}")?;
                Ok(())
            }
        }
        ClientCommand::Remove { id } => {
            clients::remove(&mut conn, now, &id, config.revocation_ttl())?;
            if json {
                print_json(out, &json!({ "removed": id }))
            } else {
                writeln!(out, "removed client {id}; its tokens are revoked")?;
                Ok(())
            }
        }
    }
}

fn run_keys(
    config: &Config,
    clock: &Clock,
    cmd: KeysCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = open(config)?;
    let mut conn = pool.get()?;
    let now = clock.now_naive();
    let master = config.master_key();
    match cmd {
        KeysCommand::Rotate {
            alg,
            now: immediately,
        } => {
            let alg = alg.unwrap_or(config.keys.algorithm);
            let row = keys::rotate(
                &mut conn,
                now,
                alg,
                &config.keys,
                master.as_ref(),
                immediately,
            )?;
            if json {
                return print_json(
                    out,
                    &json!({ "kid": row.kid, "alg": row.alg, "activates_at": rfc3339(row.activates_at) }),
                );
            }
            writeln!(
                out,
                "created key {} ({}); published now, signs from {}",
                row.kid,
                row.alg,
                rfc3339(row.activates_at)
            )?;
            Ok(())
        }
        KeysCommand::List => {
            let list = keys::list(&mut conn, now, config.keys.retired_ttl)?;
            if json {
                return print_json(out, &json!(list));
            }
            writeln!(
                out,
                "{:<18} {:<6} {:<8} {:<21} RETIRED",
                "KID", "ALG", "STATE", "SIGNS FROM"
            )?;
            for k in list {
                writeln!(
                    out,
                    "{:<18} {:<6} {:<8} {:<21} {}",
                    k.kid,
                    k.alg,
                    k.state.as_str(),
                    rfc3339(k.activates_at),
                    k.retired_at.map(rfc3339).unwrap_or_else(|| "-".into())
                )?;
            }
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            keys::retire(&mut conn, now, &kid, config.keys.retired_ttl)?;
            if json {
                print_json(out, &json!({ "retired": kid }))
            } else {
                writeln!(
                    out,
                    "retired key {kid}; it stays published for {} s",
                    config.keys.retired_ttl
                )?;
                Ok(())
            }
        }
    }
}

fn run_acl(
    config: &Config,
    clock: &Clock,
    cmd: AclCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = open(config)?;
    let mut conn = pool.get()?;
    let now = clock.now_naive();
    match cmd {
        AclCommand::Add {
            subject,
            target,
            command,
        } => {
            let rule = acl::add(&mut conn, now, &subject, &target, &command)?;
            if json {
                print_json(out, &json!({ "id": rule.id }))
            } else {
                writeln!(out, "added rule {}", rule.id)?;
                Ok(())
            }
        }
        AclCommand::List => {
            let rules = acl::list(&mut conn)?;
            if json {
                return print_json(out, &json!(rules));
            }
            writeln!(
                out,
                "{:<38} {:<24} {:<24} COMMAND",
                "ID", "SUBJECT", "TARGET"
            )?;
            for r in rules {
                writeln!(
                    out,
                    "{:<38} {:<24} {:<24} {}",
                    r.id, r.subject, r.target, r.command
                )?;
            }
            Ok(())
        }
        AclCommand::Remove { id } => {
            acl::remove(&mut conn, now, &id)?;
            if json {
                print_json(out, &json!({ "removed": id }))
            } else {
                writeln!(out, "removed rule {id}")?;
                Ok(())
            }
        }
    }
}
