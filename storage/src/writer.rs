//! The single writer task and its group commit.
//!
//! Callers send submissions (`Vec<Op>`) over a bounded channel. The task takes the first
//! waiting submission plus everything else already queued (up to [`MAX_BATCH`]), runs them in
//! ONE transaction with one SAVEPOINT per submission (a failing submission is rolled back
//! alone), COMMITs, and only then answers each submitter. A reply of `Ok` therefore means
//! "committed" (durable: the SQLite connection runs WAL with synchronous=FULL).
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{events, ledger, tables, InsertOutcome, Op, OpOutcome, StorageError};

/// Most submissions committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Capacity of the submission queue; senders wait (backpressure) when it is full.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<Vec<OpOutcome>, StorageError>>;

struct Submission {
    ops: Vec<Op>,
    reply: Reply,
}

enum Msg {
    Submit(Submission),
    Close(oneshot::Sender<()>),
}

/// Counters of the writer task, for tests and status output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    /// Transactions run (one per group-commit batch).
    pub batches: u64,
    /// Submissions processed (committed or failed).
    pub submissions: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    submissions: AtomicU64,
}

/// Sends write submissions to the database's single writer task. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for WriterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterHandle").field("stats", &self.stats()).finish()
    }
}

impl WriterHandle {
    /// Spawn the writer task (on the current tokio runtime) over its own connection.
    pub(crate) fn spawn(conn: SqliteConnection) -> WriterHandle {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(conn, rx, counters.clone()));
        WriterHandle { tx, counters }
    }

    /// Apply `ops` atomically (all or none). Returns one outcome per op, in order, only after
    /// the transaction holding them has committed. On `Err` nothing of `ops` was committed.
    ///
    /// If the caller drops this future after the submission was queued, it may still commit.
    pub async fn submit(&self, ops: Vec<Op>) -> Result<Vec<OpOutcome>, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Msg::Submit(Submission { ops, reply })).await.map_err(|_| StorageError::WriterGone)?;
        answer.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Store one event: `submit(vec![Op::InsertEvent(event)])`.
    pub async fn insert_event(&self, event: protocol::nostr::Event) -> Result<InsertOutcome, StorageError> {
        match self.submit(vec![Op::InsertEvent(event)]).await?.as_slice() {
            [OpOutcome::Event(outcome)] => Ok(*outcome),
            other => Err(StorageError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }

    /// Counters so far (batches = transactions, submissions = `submit` calls processed).
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            submissions: self.counters.submissions.load(Ordering::Relaxed),
        }
    }

    /// Stop the writer: submissions already queued are still committed, later ones fail with
    /// [`StorageError::WriterGone`]; returns once its connection is closed.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>, counters: Arc<Counters>) {
    let mut closers = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Submit(s) => batch.push(s),
                Msg::Close(done) => {
                    // Stop accepting; what is already queued is still drained below.
                    closers.push(done);
                    rx.close();
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.submissions.fetch_add(batch.len() as u64, Ordering::Relaxed);
            run_batch(&mut conn, batch).await;
        }
    }
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the writer connection failed");
    }
    tracing::debug!("storage writer stopped");
    for done in closers {
        let _ = done.send(());
    }
}

/// One transaction for the whole batch; answers every submission.
async fn run_batch(conn: &mut SqliteConnection, batch: Vec<Submission>) {
    let started = Instant::now();
    let n = batch.len();
    let mut results = Vec::with_capacity(n);
    let fatal = match apply_batch(conn, &batch, &mut results).await {
        Ok(()) => None,
        Err(e) => Some(e.to_string()),
    };
    match &fatal {
        None => tracing::debug!(submissions = n, elapsed_ms = started.elapsed().as_millis() as u64, "batch committed"),
        Some(reason) => {
            tracing::error!(submissions = n, %reason, "batch failed, nothing committed")
        }
    }
    let mut results = results.into_iter();
    for sub in batch {
        let result = match (&fatal, results.next()) {
            (None, Some(r)) => r,
            // A submission that failed on its own keeps its own error.
            (Some(_), Some(Err(e))) => Err(e),
            _ => {
                Err(StorageError::BatchFailed { reason: fatal.clone().unwrap_or_else(|| "no result recorded".into()) })
            }
        };
        let _ = sub.reply.send(result);
    }
}

/// BEGIN; per submission SAVEPOINT / apply / RELEASE (or ROLLBACK TO); COMMIT.
/// `Err` means the transaction as a whole did not commit.
async fn apply_batch(
    conn: &mut SqliteConnection,
    batch: &[Submission],
    results: &mut Vec<Result<Vec<OpOutcome>, StorageError>>,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for sub in batch {
        sqlx::query("SAVEPOINT submission").execute(&mut *tx).await?;
        match apply_ops(&mut tx, &sub.ops).await {
            Ok(outcomes) => {
                sqlx::query("RELEASE SAVEPOINT submission").execute(&mut *tx).await?;
                results.push(Ok(outcomes));
            }
            Err(e) => {
                tracing::debug!(error = %e, "submission rolled back");
                sqlx::query("ROLLBACK TO SAVEPOINT submission").execute(&mut *tx).await?;
                sqlx::query("RELEASE SAVEPOINT submission").execute(&mut *tx).await?;
                results.push(Err(e));
            }
        }
    }
    tx.commit().await
}

async fn apply_ops(conn: &mut SqliteConnection, ops: &[Op]) -> Result<Vec<OpOutcome>, StorageError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(match op {
            Op::InsertEvent(e) => OpOutcome::Event(events::insert(conn, e).await?),
            Op::Ledger(entry) => OpOutcome::Ledger(ledger::apply(conn, entry).await?),
            Op::UpsertSubscription(s) => {
                tables::upsert_subscription(conn, s).await?;
                OpOutcome::Done
            }
            Op::DeleteSubscription { direction, peer, subscription_id } => {
                tables::delete_subscription(conn, *direction, peer, subscription_id).await?;
                OpOutcome::Done
            }
            Op::UpsertPeer(p) => {
                tables::upsert_peer(conn, p).await?;
                OpOutcome::Done
            }
            Op::UpsertChannel(c) => {
                crate::channels::upsert(conn, c).await?;
                OpOutcome::Done
            }
            Op::SetMeta { key, value } => {
                tables::set_meta(conn, key, value).await?;
                OpOutcome::Done
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LedgerEntry;
    use protocol::nostr::Event;

    fn event(n: u64) -> Event {
        Event {
            id: format!("{n:064x}"),
            pubkey: "a".repeat(64),
            created_at: n,
            kind: 1,
            tags: vec![],
            content: String::new(),
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

    /// Three submissions in ONE batch; the middle one fails after writing: only it is undone.
    #[tokio::test]
    async fn failing_submission_rolls_back_alone_within_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::sqlite::open_writer(&dir.path().join("db")).await.unwrap();
        let (s1, a1) = submission(vec![Op::InsertEvent(event(1)), credit("alice", "USD", "r1")]);
        let (s2, a2) =
            submission(vec![Op::InsertEvent(event(2)), credit("bob", "USD", "r2"), credit("alice", "EUR", "r3")]);
        let (s3, a3) = submission(vec![Op::InsertEvent(event(3)), credit("alice", "USD", "r4")]);
        run_batch(&mut conn, vec![s1, s2, s3]).await;

        assert!(a1.await.unwrap().is_ok());
        let err = a2.await.unwrap().unwrap_err();
        assert!(matches!(err, StorageError::AssetMismatch { .. }), "{err}");
        assert_eq!(a3.await.unwrap().unwrap()[1], OpOutcome::Ledger(crate::LedgerOutcome::Applied { balance: 14 }));

        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM events ORDER BY id").fetch_all(&mut conn).await.unwrap();
        assert_eq!(ids, vec![event(1).id, event(3).id]);
        let accounts: Vec<String> =
            sqlx::query_scalar("SELECT id FROM accounts ORDER BY id").fetch_all(&mut conn).await.unwrap();
        assert_eq!(accounts, vec!["alice".to_string()]);
    }

    /// When the transaction itself cannot run, every submitter hears so and nothing is kept.
    #[tokio::test]
    async fn batch_failure_reaches_every_submitter() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::sqlite::open_writer(&dir.path().join("db")).await.unwrap();
        // An open transaction makes BEGIN fail.
        sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
        let (s1, a1) = submission(vec![Op::InsertEvent(event(1))]);
        let (s2, a2) = submission(vec![]);
        run_batch(&mut conn, vec![s1, s2]).await;
        for answer in [a1, a2] {
            let err = answer.await.unwrap().unwrap_err();
            assert!(matches!(err, StorageError::BatchFailed { .. }), "{err}");
        }
    }
}
