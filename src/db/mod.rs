//! The database layer: one connection type over SQLite and PostgreSQL, an r2d2 pool chosen by
//! URL scheme, embedded migrations per backend, and the one helper that runs blocking work off
//! the async runtime. Backend differences stay inside this module.

pub mod json;
pub mod schema;
pub mod upsert;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use json::JsonList;

use crate::core::Error;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. Queries written with diesel's DSL run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://<path>` (relative or absolute), `sqlite:<path>`, `postgres://...` or
    /// `postgresql://...`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path == ":memory:" {
                return Err(
                    "an SQLite URL needs a file path (sqlite://data/portcullis.db); in-memory databases are not shared between connections".into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(format!(
            "unsupported database URL scheme `{scheme}`: use sqlite://<path> or postgres://<user>@<host>/<database>"
        ))
    }

    /// The backend's name, for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

/// Why a connection could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot connect to PostgreSQL: {0}")]
    Postgres(diesel::ConnectionError),
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("invalid database URL: {0}")]
    Url(String),
}

/// An r2d2 manager that picks the backend by URL scheme and keeps the real connection error
/// (the derived `establish` hides it and treats any string as an SQLite file name).
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager { url }
    }
}

/// Settings applied to every SQLite connection: WAL for concurrent readers, a busy timeout
/// instead of immediate `SQLITE_BUSY`, enforced foreign keys.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| ConnectError::Directory {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                let display = path.display().to_string();
                let mut conn = SqliteConnection::establish(&display).map_err(|source| {
                    ConnectError::Sqlite {
                        path: display.clone(),
                        source,
                    }
                })?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(ConnectError::Postgres),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// The shared connection pool. Cheap to clone.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<Manager>,
    backend: &'static str,
}

impl DbPool {
    /// Connects (once, directly, so a failure shows the real reason) and builds the pool.
    pub fn connect(url: &str, size: u32) -> Result<DbPool, ConnectError> {
        let url = DatabaseUrl::parse(url).map_err(ConnectError::Url)?;
        let backend = url.backend();
        let manager = Manager::new(url);
        let first = r2d2::ManageConnection::connect(&manager)?;
        drop(first);
        // min_idle 0: connections are made on demand only. With a minimum, every checkout
        // schedules a background connect, and a process that exits during that connect's
        // TLS handshake (a short CLI command on PostgreSQL) can die at exit.
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            // r2d2 would run `SELECT 1` on every checkout; broken connections are detected by
            // `has_broken` instead (measured: a statement per request on the token path).
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build_unchecked(manager);
        Ok(DbPool { pool, backend })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// A connection for synchronous callers (the CLI, and code already off the runtime).
    pub fn get(&self) -> Result<PooledConnection, Error> {
        self.pool
            .get()
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, never on an async worker.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
    }

    /// Pool statistics for `/metrics`: (open connections, idle connections).
    pub fn stats(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }
}

/// Runs blocking work (database, argon2, RSA) on the blocking thread pool.
pub async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    actix_web::rt::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// Applies every pending migration of the connection's backend; returns the names applied.
/// On PostgreSQL an advisory lock keeps nodes that start together from racing.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, Error> {
    let internal = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::Internal(format!("migration failed: {e}"))
    };
    let applied = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(internal)?
            .iter()
            .map(|v| v.to_string())
            .collect(),
        DbConnection::Postgres(c) => {
            const LOCK: i64 = 0x506f_7274_6375; // "Portcu"
            diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK})")).execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|v| v.to_string()).collect())
                .map_err(internal);
            diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK})")).execute(c)?;
            result?
        }
    };
    Ok(applied)
}

/// Reverts every migration (development and tests: proves the `down.sql` files work).
pub fn revert_all(conn: &mut DbConnection) -> Result<(), Error> {
    let internal = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::Internal(format!("revert failed: {e}"))
    };
    match conn {
        DbConnection::Sqlite(c) => c
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map_err(internal)?,
        DbConnection::Postgres(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map_err(internal)?,
    };
    Ok(())
}

/// Reverts the newest migration (development and tests: upgrades from the version before it).
pub fn revert_last(conn: &mut DbConnection) -> Result<(), Error> {
    let internal = |e: Box<dyn std::error::Error + Send + Sync>| {
        Error::Internal(format!("revert failed: {e}"))
    };
    match conn {
        DbConnection::Sqlite(c) => c
            .revert_last_migration(SQLITE_MIGRATIONS)
            .map_err(internal)?,
        DbConnection::Postgres(c) => c
            .revert_last_migration(POSTGRES_MIGRATIONS)
            .map_err(internal)?,
    };
    Ok(())
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
