//! Node configuration: defaults, then `<data_dir>/btpnips.toml` (or `--config`), then
//! `BTPNIPS_*` environment variables (figment). Every field has a working default, so a
//! fresh node needs no file at all.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Prices this node asks, in units of its asset at `asset_scale` (docs/btp-nips.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceConfig {
    /// Price of one subscription period, paid with the REQ.
    pub subscription: u64,
    /// Length of a subscription period in seconds.
    pub subscription_period_secs: u64,
    /// Price per EVENT delivered on a subscription, paid by the subscriber after delivery.
    pub event_delivered: u64,
    /// Unpaid delivery (units) a subscriber may owe: at this credit the publisher pauses the
    /// subscription's delivery and resumes it as payment arrives. Payments come back a round
    /// trip (and two commits) after their deliveries, so `delivery_credit / event_delivered`
    /// EVENTs per round trip is the most a subscription delivers (default 10 000: 1 000
    /// EVENTs at the default price, ten periods' price; 10⁻⁵ of the asset at scale 9).
    pub delivery_credit: u64,
    /// Seconds a paused subscription waits for payment before it is closed with
    /// `CLOSED "payment-required: …"` (docs/btp-nips.md §4).
    #[serde(default = "default_delivery_grace_secs")]
    pub delivery_grace_secs: u64,
    /// Price per EVENT a peer publishes to this node to have it stored (paid in the same
    /// Prepare). Unset (the default): the node does not store events for peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_published: Option<u64>,
}

impl Default for PriceConfig {
    fn default() -> Self {
        Self {
            subscription: 1_000,
            subscription_period_secs: 86_400,
            event_delivered: 10,
            delivery_credit: 10_000,
            delivery_grace_secs: default_delivery_grace_secs(),
            event_published: None,
        }
    }
}

fn default_delivery_grace_secs() -> u64 {
    30
}

/// How a configured ILP account relates to this node (RFC 31/ilp-connector terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// We are its parent: it gets `<our address>.<id>` by IL-DCP, and that route.
    Child,
    /// An equal: routes are exchanged over CCP (and/or configured).
    Peer,
    /// Our upstream: the default route goes to it.
    Parent,
}

/// A statically configured ILP account: a BTP peer that is not a btpnips node (e.g. the JS
/// reference stack, ilp-connector). btpnips peers need no entry here: they are accounts by
/// their key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountConfig {
    /// Account id: one RFC 15 address segment (`[A-Za-z0-9_~-]+`).
    pub id: String,
    /// Child, peer or parent.
    pub relation: Relation,
    /// Token the peer must present in BTP auth when it dials us (`auth_token`).
    #[serde(default)]
    pub auth_token: Option<String>,
    /// Dial the peer at this URL, `btp+ws://[user]:token@host:port` (or `ws://`).
    #[serde(default)]
    pub url: Option<String>,
    /// Largest Prepare amount accepted from this account (asset units); above it: F08.
    #[serde(default)]
    pub max_packet_amount: Option<u64>,
    /// Most this account may owe us, unsettled (asset units); above it: T04. Default:
    /// `default_credit_limit`.
    #[serde(default)]
    pub credit_limit: Option<u64>,
    /// Address prefixes routed to this account, besides CCP-learned ones.
    #[serde(default)]
    pub routes: Vec<String>,
}

/// Connector fee taken on each forwarded Prepare: `fixed + amount × basis_points / 10 000`
/// (asset units, rounded down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeConfig {
    /// Fixed part, asset units.
    pub fixed: u64,
    /// Proportional part, basis points (1/100 of a percent).
    pub basis_points: u32,
}

/// On-chain settlement through unidirectional payment channels (issue 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettlementConfig {
    /// Settle on chain at all.
    pub enabled: bool,
    /// Preset: "base" (8453), "base-sepolia" (84532) or "anvil" (31337); sets chain id and RPC.
    pub chain: String,
    /// JSON-RPC URL (overrides the preset's).
    pub rpc_url: Option<String>,
    /// Channel contract address, 0x hex. Required when enabled.
    pub contract: Option<String>,
    /// Decimals of the settlement token (18 for ETH): one asset unit is
    /// 10^(token_decimals − asset_scale) token base units.
    pub token_decimals: u8,
    /// Deposit of each channel we open (and of each top-up), asset units.
    pub deposit: u64,
    /// What we owe a peer (asset units) before we sign a new claim for it.
    pub settle_threshold: u64,
    /// Lifetime of a channel we open, seconds.
    pub channel_lifetime_secs: u64,
    /// We close a channel paying us when less than this (seconds) is left before expiry, and
    /// refuse claims on channels closer than this to expiry.
    pub close_margin_secs: u64,
    /// How often the engine looks at balances and the chain, milliseconds.
    pub poll_interval_ms: u64,
    /// Accept claims from a payer whose address carries an EIP-7702 delegation (its key still
    /// signs, and the channel contract honours the key's ECDSA claims whatever code the address
    /// carries). Off by default: such a payer is refused when its channel is first seen, and a
    /// channel whose payer delegates later is closed at once with the highest claim. A payer
    /// with contract code (no key signs for it; its ERC-1271 claims are revocable) is always
    /// refused. contracts/README.md "Trust model".
    pub accept_delegated_payers: bool,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            chain: "base-sepolia".into(),
            rpc_url: None,
            contract: None,
            token_decimals: 18,
            deposit: 1_000_000,
            settle_threshold: 10_000,
            channel_lifetime_secs: 7 * 86_400,
            close_margin_secs: 86_400,
            poll_interval_ms: 2_000,
            accept_delegated_payers: false,
        }
    }
}

/// One bootstrap peer: a btpnips node reached over libp2p (`multiaddr`) or BTP over
/// WebSocket (`url`), which must prove `pubkey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapEntry {
    /// libp2p QUIC multiaddr, e.g. `/ip4/192.0.2.7/udp/7791/quic-v1` (a `/p2p/<peer id>`
    /// suffix is allowed and then checked by libp2p too).
    #[serde(default)]
    pub multiaddr: Option<String>,
    /// BTP-over-WebSocket URL of the peer's listener, e.g. `ws://127.0.0.1:7790`.
    #[serde(default)]
    pub url: Option<String>,
    /// The peer's Nostr x-only pubkey, 64 lowercase hex; a peer proving another key is refused.
    pub pubkey: String,
}

/// The libp2p peer network (docs/btp-nips.md §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct P2pConfig {
    /// Run the libp2p node at all.
    pub enabled: bool,
    /// Multiaddrs to listen on (QUIC), e.g. `/ip4/0.0.0.0/udp/7791/quic-v1`.
    pub listen: Vec<String>,
    /// Multiaddrs to announce besides the bound listen addresses (e.g. a public address
    /// behind NAT), without the `/p2p/` suffix.
    pub external_addrs: Vec<String>,
    /// Most libp2p connections at once (Kademlia queries included).
    pub max_connections: u32,
    /// Most ILP peer links over libp2p; link requests beyond it are refused.
    pub max_links: usize,
    /// How often the node re-signs and spreads its Kind 32001 announcement, seconds.
    pub announce_interval_secs: u64,
    /// Lifetime of an announcement (its NIP-40 `expiration` − `created_at`), seconds.
    pub announce_ttl_secs: u64,
    /// How often Kademlia refreshes the known-node list, seconds.
    pub kad_query_interval_secs: u64,
    /// Requests per second a peer may send before the excess is dropped (token bucket, burst
    /// twice that). Every ILP packet between linked nodes is one request (a paid delivery at
    /// a low rate is one per event, and its payment another), so this sits above what a node
    /// carries: default 5 000. In-flight requests are bounded apart from it (256 per
    /// connection and protocol).
    pub max_requests_per_sec: u32,
    /// Milliseconds of silence (QUIC keep-alives included) after which a peer counts as gone
    /// and its link goes down.
    pub liveness_timeout_ms: u64,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: vec!["/ip4/0.0.0.0/udp/7791/quic-v1".into()],
            external_addrs: Vec::new(),
            max_connections: 64,
            max_links: 8,
            announce_interval_secs: 600,
            announce_ttl_secs: 3600,
            kad_query_interval_secs: 30,
            max_requests_per_sec: 5_000,
            liveness_timeout_ms: 10_000,
        }
    }
}

/// The whole node configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Directory holding the key, the SQLite database and the API token.
    pub data_dir: PathBuf,
    /// File holding the node key's passphrase (see `keys`); `BTPNIPS_PASSPHRASE` wins over it.
    /// Unset and no variable: a new key is stored unencrypted (with a warning) and an
    /// encrypted one is asked for on the terminal.
    pub key_passphrase_file: Option<PathBuf>,
    /// Where events, the ledger and the node's state live: unset for the SQLite file
    /// `btpnips.db` in the data dir (embedded, nothing to set up); `postgres://user@host/db`
    /// for PostgreSQL (larger nodes; the database must exist, the schema is migrated at start;
    /// `?options=-c%20search_path%3D<schema>` for a schema of its own); `sqlite://<path>` for
    /// a SQLite file elsewhere.
    pub database_url: Option<String>,
    /// NIP-01 relay endpoint (WebSocket + NIP-11). Loopback by default: it is the owner's.
    pub relay_listen: SocketAddr,
    /// Operator JSON API (`/api/status`), behind a bearer token.
    pub api_listen: SocketAddr,
    /// BTP-over-WebSocket listener for peer links.
    pub peer_listen: SocketAddr,
    /// This node's ILP address. Default: `test.btpnips.<first 16 hex of the pubkey>`.
    pub ilp_address: Option<String>,
    /// Asset code of all peer accounts, e.g. "ETH".
    pub asset_code: String,
    /// Asset scale of all amounts (e.g. 9: one unit is 10^-9 ETH, a gwei).
    pub asset_scale: u8,
    /// What this node charges subscribers.
    pub prices: PriceConfig,
    /// Most this node pays per subscription period when subscribing to a peer; a peer asking
    /// more is not subscribed to.
    pub max_subscription_price: u64,
    /// Most this node pays per delivered event.
    pub max_event_price: u64,
    /// Most this node pays another node to store one of its owners' events (`store_on`).
    pub max_publish_price: u64,
    /// Node pubkeys (64 hex) this node pays to store each event its owners publish to it
    /// (paid publishing, docs/btp-nips.md §4): copies that stay readable while this node is
    /// offline. Each must announce an `event_published` price of at most `max_publish_price`.
    pub store_on: Vec<String>,
    /// Peers to link with at start-up: btpnips nodes by libp2p multiaddr (QUIC) or by
    /// BTP-over-WebSocket URL, each with the pubkey it must prove.
    pub bootstrap: Vec<BootstrapEntry>,
    /// Pubkeys (64 hex) whose Kind 3 follow lists, published to this node, decide which
    /// publishers it subscribes to. Empty: the node's own key (the node is its owner's).
    pub owners: Vec<String>,
    /// The libp2p peer network (QUIC, Kademlia, Kind 32001 announcements).
    pub p2p: P2pConfig,
    /// Seconds to wait for a peer's EOSE before answering a local REQ from what is stored.
    pub upstream_eose_timeout_secs: u64,
    /// Statically configured ILP accounts (non-btpnips BTP peers).
    pub accounts: Vec<AccountConfig>,
    /// Fee on forwarded packets.
    pub fee: FeeConfig,
    /// Default credit limit per account (asset units): what a peer may owe us unsettled.
    pub default_credit_limit: u64,
    /// On-chain settlement.
    pub settlement: SettlementConfig,
    /// Resource bounds: connection caps, timeouts, outbound bytes, rate limits (`[limits]`).
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            key_passphrase_file: None,
            database_url: None,
            relay_listen: "127.0.0.1:7777".parse().expect("valid"),
            api_listen: "127.0.0.1:7780".parse().expect("valid"),
            peer_listen: "127.0.0.1:7790".parse().expect("valid"),
            ilp_address: None,
            asset_code: "ETH".into(),
            asset_scale: 9,
            prices: PriceConfig::default(),
            max_subscription_price: 100_000,
            max_event_price: 1_000,
            max_publish_price: 1_000,
            store_on: Vec::new(),
            bootstrap: Vec::new(),
            owners: Vec::new(),
            p2p: P2pConfig::default(),
            upstream_eose_timeout_secs: 10,
            accounts: Vec::new(),
            fee: FeeConfig::default(),
            default_credit_limit: 10_000_000,
            settlement: SettlementConfig::default(),
            limits: crate::limits::LimitsConfig::default(),
        }
    }
}

/// `$HOME/.btpnips`, or `./.btpnips` without a home directory.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".btpnips")
}

/// Name of the config file looked up inside the data dir.
pub const CONFIG_FILE: &str = "btpnips.toml";

impl Config {
    /// Pubkeys whose follow lists this node acts on (hex).
    pub fn owner_pubkeys(&self, node_pubkey: &str) -> Vec<String> {
        if self.owners.is_empty() {
            vec![node_pubkey.to_owned()]
        } else {
            self.owners.clone()
        }
    }

    /// The configured account `id`, if any.
    pub fn account(&self, id: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// Credit limit of an account (asset units).
    pub fn credit_limit(&self, id: &str) -> u64 {
        self.account(id).and_then(|a| a.credit_limit).unwrap_or(self.default_credit_limit)
    }

    /// Load: defaults ← config file ← `BTPNIPS_*` env (nested keys with `__`, e.g.
    /// `BTPNIPS_PRICES__SUBSCRIPTION=5`). `data_dir` (CLI) picks where to look for
    /// `btpnips.toml` when `config_file` is not given.
    ///
    /// Errors: unreadable or ill-typed configuration (figment's message names the key).
    pub fn load(data_dir: Option<&Path>, config_file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut base = Config::default();
        if let Some(d) = data_dir {
            base.data_dir = d.to_path_buf();
        }
        let file = config_file.map(Path::to_path_buf).unwrap_or_else(|| base.data_dir.join(CONFIG_FILE));
        let mut cfg: Config = Figment::from(Serialized::defaults(&base))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("BTPNIPS_").split("__"))
            .extract()
            .map_err(Box::new)?;
        if let Some(d) = data_dir {
            cfg.data_dir = d.to_path_buf();
        }
        Ok(cfg)
    }
}
