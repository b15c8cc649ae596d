//! A relay client's outbound side, bounded in bytes: the session queues messages, one writer
//! task writes them to the socket. Each queued message holds as many bytes of the budget as it
//! has (at most the whole budget), and gives them back once written; a session whose client
//! does not read waits for budget (it is paused: reads nothing, produces nothing) and gives up
//! after a grace time ([`OutboxError::SlowReader`]).
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// Most messages queued at once, whatever their size (the byte budget is the real bound).
const MAX_QUEUED_MESSAGES: usize = 1024;
/// How long the writer tries to deliver a farewell (NOTICE + Close) before dropping the socket.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// The budget stayed exhausted for the whole grace time: the client reads too slowly.
    #[error("more than {max_bytes} bytes unread for {grace:?}")]
    SlowReader {
        /// The budget, bytes.
        max_bytes: usize,
        /// How long the session waited.
        grace: Duration,
    },
    /// The writer is gone (the socket failed or closed).
    #[error("connection closed")]
    Closed,
}

/// The last words to a client before the connection is dropped.
#[derive(Debug, Clone)]
pub struct Farewell {
    /// A NIP-01 message (NOTICE) to send first, if any.
    pub notice: Option<String>,
    /// RFC 6455 §7.4 close code.
    pub code: u16,
    /// Close reason (at most 123 bytes, RFC 6455 §5.5).
    pub reason: String,
}

/// The session's handle on its outbound queue.
pub struct Outbox {
    tx: mpsc::Sender<(Message, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
    max_bytes: usize,
    farewell: Option<oneshot::Sender<Farewell>>,
}

impl Outbox {
    /// Start the writer for `sink` with a budget of `max_bytes` (at least 1).
    pub fn spawn(sink: SplitSink<WebSocket, Message>, max_bytes: usize) -> (Outbox, JoinHandle<()>) {
        let max_bytes = max_bytes.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        let (tx, rx) = mpsc::channel(MAX_QUEUED_MESSAGES);
        let (farewell_tx, farewell_rx) = oneshot::channel();
        let writer = tokio::spawn(write(sink, rx, farewell_rx));
        let outbox = Outbox { tx, budget: Arc::new(Semaphore::new(max_bytes)), max_bytes, farewell: Some(farewell_tx) };
        (outbox, writer)
    }

    /// Queue `msg`, waiting at most `grace` for budget and queue room.
    ///
    /// Errors: [`OutboxError::SlowReader`] after `grace`, [`OutboxError::Closed`] when the
    /// writer has stopped.
    pub async fn send(&self, msg: Message, grace: Duration) -> Result<(), OutboxError> {
        let bytes = message_len(&msg).clamp(1, self.max_bytes) as u32;
        let queue = async {
            let permit = self.budget.clone().acquire_many_owned(bytes).await.map_err(|_| OutboxError::Closed)?;
            self.tx.send((msg, permit)).await.map_err(|_| OutboxError::Closed)
        };
        match tokio::time::timeout(grace, queue).await {
            Ok(r) => r,
            Err(_) => Err(OutboxError::SlowReader { max_bytes: self.max_bytes, grace }),
        }
    }

    /// Bytes queued and not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.max_bytes - self.budget.available_permits()
    }

    /// Drop what is queued, send `farewell` (best effort, bounded in time) and close.
    pub fn close(&mut self, farewell: Farewell) {
        if let Some(tx) = self.farewell.take() {
            let _ = tx.send(farewell);
        }
    }
}

fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Close(_) => 2,
    }
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<(Message, OwnedSemaphorePermit)>,
    mut farewell: oneshot::Receiver<Farewell>,
) {
    let bye = loop {
        let next = tokio::select! {
            biased;
            f = &mut farewell => break f.ok(),
            m = rx.recv() => m,
        };
        let Some((msg, permit)) = next else { break None };
        tokio::select! {
            biased;
            f = &mut farewell => break f.ok(),
            r = sink.send(msg) => if r.is_err() { return },
        }
        drop(permit);
    };
    drop(rx); // frees the queued messages (and their budget) at once
    if let Some(f) = bye {
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, async {
            if let Some(n) = f.notice {
                sink.send(Message::Text(n.into())).await?;
            }
            sink.send(Message::Close(Some(CloseFrame { code: f.code, reason: f.reason.into() }))).await
        })
        .await;
    } else {
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, sink.close()).await;
    }
}
