//! The database layer: one connection type over SQLite and PostgreSQL, an r2d2 pool chosen by
//! URL scheme, embedded migrations per backend, and the one helper that runs blocking work off
//! the async runtime. Backend differences stay inside this module.

pub mod json;
pub mod schema;
pub mod upsert;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// The database timeout when none is configured (`database_timeout`), in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 5;

/// An r2d2 manager that picks the backend by URL scheme and keeps the real connection error
/// (the derived `establish` hides it and treats any string as an SQLite file name). Every
/// connection it makes is bounded by `timeout`: connecting, each statement, waiting for
/// SQLite's write lock; PostgreSQL connections also use TCP keepalive, so a dead server is
/// noticed on an idle connection too.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    timeout: Duration,
}

impl Manager {
    pub fn new(url: DatabaseUrl, timeout: Duration) -> Manager {
        Manager { url, timeout }
    }

    /// The libpq URL with the connection bounds added (unless the URL sets them itself):
    /// `connect_timeout`, TCP keepalive, and `tcp_user_timeout` (unacknowledged data for longer
    /// than the timeout drops the connection instead of hanging on a black-holed server).
    fn postgres_url(&self, url: &str) -> String {
        let secs = self.timeout.as_secs().max(1);
        let params = [
            ("connect_timeout", secs.max(2).to_string()),
            ("keepalives", "1".to_owned()),
            ("keepalives_idle", secs.to_string()),
            ("keepalives_interval", "1".to_owned()),
            ("keepalives_count", "3".to_owned()),
            ("tcp_user_timeout", (secs * 1000).to_string()),
        ];
        with_params(url, &params)
    }

    /// Settings applied to every SQLite connection: WAL for concurrent readers, a busy timeout
    /// instead of immediate `SQLITE_BUSY`, enforced foreign keys.
    fn sqlite_pragmas(&self) -> String {
        format!(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; \
             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            self.database_side_timeout().as_millis()
        )
    }

    /// The bound the database itself enforces (busy timeout, `statement_timeout`): four fifths
    /// of the database timeout, so that a slow statement fails and rolls back before the
    /// caller gives up, rather than committing after it was answered 503.
    fn database_side_timeout(&self) -> Duration {
        (self.timeout * 4 / 5).max(Duration::from_millis(100))
    }
}

/// Adds `key=value` query parameters a libpq URL does not already set.
fn with_params(url: &str, params: &[(&str, String)]) -> String {
    let mut out = url.to_owned();
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let set: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .collect();
    for (key, value) in params {
        if set.contains(key) {
            continue;
        }
        if !out.contains('?') {
            out.push('?');
        } else if !out.ends_with('?') && !out.ends_with('&') {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

thread_local! {
    /// Set while this thread returns a connection that must not be reused (see `discard`).
    static DISCARDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The abandon flag of the `DbPool::run` whose work this thread is doing, if any.
    static ABANDONED: std::cell::RefCell<Option<Arc<AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Returns a connection to the pool as unusable: it failed with connection trouble, or its
/// work outlived the database timeout. r2d2 asks `has_broken` on this thread as the connection
/// goes back, and drops it; the pool makes fresh ones, so it heals by itself when the database
/// is back.
fn discard(conn: PooledConnection) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DISCARDING.with(|d| d.set(false));
        }
    }
    DISCARDING.with(|d| d.set(true));
    let _reset = Reset;
    drop(conn);
}

/// Whether the caller of the work on this thread has stopped waiting (and answered 503).
fn abandoned() -> bool {
    ABANDONED.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Acquire))
    })
}

/// The error a transaction ends with when its caller stopped waiting before it committed:
/// classified as `Unavailable` (see `core::error::TROUBLE`).
fn abandoned_error() -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::Unknown,
        Box::new(ABANDONED_MESSAGE.to_owned()),
    )
}

/// The message of `abandoned_error`.
pub const ABANDONED_MESSAGE: &str =
    "abandoned: the caller stopped waiting before the commit; rolled back";

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        DISCARDING.with(|d| d.get()) || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

impl Manager {
    /// A new connection with the bounds applied.
    pub fn establish(&self) -> Result<DbConnection, ConnectError> {
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
                conn.batch_execute(&self.sqlite_pragmas())?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&self.postgres_url(url))
                    .map_err(ConnectError::Postgres)?;
                // A URL may set its own (`options=-c statement_timeout=...`).
                if !url.contains("statement_timeout") {
                    conn.batch_execute(&format!(
                        "SET statement_timeout = {}",
                        self.database_side_timeout().as_millis()
                    ))?;
                }
                Ok(DbConnection::Postgres(conn))
            }
        }
    }
}

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// The shared connection pool. Cheap to clone.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<Manager>,
    manager: Manager,
    backend: &'static str,
    timeout: Duration,
}

impl DbPool {
    /// Connects (once, directly, so a failure shows the real reason) and builds the pool, with
    /// the default database timeout.
    pub fn connect(url: &str, size: u32) -> Result<DbPool, ConnectError> {
        DbPool::open(url, size, Duration::from_secs(DEFAULT_TIMEOUT_SECS))
    }

    /// As `connect`, with every wait for the database bounded by `timeout` (SPEC §7 "Database
    /// trouble"): pool checkout, connecting, each statement, and `run` as a whole.
    pub fn open(url: &str, size: u32, timeout: Duration) -> Result<DbPool, ConnectError> {
        let url = DatabaseUrl::parse(url).map_err(ConnectError::Url)?;
        let backend = url.backend();
        let manager = Manager::new(url, timeout);
        let first = manager.establish()?;
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
            .connection_timeout(timeout)
            .build_unchecked(manager.clone());
        Ok(DbPool {
            pool,
            manager,
            backend,
            timeout,
        })
    }

    /// A connection outside the pool, with the same bounds (the change listener's).
    pub fn dedicated(&self) -> Result<DbConnection, Error> {
        self.manager
            .establish()
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// The database timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
    /// The caller waits at most the database timeout: past it, the answer is `Unavailable`
    /// (the work may still finish; its connection is then dropped rather than reused).
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let late = abandoned.clone();
        let work = blocking(move || {
            let mut conn = pool.get()?;
            if late.load(Ordering::Acquire) {
                // The wait for a connection used up the time: the caller has its 503.
                return Err(Error::Unavailable("abandoned before it started".into()));
            }
            ABANDONED.with(|a| *a.borrow_mut() = Some(late.clone()));
            let result = f(&mut conn);
            ABANDONED.with(|a| *a.borrow_mut() = None);
            if late.load(Ordering::Acquire) || matches!(result, Err(Error::Unavailable(_))) {
                discard(conn);
            }
            result
        });
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                abandoned.store(true, Ordering::Release);
                Err(Error::Unavailable(format!(
                    "no database answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
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
                                                // Migrations (and waiting for another node's) may take longer than a request's
                                                // statement timeout; the connection gets its own back afterwards.
            let timeout: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                "current_setting('statement_timeout')",
            ))
            .get_result(c)?;
            c.batch_execute("SET statement_timeout = 0")?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK})")).execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|v| v.to_string()).collect())
                .map_err(internal);
            diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK})")).execute(c)?;
            diesel::sql_query("SELECT set_config('statement_timeout', $1, false)")
                .bind::<diesel::sql_types::Text, _>(timeout)
                .execute(c)?;
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

/// Runs `f` in a transaction that may write. On SQLite it begins `IMMEDIATE`: the write lock
/// is taken at the start, so a concurrent writer waits on the busy timeout instead of failing
/// with "database is locked" when its read turns into a write. Nested inside another
/// transaction it is a savepoint, as `Connection::transaction`.
pub fn transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    // A caller that stopped waiting has answered 503: its work must not commit after all,
    // or a retry would meet a change it was told did not happen (a refresh token spent).
    let checked = |conn: &mut DbConnection| {
        let value = f(conn)?;
        if abandoned() {
            return Err(E::from(abandoned_error()));
        }
        Ok(value)
    };
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(checked);
    };
    match AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(diesel::result::Error::AlreadyInTransaction) => return conn.transaction(checked),
        Err(e) => return Err(e.into()),
    }
    match checked(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Vec<(&'static str, String)> {
        vec![("connect_timeout", "5".into()), ("keepalives", "1".into())]
    }

    #[test]
    fn connection_bounds_are_added_unless_set() {
        assert_eq!(
            with_params("postgres://u@h/db", &p()),
            "postgres://u@h/db?connect_timeout=5&keepalives=1"
        );
        assert_eq!(
            with_params("postgres://u@h/db?", &p()),
            "postgres://u@h/db?connect_timeout=5&keepalives=1"
        );
        assert_eq!(
            with_params("postgres://u@h1:5432,h2:5432/db?connect_timeout=3", &p()),
            "postgres://u@h1:5432,h2:5432/db?connect_timeout=3&keepalives=1"
        );
        assert_eq!(
            with_params("postgres://u@h/db?sslmode=require&", &p()),
            "postgres://u@h/db?sslmode=require&connect_timeout=5&keepalives=1"
        );
    }
}
