//! Opening a SQLite database: one read-write connection for the writer, a read-only pool.
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;

use crate::StorageError;

/// How long a connection waits on a locked database before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the read-only pool.
const READERS: u32 = 4;

/// The writer connection's options: the file (created if missing), WAL + synchronous=FULL +
/// foreign keys + busy timeout. The writer task reconnects with the same options after a
/// storage fault.
pub(crate) fn writer_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
}

/// Connect with `options` and run the migrations. Returns the writer's connection.
pub(crate) async fn open_writer_with(options: &SqliteConnectOptions) -> Result<SqliteConnection, StorageError> {
    let mut conn = options.connect().await?;
    sqlx::migrate!("./migrations").run(&mut conn).await?;
    Ok(conn)
}

/// [`open_writer_with`] the default [`writer_options`] for `path`.
#[cfg(test)]
pub(crate) async fn open_writer(path: &Path) -> Result<SqliteConnection, StorageError> {
    open_writer_with(&writer_options(path)).await
}

/// The read-only pool over an existing (already migrated) file.
pub(crate) async fn open_readers(path: &Path) -> Result<SqlitePool, StorageError> {
    let options =
        SqliteConnectOptions::new().filename(path).read_only(true).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
    Ok(SqlitePoolOptions::new().max_connections(READERS).connect_with(options).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writer_is_wal_full_with_foreign_keys_and_readers_are_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut conn = open_writer(&path).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut conn).await.unwrap();
        assert_eq!(sync, 2, "synchronous must be FULL");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut conn).await.unwrap();
        assert_eq!(fk, 1);
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut conn).await.unwrap();
        assert_eq!(busy, 10_000);

        let readers = open_readers(&path).await.unwrap();
        let write = sqlx::query("INSERT INTO meta (key, value) VALUES ('k', 'v')").execute(&readers).await;
        assert!(write.is_err(), "reader pool accepted a write");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM meta").fetch_one(&readers).await.unwrap();
        assert_eq!(n, 0);
    }
}
