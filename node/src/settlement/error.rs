//! Typed refusals and failures of the settlement engine. Their `Display` is the text peers and
//! operators read, unchanged from when these were strings: a refused claim's text goes to the
//! payer in the BTP Error's `data` (docs/btp-nips.md §6a), machine-readable prefix first
//! (`channel-closed:`, `payer-contract:`, `payer-delegated:`).
use contracts::{Address, ChainError, ClaimError};
use storage::{ChannelStatus, StorageError};

use super::U256;

/// A decimal token amount that does not parse as a `U256`. Text: `amount "<text>": <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount {text:?}: {reason}")]
pub struct AmountError {
    /// The text that was to be parsed.
    pub text: String,
    /// The parser's reason.
    pub reason: String,
}

/// The payee's policy on the code a payer's address carries (contracts/README.md "Trust
/// model", docs/btp-nips.md §6a): why claims from it are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayerRefusal {
    /// The address carries an EIP-7702 delegation designator to `delegate`, and the operator
    /// does not accept delegated payers. Prefix `payer-delegated:`.
    #[error(
        "payer-delegated: the payer's address carries an EIP-7702 delegation to {delegate}; this node does not accept delegated payers (settlement.accept_delegated_payers)"
    )]
    Delegated {
        /// The delegation target.
        delegate: Address,
    },
    /// The address carries contract code (its ERC-1271 claims are revocable). Prefix
    /// `payer-contract:`.
    #[error(
        "payer-contract: the payer's address carries contract code; claims checked by ERC-1271 can be revoked, so they are not accepted"
    )]
    Contract,
}

/// Why a claim from a peer (BTP Message `btpnips_claim`) was refused; its text is the reason
/// in the BTP Error `F00 NotAcceptedError` (docs/btp-nips.md §6a). Amounts are token base
/// units (wei for ETH).
#[derive(Debug, thiserror::Error)]
pub enum ClaimRefusal {
    /// This node has no settlement engine.
    #[error("this node does not settle on chain")]
    NotSettling,
    /// The message is not a claim in JSON.
    #[error("malformed claim: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The claim names another chain id or contract.
    #[error("claim for another chain or contract")]
    OtherDomain,
    /// The peer's node info has no settlement address.
    #[error("peer announced no settlement address")]
    NoPeerAddress,
    /// The peer's settlement address does not parse (the parser's reason).
    #[error("peer address: {0}")]
    PeerAddress(String),
    /// The channel id does not parse as 32 bytes of hex (the parser's reason).
    #[error("channel id: {0}")]
    ChannelId(String),
    /// The claimed (or a stored) amount does not parse.
    #[error(transparent)]
    Amount(#[from] AmountError),
    /// The signature is not 65 bytes of hex.
    #[error("signature is not 65 bytes of hex")]
    SignatureEncoding,
    /// The channel could not be read from the chain.
    #[error("cannot read the channel: {0}")]
    ReadChannel(#[source] ChainError),
    /// The chain's time could not be read.
    #[error("chain time: {0}")]
    ChainTime(#[source] ChainError),
    /// On first sight: the channel's sender is not the peer's settlement address.
    #[error("channel sender is not the peer's address")]
    WrongSender,
    /// On first sight: the channel's recipient is not this node.
    #[error("channel does not pay this node")]
    WrongRecipient,
    /// On first sight: the channel is not in ETH.
    #[error("only ETH channels are accepted")]
    NotEth,
    /// On first sight: the chain shows the channel closed.
    #[error("channel is closed")]
    ClosedOnChain,
    /// On first sight: the channel expires within the close margin.
    #[error("channel expires too soon")]
    ExpiresSoon,
    /// On first sight: the payer's account code could not be read.
    #[error("cannot read the payer's code: {0}")]
    ReadPayerCode(#[source] ChainError),
    /// The payer's address carries code the policy refuses (`payer-…:`).
    #[error(transparent)]
    Payer(#[from] PayerRefusal),
    /// The channel is no longer open here (closing or closed by us). Prefix
    /// `channel-closed:`.
    #[error("channel-closed: channel {channel_id} is {status}; open a new one")]
    ChannelClosed {
        /// The channel id, 0x hex.
        channel_id: String,
        /// Its state here.
        status: ChannelStatus,
    },
    /// The cumulative amount is below the one already received.
    #[error("claim {claim} is lower than the {previous} already received")]
    Lower {
        /// The claim's cumulative amount.
        claim: U256,
        /// The highest cumulative amount received before.
        previous: U256,
    },
    /// The cumulative amount passes the deposit the chain confirms.
    #[error("claim {claim} exceeds the confirmed deposit {deposit}")]
    OverDeposit {
        /// The claim's cumulative amount.
        claim: U256,
        /// The deposit read from the chain.
        deposit: U256,
    },
    /// The EIP-712 signature does not verify for the channel's sender.
    #[error("invalid claim: {0}")]
    InvalidSignature(#[source] ClaimError),
    /// The credited difference does not fit in 64 bits of asset units.
    #[error("claim difference too large")]
    DifferenceTooLarge,
    /// The claim and its ledger entry could not be committed.
    #[error("could not store the claim: {0}")]
    Store(#[source] StorageError),
}

/// Why closing a channel paying us failed (the operator's `POST /api/settlement/close`, or
/// the engine's close before expiry).
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// This node has no settlement engine.
    #[error("this node does not settle on chain")]
    NotSettling,
    /// No open channel from this peer pays us.
    #[error("no open channel from {peer}")]
    NoOpenChannel {
        /// The peer's account id.
        peer: String,
    },
    /// The channel was dropped from the engine meanwhile.
    #[error("channel {channel_id} is no longer tracked")]
    NotTracked {
        /// The channel id, 0x hex.
        channel_id: String,
    },
    /// The channel is not open (another close is under way, or it is done).
    #[error("channel {channel_id} is {status}")]
    NotOpen {
        /// The channel id, 0x hex.
        channel_id: String,
        /// Its state.
        status: ChannelStatus,
    },
    /// No claim was received on the channel: nothing to close with.
    #[error("no claim received on this channel")]
    NoClaim,
    /// The stored signature is not 65 bytes of hex.
    #[error("stored signature is malformed")]
    StoredSignature,
    /// The stored channel id does not parse (the parser's reason).
    #[error("channel id: {0}")]
    ChannelId(String),
    /// The stored claim amount does not parse.
    #[error(transparent)]
    Amount(#[from] AmountError),
    /// The close transaction failed and the chain does not show the channel closed.
    #[error("close: {0}")]
    Chain(#[source] ChainError),
    /// The closed state could not be committed.
    #[error(transparent)]
    Store(#[from] StorageError),
}

/// Why a step of paying a peer failed; logged, and retried on the next engine tick.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// A storage read or write failed.
    #[error(transparent)]
    Store(#[from] StorageError),
    /// The chain's time could not be read.
    #[error("chain time: {0}")]
    ChainTime(#[source] ChainError),
    /// A stored amount does not parse.
    #[error(transparent)]
    Amount(#[from] AmountError),
    /// The stored channel id does not parse (the parser's reason).
    #[error("channel id: {0}")]
    ChannelId(String),
    /// The top-up transaction failed.
    #[error("top-up: {0}")]
    TopUp(#[source] ChainError),
    /// The claim could not be signed.
    #[error(transparent)]
    Sign(#[from] ClaimError),
    /// The peer's settlement address does not parse (the parser's reason).
    #[error("peer address: {0}")]
    PeerAddress(String),
    /// The open transaction failed.
    #[error("open: {0}")]
    Open(#[source] ChainError),
    /// An earlier open of a channel to this peer may still land (its transaction was sent, the
    /// chain shows neither the channel nor an empty pool yet): no second open until it is known.
    #[error("an earlier open (channel nonce {nonce}) is not settled on chain yet")]
    OpenPending {
        /// The contract's channel nonce the earlier open was sent at.
        nonce: String,
    },
    /// The peer did not answer the claim with a BTP Response (its refusal, or the link's
    /// failure).
    #[error("peer did not accept claim {claim}: {source}")]
    NotAccepted {
        /// The claim's cumulative amount, token base units (decimal).
        claim: String,
        /// The link error (a BTP Error from the peer carries its refusal).
        source: crate::link::LinkError,
    },
}
