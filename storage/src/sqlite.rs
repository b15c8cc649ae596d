//! The SQLite backend (the embedded default): one read-write connection for the writer
//! (WAL, synchronous=FULL), a read-only pool for the [`Repo`]. Its SQL lives in `events.rs`,
//! `ledger.rs`, `tables.rs` and `channels.rs` (the last three shared with PostgreSQL, as are
//! the op dispatch and the ledger/state reads in `adapter.rs`); its migrations in
//! `migrations/`.
use std::path::Path;
use std::time::Duration;

use protocol::nostr::{Event, Filter};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::port::{EventStore, Repo, WriteConn};
use crate::{error, events, Op, OpOutcome, StorageError};

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

impl WriteConn for SqliteConnection {
    type Options = SqliteConnectOptions;
    const BEGIN_SAVEPOINT: &'static str = "BEGIN IMMEDIATE; SAVEPOINT submission";

    async fn connect(options: &SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        options.connect().await
    }

    async fn control(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *self).await.map(|_| ())
    }

    async fn apply(&mut self, op: &Op) -> Result<OpOutcome, StorageError> {
        crate::adapter::sqlite::apply(self, op).await
    }

    async fn insert_regular(
        &mut self,
        events: &[&protocol::nostr::Event],
    ) -> Result<Vec<crate::InsertOutcome>, StorageError> {
        crate::adapter::sqlite::insert_regular(self, events).await
    }

    async fn close(self) -> Result<(), sqlx::Error> {
        Connection::close(self).await
    }

    /// SQLITE_TOOBIG 18, SQLITE_CONSTRAINT 19, SQLITE_MISMATCH 20 (primary result codes).
    fn is_refusal(e: &dyn sqlx::error::DatabaseError) -> bool {
        let primary = e.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
        matches!(primary, Some(18..=20))
    }
}

/// The SQLite read side: a pool of read-only connections over the node's file.
#[derive(Debug)]
pub(crate) struct SqliteRepo {
    pub(crate) pool: SqlitePool,
}

#[async_trait::async_trait]
impl EventStore for SqliteRepo {
    async fn query_events(&self, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let events = events::query(&mut tx, filters).await?;
        tx.commit().await?;
        Ok(events)
    }

    async fn event_count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&self.pool).await?;
        error::to_u64("count", n)
    }

    async fn events_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Event>, StorageError> {
        let raws: Vec<String> = sqlx::query_scalar("SELECT raw FROM events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        events::parse_stored(raws)
    }
}

#[async_trait::async_trait]
impl Repo for SqliteRepo {
    async fn close(&self) {
        self.pool.close().await;
    }
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
