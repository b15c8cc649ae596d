//! Node info exchanged when a peer link comes up (docs/btp-nips.md §1).
//!
//! Carried as a BTP protocol-data entry named [`PROTOCOL_NAME`] (content type 2, JSON) in the
//! auth Message (client → server) and in its Response (server → client). It tells the other
//! side where to send STREAM packets and what it costs. Kind 32001 announcements (a later
//! issue) carry the same fields.
use serde::{Deserialize, Serialize};

use super::BtpNipsError;

/// BTP protocol-data entry name for [`NodeInfo`].
pub const PROTOCOL_NAME: &str = "btpnips_info";

/// What a node charges, in its asset's smallest units (see [`NodeInfo::asset_scale`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices {
    /// Paid with a REQ that opens a subscription; covers `subscription_period_secs`.
    pub subscription: u64,
    /// Length of one paid subscription period, in seconds.
    pub subscription_period_secs: u64,
    /// Paid by the subscriber for each EVENT delivered on a subscription.
    pub event_delivered: u64,
    /// Unpaid delivery (units) the publisher tolerates before it closes the subscription.
    pub delivery_credit: u64,
    /// Paid with an EVENT a peer publishes to this node (stored for anybody to read); absent
    /// when the node does not store events for peers (docs/btp-nips.md §4 "Paid publishing").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_published: Option<u64>,
}

/// Where a node settles (issue 4): the EVM chain, the channel contract, and the node's EVM
/// address (the same secp256k1 key as its Nostr identity). Peers that agree on chain and
/// contract open channels to each other; claims travel as [`CLAIM_PROTOCOL_NAME`] entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementInfo {
    /// EVM chain id (8453 Base, 84532 Base Sepolia, 31337 anvil).
    pub chain_id: u64,
    /// Channel contract address, 0x hex.
    pub contract: String,
    /// The node's EVM address, 0x hex.
    pub address: String,
    /// Token base units (e.g. wei) per asset unit of the link, as a decimal string
    /// (10^(token decimals − asset scale): 10^9 for ETH at asset scale 9).
    pub base_units_per_unit: String,
}

/// BTP protocol-data entry name of a payment-channel claim (docs/btp-nips.md §6).
pub const CLAIM_PROTOCOL_NAME: &str = "btpnips_claim";

/// A cumulative claim on a unidirectional channel, sent by the payer over the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMessage {
    /// EVM chain id.
    pub chain_id: u64,
    /// Channel contract, 0x hex.
    pub contract: String,
    /// Channel id, 0x hex (32 bytes).
    pub channel_id: String,
    /// Cumulative amount, token base units, decimal string.
    pub cumulative_amount: String,
    /// EIP-712 signature r‖s‖v, 0x hex (65 bytes).
    pub signature: String,
}

/// A node's self-description on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// BTP-NIPs version, [`super::VERSION`].
    pub version: u8,
    /// The node's x-only secp256k1 pubkey, 64 lowercase hex (its Nostr identity).
    pub pubkey: String,
    /// The node's ILP address (RFC 15).
    pub ilp_address: String,
    /// Asset code of the link, e.g. "ETH".
    pub asset_code: String,
    /// Asset scale: amounts are in units of 10^-scale of `asset_code`.
    pub asset_scale: u8,
    /// Prices for subscribing to this node.
    pub prices: Prices,
    /// Settlement details, when the node settles on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementInfo>,
}

impl NodeInfo {
    /// Serialize to the JSON bytes carried in the BTP entry.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("NodeInfo serializes")
    }

    /// Parse and check the JSON bytes of a BTP entry.
    ///
    /// Errors: [`BtpNipsError::Info`] for bad JSON, an unknown version, a malformed pubkey or
    /// an address that breaks RFC 15.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, BtpNipsError> {
        let info: NodeInfo = serde_json::from_slice(bytes).map_err(|e| BtpNipsError::Info(e.to_string()))?;
        if info.version != super::VERSION {
            return Err(BtpNipsError::Info(format!("unsupported version {}", info.version)));
        }
        super::secret::parse_hex32(&info.pubkey).map_err(|e| BtpNipsError::Info(e.to_string()))?;
        info.ilp_address.parse::<crate::ilp::Address>().map_err(|e| BtpNipsError::Info(format!("ilp_address: {e}")))?;
        Ok(info)
    }
}
