//! Ledger, subscriptions, peers and meta on a real SQLite file.
mod common;

use std::collections::BTreeMap;

use common::*;
use protocol::nostr::Filter;
use serde_json::json;
use storage::{
    ChannelStatus, CloseReason, Direction, LedgerEntry, LedgerOutcome, Op, OpOutcome, PeerRecord, Storage,
    StorageError, SubscriptionRecord, SubscriptionStatus,
};

fn entry(account: &str, delta: i64, reference: &str, at: u64) -> LedgerEntry {
    LedgerEntry {
        account: account.into(),
        asset_code: "USD".into(),
        asset_scale: 6,
        delta,
        reference: reference.into(),
        memo: format!("memo {reference}"),
        created_at: at,
    }
}

async fn ledger(s: &Storage, e: LedgerEntry) -> Result<LedgerOutcome, StorageError> {
    match s.writer().submit(vec![Op::Ledger(e)]).await?.as_slice() {
        [OpOutcome::Ledger(o)] => Ok(*o),
        other => panic!("{other:?}"),
    }
}

async fn ledger_is_idempotent_and_durable(b: Backend) {
    let (db, s) = open(b).await;
    assert!(s.account("peer1").await.unwrap().is_none());
    assert_eq!(ledger(&s, entry("peer1", 100, "a", 10)).await.unwrap(), LedgerOutcome::Applied { balance: 100 });
    assert_eq!(ledger(&s, entry("peer1", 100, "a", 11)).await.unwrap(), LedgerOutcome::Duplicate { balance: 100 });
    assert_eq!(ledger(&s, entry("peer1", -30, "b", 12)).await.unwrap(), LedgerOutcome::Applied { balance: 70 });
    assert_eq!(ledger(&s, entry("peer1", -100, "c", 11)).await.unwrap(), LedgerOutcome::Applied { balance: -30 });
    // The same reference on another account is another entry.
    assert_eq!(ledger(&s, entry("peer2", 5, "a", 1)).await.unwrap(), LedgerOutcome::Applied { balance: 5 });
    // Both in one submission: the second is a duplicate of the first.
    let out = s
        .writer()
        .submit(vec![Op::Ledger(entry("peer2", 1, "z", 2)), Op::Ledger(entry("peer2", 1, "z", 2))])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            OpOutcome::Ledger(LedgerOutcome::Applied { balance: 6 }),
            OpOutcome::Ledger(LedgerOutcome::Duplicate { balance: 6 })
        ]
    );

    drop(s);
    let s = db.reopen().await;
    let a = s.account("peer1").await.unwrap().unwrap();
    assert_eq!(
        a,
        storage::Account { id: "peer1".into(), asset_code: "USD".into(), asset_scale: 6, balance: -30, updated_at: 12 }
    );
    assert_eq!(ledger(&s, entry("peer1", 100, "a", 20)).await.unwrap(), LedgerOutcome::Duplicate { balance: -30 });
    let accounts = s.accounts().await.unwrap();
    assert_eq!(
        accounts.iter().map(|a| (a.id.as_str(), a.balance)).collect::<Vec<_>>(),
        vec![("peer1", -30), ("peer2", 6)]
    );

    let entries = s.ledger_entries("peer1", 10).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.reference.as_str()).collect::<Vec<_>>(), vec!["c", "b", "a"]);
    assert_eq!(entries[2], entry("peer1", 100, "a", 10));
    assert_eq!(s.ledger_entries("peer1", 1).await.unwrap().len(), 1);
    assert!(s.ledger_entries("nobody", 10).await.unwrap().is_empty());
}

async fn ledger_rejects_asset_mismatch_and_overflow(b: Backend) {
    let (_d, s) = open(b).await;
    ledger(&s, entry("p", i64::MAX, "a", 1)).await.unwrap();
    let err = ledger(&s, entry("p", 1, "b", 1)).await.unwrap_err();
    assert!(matches!(err, StorageError::BalanceOverflow { .. }), "{err}");
    let mut eur = entry("p", 1, "c", 1);
    eur.asset_code = "EUR".into();
    let err = ledger(&s, eur).await.unwrap_err();
    assert!(matches!(err, StorageError::AssetMismatch { .. }), "{err}");
    let mut scale = entry("p", 1, "d", 1);
    scale.asset_scale = 2;
    assert!(ledger(&s, scale).await.is_err());
    assert_eq!(s.account("p").await.unwrap().unwrap().balance, i64::MAX);
    assert_eq!(s.ledger_entries("p", 10).await.unwrap().len(), 1);
}

fn sub(direction: Direction, peer: &str, id: &str) -> SubscriptionRecord {
    let mut f = Filter {
        kinds: Some(vec![1, 30023]),
        authors: Some(vec![pk('a')]),
        since: Some(5),
        limit: Some(10),
        ..Filter::default()
    };
    f.tags.insert('e', vec!["x".into()]);
    SubscriptionRecord {
        direction,
        peer: peer.into(),
        subscription_id: id.into(),
        filters: vec![f, Filter { ids: Some(vec![]), ..Filter::default() }],
        stream_id: 3,
        amount_paid: 1_000,
        events_delivered: 7,
        paid_until: 1_700_000_000,
        periods_paid: 1,
        status: SubscriptionStatus::Active,
        revision: 1,
        created_at: 1_600_000_000,
        updated_at: 1_600_000_001,
        delivered_newest: Some(storage::DeliveredNewest { created_at: 5, ids: vec![pk('b')] }),
    }
}

async fn subscriptions_round_trip(b: Backend) {
    let (db, s) = open(b).await;
    let a = sub(Direction::Outbound, "p1", "s1");
    let b = sub(Direction::Inbound, "p1", "s1");
    let c = sub(Direction::Inbound, "p0", "s9");
    let ops =
        vec![Op::UpsertSubscription(a.clone()), Op::UpsertSubscription(b.clone()), Op::UpsertSubscription(c.clone())];
    assert_eq!(s.writer().submit(ops).await.unwrap(), vec![OpOutcome::Done; 3]);
    assert_eq!(s.subscriptions().await.unwrap(), vec![c.clone(), b.clone(), a.clone()]);

    // An upsert with a revision not above the stored one changes nothing.
    let mut stale = b.clone();
    stale.amount_paid = 1;
    s.writer().submit(vec![Op::UpsertSubscription(stale)]).await.unwrap();
    assert_eq!(s.subscriptions().await.unwrap()[1], b);

    // Upsert with a higher revision replaces every field of the keyed row.
    let mut b2 = b.clone();
    b2.revision = 2;
    b2.periods_paid = 2;
    b2.amount_paid = 2_000;
    b2.events_delivered = 8;
    b2.status = SubscriptionStatus::Closed(CloseReason::Subscriber);
    b2.filters = vec![Filter::default()];
    s.writer().submit(vec![Op::UpsertSubscription(b2.clone())]).await.unwrap();
    let del =
        Op::DeleteSubscription { direction: Direction::Outbound, peer: "p1".into(), subscription_id: "s1".into() };
    s.writer().submit(vec![del.clone()]).await.unwrap();
    s.writer().submit(vec![del]).await.unwrap(); // deleting twice is fine

    drop(s);
    let s = db.reopen().await;
    assert_eq!(s.subscriptions().await.unwrap(), vec![c, b2]);
    let big = SubscriptionRecord { amount_paid: u64::MAX, ..a };
    let err = s.writer().submit(vec![Op::UpsertSubscription(big)]).await.unwrap_err();
    assert!(matches!(err, StorageError::OutOfRange { field: "amount_paid", .. }), "{err}");
}

async fn peers_round_trip(b: Backend) {
    let (_d, s) = open(b).await;
    let p1 = PeerRecord {
        account_id: "p1".into(),
        pubkey: pk('1'),
        ilp_address: "g.node.p1".into(),
        url: Some("ws://127.0.0.1:7768".into()),
        asset_code: "USD".into(),
        asset_scale: 9,
        prices: json!({"subscription": 1000, "event": 10}),
        last_seen: 42,
    };
    let p0 = PeerRecord { account_id: "p0".into(), url: None, prices: json!(null), ..p1.clone() };
    s.writer().submit(vec![Op::UpsertPeer(p1.clone()), Op::UpsertPeer(p0.clone())]).await.unwrap();
    assert_eq!(s.peers().await.unwrap(), vec![p0.clone(), p1.clone()]);
    let p1b = PeerRecord { url: None, last_seen: 43, prices: json!({"event": 11}), ..p1 };
    s.writer().submit(vec![Op::UpsertPeer(p1b.clone())]).await.unwrap();
    assert_eq!(s.peers().await.unwrap(), vec![p0, p1b]);
}

async fn meta_set_and_overwrite(b: Backend) {
    let (_d, s) = open(b).await;
    assert_eq!(s.meta("k").await.unwrap(), None);
    s.writer().submit(vec![Op::SetMeta { key: "k".into(), value: "1".into() }]).await.unwrap();
    s.writer().submit(vec![Op::SetMeta { key: "k".into(), value: "2".into() }]).await.unwrap();
    assert_eq!(s.meta("k").await.unwrap().as_deref(), Some("2"));
}

#[test]
fn records_serialize_for_status_json() {
    let v = serde_json::to_value(sub(Direction::Inbound, "p", "s")).unwrap();
    assert_eq!(v["direction"], "inbound");
    assert_eq!(v["status"], "active");
    assert_eq!(v["filters"][0]["#e"], json!(["x"]));
    assert_eq!(v["filters"][0]["kinds"], json!([1, 30023]));
    assert_eq!(v["filters"][1], json!({"ids": []}));
    let d: Direction = serde_json::from_str("\"outbound\"").unwrap();
    assert_eq!(d, Direction::Outbound);
    let _ = BTreeMap::<u8, u8>::new();
}

/// Statuses are stored as their text; text this build does not know (an older database) reads
/// back as `Other` and is kept.
async fn subscription_statuses_round_trip_through_the_database(b: Backend) {
    let (db, s) = open(b).await;
    let statuses = [
        SubscriptionStatus::Resuming(Some("no route to the publisher".into())),
        SubscriptionStatus::Closed(CloseReason::Peer("F99 rate-limited: slow down".into())),
        SubscriptionStatus::Closed(CloseReason::UnpaidOverCredit),
        SubscriptionStatus::Other("paused by an older build".into()),
    ];
    let ops = statuses
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mut r = sub(Direction::Outbound, "p", &format!("s{i}"));
            r.status = st.clone();
            Op::UpsertSubscription(r)
        })
        .collect();
    s.writer().submit(ops).await.unwrap();
    drop(s);
    let s = db.reopen().await;
    let read: Vec<SubscriptionStatus> = s.subscriptions().await.unwrap().into_iter().map(|r| r.status).collect();
    assert_eq!(read, statuses);
}

async fn channels_round_trip_and_never_roll_back(b: Backend) {
    let (db, s) = open(b).await;
    let c = storage::ChannelRecord {
        peer: "p1".into(),
        direction: Direction::Inbound,
        channel_id: format!("0x{}", "ab".repeat(32)),
        chain_id: 31337,
        contract: "0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
        sender: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8".into(),
        recipient: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".into(),
        deposit: "1000000000000000000".into(),
        expiry: 1_900_000_000,
        claimed: "30000000000000".into(),
        signature: Some(format!("0x{}", "11".repeat(65))),
        status: ChannelStatus::Open,
        revision: 2,
        updated_at: 1_700_000_000,
    };
    s.writer().submit(vec![Op::UpsertChannel(c.clone())]).await.unwrap();
    let mut stale = c.clone();
    stale.revision = 1;
    stale.claimed = "1".into();
    s.writer().submit(vec![Op::UpsertChannel(stale)]).await.unwrap();
    drop(s);
    let s = db.reopen().await;
    assert_eq!(s.channels().await.unwrap(), vec![c]);
}

contract!(
    ledger_is_idempotent_and_durable,
    ledger_rejects_asset_mismatch_and_overflow,
    subscriptions_round_trip,
    peers_round_trip,
    meta_set_and_overwrite,
    subscription_statuses_round_trip_through_the_database,
    channels_round_trip_and_never_roll_back,
);
