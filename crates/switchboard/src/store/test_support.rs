//! Test fixtures: run one test body against a fresh SQLite file and a fresh PostgreSQL
//! database.
//!
//! PostgreSQL comes from `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, an admin connection). Each test creates
//! its own database `sb_<random>` there and drops it at the end, even when the body
//! panics, so tests are independent and can run in parallel. An unreachable server
//! fails the PostgreSQL half of every test; set `SKIP_POSTGRES=1` to skip it instead.
//!
//! Skipping is never silent: with `SKIP_POSTGRES=1` in the environment of the build,
//! `build.rs` sets `cfg(skip_postgres)` and every PostgreSQL half is `#[ignore]`d, so
//! `cargo test` lists each as `ignored` and counts them in its summary. A test binary
//! built without it but run with `SKIP_POSTGRES=1` (or an ignored half run anyway with
//! `--include-ignored`) returns early and says so on stderr, past the output capture.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use super::Store;

/// Admin URL used when `TEST_POSTGRES_URL` is not set.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Upper bound for one test body: 60 seconds.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound for reaching the admin database and creating/dropping a database: 15 s.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Which database a test half runs against.
#[derive(Clone, Copy, Debug)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL halves skipped so far in this process.
static SKIPPED: AtomicUsize = AtomicUsize::new(0);

/// Whether `SKIP_POSTGRES=1` skips the PostgreSQL half `test`; if so, says so on stderr
/// with the running count (written to the stream itself: libtest captures `eprintln!`).
pub(super) fn skip_postgres(test: &str) -> bool {
    if std::env::var("SKIP_POSTGRES").as_deref() != Ok("1") {
        return false;
    }
    let n = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (PostgreSQL): {test} [SKIP_POSTGRES=1, {n} skipped so far in this process]"
    );
    true
}

/// `sqlite://{path}` for a file path.
pub(super) fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Runs `body(store, url)` against a fresh database of `backend`, then cleans up.
pub(super) async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = sqlite_url(&dir.path().join("switchboard.db"));
            let store = Store::connect(&url).await.expect("connect to SQLite");
            tokio::time::timeout(BODY_TIMEOUT, body(store, url))
                .await
                .expect("test body timed out");
        }
        Backend::Postgres => {
            let admin_url = std::env::var("TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
            let mut admin = tokio::time::timeout(ADMIN_TIMEOUT, PgConnection::connect(&admin_url))
                .await
                .unwrap_or_else(|_| panic!("timed out connecting to PostgreSQL at {admin_url}"))
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {admin_url} is unreachable ({e}); start it \
                         (pg_ctlcluster … main start), point TEST_POSTGRES_URL at one, \
                         or set SKIP_POSTGRES=1"
                    )
                });
            let name = format!("sb_{:016x}", rand::random::<u64>());
            admin_sql(&mut admin, &format!("CREATE DATABASE {name}")).await;
            let url = with_database(&admin_url, &name);

            let outcome = tokio::spawn(async move {
                let store = Store::connect(&url).await.expect("connect to PostgreSQL");
                tokio::time::timeout(BODY_TIMEOUT, body(store, url))
                    .await
                    .expect("test body timed out");
            })
            .await;

            admin_sql(
                &mut admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
            let _ = admin.close().await;
            if let Err(e) = outcome {
                match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(e) => panic!("test task failed: {e}"),
                }
            }
        }
    }
}

async fn admin_sql(admin: &mut PgConnection, sql: &str) {
    tokio::time::timeout(ADMIN_TIMEOUT, admin.execute(sql))
        .await
        .unwrap_or_else(|_| panic!("timed out: {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `admin_url` with its database (the path) replaced by `name`, query kept.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Generates `mod $body { sqlite, postgres }`: two `#[tokio::test]`s running the async
/// fn `$body(store, url)` against each backend. `postgres` is ignored when the crate was
/// built with `SKIP_POSTGRES=1`, and skipped (loudly) when run with it.
macro_rules! both_backends {
    ($body:ident) => {
        mod $body {
            use $crate::store::test_support::{run, skip_postgres, Backend};

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite, super::$body).await;
            }

            #[tokio::test]
            #[cfg_attr(
                skip_postgres,
                ignore = "SKIP_POSTGRES=1: the PostgreSQL half is not run"
            )]
            async fn postgres() {
                if skip_postgres(concat!(module_path!(), "::postgres")) {
                    return;
                }
                run(Backend::Postgres, super::$body).await;
            }
        }
    };
}
pub(super) use both_backends;

#[test]
fn database_in_url_is_replaced() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "sb_1"),
        "postgres://postgres@127.0.0.1:5432/sb_1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "sb_2"),
        "postgres://u:p@h/sb_2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "sb_3"),
        "postgres://h:5432/sb_3"
    );
}
