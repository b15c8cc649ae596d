//! The node: its shared state and start-up.
//!
//! Every long-running part (relay sessions, peer links, STREAM actors, the storage writer)
//! is a tokio task holding an `Arc<Node>`. Shared maps use `std::sync::Mutex` and are never
//! held across an `.await`.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use protocol::btpnips::info::{NodeInfo, Prices};
use protocol::ilp::Address;
use protocol::nostr::Event;
use storage::Storage;
use tokio::sync::{broadcast, watch};

use crate::config::Config;
use crate::keys::NodeKey;

/// The running node. Cheap to share as `Arc<Node>`.
pub struct Node {
    /// Configuration as loaded at start.
    pub config: Config,
    /// The node's key (Nostr identity, link auth, STREAM secrets).
    pub key: NodeKey,
    /// This node's ILP address.
    pub address: Address,
    /// The address a parent assigned us by IL-DCP, if a parent account is configured; local
    /// like `address`, and the one SPSP receivers are issued under.
    pub parent_address: std::sync::RwLock<Option<Address>>,
    /// Durable state: events, ledger, subscriptions, peers.
    pub storage: Storage,
    /// Every event newly stored (or ephemeral and accepted), for live subscriptions.
    pub hub: broadcast::Sender<Arc<Event>>,
    /// Live peer links by account id.
    pub links: crate::link::Registry,
    /// ILP routes: address prefix → account.
    pub routes: crate::connector::RoutingTable,
    /// Our routing table's id and epoch, for CCP.
    pub routing_table: crate::connector::ccp::RoutingTableId,
    /// Peers we have linked with, by pubkey hex: their last node info.
    pub peers: Mutex<HashMap<String, NodeInfo>>,
    /// STREAM connections by peer pubkey.
    pub stream: crate::stream::Endpoint,
    /// BTP-NIPs subscription state (both directions).
    pub subs: crate::btpnips::Subscriptions,
    /// The settlement engine, when `settlement.enabled`.
    pub settlement: Option<crate::settlement::Engine>,
    /// What each SPSP receiver has received.
    pub spsp: crate::spsp::Receipts,
    /// Amounts in flight per account, for credit limits.
    pub pending: crate::connector::credit::Pending,
    /// Bound addresses (the configured ones may use port 0).
    pub bound: Mutex<BoundAddrs>,
    shutdown: watch::Sender<bool>,
}

/// The socket addresses the node actually listens on.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BoundAddrs {
    /// NIP-01 relay (WebSocket + NIP-11).
    pub relay: Option<SocketAddr>,
    /// Operator API.
    pub api: Option<SocketAddr>,
    /// BTP-over-WebSocket peer listener.
    pub peer: Option<SocketAddr>,
}

/// Name of the bearer-token file for the operator API inside the data dir.
pub const API_TOKEN_FILE: &str = "api-token";
/// Name of the SQLite database file inside the data dir.
pub const DB_FILE: &str = "btpnips.db";

impl Node {
    /// Open the data dir (creating key, token and database on first start), bind the relay,
    /// API and peer listeners, dial bootstrap peers, and return the running node.
    ///
    /// Errors: an unusable data dir, database or configuration, or a port already taken.
    pub async fn start(config: Config) -> anyhow::Result<Arc<Node>> {
        discovery::validate_list(&config.bootstrap).context("bootstrap list")?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        let key = NodeKey::load_or_generate(&config.data_dir)?;
        ensure_api_token(&config)?;
        let address: Address = match &config.ilp_address {
            Some(a) => a.parse().map_err(|e| anyhow::anyhow!("ilp_address {a:?}: {e}"))?,
            None => format!("test.btpnips.{}", &key.pubkey_hex[..16]).parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let storage = Storage::open_sqlite(&config.data_dir.join(DB_FILE)).await.context("opening database")?;
        let settlement = if config.settlement.enabled {
            Some(crate::settlement::Engine::new(&config.settlement, config.asset_scale, &key.secret)?)
        } else {
            None
        };
        let (hub, _) = broadcast::channel(4096);
        let (shutdown, _) = watch::channel(false);
        let node = Arc::new(Node {
            key,
            address,
            parent_address: Default::default(),
            storage,
            hub,
            links: Default::default(),
            routes: Default::default(),
            routing_table: Default::default(),
            peers: Default::default(),
            stream: Default::default(),
            subs: Default::default(),
            settlement,
            spsp: Default::default(),
            pending: Default::default(),
            bound: Default::default(),
            shutdown,
            config,
        });
        crate::btpnips::restore(&node).await.context("restoring subscriptions")?;
        crate::settlement::start(&node).await.context("starting settlement")?;
        let relay = crate::relay::serve(node.clone()).await.context("binding relay endpoint")?;
        let api = crate::api::serve(node.clone()).await.context("binding operator API")?;
        let peer = crate::link::listen(node.clone()).await.context("binding peer listener")?;
        let bound = BoundAddrs { relay: Some(relay), api: Some(api), peer: Some(peer) };
        *node.bound.lock().expect("poisoned") = bound;
        let listen_file = node.config.data_dir.join(crate::api::LISTEN_FILE);
        std::fs::write(&listen_file, serde_json::to_string_pretty(&bound)?)
            .with_context(|| format!("writing {}", listen_file.display()))?;
        for bp in node.config.bootstrap.clone() {
            crate::link::dial_forever(node.clone(), crate::link::DialTarget::Bootstrap(bp));
        }
        for account in node.config.accounts.iter().filter(|a| a.url.is_some()).cloned() {
            crate::link::dial_forever(node.clone(), crate::link::DialTarget::Account(account));
        }
        tracing::info!(
            pubkey = %node.key.pubkey_hex, ilp_address = %node.address,
            relay = %relay, api = %api, peer = %peer, "btpnips node running"
        );
        Ok(node)
    }

    /// Which of this node's addresses `destination` falls under, if any (the own address, or
    /// the one a parent assigned).
    pub fn local_prefix(&self, destination: &Address) -> Option<Address> {
        if destination.has_prefix(self.address.as_str()) {
            return Some(self.address.clone());
        }
        let parent = self.parent_address.read().expect("poisoned").clone();
        parent.filter(|p| destination.has_prefix(p.as_str()))
    }

    /// The address plain-ILP senders should use: the parent-assigned one if any, else ours.
    pub fn public_address(&self) -> Address {
        self.parent_address.read().expect("poisoned").clone().unwrap_or_else(|| self.address.clone())
    }

    /// The node info this node presents on its links.
    pub fn info(&self) -> NodeInfo {
        let p = &self.config.prices;
        NodeInfo {
            version: protocol::btpnips::VERSION,
            pubkey: self.key.pubkey_hex.clone(),
            ilp_address: self.address.to_string(),
            asset_code: self.config.asset_code.clone(),
            asset_scale: self.config.asset_scale,
            prices: Prices {
                subscription: p.subscription,
                subscription_period_secs: p.subscription_period_secs,
                event_delivered: p.event_delivered,
                delivery_credit: p.delivery_credit,
            },
            settlement: self.settlement.as_ref().map(|s| s.info()),
        }
    }

    /// A receiver that turns `true` when the node shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Ask every task to stop.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Block until SIGINT/SIGTERM, then shut down.
    pub async fn wait_for_shutdown_signal(&self) {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        self.shutdown();
    }
}

/// Create `<data_dir>/api-token` with a random token if it does not exist.
fn ensure_api_token(config: &Config) -> anyhow::Result<()> {
    let path = config.data_dir.join(API_TOKEN_FILE);
    if !path.exists() {
        let token: [u8; 16] = rand::random();
        crate::keys::write_private(&path, &hex::encode(token))?;
    }
    Ok(())
}

/// Read the API token of a data dir. Errors: the file is missing (node never started).
pub fn read_api_token(config: &Config) -> anyhow::Result<String> {
    let path = config.data_dir.join(API_TOKEN_FILE);
    Ok(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?.trim().to_owned())
}
