//! Moving a node's whole state between databases (`btpnips db export` / `db import`), a
//! summary to check that nothing changed on the way (`btpnips db summary`), and an online
//! copy of a SQLite file (`btpnips db backup`).
//!
//! The export is JSON Lines, one [`Record`] per line, backend-neutral: events (in id order),
//! the ledger journal (in the order it was applied), subscriptions, peers, payment channels and
//! settings. Import replays it into an empty database through the writer: events with the
//! NIP-01 storage rules, ledger entries in order (so every balance and every entry's
//! idempotency reference come out the same), records by key. Accounts are not exported:
//! they are what the journal sums to.
use std::io::{BufRead, Write};
use std::path::Path;

use protocol::nostr::Event;
use serde::{Deserialize, Serialize};

use crate::{Account, ChannelRecord, LedgerEntry, Op, PeerRecord, Storage, StorageError, SubscriptionRecord};

/// Rows read per query while exporting, and ops per submission while importing.
const PAGE: u32 = 1000;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what wrote the file.
    Header {
        /// Always `"btpnips-export"`.
        format: String,
        /// Format version, 1.
        version: u32,
    },
    /// A stored Nostr event.
    Event {
        /// The event, as stored.
        event: Event,
    },
    /// A ledger journal entry (asset units at its asset scale).
    Ledger {
        /// The entry.
        entry: LedgerEntry,
    },
    /// A paid subscription, either direction.
    Subscription {
        /// The record.
        record: SubscriptionRecord,
    },
    /// A known peer.
    Peer {
        /// The record.
        record: PeerRecord,
    },
    /// A payment channel.
    Channel {
        /// The record.
        record: ChannelRecord,
    },
    /// A setting.
    Meta {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
}

/// What a database holds, to compare two of them: counts, every account's balance and every
/// channel's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Stored events.
    pub events: u64,
    /// Ledger journal entries.
    pub ledger_entries: u64,
    /// Subscriptions, both directions.
    pub subscriptions: u64,
    /// Known peers.
    pub peers: u64,
    /// Settings.
    pub meta: u64,
    /// Every account with its balance (asset units at its asset scale).
    pub accounts: Vec<Account>,
    /// Every payment channel: deposit, highest claim, status.
    pub channels: Vec<ChannelRecord>,
}

/// Lines written or read, by kind (the header not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Events.
    pub events: u64,
    /// Ledger entries.
    pub ledger_entries: u64,
    /// Subscriptions.
    pub subscriptions: u64,
    /// Peers.
    pub peers: u64,
    /// Channels.
    pub channels: u64,
    /// Settings.
    pub meta: u64,
}

fn io(e: std::io::Error) -> StorageError {
    StorageError::Transfer(e.to_string())
}

fn line(out: &mut impl Write, r: &Record) -> Result<(), StorageError> {
    serde_json::to_writer(&mut *out, r)?;
    out.write_all(b"\n").map_err(io)
}

impl Storage {
    /// Write the whole state as JSON Lines to `out` (see the module doc). Reads in pages, not
    /// in one snapshot: export a database no node is writing to (a stopped node, or a
    /// [`Storage::backup_sqlite`] copy). Errors: the database, or writing `out`.
    pub async fn export(&self, out: &mut impl Write) -> Result<Counts, StorageError> {
        let mut n = Counts::default();
        line(out, &Record::Header { format: "btpnips-export".into(), version: 1 })?;
        let mut after: Option<String> = None;
        loop {
            let page = self.read.events_after(after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for event in page {
                line(out, &Record::Event { event })?;
                n.events += 1;
            }
        }
        let mut seq = 0;
        loop {
            let page = self.read.journal_after(seq, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            seq = *last;
            for (_, entry) in page {
                line(out, &Record::Ledger { entry })?;
                n.ledger_entries += 1;
            }
        }
        for record in self.read.subscriptions().await? {
            line(out, &Record::Subscription { record })?;
            n.subscriptions += 1;
        }
        for record in self.read.peers().await? {
            line(out, &Record::Peer { record })?;
            n.peers += 1;
        }
        for record in self.read.channels().await? {
            line(out, &Record::Channel { record })?;
            n.channels += 1;
        }
        for (key, value) in self.read.meta_all().await? {
            line(out, &Record::Meta { key, value })?;
            n.meta += 1;
        }
        out.flush().map_err(io)?;
        Ok(n)
    }

    /// Replay an export into this database, which must be empty (no event, no account).
    /// Committed in submissions of up to 1 000 records, in file order. Errors:
    /// [`StorageError::Transfer`] for a non-empty target, a bad line (with its number) or a
    /// record the database refused; the database's own errors.
    pub async fn import(&self, input: impl BufRead) -> Result<Counts, StorageError> {
        if self.event_count().await? > 0 || !self.accounts().await?.is_empty() {
            return Err(StorageError::Transfer("the target database is not empty".into()));
        }
        let mut n = Counts::default();
        let mut ops = Vec::new();
        let mut header = false;
        for (i, text) in input.lines().enumerate() {
            let text = text.map_err(io)?;
            if text.trim().is_empty() {
                continue;
            }
            let record: Record =
                serde_json::from_str(&text).map_err(|e| StorageError::Transfer(format!("line {}: {e}", i + 1)))?;
            ops.push(match record {
                Record::Header { format, version } => {
                    if format != "btpnips-export" || version != 1 {
                        return Err(StorageError::Transfer(format!("unknown export format {format} v{version}")));
                    }
                    header = true;
                    continue;
                }
                _ if !header => return Err(StorageError::Transfer("no btpnips-export header on line 1".into())),
                Record::Event { event } => {
                    n.events += 1;
                    Op::InsertEvent(event)
                }
                Record::Ledger { entry } => {
                    n.ledger_entries += 1;
                    Op::Ledger(entry)
                }
                Record::Subscription { record } => {
                    n.subscriptions += 1;
                    Op::UpsertSubscription(record)
                }
                Record::Peer { record } => {
                    n.peers += 1;
                    Op::UpsertPeer(record)
                }
                Record::Channel { record } => {
                    n.channels += 1;
                    Op::UpsertChannel(record)
                }
                Record::Meta { key, value } => {
                    n.meta += 1;
                    Op::SetMeta { key, value }
                }
            });
            if ops.len() >= PAGE as usize {
                self.writer.submit(std::mem::take(&mut ops)).await?;
            }
        }
        if !ops.is_empty() {
            self.writer.submit(ops).await?;
        }
        Ok(n)
    }

    /// Counts, balances and channel states, to compare two databases.
    pub async fn summary(&self) -> Result<Summary, StorageError> {
        let mut ledger_entries = 0;
        let mut seq = 0;
        loop {
            let page = self.read.journal_after(seq, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            seq = *last;
            ledger_entries += page.len() as u64;
        }
        Ok(Summary {
            events: self.event_count().await?,
            ledger_entries,
            subscriptions: self.read.subscriptions().await?.len() as u64,
            peers: self.read.peers().await?.len() as u64,
            meta: self.read.meta_all().await?.len() as u64,
            accounts: self.read.accounts().await?,
            channels: self.read.channels().await?,
        })
    }

    /// A consistent copy of the SQLite database at `source` in a new file `dest`, taken while a
    /// node may be writing to it (`VACUUM INTO`: one read transaction, so the copy is one
    /// snapshot; the node's writer is not blocked). For PostgreSQL use the server's own tool:
    /// `pg_dump --format=custom <database_url>` (one snapshot in one transaction as well).
    /// Errors: `dest` exists, or the database's errors.
    pub async fn backup_sqlite(source: &Path, dest: &Path) -> Result<(), StorageError> {
        if dest.exists() {
            return Err(StorageError::Transfer(format!("{} exists", dest.display())));
        }
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(source).read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&options).await?;
        let dest = dest.to_str().ok_or_else(|| StorageError::Transfer("backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(dest).execute(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        Ok(())
    }
}
