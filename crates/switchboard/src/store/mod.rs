//! The database layer: KPIs, notifications (with per-user read state) and alerts, behind
//! one [`Store`] type that every feed, socket handler and HTTP route goes through.
//!
//! # Backends
//! One [`sqlx::AnyPool`] runs the same portable SQL on an embedded SQLite file (the
//! default, `sqlite://path`, created if missing), on an in-memory SQLite database
//! (`sqlite::memory:`, gone when the process exits) or on PostgreSQL (`postgres://…`).
//! The schema lives in `crates/switchboard/migrations/` (embedded in the binary) and is
//! migrated by [`Store::connect`]; migrations are idempotent, so every start runs them.
//!
//! # Errors
//! Every method returns [`StoreError`]. Failures to reach the database (connection
//! refused, pool timeout after [`ACQUIRE_TIMEOUT`], pool closed, server shutting down,
//! SQLite file that cannot be opened or is locked) are [`StoreError::Unavailable`], which
//! the HTTP API answers with 503; everything else the database reports is
//! [`StoreError::Sqlx`] (a 500 with a generic message).
//!
//! # Ids and ordering
//! Ids are generated here, not by the database (SQLite and PostgreSQL have no portable
//! auto-increment): `{created_at_ms:013}{process sequence:06}{random:08x}`, so ids sort
//! in insertion order within a process, and rows are always ordered by
//! `(created_at_ms, id)`. Ties in the same millisecond are therefore stable.

mod alerts;
mod kpis;
mod notifications;
#[cfg(test)]
mod test_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use alerts::{Alert, NewAlert};
pub use kpis::{Kpi, KpiRecord};
pub use notifications::{NewNotification, Notification, Target};

/// How long a query waits for a pooled connection (or for a new connection to be
/// established) before failing with [`StoreError::Unavailable`]: 3 seconds, so that
/// "database down" surfaces quickly instead of hanging requests.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Pool settings (`db_max_connections`, `db_acquire_timeout_ms`).
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Connections; `None` picks per backend (an in-memory SQLite database always has 1).
    pub max_connections: Option<u32>,
    /// How long an operation waits for a connection.
    pub acquire_timeout: Duration,
}

impl Default for Pool {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: ACQUIRE_TIMEOUT,
        }
    }
}

/// Pool size for a SQLite file: 8 connections (WAL lets readers run beside the writer).
const SQLITE_FILE_MAX_CONNECTIONS: u32 = 8;
/// Pool size for PostgreSQL: 10 connections.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// The embedded migrations of `crates/switchboard/migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Errors of the database layer. Callers match on the variant to pick a response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (connection refused or lost, pool timed
    /// out or closed, server shutting down, SQLite file cannot be opened or stays
    /// locked). Worth retrying later; the API maps it to 503.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The row asked for does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// Any other database error.
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    /// Running the embedded migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL has a scheme other than `sqlite:`, `postgres:` or `postgresql:`,
    /// or could not be parsed.
    #[error("unsupported database url: {0}")]
    Url(String),
}

impl StoreError {
    /// Classifies a sqlx error: connection-level trouble becomes
    /// [`StoreError::Unavailable`], the rest [`StoreError::Sqlx`].
    ///
    /// Used instead of `?`'s `From` (which always yields `Sqlx`) on every query.
    fn db(e: sqlx::Error) -> StoreError {
        if is_unavailable(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Sqlx(e)
        }
    }
}

/// `.db()?` on a sqlx result: like `?`, but classified by [`StoreError::db`].
trait DbResult<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> DbResult<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(StoreError::db)
    }
}

/// Whether `e` means "the database cannot be reached" rather than "the query failed".
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.code() {
            None => false,
            Some(code) => match code.parse::<i64>() {
                // SQLite reports (extended) result codes; the primary code is the low byte.
                // 5 BUSY, 6 LOCKED, 10 IOERR, 14 CANTOPEN.
                Ok(n) => matches!(n & 0xff, 5 | 6 | 10 | 14),
                // PostgreSQL SQLSTATE: class 08 connection exception, 53300 too many
                // connections, 57P01..57P03 admin/crash shutdown and "cannot connect now",
                // 3D000 the database does not exist (dropped under us).
                Err(_) => {
                    code.starts_with("08")
                        || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03" | "3D000")
                }
            },
        },
        _ => false,
    }
}

/// The database behind Switchboard's feeds. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: &'static str,
}

impl Store {
    /// Connects to `url` and runs the embedded migrations.
    ///
    /// - `sqlite://path` or `sqlite:path`: a file, created (with its parent directory)
    ///   if missing; WAL journal, `synchronous=NORMAL`, foreign keys on, 5 s busy timeout.
    /// - `sqlite::memory:`: a private in-memory database, held by a single connection
    ///   that never expires (every connection would otherwise see its own empty database).
    /// - `postgres://…` / `postgresql://…`: PostgreSQL.
    ///
    /// Fails with [`StoreError::Url`] for any other scheme and with
    /// [`StoreError::Unavailable`] when the database cannot be reached within
    /// [`ACQUIRE_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::connect_with(url, Pool::default()).await
    }

    /// [`Store::connect`] with pool settings from the configuration.
    pub async fn connect_with(url: &str, pool: Pool) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let lower = url.to_ascii_lowercase();
        let (backend, url, options) = if lower.starts_with("sqlite:") {
            let memory = lower.contains(":memory:") || lower.contains("mode=memory");
            if memory {
                let options = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
                ("sqlite", url.to_owned(), options)
            } else {
                create_parent_dir(url).await?;
                let options = AnyPoolOptions::new()
                    .max_connections(pool.max_connections.unwrap_or(SQLITE_FILE_MAX_CONNECTIONS))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL: readers do not block the writer. The mode is stored in
                            // the file, so this is a no-op after the first connection.
                            sqlx::query("PRAGMA journal_mode = WAL")
                                .execute(&mut *conn)
                                .await?;
                            // Safe with WAL (no corruption on power loss, only the last
                            // transactions may roll back) and much faster than FULL.
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            // sqlx turns this on by default; say it so nobody wonders.
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    });
                ("sqlite", sqlite_create_if_missing(url), options)
            }
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let options = AnyPoolOptions::new()
                .max_connections(pool.max_connections.unwrap_or(POSTGRES_MAX_CONNECTIONS));
            ("postgres", url.to_owned(), options)
        } else {
            return Err(StoreError::Url(crate::support::redact::url(url)));
        };
        let pool = options
            .acquire_timeout(pool.acquire_timeout)
            .connect(&url)
            .await
            .map_err(|e| match e {
                sqlx::Error::Configuration(_) => StoreError::Url(crate::support::redact::url(&url)),
                e => StoreError::db(e),
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) if is_unavailable(&e) => {
                StoreError::Unavailable(e)
            }
            e => StoreError::Migrate(e),
        })?;
        Ok(Store { pool, backend })
    }

    /// Which database this store talks to: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Runs `SELECT 1`; for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        Ok(())
    }
}

/// Adds `mode=rwc` (read, write, create) to a SQLite file URL unless it names a mode.
fn sqlite_create_if_missing(url: &str) -> String {
    match url.split_once('?') {
        None => format!("{url}?mode=rwc"),
        Some((_, query)) if query.split('&').any(|kv| kv.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
    }
}

/// Creates the directory that will hold the SQLite file of `url`, if it is missing.
async fn create_parent_dir(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
    }
    Ok(())
}

/// Process-wide sequence for [`new_id`]; orders ids created in the same millisecond.
static ID_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A new row id: `{now_ms:013}{sequence mod 10^6:06}{random:08x}` (27 characters).
///
/// Sorts in creation order within a process (up to a million ids per millisecond); the
/// random tail keeps ids from different nodes sharing one database distinct.
pub fn new_id(now_ms: i64) -> String {
    let seq = ID_SEQUENCE.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    format!("{:013}{seq:06}{:08x}", now_ms.max(0), rand::random::<u32>())
}

/// Decodes a JSON document stored as TEXT.
fn json_from_text(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Sqlx(sqlx::Error::Decode(Box::new(e))))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::test_support::{both_backends, sqlite_url};
    use super::*;

    async fn migrations_are_idempotent_and_data_persists(store: Store, url: String) {
        let kpi = Kpi {
            id: "revenue".into(),
            label: "Revenue".into(),
            value: serde_json::json!(10),
            trend: None,
            status: None,
            chart: None,
        };
        store
            .upsert_kpis("crm", std::slice::from_ref(&kpi), 1)
            .await
            .unwrap();
        store.pool.close().await;
        drop(store);
        let again = Store::connect(&url)
            .await
            .expect("second connect migrates again");
        let kpis = again.kpis("crm").await.unwrap();
        assert_eq!(kpis.len(), 1);
        assert_eq!(kpis[0].kpi, kpi);
        // A third time, with the previous store still open.
        let third = Store::connect(&url).await.unwrap();
        assert_eq!(third.kpis("crm").await.unwrap().len(), 1);
    }
    both_backends!(migrations_are_idempotent_and_data_persists);

    async fn backend_and_ping(store: Store, url: String) {
        let expected = if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        };
        assert_eq!(store.backend(), expected);
        store.ping().await.unwrap();
    }
    both_backends!(backend_and_ping);

    async fn closed_pool_is_unavailable(store: Store, _url: String) {
        store.pool.close().await;
        let err = store.ping().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.kpis("crm").await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
    both_backends!(closed_pool_is_unavailable);

    #[tokio::test]
    async fn memory_database_works_and_keeps_its_data() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.ping().await.unwrap();
        let kpi = Kpi {
            id: "a".into(),
            label: "A".into(),
            value: serde_json::json!(1),
            trend: None,
            status: None,
            chart: None,
        };
        store.upsert_kpis("hr", &[kpi], 1).await.unwrap();
        // Several clones, concurrently: all share the one connection and its data.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.kpis("hr").await.unwrap().len() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
    }

    #[tokio::test]
    async fn unreachable_postgres_is_unavailable_quickly() {
        let start = Instant::now();
        let err = tokio::time::timeout(
            Duration::from_secs(15),
            Store::connect("postgres://postgres@127.0.0.1:1/postgres"),
        )
        .await
        .expect("connect gives up within the acquire timeout")
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn unopenable_sqlite_file_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the parent directory should be.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, b"").unwrap();
        let url = sqlite_url(&blocker.join("db.sqlite"));
        let err = Store::connect(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn sqlite_file_and_directory_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/switchboard.db");
        let store = Store::connect(&sqlite_url(&path)).await.unwrap();
        store.ping().await.unwrap();
        assert!(path.exists());
        // WAL mode is on for files.
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode.to_ascii_lowercase(), "wal");
    }

    #[tokio::test]
    async fn unsupported_urls_are_rejected() {
        for url in ["mysql://root@localhost/db", "redis://localhost", "nonsense"] {
            let err = Store::connect(url).await.unwrap_err();
            assert!(matches!(err, StoreError::Url(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn url_helpers() {
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..2000).map(|_| new_id(1_700_000_000_000)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        // The sequence may wrap once per million ids; 2000 consecutive ones wrap at most
        // once, so check the order on both sides of a wrap.
        let wrap = ids.windows(2).position(|w| w[0] > w[1]);
        match wrap {
            None => assert_eq!(ids, sorted),
            Some(i) => {
                assert!(ids[..=i].windows(2).all(|w| w[0] < w[1]));
                assert!(ids[i + 1..].windows(2).all(|w| w[0] < w[1]));
            }
        }
        assert_eq!(ids[0].len(), 27);
    }
}
