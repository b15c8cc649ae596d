//! Persistent state of a btpnips node: Nostr events, the balance ledger, peers, paid
//! subscriptions and a few settings.
//!
//! - Reads go through [`Storage`] on a pool of read-only connections.
//! - Writes go through the single writer task behind [`WriterHandle`]: submissions
//!   (`Vec<`[`Op`]`>`, each applied atomically) are group-committed, many per transaction,
//!   and each is answered only after its transaction has committed.
//!
//! Units: amounts are integers in the account's asset units at its asset scale; times are
//! unix seconds. Backends ([`Repo`] and the writer's connection, `port.rs`): SQLite, the
//! embedded default (WAL, synchronous=FULL), and PostgreSQL for larger nodes.
#![warn(missing_docs)]

mod adapter;
mod backends;
mod channels;
mod error;
mod events;
mod filter_json;
mod ledger;
mod pg;
mod port;
mod records;
mod sqlite;
mod status;
mod tables;
mod transfer;
mod writer;

use std::path::Path;
use std::sync::Arc;

use protocol::nostr::{Event, Filter};

pub use error::StorageError;
pub use events::MAX_QUERY_EVENTS;
pub use port::{EventStore, LedgerStore, Repo, StateStore};
pub use records::{
    Account, ChannelRecord, DeliveredNewest, Direction, InsertOutcome, LedgerEntry, LedgerOutcome, Op, OpOutcome,
    PeerRecord, SubscriptionRecord, DELIVERED_NEWEST_MAX,
};
pub use status::{ChannelStatus, CloseReason, SubscriptionStatus};
pub use transfer::{Counts, Record, Summary};
pub use writer::{WriterHandle, WriterStats, MAX_BATCH};

/// A node's database: read queries (a [`Repo`] of the backend) plus the [`WriterHandle`]
/// for writes. Cheap to clone; all clones share the pool and the writer task.
#[derive(Clone, Debug)]
pub struct Storage {
    read: Arc<dyn Repo>,
    writer: WriterHandle,
}

impl Storage {
    /// Open the SQLite database at `path`, creating the file (not its directory) if missing,
    /// apply the migrations and spawn the writer task on the current tokio runtime.
    pub async fn open_sqlite(path: &Path) -> Result<Storage, StorageError> {
        let options = sqlite::writer_options(path);
        let conn = sqlite::open_writer_with(&options).await?;
        let pool = sqlite::open_readers(path).await?;
        tracing::info!(path = %path.display(), "storage opened (SQLite)");
        Ok(Storage { read: Arc::new(sqlite::SqliteRepo { pool }), writer: WriterHandle::spawn(conn, options) })
    }

    /// Open the PostgreSQL database at `url` (`postgres://user@host:port/db`; a schema other
    /// than `public` with `?options=-c%20search_path%3D<schema>`), apply the migrations and
    /// spawn the writer task. The database (and schema) must exist.
    pub async fn open_postgres(url: &str) -> Result<Storage, StorageError> {
        let options: sqlx::postgres::PgConnectOptions = url.parse()?;
        let conn = pg::open_writer_with(&options).await?;
        let pool = pg::open_readers(&options).await?;
        tracing::info!(host = options.get_host(), database = ?options.get_database(), "storage opened (PostgreSQL)");
        Ok(Storage { read: Arc::new(pg::PgRepo { pool }), writer: WriterHandle::spawn(conn, options) })
    }

    /// Open the database `database_url` names: `postgres://…` (or `postgresql://…`) for
    /// PostgreSQL, `sqlite://<path>` for a SQLite file, or, without a URL, the SQLite file at
    /// `default_sqlite`. Errors: [`StorageError::UnsupportedUrl`] for any other scheme.
    pub async fn open(database_url: Option<&str>, default_sqlite: &Path) -> Result<Storage, StorageError> {
        match database_url {
            None => Storage::open_sqlite(default_sqlite).await,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Storage::open_postgres(url).await
            }
            Some(url) if url.starts_with("sqlite://") => {
                let path = url.trim_start_matches("sqlite://");
                Storage::open_sqlite(Path::new(path.split('?').next().unwrap_or(path))).await
            }
            Some(url) => Err(StorageError::UnsupportedUrl(url.split(':').next().unwrap_or("").to_string())),
        }
    }

    /// The handle for writes.
    pub fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    /// Close: finish queued writes, stop the writer and close the read pool. Every clone is
    /// affected; later calls fail.
    pub async fn close(&self) {
        self.writer.close().await;
        self.read.close().await;
    }

    /// NIP-01 REQ over stored events ([`EventStore::query_events`]): the union of `filters`
    /// (deduplicated by id), each filter keeping its newest `limit` matches (created_at DESC,
    /// id ASC), the result sorted created_at DESC then id ASC. A filter without `limit`, and
    /// the union, are capped at [`MAX_QUERY_EVENTS`]. An empty list in a filter field matches
    /// nothing; `#x` filters match the first value of single-character tags. All filters see
    /// one snapshot.
    ///
    /// Each list value is one bound SQL parameter: a filter with more than ~32 000 values in
    /// total exceeds SQLite's limit and fails with [`StorageError::Database`]; callers should
    /// cap filter sizes on input.
    pub async fn query_events(&self, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
        self.read.query_events(filters).await
    }

    /// Number of stored events.
    pub async fn event_count(&self) -> Result<u64, StorageError> {
        self.read.event_count().await
    }

    /// All accounts, ordered by id.
    pub async fn accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.read.accounts().await
    }

    /// One account, `None` if no ledger entry ever touched it.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, StorageError> {
        self.read.account(id).await
    }

    /// The newest `limit` ledger entries of `account`, newest (last applied) first.
    pub async fn ledger_entries(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>, StorageError> {
        self.read.ledger_entries(account, limit).await
    }

    /// All subscriptions, ordered by (direction, peer, subscription_id).
    pub async fn subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StorageError> {
        self.read.subscriptions().await
    }

    /// All peers, ordered by account id.
    pub async fn peers(&self) -> Result<Vec<PeerRecord>, StorageError> {
        self.read.peers().await
    }

    /// All payment channels.
    pub async fn channels(&self) -> Result<Vec<ChannelRecord>, StorageError> {
        self.read.channels().await
    }

    /// A meta value, `None` if never set.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.read.meta(key).await
    }
}
