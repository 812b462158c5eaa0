//! Assembling and running the HTTP server: state (database, migrations, keys), the actix `App`,
//! binding, and graceful shutdown on SIGTERM / SIGINT.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::oidc;
use crate::db::{self, DbPool};
use crate::runtime::argon2::PasswordGate;
use crate::runtime::audit::AuditWriter;
use crate::runtime::keys::KeyStore;
use crate::runtime::mail::Mailer;
use crate::runtime::revocations::RevocationCache;
use crate::runtime::workers::Workers;
use crate::state::AppState;
use crate::telemetry::{self, Metrics};

/// Opens the database and applies pending migrations.
pub fn open_database(config: &Config) -> anyhow::Result<DbPool> {
    let pool = connect(config, config.database_pool_size)?;
    let mut conn = pool.get()?;
    let applied = db::migrate(&mut conn)?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(pool)
}

/// Opens a pool of `size` connections and says where the data is, every time: a relative
/// SQLite path depends on the working directory, and a command run from elsewhere would
/// otherwise make a new, empty database unnoticed.
pub fn connect(config: &Config, size: u32) -> anyhow::Result<DbPool> {
    let sqlite = match db::DatabaseUrl::parse(config.database_url()) {
        Ok(db::DatabaseUrl::Sqlite(path)) => Some((
            std::path::absolute(&path).unwrap_or(path.clone()),
            !path.exists(),
        )),
        _ => None,
    };
    let pool = DbPool::open(
        config.database_url(),
        size,
        std::time::Duration::from_secs(config.database_timeout),
    )?;
    match sqlite {
        Some((path, true)) => {
            tracing::info!(path = %path.display(), "created a new SQLite database")
        }
        Some((path, false)) => tracing::info!(path = %path.display(), "SQLite database"),
        None => tracing::info!("PostgreSQL database"),
    }
    Ok(pool)
}

/// Builds the shared state: database (migrated), a signing key (created on first start),
/// loaded keys and revocations, the node's runtime machinery and the discovery documents.
pub fn build_state(config: Config, clock: Clock) -> anyhow::Result<AppState> {
    let pool = open_database(&config)?;
    let config = Arc::new(config);
    let keys = KeyStore::open(
        pool.clone(),
        clock.clone(),
        config.keys.clone(),
        config.master_key(),
    )
    .context("preparing the signing keys")?;
    let revocations =
        RevocationCache::load(pool.clone(), clock.clone()).context("loading the revocation log")?;
    let discovery = (
        bytes::Bytes::from(serde_json::to_string(&oidc::metadata(&config, true))?),
        bytes::Bytes::from(serde_json::to_string(&oidc::metadata(&config, false))?),
    );
    let metrics = Metrics::new();
    let logouts = crate::runtime::backchannel::Logouts::new(
        pool.clone(),
        config.clone(),
        clock.clone(),
        metrics.clone(),
        keys.clone(),
    );
    Ok(AppState {
        logouts,
        keys,
        passwords: PasswordGate::new(config.argon2.clone()),
        signers: Workers::new("sign", 0, 4096),
        mailer: Mailer::new(pool.clone(), config.clone(), clock.clone(), metrics.clone()),
        audit: AuditWriter::new(pool.clone()),
        caches: Default::default(),
        revocations,
        db: pool,
        config,
        clock,
        metrics,
        discovery: Arc::new(discovery),
    })
}

/// Headers on every answer: no sniffing, no framing, no referrers, a strict CSP for pages
/// (scripts only from here: the passkey script, no inline code; images from here and from
/// the configured logo's origin).
fn security_headers(config: &crate::config::Config) -> DefaultHeaders {
    let img = match config.branding.logo_origin() {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".into(),
    };
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src {img}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
}

/// The application: every door, shared state, body limits, logging and metrics.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.config.body_limit;
    let headers = security_headers(&state.config);
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|e, _| {
                    let status = match &e {
                        actix_web::error::JsonPayloadError::Overflow { .. }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                        }
                        actix_web::error::JsonPayloadError::ContentType => {
                            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE
                        }
                        _ => actix_web::http::StatusCode::BAD_REQUEST,
                    };
                    let res =
                        crate::routes::error::json_error(status, "invalid_request", &e.to_string());
                    actix_web::error::InternalError::from_response(e, res).into()
                }),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            let res = crate::routes::error::json_error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_request",
                &e.to_string(),
            );
            actix_web::error::InternalError::from_response(e, res).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            let res = crate::routes::error::json_error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_request",
                &e.to_string(),
            );
            actix_web::error::InternalError::from_response(e, res).into()
        }))
        .app_data(web::FormConfig::default().limit(limit))
        .wrap(from_fn(crate::routes::pages::brand::scope))
        .wrap(headers)
        .wrap(from_fn(telemetry::observe))
        .configure(crate::routes::configure)
        .default_service(web::to(crate::routes::not_found))
}

/// Runs the server until SIGTERM or SIGINT, then drains in-flight requests.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let config = state.config.clone();
    let workers = config.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    if config.smtp.host.is_some() {
        state.mailer.spawn_worker();
    }
    state.logouts.spawn_worker();
    actix_web::rt::spawn(crate::app::housekeeping::every_interval(state.clone()));
    // Kept until the server stops: revocations, keys and clients changed elsewhere.
    let _changes = state.watch_changes();
    let app_state = state.clone();
    let server = HttpServer::new(move || app(app_state.clone()))
        .workers(workers)
        .shutdown_timeout(config.shutdown_timeout)
        .bind(&config.bind)
        .with_context(|| format!("cannot listen on {} (setting `bind`)", config.bind))?;
    for addr in server.addrs() {
        println!(
            "portcullis listening on http://{addr} (issuer {}, {} database)",
            config.issuer(),
            state.db.backend()
        );
    }
    tracing::info!(bind = %config.bind, issuer = %config.issuer(), workers, "serving");
    server.run().await.context("server failed")?;
    // Nothing queued is lost on a clean shutdown.
    let pending = state.audit.len();
    if let Err(e) = state.audit.flush().await {
        tracing::error!(error = %e, pending, "could not write queued events at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}
