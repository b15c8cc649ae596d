//! The settlement engine (issue 4): balances between btpnips peers become real money through
//! unidirectional payment channels (contracts/, EIP-712 claims).
//!
//! One engine task per node looks, every `poll_interval_ms`, at each linked peer that settles
//! on the same chain and contract:
//! - [`payer`]: when we owe a peer at least `settle_threshold`, open a channel to it if there
//!   is none (the deposit counts only once the chain confirmed it), top it up when the claim
//!   would pass the deposit, sign a new cumulative claim, persist it together with the ledger
//!   entry, and send it over the link until the peer acknowledges it;
//! - [`payee`]: verify each claim a peer sends (channel read from the chain on first sight,
//!   signature, higher than the last, within the deposit), keep only the highest, credit the
//!   difference once (persisted before the Response), and close on chain with the highest claim
//!   before expiry (with `close_margin_secs` to spare) or when the operator asks.
//!
//! A chain that cannot be reached only delays on-chain steps: claims keep flowing off chain and
//! the on-chain work is retried on the next tick.
mod error;
mod payee;
mod payer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contracts::{ChannelClient, ChannelDomain};
use protocol::btpnips::info::{ClaimMessage, SettlementInfo};
use storage::{ChannelRecord, Direction};

pub use error::{AmountError, ClaimRefusal, CloseError, PayError, PayerRefusal};
pub use payee::close_channels_from;

use crate::config::SettlementConfig;
use crate::node::Node;

/// Token amounts (wei / token base units).
pub type U256 = contracts::U256;

/// The engine's state; the durable part lives in storage (`channels` table).
pub struct Engine {
    /// Settlement configuration.
    pub config: SettlementConfig,
    client: ChannelClient,
    domain: ChannelDomain,
    base_units_per_unit: U256,
    /// Channels by (peer, direction), the current one per direction.
    channels: Mutex<HashMap<(String, Direction), ChannelRecord>>,
    /// Highest claim each payee acknowledged (decimal), per channel id.
    acked: Mutex<HashMap<String, String>>,
    /// Serializes incoming claims (held across the chain read and the commit of one claim).
    claim_lock: tokio::sync::Mutex<()>,
    /// Per peer, the paying step's last failure: (its text, when last logged, repeats since).
    retry_log: Mutex<HashMap<String, (String, std::time::Instant, u64)>>,
}

/// How often a failure that repeats on every tick (the chain unreachable for minutes) is logged.
const RETRY_LOG_EVERY: Duration = Duration::from_secs(30);

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    /// A configuration value is missing or malformed.
    #[error("settlement config: {0}")]
    Config(String),
    /// The chain client could not be built.
    #[error("chain client: {0}")]
    Chain(String),
}

impl Engine {
    /// Build the engine from config (no chain round trip: an unreachable RPC only delays
    /// on-chain work). Errors: missing contract, unknown preset, invalid key or address.
    pub fn new(config: &SettlementConfig, asset_scale: u8, secret_key: &[u8; 32]) -> Result<Engine, SettlementError> {
        let preset = contracts::ChainPreset::by_name(&config.chain).ok_or_else(|| {
            SettlementError::Config(format!("unknown chain preset {:?} (base, base-sepolia, anvil)", config.chain))
        })?;
        let rpc_url = config.rpc_url.clone().unwrap_or_else(|| preset.rpc_url.to_owned());
        let contract: contracts::Address = config
            .contract
            .as_deref()
            .ok_or_else(|| SettlementError::Config("`contract` is required".into()))?
            .parse()
            .map_err(|e| SettlementError::Config(format!("contract: {e}")))?;
        if config.token_decimals < asset_scale {
            return Err(SettlementError::Config("token_decimals must be at least the asset scale".into()));
        }
        let base_units_per_unit = U256::from(10u64).pow(U256::from(config.token_decimals - asset_scale));
        let client =
            ChannelClient::new(&rpc_url, contract, secret_key).map_err(|e| SettlementError::Chain(e.to_string()))?;
        Ok(Engine {
            config: config.clone(),
            domain: ChannelDomain { chain_id: preset.chain_id, contract },
            client,
            base_units_per_unit,
            channels: Mutex::new(HashMap::new()),
            acked: Mutex::new(HashMap::new()),
            claim_lock: tokio::sync::Mutex::new(()),
            retry_log: Mutex::new(HashMap::new()),
        })
    }

    /// What this node announces about its settlement in its node info.
    pub fn info(&self) -> SettlementInfo {
        SettlementInfo {
            chain_id: self.domain.chain_id,
            contract: self.domain.contract.to_checksum(None),
            address: self.client.address().to_checksum(None),
            base_units_per_unit: self.base_units_per_unit.to_string(),
        }
    }

    /// Whether a peer settles with us: same chain, contract and unit conversion.
    fn compatible(&self, peer: &SettlementInfo) -> bool {
        let ours = self.info();
        peer.chain_id == ours.chain_id
            && peer.contract.eq_ignore_ascii_case(&ours.contract)
            && peer.base_units_per_unit == ours.base_units_per_unit
    }

    fn channel(&self, peer: &str, direction: Direction) -> Option<ChannelRecord> {
        self.channels.lock().expect("poisoned").get(&(peer.to_owned(), direction)).cloned()
    }

    /// Log a paying step's outcome: a new failure at once, the same failure again at most every
    /// [`RETRY_LOG_EVERY`] (with how often it repeated), and the recovery.
    fn log_step(&self, peer: &str, outcome: Result<(), PayError>) {
        let mut log = self.retry_log.lock().expect("poisoned");
        match outcome {
            Ok(()) => {
                if let Some((error, _, repeats)) = log.remove(peer) {
                    tracing::info!(%peer, last_error = %error, retries = repeats, "settlement (paying) works again");
                }
            }
            Err(e) => {
                let text = e.to_string();
                let now = std::time::Instant::now();
                match log.get_mut(peer) {
                    Some((last, at, repeats)) if *last == text && now.duration_since(*at) < RETRY_LOG_EVERY => {
                        *repeats += 1;
                    }
                    Some((last, at, repeats)) if *last == text => {
                        tracing::warn!(%peer, error = %text, repeats = *repeats, "settlement (paying) still failing; will retry");
                        *at = now;
                    }
                    _ => {
                        tracing::warn!(%peer, error = %text, "settlement (paying) will retry");
                        log.insert(peer.to_owned(), (text, now, 0));
                    }
                }
            }
        }
    }

    fn remember(&self, record: ChannelRecord) {
        self.channels.lock().expect("poisoned").insert((record.peer.clone(), record.direction), record);
    }
}

/// Load channel state and run the engine until shutdown.
pub async fn start(node: &Arc<Node>) -> Result<(), storage::StorageError> {
    let Some(engine) = node.settlement.as_ref() else { return Ok(()) };
    for c in node.storage.channels().await? {
        if !c.status.is_final() {
            engine.remember(c);
        }
    }
    let node = node.clone();
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        let interval =
            Duration::from_millis(node.settlement.as_ref().map(|e| e.config.poll_interval_ms).unwrap_or(2000));
        loop {
            tick(&node).await;
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
    Ok(())
}

async fn tick(node: &Arc<Node>) {
    let Some(engine) = node.settlement.as_ref() else { return };
    let peers: Vec<(String, SettlementInfo)> = node
        .peers
        .lock()
        .expect("poisoned")
        .values()
        .filter_map(|i| i.settlement.clone().map(|s| (i.pubkey.clone(), s)))
        .filter(|(_, s)| engine.compatible(s))
        .collect();
    for (peer, info) in peers {
        if node.links.get(&peer).is_none() {
            continue;
        }
        let outcome = payer::step(node, engine, &peer, &info).await;
        engine.log_step(&peer, outcome);
    }
    payee::step(node, engine).await;
}

/// A claim arrived over a link (BTP Message `btpnips_claim`). `Ok` means verified and, if
/// higher than before, credited and committed; `Err` is the refusal, whose text is the reason
/// in the BTP Error (docs/btp-nips.md §6a).
pub async fn on_claim_message(node: &Arc<Node>, peer: &str, data: &[u8]) -> Result<(), ClaimRefusal> {
    let Some(engine) = node.settlement.as_ref() else {
        return Err(ClaimRefusal::NotSettling);
    };
    let claim: ClaimMessage = serde_json::from_slice(data).map_err(ClaimRefusal::Malformed)?;
    payee::on_claim(node, engine, peer, claim).await
}

/// Token base units for `units` asset units.
fn to_base(engine: &Engine, units: u64) -> U256 {
    U256::from(units) * engine.base_units_per_unit
}

/// Parse a decimal token amount (as stored, or as a claim carries it).
fn parse_u256(s: &str) -> Result<U256, AmountError> {
    s.parse::<U256>().map_err(|e| AmountError { text: s.to_owned(), reason: e.to_string() })
}
