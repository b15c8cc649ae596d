//! What both adapters do the same way but for the backend, written once: applying an [`Op`]
//! inside the writer's transaction, and the ledger and state reads of the [`Repo`].
//! (Events differ: each backend's `events` module has its own insert and query SQL.)
use crate::port::{LedgerStore, StateStore};
use crate::{
    Account, ChannelRecord, InsertOutcome, LedgerEntry, Op, OpOutcome, PeerRecord, StorageError, SubscriptionRecord,
};

crate::backends::for_each_backend! {
    /// Apply one op inside the writer's open transaction.
    pub(crate) async fn apply(conn: &mut Conn, op: &Op) -> Result<OpOutcome, StorageError> {
        Ok(match op {
            Op::InsertEvent(e) => OpOutcome::Event(backend::events::insert(conn, e).await?),
            Op::Ledger(entry) => OpOutcome::Ledger(backend::ledger::apply(conn, entry).await?),
            Op::UpsertSubscription(s) => {
                backend::tables::upsert_subscription(conn, s).await?;
                OpOutcome::Done
            }
            Op::DeleteSubscription { direction, peer, subscription_id } => {
                backend::tables::delete_subscription(conn, *direction, peer, subscription_id).await?;
                OpOutcome::Done
            }
            Op::UpsertPeer(p) => {
                backend::tables::upsert_peer(conn, p).await?;
                OpOutcome::Done
            }
            Op::UpsertChannel(c) => {
                backend::channels::upsert(conn, c).await?;
                OpOutcome::Done
            }
            Op::SetMeta { key, value } => {
                backend::tables::set_meta(conn, key, value).await?;
                OpOutcome::Done
            }
        })
    }

    /// Store a run of events of regular kinds (NIP-01 §Kinds) in a few statements for the lot
    /// (the backend's `events::insert_new`), with the outcome per event that [`apply`] would
    /// give one by one: `Stored`, or `Duplicate` for an id already stored or earlier in the run.
    /// Errors as [`apply`]'s; nothing of the run is kept once the caller rolls back.
    pub(crate) async fn insert_regular(
        conn: &mut Conn,
        events: &[&protocol::nostr::Event],
    ) -> Result<Vec<InsertOutcome>, StorageError> {
        let mut seen = std::collections::HashSet::with_capacity(events.len());
        let mut unique = Vec::with_capacity(events.len());
        let first: Vec<bool> = events
            .iter()
            .map(|e| {
                let first = seen.insert(e.id.as_str());
                if first {
                    unique.push(*e);
                }
                first
            })
            .collect();
        let mut stored = backend::events::insert_new(conn, &unique).await?.into_iter();
        Ok(first
            .into_iter()
            .map(|first| if first && stored.next() == Some(true) { InsertOutcome::Stored } else { InsertOutcome::Duplicate })
            .collect())
    }

    #[async_trait::async_trait]
    impl LedgerStore for Repo {
        async fn accounts(&self) -> Result<Vec<Account>, StorageError> {
            backend::ledger::accounts(&mut *self.pool.acquire().await?).await
        }

        async fn account(&self, id: &str) -> Result<Option<Account>, StorageError> {
            backend::ledger::account(&mut *self.pool.acquire().await?, id).await
        }

        async fn ledger_entries(&self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>, StorageError> {
            backend::ledger::entries(&mut *self.pool.acquire().await?, account, limit).await
        }

        async fn journal_after(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, LedgerEntry)>, StorageError> {
            backend::ledger::journal_after(&mut *self.pool.acquire().await?, after_seq, limit).await
        }
    }

    #[async_trait::async_trait]
    impl StateStore for Repo {
        async fn subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StorageError> {
            backend::tables::subscriptions(&mut *self.pool.acquire().await?).await
        }

        async fn peers(&self) -> Result<Vec<PeerRecord>, StorageError> {
            backend::tables::peers(&mut *self.pool.acquire().await?).await
        }

        async fn channels(&self) -> Result<Vec<ChannelRecord>, StorageError> {
            backend::channels::list(&mut *self.pool.acquire().await?).await
        }

        async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
            backend::tables::meta(&mut *self.pool.acquire().await?, key).await
        }

        async fn meta_all(&self) -> Result<Vec<(String, String)>, StorageError> {
            backend::tables::meta_all(&mut *self.pool.acquire().await?).await
        }
    }
}
