//! Group commit, durability across reopen, close.
mod common;

use common::*;
use protocol::nostr::Filter;
use storage::{InsertOutcome, Op, StorageError};
use tokio::task::JoinSet;

async fn two_hundred_concurrent_inserts_group_commit_and_survive_reopen(b: Backend) {
    let (db, s) = open(b).await;
    let mut tasks = JoinSet::new();
    for i in 0..200u64 {
        let w = s.writer().clone();
        tasks.spawn(async move { w.insert_event(ev(i, &pk('a'), 1000 + i, 1, &[&["t", "load"]])).await });
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), InsertOutcome::Stored);
        stored += 1;
    }
    assert_eq!(stored, 200);
    let stats = s.writer().stats();
    println!("200 concurrent insert_event calls: {stats:?}");
    assert_eq!(stats.submissions, 200);
    assert!(stats.batches < stats.submissions, "no group commit: {stats:?}");

    drop(s);
    let s = db.reopen().await;
    assert_eq!(s.event_count().await.unwrap(), 200);
    let all = s.query_events(&[tag_filter('t', &["load"])]).await.unwrap();
    assert_eq!(all.len(), 200);
    assert_eq!(all[0].id, hex(199));
}

async fn submit_returns_one_outcome_per_op_in_order(b: Backend) {
    let (_d, s) = open(b).await;
    let out = s
        .writer()
        .submit(vec![
            Op::InsertEvent(ev(1, &pk('a'), 1, 1, &[])),
            Op::SetMeta { key: "k".into(), value: "v".into() },
            Op::InsertEvent(ev(1, &pk('a'), 1, 1, &[])),
            Op::InsertEvent(ev(2, &pk('a'), 1, 20001, &[])),
        ])
        .await
        .unwrap();
    use storage::OpOutcome::*;
    assert_eq!(
        out,
        vec![Event(InsertOutcome::Stored), Done, Event(InsertOutcome::Duplicate), Event(InsertOutcome::Ephemeral)]
    );
    assert!(s.writer().submit(vec![]).await.unwrap().is_empty());
}

async fn failing_submission_is_atomic_and_others_commit(b: Backend) {
    let (_d, s) = open(b).await;
    let w = s.writer();
    let entry = |account: &str, code: &str, reference: &str| storage::LedgerEntry {
        account: account.into(),
        asset_code: code.into(),
        asset_scale: 9,
        delta: 5,
        reference: reference.into(),
        memo: String::new(),
        created_at: 1,
    };
    w.submit(vec![Op::Ledger(entry("alice", "USD", "r0"))]).await.unwrap();
    // Event + new account, then a mismatching entry: the whole submission is undone.
    let mut set = JoinSet::new();
    for i in 0..20u64 {
        let w = w.clone();
        set.spawn(async move { (i, w.insert_event(ev(i, &pk('a'), i, 1, &[])).await.map(|_| ())) });
    }
    let bad = {
        let w = w.clone();
        let ops = vec![
            Op::InsertEvent(ev(100, &pk('b'), 1, 1, &[])),
            Op::Ledger(entry("bob", "USD", "r1")),
            Op::Ledger(entry("alice", "EUR", "r2")),
        ];
        tokio::spawn(async move { w.submit(ops).await })
    };
    while let Some(r) = set.join_next().await {
        let (i, r) = r.unwrap();
        r.unwrap_or_else(|e| panic!("submission {i}: {e}"));
    }
    let err = bad.await.unwrap().unwrap_err();
    assert!(matches!(err, StorageError::AssetMismatch { .. }), "{err}");
    assert_eq!(s.event_count().await.unwrap(), 20);
    assert!(s.account("bob").await.unwrap().is_none());
    assert_eq!(s.account("alice").await.unwrap().unwrap().balance, 5);
    let f = Filter { authors: Some(vec![pk('b')]), ..Filter::default() };
    assert!(s.query_events(&[f]).await.unwrap().is_empty());
}

/// Submissions that only store events of regular kinds are stored together (one multi-row
/// insert per batch): each still gets its own outcome, an id already stored or repeated is a
/// Duplicate, tags are indexed, and a submission the data refuses fails alone while the rest
/// of its batch is stored.
async fn grouped_regular_events_keep_their_own_outcomes_and_refusals(b: Backend) {
    let (_d, s) = open(b).await;
    let w = s.writer();
    assert_eq!(w.insert_event(ev(1, &pk('a'), 1, 1, &[])).await.unwrap(), InsertOutcome::Stored);
    let before = w.stats();
    let mut set = JoinSet::new();
    for i in 0..60u64 {
        let w = w.clone();
        let event = match i {
            // Twice the same new id, an id stored before, one the database cannot hold.
            50 | 51 => ev(500, &pk('b'), 5, 1, &[&["e", &hex(7)]]),
            52 => ev(1, &pk('a'), 1, 1, &[]),
            53 => ev(530, &pk('b'), u64::MAX, 1, &[]),
            _ => ev(100 + i, &pk('b'), 10 + i, 1, &[&["t", "group"], &["p", &pk('c')]]),
        };
        set.spawn(async move { (i, w.insert_event(event).await) });
    }
    // One submission of several events, one of them twice.
    let several = w
        .submit(vec![
            Op::InsertEvent(ev(600, &pk('b'), 6, 1, &[&["t", "group"]])),
            Op::InsertEvent(ev(601, &pk('b'), 6, 1, &[])),
            Op::InsertEvent(ev(600, &pk('b'), 6, 1, &[&["t", "group"]])),
        ])
        .await
        .unwrap();
    use storage::OpOutcome::Event as E;
    assert_eq!(several, vec![E(InsertOutcome::Stored), E(InsertOutcome::Stored), E(InsertOutcome::Duplicate)]);
    let mut twins = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            (50 | 51, r) => twins.push(r.unwrap()),
            (52, r) => assert_eq!(r.unwrap(), InsertOutcome::Duplicate),
            (53, r) => assert!(matches!(r, Err(StorageError::OutOfRange { .. })), "{r:?}"),
            (i, r) => assert_eq!(r.unwrap(), InsertOutcome::Stored, "event {i}"),
        }
    }
    twins.sort_by_key(|o| *o != InsertOutcome::Stored);
    assert_eq!(twins, vec![InsertOutcome::Stored, InsertOutcome::Duplicate]);
    // 1 + 56 + the twin + 2 of the several.
    assert_eq!(s.event_count().await.unwrap(), 60);
    assert_eq!(s.query_events(&[tag_filter('t', &["group"])]).await.unwrap().len(), 57);
    assert_eq!(s.query_events(&[tag_filter('p', &[&pk('c')])]).await.unwrap().len(), 56);
    assert_eq!(s.query_events(&[tag_filter('e', &[&hex(7)])]).await.unwrap().len(), 1);
    let stats = w.stats();
    assert!(stats.batches - before.batches < 61, "no group commit: {stats:?}");
}

async fn close_finishes_queued_writes_then_refuses(b: Backend) {
    let (db, s) = open(b).await;
    let w = s.writer().clone();
    let pending = tokio::spawn({
        let w = w.clone();
        async move { w.insert_event(ev(1, &pk('a'), 1, 1, &[])).await }
    });
    tokio::task::yield_now().await;
    s.close().await;
    // Either it was queued before close (then committed) or after (then refused).
    let committed = matches!(pending.await.unwrap(), Ok(InsertOutcome::Stored));
    let err = w.insert_event(ev(2, &pk('a'), 1, 1, &[])).await.unwrap_err();
    assert!(matches!(err, StorageError::WriterGone), "{err}");
    let s = db.reopen().await;
    assert_eq!(s.event_count().await.unwrap(), u64::from(committed));
}

/// PostgreSQL: the server ends the writer's and the readers' sessions (a restart, a cut). The
/// submission that meets the dead connection fails, nothing of it is stored; the writer opens
/// a new one and the next submissions are stored and acked again; what was acked is all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_killed_under_the_writer_fail_one_batch_and_the_writer_recovers() {
    let (db, s) = open(Backend::Postgres).await;
    let mut acked = Vec::new();
    for i in 0..5u64 {
        assert_eq!(s.writer().insert_event(ev(i, &pk('a'), 100 + i, 1, &[])).await.unwrap(), InsertOutcome::Stored);
        acked.push(hex(i));
    }
    assert!(kill_sessions(&db).await >= 1, "no session of this storage found");
    let mut failed = 0;
    for i in 5..20u64 {
        match s.writer().insert_event(ev(i, &pk('a'), 100 + i, 1, &[])).await {
            Ok(InsertOutcome::Stored) => acked.push(hex(i)),
            Ok(other) => panic!("event {i}: {other:?}"),
            Err(StorageError::BatchFailed { .. }) => failed += 1,
            Err(e) => panic!("event {i}: unexpected {e}"),
        }
    }
    assert!(failed >= 1, "no submission met the dead connection");
    assert!(acked.len() >= 15, "the writer did not recover: {} acked", acked.len());
    let stored = ids(&s.query_events(&[Filter::default()]).await.unwrap());
    let mut want = acked.clone();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(stored, want, "acked and stored differ");
    assert!(s.writer().stats().reconnects >= 1);
    s.close().await;
}

contract!(
    two_hundred_concurrent_inserts_group_commit_and_survive_reopen,
    submit_returns_one_outcome_per_op_in_order,
    failing_submission_is_atomic_and_others_commit,
    grouped_regular_events_keep_their_own_outcomes_and_refusals,
    close_finishes_queued_writes_then_refuses,
);
