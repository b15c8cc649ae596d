//! The PostgreSQL backend, for larger nodes: one connection for the writer task, a pool for
//! the [`Repo`]. Its events SQL lives in `events.rs` (BYTEA ids, tag table with
//! `(name, value, created_at)`), the keyed tables share SQLite's SQL and the op dispatch and
//! ledger/state reads are shared too (`crate::backends`, `crate::adapter`); its migrations
//! are `migrations_pg/`.
//!
//! Durability: a batch is answered after its `COMMIT` returned, which with PostgreSQL's
//! default `synchronous_commit = on` means the commit record is flushed to the WAL.
pub(crate) mod events;

use protocol::nostr::{Event, Filter};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::port::{EventStore, Repo, WriteConn};
use crate::{error, Op, OpOutcome, StorageError};

/// Connections in the read pool.
const READERS: u32 = 4;

/// Connect the writer with `options` and run the migrations. Returns the writer's connection.
pub(crate) async fn open_writer_with(options: &PgConnectOptions) -> Result<PgConnection, StorageError> {
    let mut conn = options.connect().await?;
    sqlx::migrate!("./migrations_pg").run(&mut conn).await?;
    Ok(conn)
}

/// The read pool.
pub(crate) async fn open_readers(options: &PgConnectOptions) -> Result<PgPool, StorageError> {
    Ok(PgPoolOptions::new().max_connections(READERS).connect_with(options.clone()).await?)
}

impl WriteConn for PgConnection {
    type Options = PgConnectOptions;
    const BEGIN_SAVEPOINT: &'static str = "BEGIN; SAVEPOINT submission";

    async fn connect(options: &PgConnectOptions) -> Result<Self, sqlx::Error> {
        options.connect().await
    }

    async fn control(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *self).await.map(|_| ())
    }

    async fn apply(&mut self, op: &Op) -> Result<OpOutcome, StorageError> {
        crate::adapter::pg::apply(self, op).await
    }

    async fn insert_regular(
        &mut self,
        events: &[&protocol::nostr::Event],
    ) -> Result<Vec<crate::InsertOutcome>, StorageError> {
        crate::adapter::pg::insert_regular(self, events).await
    }

    async fn close(self) -> Result<(), sqlx::Error> {
        Connection::close(self).await
    }

    /// SQLSTATE classes 22 (data exception: out of range, too long, bad encoding) and 23
    /// (integrity constraint violation): the statement failed, the transaction survives a
    /// `ROLLBACK TO SAVEPOINT`. Everything else (53 insufficient resources such as 53100
    /// disk full, 08 connection, 57 shutdown, 40 rollback, …) is a storage fault.
    fn is_refusal(e: &dyn sqlx::error::DatabaseError) -> bool {
        e.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23"))
    }
}

/// The PostgreSQL read side: a pool over the node's database (or schema).
#[derive(Debug)]
pub(crate) struct PgRepo {
    pub(crate) pool: PgPool,
}

#[async_trait::async_trait]
impl EventStore for PgRepo {
    async fn query_events(&self, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
        let mut tx = self.pool.begin().await?;
        // One snapshot for every filter of the REQ.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let events = events::query(&mut tx, filters).await?;
        tx.commit().await?;
        Ok(events)
    }

    async fn event_count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&self.pool).await?;
        error::to_u64("count", n)
    }

    async fn events_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Event>, StorageError> {
        let after = match after {
            Some(id) => hex::decode(id).map_err(|e| StorageError::Corrupt(format!("export cursor {id:?}: {e}")))?,
            None => Vec::new(),
        };
        let raws: Vec<String> = sqlx::query_scalar("SELECT raw FROM events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        crate::events::parse_stored(raws)
    }
}

#[async_trait::async_trait]
impl Repo for PgRepo {
    async fn close(&self) {
        self.pool.close().await;
    }
}
