//! Persistent state of a btpnips node: Nostr events, the balance ledger, peers, paid
//! subscriptions and a few settings.
//!
//! - Reads go through [`Storage`] on a pool of read-only connections.
//! - Writes go through the single writer task behind [`WriterHandle`]: submissions
//!   (`Vec<`[`Op`]`>`, each applied atomically) are group-committed, many per transaction,
//!   and each is answered only after its transaction has committed.
//!
//! Units: amounts are integers in the account's asset units at its asset scale; times are
//! unix seconds. Only SQLite is implemented (WAL, synchronous=FULL); the backend stays
//! behind these types so PostgreSQL can be added.
#![warn(missing_docs)]

mod channels;
mod error;
mod events;
mod filter_json;
mod ledger;
mod records;
mod sqlite;
mod status;
mod tables;
mod writer;

use std::path::Path;

use protocol::nostr::{Event, Filter};
use sqlx::sqlite::SqlitePool;
use sqlx::Connection;

pub use error::StorageError;
pub use events::MAX_QUERY_EVENTS;
pub use records::{
    Account, ChannelRecord, DeliveredNewest, Direction, InsertOutcome, LedgerEntry, LedgerOutcome, Op, OpOutcome,
    PeerRecord, SubscriptionRecord, DELIVERED_NEWEST_MAX,
};
pub use status::{ChannelStatus, CloseReason, SubscriptionStatus};
pub use writer::{WriterHandle, WriterStats, MAX_BATCH};

/// A node's database: read queries plus the [`WriterHandle`] for writes. Cheap to clone;
/// all clones share the pool and the writer task.
#[derive(Clone, Debug)]
pub struct Storage {
    read: SqlitePool,
    writer: WriterHandle,
}

impl Storage {
    /// Open the SQLite database at `path`, creating the file (not its directory) if missing,
    /// apply the migrations and spawn the writer task on the current tokio runtime.
    pub async fn open_sqlite(path: &Path) -> Result<Storage, StorageError> {
        let options = sqlite::writer_options(path);
        let conn = sqlite::open_writer_with(&options).await?;
        let read = sqlite::open_readers(path).await?;
        tracing::info!(path = %path.display(), "storage opened");
        Ok(Storage { read, writer: WriterHandle::spawn(conn, options) })
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

    /// NIP-01 REQ over stored events: the union of `filters` (deduplicated by id), each
    /// filter keeping its newest `limit` matches (created_at DESC, id ASC), the result sorted
    /// created_at DESC then id ASC. A filter without `limit`, and the union, are capped at
    /// [`MAX_QUERY_EVENTS`]. An empty list in a filter field matches nothing; `#x` filters
    /// match the first value of single-character tags. All filters see one snapshot.
    ///
    /// Each list value is one bound SQL parameter: a filter with more than ~32 000 values in
    /// total exceeds SQLite's limit and fails with [`StorageError::Database`]; callers should
    /// cap filter sizes on input.
    pub async fn query_events(&self, filters: &[Filter]) -> Result<Vec<Event>, StorageError> {
        let mut conn = self.read.acquire().await?;
        let mut tx = conn.begin().await?;
        let events = events::query(&mut tx, filters).await?;
        tx.commit().await?;
        Ok(events)
    }

    /// Number of stored events.
    pub async fn event_count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&self.read).await?;
        error::to_u64("count", n)
    }

    /// All accounts, ordered by id.
    pub async fn accounts(&self) -> Result<Vec<Account>, StorageError> {
        ledger::accounts(&mut *self.read.acquire().await?).await
    }

    /// One account, `None` if no ledger entry ever touched it.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, StorageError> {
        ledger::account(&mut *self.read.acquire().await?, id).await
    }

    /// The newest `limit` ledger entries of `account`, newest (last applied) first.
    pub async fn ledger_entries(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>, StorageError> {
        ledger::entries(&mut *self.read.acquire().await?, account, limit).await
    }

    /// All subscriptions, ordered by (direction, peer, subscription_id).
    pub async fn subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StorageError> {
        tables::subscriptions(&mut *self.read.acquire().await?).await
    }

    /// All peers, ordered by account id.
    pub async fn peers(&self) -> Result<Vec<PeerRecord>, StorageError> {
        tables::peers(&mut *self.read.acquire().await?).await
    }

    /// All payment channels.
    pub async fn channels(&self) -> Result<Vec<ChannelRecord>, StorageError> {
        channels::list(&mut *self.read.acquire().await?).await
    }

    /// A meta value, `None` if never set.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        tables::meta(&mut *self.read.acquire().await?, key).await
    }
}
