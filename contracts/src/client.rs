//! [`ChannelClient`]: a thin async JSON-RPC client for one `UnidirectionalChannel` deployment.
//!
//! Every state-changing call is sent from the client's own key (a local secp256k1 signer),
//! waits for the receipt and fails with [`ChainError::Reverted`] (carrying the contract's custom
//! error name, e.g. `"InvalidSignature"`) when the call would revert or did revert. Gas, nonce and
//! chain id are filled in by alloy's recommended fillers; submissions from one client (and its
//! clones) are serialised so concurrent calls never race for a nonce.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{BlockNumberOrTag, Filter, Log, TransactionReceipt};
use alloy::sol_types::SolEventInterface;
use alloy::transports::{RpcError, TransportErrorKind};

use crate::bindings::UnidirectionalChannel::{
    self, UnidirectionalChannelErrors, UnidirectionalChannelEvents, UnidirectionalChannelInstance,
};
use crate::claim::{ChannelDomain, ClaimError, ClaimSigner};

/// Default time to wait for a transaction receipt.
const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default largest block span of one `eth_getLogs` query in [`ChannelClient::events_since`]
/// (public Base endpoints refuse very large ranges).
const DEFAULT_MAX_LOG_RANGE: u64 = 2_000;
/// Receipt polling interval for non-local endpoints (Base produces a block every 2 s; alloy's
/// default for remote endpoints is 7 s).
const REMOTE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Errors talking to the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The RPC URL does not parse, or needs TLS this build lacks.
    #[error("invalid RPC URL: {0}")]
    InvalidUrl(String),
    /// The secret key is invalid.
    #[error("invalid key: {0}")]
    Key(#[from] ClaimError),
    /// Transport or JSON-RPC failure (connection refused, timeout, node error without revert data…).
    #[error("RPC error: {0}")]
    Rpc(String),
    /// The call reverted. Holds the contract's custom error name when it decodes (e.g.
    /// `"InvalidSignature"`, `"ChannelExpired"`, `"NotRecipient"`), else the revert reason string
    /// or the raw revert data as hex; `"reverted on chain (tx 0x…)"` when a mined transaction failed.
    #[error("reverted: {0}")]
    Reverted(String),
    /// The transaction succeeded but the expected event (e.g. `ChannelOpened`) is not in its receipt.
    #[error("expected event not found in the receipt")]
    NoEvent,
    /// No channel with this id exists on this deployment.
    #[error("channel {0} not found")]
    ChannelNotFound(B256),
    /// A deployment transaction did not create a contract.
    #[error("deployment failed: {0}")]
    DeployFailed(String),
}

impl From<alloy::contract::Error> for ChainError {
    fn from(e: alloy::contract::Error) -> Self {
        if let Some(data) = e.as_revert_data() {
            return ChainError::Reverted(revert_name(&data));
        }
        ChainError::Rpc(e.to_string())
    }
}

impl From<RpcError<TransportErrorKind>> for ChainError {
    fn from(e: RpcError<TransportErrorKind>) -> Self {
        if let Some(data) = e.as_error_resp().and_then(|p| p.as_revert_data()) {
            return ChainError::Reverted(revert_name(&data));
        }
        ChainError::Rpc(e.to_string())
    }
}

impl From<alloy::providers::PendingTransactionError> for ChainError {
    fn from(e: alloy::providers::PendingTransactionError) -> Self {
        ChainError::Rpc(format!("waiting for receipt: {e}"))
    }
}

/// Human-readable form of revert data: the contract's custom error name, a `require` reason /
/// panic description, or the raw hex.
fn revert_name(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without data".to_owned();
    }
    if let Ok(selector) = <[u8; 4]>::try_from(&data[..data.len().min(4)]) {
        if let Some(name) = UnidirectionalChannelErrors::name_by_selector(selector) {
            return name.to_owned();
        }
    }
    use alloy::sol_types::{Panic, Revert, SolError};
    if let Ok(revert) = Revert::abi_decode(data) {
        return revert.to_string();
    }
    if let Ok(panic) = Panic::abi_decode(data) {
        return panic.to_string();
    }
    format!("0x{}", hex::encode(data))
}

/// Gas accounting of a mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxOutcome {
    /// Transaction hash.
    pub tx_hash: B256,
    /// L2 execution gas used.
    pub gas_used: u64,
    /// Price paid per gas unit, in wei. The L2 execution cost is `gas_used × effective_gas_price`
    /// wei (on Base an L1 data fee is charged on top and is not included here).
    pub effective_gas_price: u128,
}

impl TxOutcome {
    fn from_receipt(r: &TransactionReceipt) -> Self {
        Self { tx_hash: r.transaction_hash, gas_used: r.gas_used, effective_gas_price: r.effective_gas_price }
    }

    /// `gas_used × effective_gas_price`, in wei (L2 execution fee only).
    pub fn fee(&self) -> U256 {
        U256::from(self.gas_used) * U256::from(self.effective_gas_price)
    }
}

/// On-chain state of a channel (the contract's `channels(id)` view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelState {
    /// Funding party; signs claims.
    pub sender: Address,
    /// Receiving party; the only one allowed to withdraw/close.
    pub recipient: Address,
    /// ERC-20 token address, or `Address::ZERO` for ETH.
    pub token: Address,
    /// Total deposit that arrived (opening deposit + top-ups), token base units.
    pub deposit: U256,
    /// Cumulative amount already paid to the recipient, token base units.
    pub withdrawn: U256,
    /// Unix time (seconds) from which the channel is expired: live while `block.timestamp < expiry`.
    pub expiry: u64,
    /// Closed or reclaimed (final).
    pub closed: bool,
}

impl ChannelState {
    /// `deposit - withdrawn`: what is still locked in the channel (token base units).
    pub fn remaining(&self) -> U256 {
        self.deposit.saturating_sub(self.withdrawn)
    }

    /// Whether the recipient can still withdraw/close at block time `now` (Unix seconds).
    pub fn is_live_at(&self, now: u64) -> bool {
        !self.closed && now < self.expiry
    }
}

/// A decoded contract log with its position in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelEvent {
    /// Block the log was emitted in.
    pub block_number: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Index of the log in its block (events are returned in (block, log index) order).
    pub log_index: u64,
    /// What happened.
    pub kind: ChannelEventKind,
}

impl ChannelEvent {
    /// The channel the event is about (`None` for [`ChannelEventKind::RefundClaimed`]).
    pub fn channel_id(&self) -> Option<B256> {
        match &self.kind {
            ChannelEventKind::Opened { channel_id, .. }
            | ChannelEventKind::ToppedUp { channel_id, .. }
            | ChannelEventKind::Withdrawn { channel_id, .. }
            | ChannelEventKind::Closed { channel_id, .. }
            | ChannelEventKind::Reclaimed { channel_id, .. } => Some(*channel_id),
            ChannelEventKind::RefundClaimed { .. } => None,
        }
    }
}

/// The contract's events (amounts in token base units, times in Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChannelEventKind {
    /// `ChannelOpened`.
    Opened {
        /// New channel id.
        channel_id: B256,
        /// Funding party.
        sender: Address,
        /// Receiving party.
        recipient: Address,
        /// Token (`Address::ZERO` = ETH).
        token: Address,
        /// Deposit that arrived.
        amount: U256,
        /// Expiry, Unix seconds.
        expiry: u64,
    },
    /// `ChannelToppedUp`: funds added and/or expiry extended.
    ToppedUp {
        /// Channel id.
        channel_id: B256,
        /// Amount added (0 for an expiry-only extension).
        amount: U256,
        /// Total deposit after the top-up.
        new_deposit: U256,
        /// Expiry after the top-up, Unix seconds.
        expiry: u64,
    },
    /// `Withdrawn`: the recipient took part of the channel, which stays open.
    Withdrawn {
        /// Channel id.
        channel_id: B256,
        /// Cumulative amount of the presented claim.
        cumulative_amount: U256,
        /// Amount paid now.
        paid: U256,
    },
    /// `ChannelClosed` by the recipient.
    Closed {
        /// Channel id.
        channel_id: B256,
        /// Cumulative amount of the presented claim.
        cumulative_amount: U256,
        /// Amount paid to the recipient by the close.
        paid_to_recipient: U256,
        /// Amount credited to the sender's refund balance.
        refunded_to_sender: U256,
    },
    /// `ChannelReclaimed` after expiry.
    Reclaimed {
        /// Channel id.
        channel_id: B256,
        /// Amount credited to the sender's refund balance.
        refunded: U256,
    },
    /// `RefundClaimed`: an owner collected its refund balance.
    RefundClaimed {
        /// Owner of the balance.
        owner: Address,
        /// Token (`Address::ZERO` = ETH).
        token: Address,
        /// Amount sent.
        amount: U256,
        /// Destination.
        to: Address,
    },
}

impl ChannelEventKind {
    fn from_sol(e: UnidirectionalChannelEvents) -> Option<Self> {
        use UnidirectionalChannelEvents as E;
        Some(match e {
            E::ChannelOpened(e) => Self::Opened {
                channel_id: e.channelId,
                sender: e.sender,
                recipient: e.recipient,
                token: e.token,
                amount: e.amount,
                expiry: e.expiry,
            },
            E::ChannelToppedUp(e) => Self::ToppedUp {
                channel_id: e.channelId,
                amount: e.amount,
                new_deposit: e.newDeposit,
                expiry: e.expiry,
            },
            E::Withdrawn(e) => {
                Self::Withdrawn { channel_id: e.channelId, cumulative_amount: e.cumulativeAmount, paid: e.paid }
            }
            E::ChannelClosed(e) => Self::Closed {
                channel_id: e.channelId,
                cumulative_amount: e.cumulativeAmount,
                paid_to_recipient: e.paidToRecipient,
                refunded_to_sender: e.refundedToSender,
            },
            E::ChannelReclaimed(e) => Self::Reclaimed { channel_id: e.channelId, refunded: e.refunded },
            E::RefundClaimed(e) => Self::RefundClaimed { owner: e.owner, token: e.token, amount: e.amount, to: e.to },
            E::EIP712DomainChanged(_) => return None,
        })
    }
}

/// A thin async client for one `UnidirectionalChannel` deployment, sending transactions from a
/// local secp256k1 key. Cheap to clone (clones share the connection and the submission lock).
#[derive(Clone)]
pub struct ChannelClient {
    provider: DynProvider,
    contract: UnidirectionalChannelInstance<DynProvider>,
    address: Address,
    chain_id: OnceLock<u64>,
    send_lock: Arc<tokio::sync::Mutex<()>>,
    receipt_timeout: Duration,
    max_log_range: u64,
}

impl std::fmt::Debug for ChannelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelClient")
            .field("contract", self.contract.address())
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Builds a provider that signs with `signer`.
fn connect(rpc_url: &str, signer: &ClaimSigner) -> Result<DynProvider, ChainError> {
    let url: alloy::transports::http::reqwest::Url =
        rpc_url.parse().map_err(|e| ChainError::InvalidUrl(format!("{rpc_url}: {e}")))?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "rustls") => {}
        "https" => {
            return Err(ChainError::InvalidUrl(format!(
                "{rpc_url}: https needs the `rustls` feature of btpnips-contracts"
            )))
        }
        other => return Err(ChainError::InvalidUrl(format!("{rpc_url}: unsupported scheme {other:?}"))),
    }
    let wallet = EthereumWallet::from(signer.inner().clone());
    // Not `ProviderBuilder::new()`: its recommended fillers use alloy's `CachedNonceManager`,
    // which can keep a nonce that was reserved for a call whose gas estimation then reverted, so
    // the next transaction sits in the pool behind a nonce gap forever. The simple manager asks
    // the node for the pending nonce every time; `send` serialises submissions so that is exact.
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(wallet)
        .connect_http(url)
        .erased();
    if !provider.client().is_local() {
        provider.client().set_poll_interval(REMOTE_POLL_INTERVAL);
    }
    Ok(provider)
}

impl ChannelClient {
    /// A client for the deployment at `contract`, reached through `rpc_url` (`http://…`; `https://`
    /// with the `rustls` feature), sending from the key `secret_key` (32-byte secp256k1 scalar).
    /// Does not touch the network.
    pub fn new(rpc_url: &str, contract: Address, secret_key: &[u8; 32]) -> Result<Self, ChainError> {
        let signer = ClaimSigner::new(secret_key)?;
        let provider = connect(rpc_url, &signer)?;
        Ok(Self {
            contract: UnidirectionalChannel::new(contract, provider.clone()),
            provider,
            address: signer.address(),
            chain_id: OnceLock::new(),
            send_lock: Arc::new(tokio::sync::Mutex::new(())),
            receipt_timeout: DEFAULT_RECEIPT_TIMEOUT,
            max_log_range: DEFAULT_MAX_LOG_RANGE,
        })
    }

    /// Deploys the artifact's bytecode from `secret_key`'s account and returns the contract
    /// address (tests and dev setups; production deployments are done once per chain).
    pub async fn deploy(rpc_url: &str, secret_key: &[u8; 32]) -> Result<Address, ChainError> {
        let signer = ClaimSigner::new(secret_key)?;
        let provider = connect(rpc_url, &signer)?;
        let address =
            UnidirectionalChannel::deploy_builder(&provider).from(signer.address()).deploy().await.map_err(|e| {
                match ChainError::from(e) {
                    ChainError::Rpc(msg) => ChainError::DeployFailed(msg),
                    other => other,
                }
            })?;
        tracing::info!(%address, deployer = %signer.address(), "deployed UnidirectionalChannel");
        Ok(address)
    }

    /// Sets how long state-changing calls wait for their receipt (default 120 s).
    pub fn with_receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// Sets the largest block span one [`Self::events_since`] call queries (default 2 000; min 1).
    pub fn with_max_log_range(mut self, blocks: u64) -> Self {
        self.max_log_range = blocks.max(1);
        self
    }

    /// Our EVM address (the account that sends transactions and, as a channel sender, signs claims).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The deployment's address.
    pub fn contract(&self) -> Address {
        *self.contract.address()
    }

    /// The underlying provider (raw JSON-RPC requests, e.g. anvil's `evm_increaseTime`).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id reported by the RPC endpoint (`eth_chainId`, fetched once then cached).
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        if let Some(id) = self.chain_id.get() {
            return Ok(*id);
        }
        let id = self.provider.get_chain_id().await?;
        Ok(*self.chain_id.get_or_init(|| id))
    }

    /// The EIP-712 domain of this deployment: the RPC's chain id and the contract address.
    pub async fn domain(&self) -> Result<ChannelDomain, ChainError> {
        Ok(ChannelDomain { chain_id: self.chain_id().await?, contract: self.contract() })
    }

    /// Opens an ETH channel from us to `recipient` with a deposit of `amount` wei, expiring at
    /// `expiry` (Unix seconds, must be after the current block time). Returns the channel id from
    /// the `ChannelOpened` event.
    pub async fn open_eth(&self, recipient: Address, amount: U256, expiry: u64) -> Result<B256, ChainError> {
        let call = self.contract.open(recipient, Address::ZERO, amount, expiry).value(amount);
        let receipt = self.send(call, "open").await?;
        let contract = self.contract();
        receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == contract)
            .find_map(|log| log.log_decode::<UnidirectionalChannel::ChannelOpened>().ok())
            .map(|log| log.inner.data.channelId)
            .ok_or(ChainError::NoEvent)
    }

    /// Adds `amount` wei to our live ETH channel `id` and sets its expiry to `new_expiry` (Unix
    /// seconds; ≥ the current expiry — pass the current one to only add funds, or `amount` 0 to
    /// only extend).
    pub async fn top_up_eth(&self, id: B256, amount: U256, new_expiry: u64) -> Result<(), ChainError> {
        self.send(self.contract.topUp(id, amount, new_expiry).value(amount), "topUp").await.map(|_| ())
    }

    /// As the recipient, closes live channel `id` with the sender's claim for `claim_amount`
    /// (cumulative, token base units) and its `signature`: pays us
    /// `min(claim_amount, deposit) - withdrawn` and credits the rest to the sender's refund balance.
    pub async fn close(&self, id: B256, claim_amount: U256, signature: &[u8; 65]) -> Result<TxOutcome, ChainError> {
        let sig = Bytes::copy_from_slice(signature);
        self.send(self.contract.close(id, claim_amount, sig), "close").await.map(|r| TxOutcome::from_receipt(&r))
    }

    /// As the recipient, withdraws `min(claim_amount, deposit) - withdrawn` from live channel `id`
    /// with the sender's claim; the channel stays open.
    pub async fn withdraw(&self, id: B256, claim_amount: U256, signature: &[u8; 65]) -> Result<TxOutcome, ChainError> {
        let sig = Bytes::copy_from_slice(signature);
        self.send(self.contract.withdraw(id, claim_amount, sig), "withdraw").await.map(|r| TxOutcome::from_receipt(&r))
    }

    /// After expiry, credits the unpaid rest of channel `id` to its sender's refund balance
    /// (anyone may call; the sender then collects with [`Self::claim_refund_eth`]).
    pub async fn reclaim(&self, id: B256) -> Result<TxOutcome, ChainError> {
        self.send(self.contract.reclaim(id), "reclaim").await.map(|r| TxOutcome::from_receipt(&r))
    }

    /// Collects our whole ETH refund balance (see [`Self::owed_eth`]) to our address.
    pub async fn claim_refund_eth(&self) -> Result<TxOutcome, ChainError> {
        self.send(self.contract.claimRefund(Address::ZERO), "claimRefund").await.map(|r| TxOutcome::from_receipt(&r))
    }

    /// The ETH refund balance `owner` can collect with `claimRefund`, in wei.
    pub async fn owed_eth(&self, owner: Address) -> Result<U256, ChainError> {
        Ok(self.contract.owed(owner, Address::ZERO).call().await?)
    }

    /// The state of channel `id`; [`ChainError::ChannelNotFound`] if it does not exist.
    pub async fn channel(&self, id: B256) -> Result<ChannelState, ChainError> {
        let c = self.contract.channels(id).call().await?;
        if c.sender == Address::ZERO {
            return Err(ChainError::ChannelNotFound(id));
        }
        Ok(ChannelState {
            sender: c.sender,
            recipient: c.recipient,
            token: c.token,
            deposit: c.deposit,
            withdrawn: c.withdrawn,
            expiry: c.expiry,
            closed: c.closed,
        })
    }

    /// How many channels `sender` has opened on this deployment (`channelNonce[sender]`): the
    /// channel nonce its next channel gets.
    pub async fn channel_nonce(&self, sender: Address) -> Result<U256, ChainError> {
        Ok(self.contract.channelNonce(sender).call().await?)
    }

    /// The id of the channel `sender` opened (or will open) to `recipient` in `token`
    /// (`Address::ZERO` for ETH) with channel nonce `nonce`: the contract's `computeChannelId`.
    pub async fn channel_id_for(
        &self,
        sender: Address,
        recipient: Address,
        token: Address,
        nonce: U256,
    ) -> Result<B256, ChainError> {
        Ok(self.contract.computeChannelId(sender, recipient, token, nonce).call().await?)
    }

    /// Whether a transaction from our address waits in the node's pool, not yet mined (its
    /// pending transaction count is above the latest block's).
    pub async fn has_pending_transactions(&self) -> Result<bool, ChainError> {
        let pending = self.provider.get_transaction_count(self.address).pending().await?;
        let latest = self.provider.get_transaction_count(self.address).latest().await?;
        Ok(pending > latest)
    }

    /// ETH balance of `who`, in wei, at the latest block.
    pub async fn balance(&self, who: Address) -> Result<U256, ChainError> {
        Ok(self.provider.get_balance(who).await?)
    }

    /// The code `who` carries at the latest block, classified ([`AccountCode`]).
    pub async fn account_code(&self, who: Address) -> Result<crate::AccountCode, ChainError> {
        let code = self.provider.get_code_at(who).await?;
        Ok(crate::AccountCode::classify(&code))
    }

    /// Timestamp of the latest block (Unix seconds): the clock the contract's expiry checks use.
    pub async fn block_timestamp(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::Rpc("latest block not available".to_owned()))?;
        Ok(block.header.timestamp)
    }

    /// The contract's events from block `from_block` on, in chain order, and the block to pass
    /// next time. At most `max_log_range` blocks (default 2 000) are read per call, so a watcher
    /// catching up calls repeatedly until the returned block exceeds the head. When `from_block`
    /// is beyond the head, returns no events and `from_block` unchanged. Logs marked `removed`
    /// (reorged out) and events unknown to the ABI are skipped.
    pub async fn events_since(&self, from_block: u64) -> Result<(Vec<ChannelEvent>, u64), ChainError> {
        let head = self.provider.get_block_number().await?;
        if from_block > head {
            return Ok((Vec::new(), from_block));
        }
        let to_block = head.min(from_block.saturating_add(self.max_log_range - 1));
        let filter = Filter::new().address(self.contract()).from_block(from_block).to_block(to_block);
        let logs = self.provider.get_logs(&filter).await?;
        let mut events: Vec<ChannelEvent> = logs.iter().filter_map(decode_event).collect();
        events.sort_by_key(|e| (e.block_number, e.log_index));
        Ok((events, to_block + 1))
    }

    /// Sends `call` from our address (submissions serialised), waits for the receipt and checks
    /// its status.
    async fn send<D: CallDecoder>(
        &self,
        call: CallBuilder<&DynProvider, D>,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let pending = {
            let _guard = self.send_lock.lock().await;
            call.from(self.address).send().await?
        };
        let tx_hash = *pending.tx_hash();
        tracing::debug!(%tx_hash, what, "sent channel transaction");
        let receipt = pending.with_timeout(Some(self.receipt_timeout)).get_receipt().await?;
        if !receipt.status() {
            tracing::warn!(%tx_hash, what, "channel transaction reverted on chain");
            return Err(ChainError::Reverted(format!("reverted on chain (tx {tx_hash})")));
        }
        tracing::debug!(%tx_hash, what, gas_used = receipt.gas_used, "channel transaction mined");
        Ok(receipt)
    }
}

fn decode_event(log: &Log) -> Option<ChannelEvent> {
    if log.removed {
        return None;
    }
    let decoded = match UnidirectionalChannelEvents::decode_log(&log.inner) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "skipping undecodable channel contract log");
            return None;
        }
    };
    Some(ChannelEvent {
        block_number: log.block_number?,
        tx_hash: log.transaction_hash?,
        log_index: log.log_index?,
        kind: ChannelEventKind::from_sol(decoded.data)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = alloy::hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

    #[test]
    fn revert_names() {
        use alloy::sol_types::SolError;
        let data = UnidirectionalChannel::InvalidSignature {}.abi_encode();
        assert_eq!(revert_name(&data), "InvalidSignature");
        let data = UnidirectionalChannel::ChannelExpired { channelId: B256::ZERO, expiry: 5 }.abi_encode();
        assert_eq!(revert_name(&data), "ChannelExpired");
        let data = alloy::sol_types::Revert::from("nope").abi_encode();
        assert_eq!(revert_name(&data), "revert: nope");
        assert_eq!(revert_name(&[1, 2, 3, 4, 5]), "0x0102030405");
        assert_eq!(revert_name(&[]), "reverted without data");
    }

    #[test]
    fn url_checks() {
        let c = ChannelClient::new("http://127.0.0.1:8545", Address::ZERO, &KEY).unwrap();
        assert_eq!(c.address(), crate::evm_address(&KEY).unwrap());
        assert!(matches!(ChannelClient::new("not a url", Address::ZERO, &KEY), Err(ChainError::InvalidUrl(_))));
        assert!(matches!(
            ChannelClient::new("ws://127.0.0.1:8545", Address::ZERO, &KEY),
            Err(ChainError::InvalidUrl(_))
        ));
        let https = ChannelClient::new(crate::BASE_MAINNET.rpc_url, Address::ZERO, &KEY);
        assert_eq!(https.is_ok(), cfg!(feature = "rustls"));
        assert_eq!(
            ChannelClient::new("http://127.0.0.1:8545", Address::ZERO, &[0; 32]).unwrap_err(),
            ChainError::Key(ClaimError::InvalidKey)
        );
    }

    #[test]
    fn channel_state_helpers() {
        let s = ChannelState {
            sender: Address::ZERO,
            recipient: Address::ZERO,
            token: Address::ZERO,
            deposit: U256::from(10),
            withdrawn: U256::from(3),
            expiry: 100,
            closed: false,
        };
        assert_eq!(s.remaining(), U256::from(7));
        assert!(s.is_live_at(99));
        assert!(!s.is_live_at(100));
        assert!(!ChannelState { closed: true, ..s }.is_live_at(0));
    }
}
