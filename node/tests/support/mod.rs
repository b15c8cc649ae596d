//! Test support: raw BTP peers built from the `protocol` codecs (our own client code, used
//! only to drive a node with inputs no well-behaved peer would send), and in-process nodes.
#![allow(dead_code)]
use std::sync::Arc;
use std::time::Duration;

use btpnips::config::{Config, PriceConfig};
use btpnips::node::Node;
use futures_util::{SinkExt, StreamExt};
use protocol::btp::{self, BtpPacket, ContentType, ProtocolData};
use protocol::btpnips::{addressing, auth, info, secret};
use protocol::ilp::{Fulfill, Packet, Prepare, Reject};
use protocol::stream::{Frame, IlpPacketType, StreamKeys, StreamPacket};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Config for an in-process node in `dir` on ephemeral loopback ports.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        relay_listen: "127.0.0.1:0".parse().unwrap(),
        api_listen: "127.0.0.1:0".parse().unwrap(),
        peer_listen: "127.0.0.1:0".parse().unwrap(),
        p2p: btpnips::config::P2pConfig { listen: vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()], ..Default::default() },
        prices: PriceConfig {
            subscription: 1000,
            subscription_period_secs: 3600,
            event_delivered: 10,
            delivery_credit: 100,
            delivery_grace_secs: 2,
            event_published: None,
        },
        ..Config::default()
    }
}

/// Node logs on stderr when `TEST_LOG` is set (e.g. `TEST_LOG=btpnips=debug`).
pub fn init_logs() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

pub async fn start_alice(dir: &std::path::Path) -> Arc<Node> {
    init_logs();
    Node::start(test_config(dir)).await.unwrap()
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw BTP peer with its own key.
pub struct Peer {
    pub secret: [u8; 32],
    pub pubkey: [u8; 32],
    pub ws: Ws,
    pub next_id: u32,
    /// Frames read while waiting for a Response (e.g. Prepares the node sent meanwhile).
    pub backlog: std::collections::VecDeque<BtpPacket>,
}

pub fn pubkey_of(secret: &[u8; 32]) -> [u8; 32] {
    secp256k1::Keypair::from_secret_bytes(*secret).unwrap().x_only_public_key().0.to_byte_array()
}

pub fn my_info(pubkey: &[u8; 32], settlement: Option<info::SettlementInfo>) -> ProtocolData {
    let info = info::NodeInfo {
        version: 1,
        pubkey: hex::encode(pubkey),
        ilp_address: format!("test.btpnips.tester{}", &hex::encode(pubkey)[..8]),
        asset_code: "ETH".into(),
        asset_scale: 9,
        prices: info::Prices {
            subscription: 0,
            subscription_period_secs: 3600,
            event_delivered: 0,
            delivery_credit: 0,
            event_published: None,
        },
        settlement,
    };
    ProtocolData {
        protocol_name: info::PROTOCOL_NAME.into(),
        content_type: ContentType::ApplicationJson,
        data: info.to_json_bytes(),
    }
}

pub async fn connect(node: &Node, secret: [u8; 32], token_override: Option<String>) -> (Peer, BtpPacket) {
    connect_with(node, secret, token_override, None).await
}

/// Connect as a btpnips node announcing `settlement` in its node info.
pub async fn connect_with(
    node: &Node,
    secret: [u8; 32],
    token_override: Option<String>,
    settlement: Option<info::SettlementInfo>,
) -> (Peer, BtpPacket) {
    let addr = node.bound.lock().unwrap().peer.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await.unwrap();
    let pubkey = pubkey_of(&secret);
    let now = chrono::Utc::now().timestamp() as u64;
    let token = token_override.unwrap_or_else(|| auth::make_token(&secret, &node.key.pubkey, now, &[7; 32]).unwrap());
    let mut msg = btp::auth_message(1, &hex::encode(pubkey), &token);
    if let BtpPacket::Message { protocol_data, .. } = &mut msg {
        protocol_data.push(my_info(&pubkey, settlement));
    }
    ws.send(Message::binary(msg.encode())).await.unwrap();
    let reply = next(&mut ws).await.expect("auth reply");
    (Peer { secret, pubkey, ws, next_id: 10, backlog: Default::default() }, reply)
}

pub async fn next(ws: &mut Ws) -> Option<BtpPacket> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.ok()?? {
            Ok(Message::Binary(b)) => return Some(BtpPacket::decode(&b).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

impl Peer {
    /// Send raw BTP bytes and wait for the ILP reply to our request.
    pub async fn send_raw(&mut self, bytes: Vec<u8>, request_id: u32) -> Option<Result<Fulfill, Reject>> {
        self.ws.send(Message::binary(bytes)).await.ok()?;
        loop {
            match next(&mut self.ws).await? {
                BtpPacket::Response { request_id: id, protocol_data } if id == request_id => {
                    return match Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data).unwrap() {
                        Packet::Fulfill(f) => Some(Ok(f)),
                        Packet::Reject(r) => Some(Err(r)),
                        Packet::Prepare(_) => panic!("Prepare in a Response"),
                    };
                }
                // The node may send us Prepares meanwhile (EVENT pushes): keep them for later.
                other => self.backlog.push_back(other),
            }
        }
    }

    pub async fn send(&mut self, prepare: Prepare) -> Result<Fulfill, Reject> {
        self.next_id += 1;
        let id = self.next_id;
        let frame = BtpPacket::Message { request_id: id, protocol_data: vec![btp::ilp_entry(prepare.encode())] };
        self.send_raw(frame.encode(), id).await.expect("reply")
    }

    /// Send several Prepares at once (all written before any reply is read) and wait for
    /// every reply; answers in the order of `prepares`.
    pub async fn send_all(&mut self, prepares: Vec<Prepare>) -> Vec<Result<Fulfill, Reject>> {
        let first = self.next_id + 1;
        for prepare in prepares.iter() {
            self.next_id += 1;
            let frame =
                BtpPacket::Message { request_id: self.next_id, protocol_data: vec![btp::ilp_entry(prepare.encode())] };
            self.ws.send(Message::binary(frame.encode())).await.unwrap();
        }
        let mut replies: Vec<Option<Result<Fulfill, Reject>>> = vec![None; prepares.len()];
        while replies.iter().any(Option::is_none) {
            match next(&mut self.ws).await.expect("reply") {
                BtpPacket::Response { request_id, protocol_data } if (first..=self.next_id).contains(&request_id) => {
                    let reply = match Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data).unwrap() {
                        Packet::Fulfill(f) => Ok(f),
                        Packet::Reject(r) => Err(r),
                        Packet::Prepare(_) => panic!("Prepare in a Response"),
                    };
                    replies[(request_id - first) as usize] = Some(reply);
                }
                BtpPacket::Error { request_id, .. } if (first..=self.next_id).contains(&request_id) => {
                    panic!("BTP error for request {request_id}")
                }
                other => self.backlog.push_back(other),
            }
        }
        replies.into_iter().map(|r| r.expect("every reply")).collect()
    }

    pub fn keys(&self, tag: &[u8; 8], node: &Node) -> StreamKeys {
        StreamKeys::derive(&secret::shared_secret(&self.secret, &node.key.pubkey, tag).unwrap())
    }

    /// A STREAM Prepare carrying `frames` and `amount` to the node.
    pub fn stream_prepare(&self, node: &Node, tag: &[u8; 8], amount: u64, frames: Vec<Frame>) -> Prepare {
        let keys = self.keys(tag, node);
        let packet =
            StreamPacket { sequence: 1, ilp_packet_type: IlpPacketType::Prepare, prepare_amount: amount, frames };
        let data = keys.encrypt([3; 12], &packet.encode());
        Prepare {
            amount,
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(30),
            execution_condition: keys.condition(&data),
            destination: addressing::connection_address(&node.address, &self.pubkey, tag).unwrap(),
            data,
        }
    }
}

/// Connect as a configured (non-btpnips) account with plain token auth, as the JS plugin does.
pub async fn connect_plain(node: &Node, token: &str) -> (Peer, BtpPacket) {
    let addr = node.bound.lock().unwrap().peer.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await.unwrap();
    ws.send(Message::binary(btp::auth_message(1, "", token).encode())).await.unwrap();
    let reply = next(&mut ws).await.expect("auth reply");
    (Peer { secret: [1; 32], pubkey: pubkey_of(&[1; 32]), ws, next_id: 10, backlog: Default::default() }, reply)
}

impl Peer {
    /// The next frame from the node: first any kept while waiting for a Response.
    pub async fn next_packet(&mut self) -> Option<BtpPacket> {
        match self.backlog.pop_front() {
            Some(p) => Some(p),
            None => next(&mut self.ws).await,
        }
    }

    /// Wait for the node to send us a Prepare; answer it with `answer(prepare)`.
    pub async fn answer_one(&mut self, answer: impl FnOnce(&Prepare) -> Result<Fulfill, Reject>) -> Prepare {
        loop {
            let Some(BtpPacket::Message { request_id, protocol_data }) = self.next_packet().await else {
                panic!("link closed")
            };
            let Ok(Packet::Prepare(p)) = Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data) else {
                continue;
            };
            let reply = match answer(&p) {
                Ok(f) => f.encode(),
                Err(r) => r.encode(),
            };
            let frame = BtpPacket::Response { request_id, protocol_data: vec![btp::ilp_entry(reply)] };
            self.ws.send(Message::binary(frame.encode())).await.unwrap();
            return p;
        }
    }
}
