//! The storage port: what the node needs of a database, as traits each backend implements
//! (after nostr-rs-relay's `NostrRepo`). [`crate::Storage`] is the facade the node holds;
//! behind it sit one [`Repo`] (the read side, a pool) and one [`WriteConn`] driven by the
//! single writer task (the write side: every change is an [`Op`], group-committed).
//!
//! Backends: SQLite (`crate::sqlite`, the embedded default) and PostgreSQL (`crate::pg`).
//! Each owns its SQL and its migrations; both answer every method with the same results,
//! which `tests/contract.rs` checks by running one suite against each.
use std::future::Future;

use protocol::nostr::{Event, Filter};

use crate::{Account, ChannelRecord, LedgerEntry, Op, OpOutcome, PeerRecord, StorageError, SubscriptionRecord};

/// Stored Nostr events (NIP-01).
#[async_trait::async_trait]
pub trait EventStore: Send + Sync {
    /// NIP-01 REQ over stored events: the union of `filters` (deduplicated by id), each
    /// filter keeping its newest `limit` matches (created_at DESC, id ASC), the result sorted
    /// created_at DESC then id ASC, capped at [`crate::MAX_QUERY_EVENTS`]. An empty list in a
    /// filter field matches nothing; `#x` filters match the first value of single-character
    /// tags. All filters see one snapshot.
    async fn query_events(&self, filters: &[Filter]) -> Result<Vec<Event>, StorageError>;

    /// Number of stored events.
    async fn event_count(&self) -> Result<u64, StorageError>;

    /// Every stored event in id order, paged: up to `limit` events with an id above `after`
    /// (64 hex; `None` from the start). For `btpnips db export`.
    async fn events_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Event>, StorageError>;
}

/// Balances per account and their journal (amounts in asset units at the asset scale).
#[async_trait::async_trait]
pub trait LedgerStore: Send + Sync {
    /// All accounts, ordered by id.
    async fn accounts(&self) -> Result<Vec<Account>, StorageError>;

    /// One account, `None` if no ledger entry ever touched it.
    async fn account(&self, id: &str) -> Result<Option<Account>, StorageError>;

    /// The newest `limit` ledger entries of `account`, newest (last applied) first.
    async fn ledger_entries(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>, StorageError>;

    /// The whole journal in the order it was applied, paged: up to `limit` entries after the
    /// one numbered `after_seq` (0 from the start), each with its number.
    async fn journal_after(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, LedgerEntry)>, StorageError>;
}

/// Paid subscriptions, peers, payment channels and settings.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync {
    /// All subscriptions, ordered by (direction, peer, subscription_id).
    async fn subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StorageError>;

    /// All peers, ordered by account id.
    async fn peers(&self) -> Result<Vec<PeerRecord>, StorageError>;

    /// All payment channels, ordered by (peer, direction, channel_id).
    async fn channels(&self) -> Result<Vec<ChannelRecord>, StorageError>;

    /// A meta value, `None` if never set.
    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Every meta value, ordered by key.
    async fn meta_all(&self) -> Result<Vec<(String, String)>, StorageError>;
}

/// The read side of one backend: every store, over a pool of connections.
#[async_trait::async_trait]
pub trait Repo: EventStore + LedgerStore + StateStore + std::fmt::Debug {
    /// Close the pool; later reads fail.
    async fn close(&self);
}

/// The connection of the single writer task, per backend: transaction control, one [`Op`]
/// at a time inside the open transaction, and which errors refuse the data (the submission
/// is rolled back alone) rather than fail the batch (a storage fault).
pub trait WriteConn: Send + Sized + 'static {
    /// How to open a new connection (the writer reconnects after a fault).
    type Options: Send + Sync + 'static;

    /// The statements that open a batch's transaction and its first submission's savepoint
    /// (SQLite `BEGIN IMMEDIATE`: take the write lock now, not at the first write).
    const BEGIN_SAVEPOINT: &'static str;

    /// Open a connection to an already migrated database.
    fn connect(options: &Self::Options) -> impl Future<Output = Result<Self, sqlx::Error>> + Send;

    /// Run transaction-control statements (`RELEASE SAVEPOINT submission; COMMIT`, …), several
    /// in one string, as one round trip.
    fn control(&mut self, sql: &'static str) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Apply one op inside the open transaction.
    fn apply(&mut self, op: &Op) -> impl Future<Output = Result<OpOutcome, StorageError>> + Send;

    /// Store events of regular kinds (NIP-01 §Kinds), in order, inside the open transaction,
    /// in a few statements for the lot: per event the outcome [`WriteConn::apply`] would give
    /// for its [`Op::InsertEvent`] (`Stored`, or `Duplicate` for an id already stored or
    /// earlier in the slice). On `Err` the caller rolls back to its savepoint: the run is
    /// all or nothing.
    fn insert_regular(
        &mut self,
        events: &[&protocol::nostr::Event],
    ) -> impl Future<Output = Result<Vec<crate::InsertOutcome>, StorageError>> + Send;

    /// Close the connection.
    fn close(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Whether a database error refuses the data of one statement and leaves the
    /// transaction usable after `ROLLBACK TO SAVEPOINT` (a constraint, a type mismatch, a
    /// value too big), as opposed to a storage fault.
    fn is_refusal(e: &dyn sqlx::error::DatabaseError) -> bool;
}
