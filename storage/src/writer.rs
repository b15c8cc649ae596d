//! The single writer task and its group commit.
//!
//! Callers send submissions (`Vec<Op>`) over a bounded channel. The task takes the first
//! waiting submission plus everything else already queued (up to [`MAX_BATCH`]), runs them in
//! ONE transaction with one SAVEPOINT per submission (a submission the data refuses — a
//! constraint, an asset mismatch — is rolled back alone), COMMITs, and only then answers each
//! submitter. A reply of `Ok` therefore means "committed" (durable: the SQLite connection runs
//! WAL with synchronous=FULL). Runs of events of regular kinds are stored with one
//! [`WriteConn::insert_regular`] for the run (see [`apply_batch`]): each statement costs a
//! round trip to the driver, so a relay's burst of EVENTs costs a few statements per batch.
//!
//! A **storage fault** (disk full, I/O error, busy timeout, a failed COMMIT, anything the
//! driver reports that is not a refusal of the data) fails the whole batch: nothing of it is
//! committed, every submitter gets the error, the transaction is rolled back and the
//! connection closed; the next batch opens a fresh one. SQLite may roll a transaction back by
//! itself on SQLITE_FULL/IOERR/BUSY/NOMEM; BEGIN, SAVEPOINT and COMMIT are plain statements
//! here, so no driver-side transaction state can drift from the database's (sqlx's own
//! `Transaction` did: after such a rollback its next `begin` became a SAVEPOINT inside a
//! transaction that never committed, and every later submission was answered `Ok` unwritten).
//!
//! The task is generic over the backend's [`WriteConn`] (SQLite, PostgreSQL): the same
//! batching, savepoints and fault handling on both.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use protocol::nostr::Event;

use crate::events::Class;
use crate::port::WriteConn;
use crate::{InsertOutcome, Op, OpOutcome, StorageError};

/// Most submissions committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Capacity of the submission queue; senders wait (backpressure) when it is full.
const QUEUE: usize = 4096;

/// Least time between two log lines about storage faults (the rest are counted).
const FAULT_LOG_EVERY: Duration = Duration::from_secs(1);

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
    /// Batches that failed with a storage fault (nothing of them committed).
    pub faults: u64,
    /// Times the writer opened a fresh connection after a fault.
    pub reconnects: u64,
    /// Wall time spent running batches (BEGIN to the last answer), µs: against the time
    /// elapsed, how busy the single writer is.
    pub busy_us: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    submissions: AtomicU64,
    faults: AtomicU64,
    reconnects: AtomicU64,
    busy_us: AtomicU64,
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
    /// Spawn the writer task (on the current tokio runtime) over its own connection; after a
    /// storage fault it reconnects with `options`.
    pub(crate) fn spawn<C: WriteConn>(conn: C, options: C::Options) -> WriterHandle {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer = Writer { conn: Some(conn), options, counters: counters.clone(), log: FaultLog::default() };
        tokio::spawn(writer.run(rx));
        WriterHandle { tx, counters }
    }

    /// Apply `ops` atomically (all or none). Returns one outcome per op, in order, only after
    /// the transaction holding them has committed. On `Err` nothing of `ops` was committed:
    /// the data was refused ([`StorageError::AssetMismatch`], a constraint, …) or a storage
    /// fault failed the batch ([`StorageError::BatchFailed`]); a later submission may succeed.
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
            faults: self.counters.faults.load(Ordering::Relaxed),
            reconnects: self.counters.reconnects.load(Ordering::Relaxed),
            busy_us: self.counters.busy_us.load(Ordering::Relaxed),
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

/// The writer task's state: its connection (`None` after a fault, until the next batch
/// reconnects) and how to make a new one.
struct Writer<C: WriteConn> {
    conn: Option<C>,
    options: C::Options,
    counters: Arc<Counters>,
    log: FaultLog,
}

/// Rate-limits the fault log: a disk that stays full fails every batch.
#[derive(Default)]
struct FaultLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl FaultLog {
    fn fault(&mut self, submissions: usize, reason: &str) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < FAULT_LOG_EVERY) {
            self.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut self.suppressed);
        self.last = Some(now);
        tracing::error!(submissions, suppressed, %reason, "storage fault: batch rolled back, nothing committed");
    }
}

/// Why a batch did not commit: the transaction as a whole failed.
struct Fault(String);

impl<C: WriteConn> Writer<C> {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
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
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.counters.submissions.fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.run_batch(batch).await;
            }
        }
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "closing the writer connection failed");
            }
        }
        tracing::debug!("storage writer stopped");
        for done in closers {
            let _ = done.send(());
        }
    }

    /// Open a fresh connection if a fault closed the last.
    async fn ensure_connection(&mut self) -> Result<(), Fault> {
        if self.conn.is_none() {
            // The schema was migrated when the database was opened; a reconnect only connects.
            let conn =
                C::connect(&self.options).await.map_err(|e| Fault(format!("could not reopen the database: {e}")))?;
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!("storage writer reconnected");
            self.conn = Some(conn);
        }
        Ok(())
    }

    /// One transaction for the whole batch; answers every submission.
    async fn run_batch(&mut self, batch: Vec<Submission>) {
        let started = Instant::now();
        let n = batch.len();
        let mut results = Vec::with_capacity(n);
        let outcome = match (self.ensure_connection().await, self.conn.as_mut()) {
            (Ok(()), Some(conn)) => apply_batch(conn, &batch, &mut results).await,
            (Err(fault), _) => Err(fault),
            (Ok(()), None) => Err(Fault("no connection".into())),
        };
        let fault = match outcome {
            Ok(()) => {
                tracing::debug!(submissions = n, elapsed_ms = started.elapsed().as_millis() as u64, "batch committed");
                None
            }
            Err(Fault(reason)) => {
                self.counters.faults.fetch_add(1, Ordering::Relaxed);
                self.log.fault(n, &reason);
                self.discard_connection().await;
                Some(reason)
            }
        };
        let mut results = results.into_iter();
        for sub in batch {
            let result = match (&fault, results.next()) {
                (None, Some(r)) => r,
                // A submission the data refused keeps its own error.
                (Some(_), Some(Err(e))) if !is_fault::<C>(&e) => Err(e),
                (reason, _) => Err(StorageError::BatchFailed {
                    reason: reason.clone().unwrap_or_else(|| "no result recorded".into()),
                }),
            };
            let _ = sub.reply.send(result);
        }
        self.counters.busy_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// After a fault: roll back whatever SQLite still holds open and close the connection,
    /// so the next batch starts on a fresh one with no transaction and no write lock.
    async fn discard_connection(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let _ = conn.control("ROLLBACK").await; // "no transaction is active" is fine
        if let Err(e) = conn.close().await {
            tracing::debug!(error = %e, "closing the faulted writer connection");
        }
    }
}

/// Whether `e` is a storage fault (the batch cannot commit) rather than the data being refused.
/// Refusals: our own checks (asset mismatch, overflow, range, JSON) and the errors the backend
/// calls refusals ([`WriteConn::is_refusal`]: constraints, type mismatches, values too big),
/// which fail one statement and leave the transaction usable.
fn is_fault<C: WriteConn>(e: &StorageError) -> bool {
    match e {
        StorageError::Database(sqlx::Error::Database(db)) => !C::is_refusal(db.as_ref()),
        StorageError::Database(_) | StorageError::Migrate(_) | StorageError::WriterGone => true,
        StorageError::BatchFailed { .. } => true,
        StorageError::Json(_)
        | StorageError::AssetMismatch { .. }
        | StorageError::BalanceOverflow { .. }
        | StorageError::OutOfRange { .. }
        | StorageError::Corrupt(_)
        | StorageError::UnsupportedUrl(_)
        | StorageError::Transfer(_) => false,
    }
}

/// BEGIN (SQLite: IMMEDIATE) and a SAVEPOINT; per submission apply, then RELEASE and the next
/// SAVEPOINT (or ROLLBACK TO on a refusal, which keeps the savepoint); RELEASE and COMMIT.
/// Each step between submissions is one statement string, one round trip on PostgreSQL.
///
/// Consecutive submissions that only store events of regular kinds (a relay's EVENTs) go in
/// under one savepoint with [`WriteConn::insert_regular`]: a few statements for all of them
/// instead of a few each. If that is refused, it is rolled back and they are applied one by
/// one, so each refusal stays its submission's own.
///
/// `Err` means the transaction as a whole did not commit (the caller rolls back).
async fn apply_batch<C: WriteConn>(
    conn: &mut C,
    batch: &[Submission],
    results: &mut Vec<Result<Vec<OpOutcome>, StorageError>>,
) -> Result<(), Fault> {
    conn.control(C::BEGIN_SAVEPOINT).await.map_err(|e| Fault(format!("BEGIN: {e}")))?;
    // The open savepoint holds nothing yet (just opened, or rolled back to).
    let mut fresh = true;
    // Submissions before this index are applied one by one (their group was refused).
    let mut solo_until = 0;
    let mut i = 0;
    while i < batch.len() {
        if !fresh {
            conn.control("RELEASE SAVEPOINT submission; SAVEPOINT submission")
                .await
                .map_err(|e| Fault(format!("SAVEPOINT: {e}")))?;
        }
        fresh = false;
        let run =
            if i < solo_until { 0 } else { batch[i..].iter().take_while(|s| only_regular_events(&s.ops)).count() };
        if run > 1 {
            let group = &batch[i..i + run];
            let events: Vec<&Event> = group.iter().flat_map(|s| s.ops.iter().filter_map(regular_event)).collect();
            match conn.insert_regular(&events).await {
                Ok(outcomes) => {
                    let mut outcomes = outcomes.into_iter().map(OpOutcome::Event);
                    for sub in group {
                        results.push(Ok(outcomes.by_ref().take(sub.ops.len()).collect()));
                    }
                    i += run;
                    continue;
                }
                Err(e) if is_fault::<C>(&e) => return Err(Fault(e.to_string())),
                Err(e) => {
                    tracing::debug!(error = %e, submissions = run, "grouped events refused; applying them one by one");
                    conn.control("ROLLBACK TO SAVEPOINT submission")
                        .await
                        .map_err(|e| Fault(format!("ROLLBACK TO: {e}")))?;
                    fresh = true;
                    solo_until = i + run;
                    continue;
                }
            }
        }
        match apply_ops(conn, &batch[i].ops).await {
            Ok(outcomes) => results.push(Ok(outcomes)),
            Err(e) if is_fault::<C>(&e) => {
                let reason = e.to_string();
                results.push(Err(e));
                return Err(Fault(reason));
            }
            Err(e) => {
                tracing::debug!(error = %e, "submission refused, rolled back alone");
                conn.control("ROLLBACK TO SAVEPOINT submission")
                    .await
                    .map_err(|e| Fault(format!("ROLLBACK TO: {e}")))?;
                fresh = true;
                results.push(Err(e));
            }
        }
        i += 1;
    }
    conn.control("RELEASE SAVEPOINT submission; COMMIT").await.map_err(|e| Fault(format!("COMMIT: {e}")))?;
    Ok(())
}

/// The event of an [`Op::InsertEvent`] of a regular kind (NIP-01 §Kinds), which
/// [`WriteConn::insert_regular`] stores together with its neighbours.
fn regular_event(op: &Op) -> Option<&Event> {
    match op {
        Op::InsertEvent(e) if Class::of(e.kind) == Class::Regular => Some(e),
        _ => None,
    }
}

fn only_regular_events(ops: &[Op]) -> bool {
    !ops.is_empty() && ops.iter().all(|op| regular_event(op).is_some())
}

/// A submission's ops in order; each run of events of regular kinds in one
/// [`WriteConn::insert_regular`]. The first error ends it (the caller rolls back).
async fn apply_ops<C: WriteConn>(conn: &mut C, ops: &[Op]) -> Result<Vec<OpOutcome>, StorageError> {
    let mut out = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        let run: Vec<&Event> = ops[i..].iter().map_while(regular_event).collect();
        if run.len() > 1 {
            out.extend(conn.insert_regular(&run).await?.into_iter().map(OpOutcome::Event));
            i += run.len();
        } else {
            out.push(conn.apply(&ops[i]).await?);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
