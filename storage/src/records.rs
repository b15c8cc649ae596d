//! Plain data: the write operations, their outcomes and the stored records.
use protocol::nostr::{Event, Filter};
use serde::{Deserialize, Serialize};

use crate::status::{ChannelStatus, SubscriptionStatus};

/// One write operation. A submission (`Vec<Op>`) is applied atomically: all of it or none.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Store a Nostr event under the NIP-01 rules:
    /// - ephemeral kinds (20000..=29999) are not stored ([`InsertOutcome::Ephemeral`]);
    /// - replaceable kinds (0, 3, 10000..=19999) keep only the newest per (pubkey, kind);
    /// - addressable kinds (30000..=39999) keep only the newest per (pubkey, kind, first `d`
    ///   tag value, `""` if none);
    /// - "newest" is the larger `created_at`; on a tie the lowest `id` wins. An incoming
    ///   version that loses is not stored ([`InsertOutcome::Superseded`]);
    /// - an id already stored gives [`InsertOutcome::Duplicate`].
    ///
    /// Signatures are not checked here: the caller verifies before submitting.
    /// Fails with [`crate::StorageError::OutOfRange`] if `created_at > i64::MAX`.
    InsertEvent(Event),
    /// Apply `delta` to the account's balance and journal it. A `reference` already journaled
    /// for that account gives [`LedgerOutcome::Duplicate`] and changes nothing (idempotent).
    /// Creates the account (balance 0 before the delta) if missing, with the entry's asset.
    /// Fails with [`crate::StorageError::AssetMismatch`] if the account exists in another
    /// asset, and [`crate::StorageError::BalanceOverflow`] if the balance would overflow.
    Ledger(LedgerEntry),
    /// Insert or fully replace the subscription keyed by (direction, peer, subscription_id).
    UpsertSubscription(SubscriptionRecord),
    /// Delete a subscription; deleting a missing one is not an error.
    DeleteSubscription {
        /// Which side subscribed.
        direction: Direction,
        /// Peer account id.
        peer: String,
        /// NIP-01 subscription id.
        subscription_id: String,
    },
    /// Insert or fully replace the peer keyed by `account_id`.
    UpsertPeer(PeerRecord),
    /// Insert a channel keyed by (peer, direction, channel_id), or replace one with a lower
    /// `revision` (writes that reach the writer late never roll a channel back).
    UpsertChannel(ChannelRecord),
    /// Set (insert or replace) a meta key.
    SetMeta {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
}

/// What happened to one [`Op`], reported only once its transaction has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpOutcome {
    /// Outcome of [`Op::InsertEvent`].
    Event(InsertOutcome),
    /// Outcome of [`Op::Ledger`].
    Ledger(LedgerOutcome),
    /// Any other op was applied.
    Done,
}

/// Outcome of storing an event (see [`Op::InsertEvent`] for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsertOutcome {
    /// Stored (and, for replaceable/addressable kinds, any older version removed).
    Stored,
    /// An event with this id was already stored; nothing changed.
    Duplicate,
    /// A newer (or tie-winning) version of this replaceable/addressable event is stored;
    /// the incoming one was dropped.
    Superseded,
    /// Ephemeral kind: never stored.
    Ephemeral,
}

/// Outcome of a ledger entry. `balance` is the account balance after the op, in the
/// account's asset units at its asset scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerOutcome {
    /// The delta was applied.
    Applied {
        /// Balance after applying.
        balance: i64,
    },
    /// The reference was already journaled for this account; nothing changed.
    Duplicate {
        /// Current balance (unchanged).
        balance: i64,
    },
}

/// One balance change of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Account id (usually a peer account id).
    pub account: String,
    /// Asset code of the account, e.g. `"USD"`.
    pub asset_code: String,
    /// Asset scale: one unit is 10^-asset_scale of the asset.
    pub asset_scale: u8,
    /// Signed change, in asset units at `asset_scale` (credit > 0, debit < 0).
    pub delta: i64,
    /// Idempotency key, unique per account (e.g. an ILP fulfillment or a packet id).
    pub reference: String,
    /// Free text for humans.
    pub memo: String,
    /// When, unix seconds.
    pub created_at: u64,
}

/// An account's balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Account id.
    pub id: String,
    /// Asset code.
    pub asset_code: String,
    /// Asset scale.
    pub asset_scale: u8,
    /// Signed balance in asset units at `asset_scale`.
    pub balance: i64,
    /// Latest `created_at` of the entries applied to it, unix seconds.
    pub updated_at: u64,
}

/// Which side of a paid subscription we are on. Stored as `'inbound'` / `'outbound'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A peer subscribed to us: we deliver events, they pay.
    Inbound,
    /// We subscribed to a peer: they deliver, we pay.
    Outbound,
}

impl Direction {
    /// The stored text: `"inbound"` or `"outbound"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parse the stored text; `None` for anything else.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// A paid subscription, either direction. Key: (direction, peer, subscription_id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Which side subscribed.
    pub direction: Direction,
    /// Peer account id.
    pub peer: String,
    /// NIP-01 subscription id.
    pub subscription_id: String,
    /// The REQ filters; stored (and serialized) as a JSON array of NIP-01 filter objects.
    #[serde(
        serialize_with = "crate::filter_json::serialize_filters",
        deserialize_with = "crate::filter_json::deserialize_filters"
    )]
    pub filters: Vec<Filter>,
    /// STREAM stream id carrying this subscription.
    pub stream_id: u64,
    /// Total paid so far, asset units at the peer's asset scale.
    pub amount_paid: u64,
    /// Events delivered so far.
    pub events_delivered: u64,
    /// Paid up to this time, unix seconds.
    pub paid_until: u64,
    /// Subscription periods paid for so far.
    pub periods_paid: u64,
    /// State; stored (and serialized) as its text, e.g. `"active"`, `"closed: unfollowed"`.
    pub status: SubscriptionStatus,
    /// Monotonic revision: an upsert only replaces a stored row with a lower revision, so
    /// writes that reach the writer out of order never roll a record back.
    pub revision: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// Inbound only: the newest `created_at` among the EVENTs delivered (fulfilled) on this
    /// subscription and their ids (at most [`DELIVERED_NEWEST_MAX`]); a resume REQ from that
    /// second skips them (docs/btp-nips.md §4). `None`: nothing delivered yet.
    pub delivered_newest: Option<DeliveredNewest>,
}

/// Most ids kept in [`SubscriptionRecord::delivered_newest`].
pub const DELIVERED_NEWEST_MAX: usize = 256;

/// EVENTs delivered at one second: `created_at` (unix s) and their ids (64 hex each).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct DeliveredNewest {
    /// The second, unix s.
    pub created_at: u64,
    /// Ids delivered with that `created_at`.
    pub ids: Vec<String>,
}

/// A known peer. Key: `account_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// Account id of the peer (also the ledger account).
    pub account_id: String,
    /// Peer's Nostr pubkey, 64 hex.
    pub pubkey: String,
    /// Peer's ILP address.
    pub ilp_address: String,
    /// Where to reach it (e.g. BTP URL), if known.
    pub url: Option<String>,
    /// Asset code of the relationship.
    pub asset_code: String,
    /// Asset scale of the relationship.
    pub asset_scale: u8,
    /// The peer's price list, as it published it (JSON).
    pub prices: serde_json::Value,
    /// Last contact, unix seconds.
    pub last_seen: u64,
}

/// A unidirectional payment channel with a peer (issue 4). Key: (peer, direction, channel_id).
///
/// `direction` is [`Direction::Outbound`] when we are the sender (we pay the peer) and
/// [`Direction::Inbound`] when we are the recipient. Token amounts (`deposit`, `claimed`) are
/// decimal strings of token base units (wei for ETH): they exceed 64 bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Peer account id.
    pub peer: String,
    /// Outbound: we pay; inbound: we are paid.
    pub direction: Direction,
    /// On-chain channel id, 0x-prefixed hex.
    pub channel_id: String,
    /// EVM chain id.
    pub chain_id: u64,
    /// Channel contract address, 0x hex.
    pub contract: String,
    /// Sender's EVM address.
    pub sender: String,
    /// Recipient's EVM address.
    pub recipient: String,
    /// Deposit confirmed on chain, token base units (decimal).
    pub deposit: String,
    /// Expiry, unix seconds.
    pub expiry: u64,
    /// Highest cumulative claim signed (outbound) or received and verified (inbound), token
    /// base units (decimal).
    pub claimed: String,
    /// The signature of that claim, 0x hex (65 bytes), if any.
    pub signature: Option<String>,
    /// State; stored (and serialized) as its text: `open`, `closing`, `closed`, ...
    pub status: ChannelStatus,
    /// Monotonic revision (see [`Op::UpsertChannel`]).
    pub revision: u64,
    /// Unix seconds.
    pub updated_at: u64,
}
