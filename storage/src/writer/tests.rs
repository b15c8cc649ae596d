//! The writer under faults: every storage failure is an error to every waiting submission,
//! nothing unacknowledged is kept, nothing acknowledged is lost, and it recovers.
use std::path::Path;
use std::time::Duration;

use protocol::nostr::Event;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

use super::*;
use crate::LedgerEntry;

fn event(n: u64, content: &str) -> Event {
    Event {
        id: format!("{n:064x}"),
        pubkey: "a".repeat(64),
        created_at: n,
        kind: 1,
        tags: vec![],
        content: content.into(),
        sig: String::new(),
    }
}

fn credit(account: &str, code: &str, reference: &str) -> Op {
    Op::Ledger(LedgerEntry {
        account: account.into(),
        asset_code: code.into(),
        asset_scale: 2,
        delta: 7,
        reference: reference.into(),
        memo: String::new(),
        created_at: 1,
    })
}

type Answer = oneshot::Receiver<Result<Vec<OpOutcome>, StorageError>>;

fn submission(ops: Vec<Op>) -> (Submission, Answer) {
    let (reply, answer) = oneshot::channel();
    (Submission { ops, reply }, answer)
}

async fn writer(options: SqliteConnectOptions) -> Writer<sqlx::sqlite::SqliteConnection> {
    let conn = crate::sqlite::open_writer_with(&options).await.unwrap();
    Writer { conn: Some(conn), options, counters: Arc::default(), log: FaultLog::default() }
}

/// What is really in the file, read over a connection of its own.
async fn stored_ids(path: &Path) -> Vec<String> {
    let mut c = SqliteConnectOptions::new().filename(path).read_only(true).connect().await.unwrap();
    sqlx::query_scalar("SELECT id FROM events ORDER BY id").fetch_all(&mut c).await.unwrap()
}

/// Three submissions in ONE batch; the middle one is refused after writing: only it is undone.
#[tokio::test]
async fn refused_submission_rolls_back_alone_within_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut w = writer(crate::sqlite::writer_options(&path)).await;
    let (s1, a1) = submission(vec![Op::InsertEvent(event(1, "")), credit("alice", "USD", "r1")]);
    let (s2, a2) =
        submission(vec![Op::InsertEvent(event(2, "")), credit("bob", "USD", "r2"), credit("alice", "EUR", "r3")]);
    let (s3, a3) = submission(vec![Op::InsertEvent(event(3, "")), credit("alice", "USD", "r4")]);
    w.run_batch(vec![s1, s2, s3]).await;

    assert!(a1.await.unwrap().is_ok());
    let err = a2.await.unwrap().unwrap_err();
    assert!(matches!(err, StorageError::AssetMismatch { .. }), "{err}");
    assert_eq!(a3.await.unwrap().unwrap()[1], OpOutcome::Ledger(crate::LedgerOutcome::Applied { balance: 14 }));
    assert_eq!(stored_ids(&path).await, vec![event(1, "").id, event(3, "").id]);
    let conn = w.conn.as_mut().unwrap();
    let accounts: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts ORDER BY id").fetch_all(conn).await.unwrap();
    assert_eq!(accounts, vec!["alice".to_string()]);
    assert_eq!(w.counters.faults.load(Ordering::Relaxed), 0);
}

/// BEGIN fails (the connection is left inside a transaction): every submitter hears so,
/// nothing is kept, and the next batch runs on a fresh connection and commits.
#[tokio::test]
async fn begin_failure_reaches_every_submitter_and_the_writer_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut w = writer(crate::sqlite::writer_options(&path)).await;
    sqlx::query("BEGIN").execute(w.conn.as_mut().unwrap()).await.unwrap();
    let (s1, a1) = submission(vec![Op::InsertEvent(event(1, ""))]);
    let (s2, a2) = submission(vec![]);
    w.run_batch(vec![s1, s2]).await;
    for answer in [a1, a2] {
        let err = answer.await.unwrap().unwrap_err();
        assert!(matches!(err, StorageError::BatchFailed { .. }), "{err}");
    }
    assert!(w.conn.is_none(), "the faulted connection is dropped");

    let (s3, a3) = submission(vec![Op::InsertEvent(event(3, ""))]);
    w.run_batch(vec![s3]).await;
    assert!(a3.await.unwrap().is_ok());
    assert_eq!(stored_ids(&path).await, vec![event(3, "").id]);
    assert_eq!((w.counters.faults.load(Ordering::Relaxed), w.counters.reconnects.load(Ordering::Relaxed)), (1, 1));
}

/// A COMMIT that fails (a deferred foreign key, checked only at COMMIT, stands in for any
/// failing commit: SQLite leaves the transaction open): the innocent submissions of the batch
/// are not acknowledged either, nothing is stored, no write lock is left behind, and the next
/// batch (on a fresh connection, without the poison trigger) commits.
#[tokio::test]
async fn failed_commit_fails_the_whole_batch_and_releases_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut w = writer(crate::sqlite::writer_options(&path)).await;
    let conn = w.conn.as_mut().unwrap();
    for sql in [
        "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE poison_child (p INTEGER REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TEMP TRIGGER poison AFTER INSERT ON events WHEN NEW.raw LIKE '%poison%' \
         BEGIN INSERT INTO poison_child VALUES (42); END",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
    let (s1, a1) = submission(vec![Op::InsertEvent(event(1, ""))]);
    let (s2, a2) = submission(vec![Op::InsertEvent(event(2, "poison"))]);
    let (s3, a3) = submission(vec![Op::InsertEvent(event(3, "")), credit("alice", "USD", "r1")]);
    w.run_batch(vec![s1, s2, s3]).await;
    for answer in [a1, a2, a3] {
        let err = answer.await.unwrap().unwrap_err();
        assert!(matches!(&err, StorageError::BatchFailed { reason } if reason.starts_with("COMMIT")), "{err}");
    }
    assert!(stored_ids(&path).await.is_empty());
    // Another connection can take the write lock: nothing was left open.
    let mut other = crate::sqlite::writer_options(&path).connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();

    let (s4, a4) = submission(vec![Op::InsertEvent(event(4, "poison"))]);
    w.run_batch(vec![s4]).await;
    assert!(a4.await.unwrap().is_ok());
    assert_eq!(stored_ids(&path).await, vec![event(4, "").id]);
}

/// Another process holds the write lock past the busy timeout: the batch fails with the busy
/// error, and once the lock is released the writer stores again.
#[tokio::test]
async fn busy_database_fails_the_batch_and_recovers_when_the_lock_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let options = crate::sqlite::writer_options(&path).busy_timeout(Duration::from_millis(50));
    let mut w = writer(options).await;
    let mut other = crate::sqlite::writer_options(&path).connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let (s1, a1) = submission(vec![Op::InsertEvent(event(1, ""))]);
    w.run_batch(vec![s1]).await;
    let err = a1.await.unwrap().unwrap_err();
    assert!(matches!(&err, StorageError::BatchFailed { reason } if reason.contains("locked")), "{err}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();

    let (s2, a2) = submission(vec![Op::InsertEvent(event(2, ""))]);
    w.run_batch(vec![s2]).await;
    assert!(a2.await.unwrap().is_ok());
    assert_eq!(stored_ids(&path).await, vec![event(2, "").id]);
}

/// Disk full (SQLite's `max_page_count` caps the file, on every connection the writer opens):
/// 800 submissions of 4 KB events (2 MB allowed) race through the real writer task, 50 at a time. Some are stored, the rest
/// fail; exactly the acknowledged ones are in the file. Then space is freed by another
/// connection (which can take the write lock: the writer holds none between batches), and new
/// submissions are stored and acknowledged again — acked == stored before and after.
#[tokio::test]
async fn disk_full_acks_exactly_what_is_stored_and_recovers_when_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let options = crate::sqlite::writer_options(&path).pragma("max_page_count", "500");
    let conn = crate::sqlite::open_writer_with(&options).await.unwrap();
    let handle = WriterHandle::spawn(conn, options);
    let body = "x".repeat(4096);

    let burst = |from: u64| {
        let (handle, body) = (handle.clone(), body.clone());
        async move {
            let mut acked = Vec::new();
            let mut failed = 0;
            // 16 waves of 50 concurrent submissions: batches small enough that some fit.
            for wave in 0..16 {
                let tasks: Vec<_> = (from + wave * 50..from + wave * 50 + 50)
                    .map(|n| {
                        let (handle, e) = (handle.clone(), event(n, &body));
                        tokio::spawn(async move { (e.id.clone(), handle.insert_event(e).await) })
                    })
                    .collect();
                for t in tasks {
                    match t.await.unwrap() {
                        (id, Ok(InsertOutcome::Stored)) => acked.push(id),
                        (_, Ok(other)) => panic!("unexpected {other:?}"),
                        (_, Err(StorageError::BatchFailed { .. } | StorageError::Database(_))) => failed += 1,
                        (_, Err(e)) => panic!("unexpected error {e}"),
                    }
                }
            }
            acked.sort();
            (acked, failed)
        }
    };

    let (acked, failed) = burst(1).await;
    assert!(!acked.is_empty() && failed > 0, "the disk must fill: {} acked, {failed} failed", acked.len());
    assert_eq!(stored_ids(&path).await, acked, "acked == stored while full");
    assert!(handle.stats().faults > 0);

    // Still full: everything fails, nothing is acknowledged falsely.
    let (more, _) = burst(10_001).await;
    assert!(more.is_empty(), "stored {} on a full disk", more.len());
    assert_eq!(stored_ids(&path).await, acked);

    // Free space from outside: delete half of what is stored.
    let mut other = crate::sqlite::writer_options(&path).connect().await.unwrap();
    let keep: Vec<String> = acked.iter().step_by(2).cloned().collect();
    for id in acked.iter().skip(1).step_by(2) {
        sqlx::query("DELETE FROM events WHERE id = ?").bind(id).execute(&mut other).await.unwrap();
    }
    drop(other);

    let (after, _) = burst(20_001).await;
    assert!(!after.is_empty(), "nothing stored after space was freed");
    let mut expected = keep;
    expected.extend(after);
    expected.sort();
    assert_eq!(stored_ids(&path).await, expected, "acked == stored after recovery");
    handle.close().await;
}
