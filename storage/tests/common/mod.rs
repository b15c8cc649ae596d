//! Shared helpers: a fresh database on either backend and fabricated events.
//!
//! The suites are contracts: every test is an `async fn(Backend)` and [`contract!`] runs it
//! once on a SQLite file in a tempdir and once on PostgreSQL, in a schema of its own in the
//! database `BTPNIPS_TEST_PG` names (default `postgres://postgres@127.0.0.1:5432/test`, trust
//! auth), dropped when the test ends, so runs never collide.
#![allow(dead_code)]
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::nostr::{Event, Filter};
use sqlx::Connection;
use storage::Storage;

/// Which backend a contract test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a tempdir.
    Sqlite,
    /// A fresh schema in the test PostgreSQL database.
    Postgres,
}

/// The PostgreSQL server and database the tests use.
pub fn pg_base_url() -> String {
    std::env::var("BTPNIPS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Where a test's database lives; dropping it removes the database.
pub enum Db {
    /// The tempdir holding `path`.
    Sqlite(tempfile::TempDir, std::path::PathBuf),
    /// The schema and the URL that selects it.
    Postgres { schema: String, url: String },
}

impl Db {
    /// Open the same database again (after closing the first [`Storage`]).
    pub async fn reopen(&self) -> Storage {
        match self {
            Db::Sqlite(_, path) => Storage::open_sqlite(path).await.unwrap(),
            Db::Postgres { url, .. } => Storage::open_postgres(url).await.unwrap(),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Db::Postgres { schema, .. } = self else { return };
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&pg_base_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                    let _ = admin.close().await;
                }
            })
        })
        .join();
    }
}

/// A fresh database on `backend` (kept until the returned [`Db`] drops) and its storage.
pub async fn open(backend: Backend) -> (Db, Storage) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("node.sqlite");
            let storage = Storage::open_sqlite(&path).await.unwrap();
            (Db::Sqlite(dir, path), storage)
        }
        Backend::Postgres => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let schema =
                format!("t_{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000);
            let base = pg_base_url();
            let mut admin = sqlx::PgConnection::connect(&base)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {base} (BTPNIPS_TEST_PG): {e}; scripts/test.sh starts it"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
            admin.close().await.unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            // The application name lets a test find this storage's sessions (and only those).
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}");
            let storage = Storage::open_postgres(&url).await.unwrap();
            (Db::Postgres { schema, url }, storage)
        }
    }
}

/// PostgreSQL only: end every server session of the storage in `db` (writer and readers), as
/// a server restart or a network cut would. Returns how many were ended.
pub async fn kill_sessions(db: &Db) -> i64 {
    let Db::Postgres { schema, .. } = db else { panic!("kill_sessions is for PostgreSQL") };
    let mut admin = sqlx::PgConnection::connect(&pg_base_url()).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
    )
    .bind(schema)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    n
}

/// Run each named `async fn(Backend)` of this file as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A distinct 64-hex id for `n`.
pub fn hex(n: u64) -> String {
    format!("{n:064x}")
}

/// A 64-hex pubkey made of one repeated letter.
pub fn pk(c: char) -> String {
    c.to_string().repeat(64)
}

/// A signed-looking event (storage does not verify signatures).
pub fn ev(id: u64, pubkey: &str, created_at: u64, kind: u16, tags: &[&[&str]]) -> Event {
    Event {
        id: hex(id),
        pubkey: pubkey.to_string(),
        created_at,
        kind,
        tags: tags.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect(),
        content: format!("event {id}"),
        sig: "0".repeat(128),
    }
}

/// Ids of events, in order.
pub fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

/// Ids for numbers, in order.
pub fn hexes(ns: &[u64]) -> Vec<String> {
    ns.iter().map(|n| hex(*n)).collect()
}

/// A filter with only `tags` set.
pub fn tag_filter(name: char, values: &[&str]) -> Filter {
    let mut f = Filter::default();
    f.tags.insert(name, values.iter().map(|s| s.to_string()).collect());
    f
}
