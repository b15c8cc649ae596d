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
    /// The libp2p peer network, when `p2p.enabled`.
    pub p2p: Option<discovery::p2p::P2pHandle>,
    /// Which libp2p peers are connected and linked.
    pub p2p_state: crate::link::p2p::State,
    /// Verified Kind 32001 announcements of other nodes.
    pub directory: crate::announce::Directory,
    /// The owners' follow lists.
    pub follows: crate::follows::Follows,
    /// Paid publishing counters and streams.
    pub paid_publish: crate::btpnips::paid_publish::Stats,
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

/// What `listen.json` holds: the bound sockets and the libp2p identity and addresses.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListenFile {
    /// Bound sockets.
    #[serde(flatten)]
    pub bound: BoundAddrs,
    /// libp2p PeerId (from the node key), if the peer network runs.
    pub peer_id: Option<String>,
    /// Bound libp2p multiaddrs, with `/p2p/<peer id>`.
    pub p2p: Vec<String>,
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
        let (ws_bootstrap, p2p_bootstrap) = split_bootstrap(&config)?;
        crate::data_dir::prepare(&config.data_dir, DB_FILE)?;
        let passphrase = crate::keys::configured_passphrase(config.key_passphrase_file.as_deref())?;
        let key = NodeKey::load_or_generate(&config.data_dir, passphrase.as_ref().map(|p| p.as_str()))?;
        ensure_api_token(&config)?;
        let address: Address = match &config.ilp_address {
            Some(a) => a.parse().map_err(|e| anyhow::anyhow!("ilp_address {a:?}: {e}"))?,
            None => format!("test.btpnips.{}", &key.pubkey_hex[..16]).parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let storage = Storage::open(config.database_url.as_deref(), &config.data_dir.join(DB_FILE))
            .await
            .context("opening database")?;
        let settlement = if config.settlement.enabled {
            Some(crate::settlement::Engine::new(&config.settlement, config.asset_scale, &key.secret)?)
        } else {
            None
        };
        let (p2p, p2p_events) = if config.p2p.enabled {
            let (handle, events) =
                discovery::p2p::start(&key.secret, p2p_config(&config, p2p_bootstrap)?).context("starting libp2p")?;
            (Some(handle), Some(events))
        } else {
            (None, None)
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
            p2p,
            p2p_state: Default::default(),
            directory: Default::default(),
            follows: Default::default(),
            paid_publish: Default::default(),
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
        if let Some(events) = p2p_events {
            crate::link::p2p::spawn(node.clone(), events);
        }
        let p2p_addrs = match &node.p2p {
            Some(p2p) => {
                let me = p2p.local_peer_id();
                // The swarm reports its bound addresses shortly after start.
                for _ in 0..100 {
                    if !p2p.listen_addrs().await.is_empty() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                p2p.listen_addrs().await.into_iter().map(|a| crate::announce::with_peer_id(a, me).to_string()).collect()
            }
            None => Vec::new(),
        };
        let listen =
            ListenFile { bound, peer_id: node.p2p.as_ref().map(|p| p.local_peer_id().to_string()), p2p: p2p_addrs };
        crate::announce::start(&node).await.context("starting announcements")?;
        crate::follows::start(&node).await.context("reading follow lists")?;
        crate::btpnips::spawn_resumer(&node);
        crate::connector::ccp::spawn_hold_down(&node);
        let listen_file = node.config.data_dir.join(crate::api::LISTEN_FILE);
        crate::data_dir::write_private_replace(&listen_file, &serde_json::to_string_pretty(&listen)?)
            .with_context(|| format!("writing {}", listen_file.display()))?;
        for bp in ws_bootstrap {
            crate::link::dial_forever(node.clone(), crate::link::DialTarget::Bootstrap(bp));
        }
        for account in node.config.accounts.iter().filter(|a| a.url.is_some()).cloned() {
            crate::link::dial_forever(node.clone(), crate::link::DialTarget::Account(account));
        }
        tracing::info!(
            pubkey = %node.key.pubkey_hex, ilp_address = %node.address, peer_id = ?listen.peer_id,
            relay = %relay, api = %api, peer = %peer, p2p = ?listen.p2p, "btpnips node running"
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

    /// What we know of another node (pubkey hex): its link's node info if it is linked,
    /// else its verified Kind 32001 announcement.
    pub fn peer_info(&self, pubkey_hex: &str) -> Option<NodeInfo> {
        let linked = self.peers.lock().expect("poisoned").get(pubkey_hex).cloned();
        linked.or_else(|| self.directory.get(pubkey_hex, crate::clock::now_secs()).map(|e| e.announcement.info))
    }

    /// The node that publishes `author`'s events (docs/btp-nips.md §8, §10): the author's own
    /// node if it is linked or announced, else the node its verified owner pointer names (and
    /// that names it back). The info's `pubkey` is that node's key; `None` if unknown.
    pub fn publisher_node(&self, author: &str) -> Option<NodeInfo> {
        self.peer_info(author)
            .or_else(|| self.directory.resolve(author, crate::clock::now_secs()).map(|e| e.announcement.info))
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
                event_published: p.event_published,
            },
            settlement: self.settlement.as_ref().map(|s| s.info()),
        }
    }

    /// A receiver that turns `true` when the node shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Run `tick` every `period` (the first one period from now) until the node shuts down.
    /// `tick` must not block: it runs on the runtime.
    pub fn spawn_every(self: &Arc<Self>, period: std::time::Duration, tick: impl Fn(&Arc<Node>) + Send + 'static) {
        let node = self.clone();
        tokio::spawn(async move {
            let mut stop = node.shutdown_signal();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(period) => tick(&node),
                }
            }
        });
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
        // Close libp2p connections before the process exits, so peers see the links go down
        // now rather than after QUIC's idle timeout, and reroute at once.
        if let Some(p2p) = &self.p2p {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), p2p.shutdown()).await;
        }
    }
}

/// Split the bootstrap list into BTP/WebSocket entries and libp2p entries, checking each.
///
/// Errors: an entry with neither or both of `url` and `multiaddr`, a bad URL, multiaddr or pubkey.
fn split_bootstrap(
    config: &Config,
) -> anyhow::Result<(Vec<discovery::BootstrapPeer>, Vec<discovery::p2p::P2pBootstrap>)> {
    let mut ws = Vec::new();
    let mut p2p = Vec::new();
    for (i, e) in config.bootstrap.iter().enumerate() {
        protocol::btpnips::secret::parse_hex32(&e.pubkey)
            .map_err(|err| anyhow::anyhow!("bootstrap[{i}].pubkey {:?}: {err}", e.pubkey))?;
        match (&e.url, &e.multiaddr) {
            (Some(url), None) => {
                let peer = discovery::BootstrapPeer { url: url.clone(), pubkey: e.pubkey.clone() };
                peer.validate().with_context(|| format!("bootstrap[{i}]"))?;
                ws.push(peer);
            }
            (None, Some(addr)) => {
                p2p.push(
                    discovery::p2p::P2pBootstrap::parse(addr, &e.pubkey).with_context(|| format!("bootstrap[{i}]"))?,
                );
            }
            _ => anyhow::bail!("bootstrap[{i}]: give exactly one of url (BTP over WebSocket) and multiaddr (libp2p)"),
        }
    }
    Ok((ws, p2p))
}

/// The libp2p configuration from the node's.
fn p2p_config(
    config: &Config,
    bootstrap: Vec<discovery::p2p::P2pBootstrap>,
) -> anyhow::Result<discovery::p2p::P2pConfig> {
    let p = &config.p2p;
    let listen = p
        .listen
        .iter()
        .map(|a| a.parse().map_err(|e| anyhow::anyhow!("p2p.listen {a:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(discovery::p2p::P2pConfig {
        listen,
        bootstrap,
        max_connections: p.max_connections,
        max_requests_per_sec: p.max_requests_per_sec,
        liveness_timeout: std::time::Duration::from_millis(p.liveness_timeout_ms),
        kad_query_interval: std::time::Duration::from_secs(p.kad_query_interval_secs.max(1)),
        ..Default::default()
    })
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
