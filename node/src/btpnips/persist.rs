//! Subscription records written outside a packet's commit (delivery progress, payments made,
//! status changes): at most one write in flight per subscription, and the newest record
//! waiting for it written next. Under a burst this writes a subscription's progress once per
//! commit of the writer instead of once per delivered batch; nothing is lost, because the
//! storage keeps the highest revision of a record and a later record holds everything an
//! earlier one did.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use storage::{Direction, Op, SubscriptionRecord, WriterHandle};

type Key = (Direction, String, String);

/// The subscriptions with a write in flight, each with the newest record waiting behind it.
#[derive(Default)]
pub(crate) struct Persister {
    slots: Mutex<HashMap<Key, Option<SubscriptionRecord>>>,
}

impl Persister {
    /// Write `record` through `writer` soon (fire and forget; a failed write is logged). If a
    /// write of the same subscription is in flight, `record` waits behind it, replacing a
    /// waiting one with a lower or equal revision (an older one is dropped), and goes out
    /// when that write is answered.
    pub(crate) fn persist(self: &Arc<Self>, writer: &WriterHandle, record: SubscriptionRecord) {
        let key = (record.direction, record.peer.clone(), record.subscription_id.clone());
        {
            let mut slots = self.slots.lock().expect("poisoned");
            match slots.get_mut(&key) {
                Some(waiting) => {
                    if waiting.as_ref().is_none_or(|w| w.revision <= record.revision) {
                        *waiting = Some(record);
                    }
                    return;
                }
                None => {
                    slots.insert(key.clone(), None);
                }
            }
        }
        let (this, writer) = (self.clone(), writer.clone());
        tokio::spawn(async move {
            let mut next = Some(record);
            while let Some(record) = next.take() {
                if let Err(e) = writer.submit(vec![Op::UpsertSubscription(record)]).await {
                    tracing::error!(error = %e, "could not persist subscription");
                }
                let mut slots = this.slots.lock().expect("poisoned");
                match slots.get_mut(&key).and_then(Option::take) {
                    Some(waiting) => next = Some(waiting),
                    None => {
                        slots.remove(&key);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::SubscriptionStatus;

    fn record(revision: u64) -> SubscriptionRecord {
        SubscriptionRecord {
            direction: Direction::Inbound,
            peer: "ab".repeat(32),
            subscription_id: "sub".into(),
            filters: vec![],
            stream_id: 1,
            amount_paid: 0,
            events_delivered: revision,
            paid_until: 0,
            periods_paid: 1,
            status: SubscriptionStatus::Active,
            revision,
            created_at: 1,
            updated_at: 1,
            delivered_newest: None,
        }
    }

    /// Records of one subscription in a burst: fewer writes than records, the newest stored,
    /// and nothing left in flight afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_records_is_written_coalesced_and_the_newest_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage::Storage::open_sqlite(&dir.path().join("db.sqlite")).await.unwrap();
        let persister = Arc::new(Persister::default());
        for revision in 1..=500 {
            persister.persist(storage.writer(), record(revision));
        }
        let stored = loop {
            let idle = persister.slots.lock().unwrap().is_empty();
            let subs = storage.subscriptions().await.unwrap();
            match subs.first() {
                Some(r) if idle => break r.clone(),
                _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        };
        assert_eq!((stored.revision, stored.events_delivered), (500, 500));
        let writes = storage.writer().stats().submissions;
        assert!(writes < 500, "{writes} writes for 500 records");
    }
}
