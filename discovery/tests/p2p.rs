//! The libp2p layer over real QUIC on loopback.
use std::future::Future;
use std::time::Duration;

use discovery::p2p::{
    self, nostr_pubkey_of, P2pBootstrap, P2pConfig, P2pError, P2pEvent, P2pHandle, PeerId, Proto, MAX_FRAME,
};
use libp2p::Multiaddr;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn secret(i: u8) -> [u8; 32] {
    let mut sk = [0x42u8; 32];
    sk[0] = i;
    sk[31] = i.wrapping_mul(13);
    sk
}

fn x_only(sk: &[u8; 32]) -> [u8; 32] {
    secp256k1::Keypair::from_secret_bytes(*sk).unwrap().x_only_public_key().0.to_byte_array()
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()
}

fn config(listen: Multiaddr, bootstrap: Vec<P2pBootstrap>) -> P2pConfig {
    P2pConfig {
        listen: vec![listen],
        bootstrap,
        request_timeout: Duration::from_secs(5),
        kad_query_interval: Duration::from_secs(1),
        ..P2pConfig::default()
    }
}

/// A started node whose inbound requests are answered with `<protocol>:<data>`; every other
/// event lands in `events`.
struct Node {
    handle: P2pHandle,
    events: mpsc::UnboundedReceiver<P2pEvent>,
    pubkey: [u8; 32],
    addr: Multiaddr,
}

impl Node {
    async fn start(sk: u8, cfg: P2pConfig) -> Result<Node, P2pError> {
        let (handle, mut rx) = p2p::start(&secret(sk), cfg)?;
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match ev {
                    P2pEvent::Request { protocol, data, reply, .. } => {
                        let tag: &[u8] = if protocol == Proto::Btp { b"btp:" } else { b"nostr:" };
                        let _ = reply.send([tag, &data].concat());
                    }
                    ev => {
                        let _ = tx.send(ev);
                    }
                }
            }
        });
        let addr = handle.listen_addrs().await.into_iter().next().expect("a listen address");
        Ok(Node { handle, events, pubkey: x_only(&secret(sk)), addr })
    }

    fn peer(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    fn bootstrap_entry(&self) -> P2pBootstrap {
        P2pBootstrap { addr: self.addr.clone(), pubkey: self.pubkey }
    }

    /// The first event matching `pred`, skipping others; panics at the deadline.
    async fn expect(&mut self, what: &str, mut pred: impl FnMut(&P2pEvent) -> bool) -> P2pEvent {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) if pred(&ev) => return ev,
                Ok(Some(_)) => {}
                Ok(None) => panic!("event channel closed while waiting for {what}"),
                Err(_) => panic!("no {what} within {DEADLINE:?}"),
            }
        }
    }
}

/// Poll `check` every 100 ms until it returns true; panics at the deadline.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "not {what} within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_connected_to(peer: PeerId) -> impl FnMut(&P2pEvent) -> bool {
    move |ev| matches!(ev, P2pEvent::PeerConnected { peer: p, .. } if *p == peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_connects_and_requests_flow_both_ways() {
    init_tracing();
    let mut a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    assert_eq!(nostr_pubkey_of(&a.peer()), Some(a.pubkey));
    let mut b = Node::start(2, config(loopback(), vec![a.bootstrap_entry()])).await.unwrap();

    match b.expect("B connected to A", is_connected_to(a.peer())).await {
        P2pEvent::PeerConnected { pubkey, outbound, bootstrap, .. } => {
            assert_eq!(pubkey, a.pubkey);
            assert!(outbound && bootstrap);
        }
        _ => unreachable!(),
    }
    match a.expect("A connected to B", is_connected_to(b.peer())).await {
        P2pEvent::PeerConnected { pubkey, outbound, bootstrap, addr, .. } => {
            assert_eq!(pubkey, b.pubkey);
            assert!(!outbound && !bootstrap);
            assert!(addr.to_string().starts_with("/ip4/127.0.0.1/udp/"), "{addr}");
        }
        _ => unreachable!(),
    }

    assert_eq!(b.handle.request(a.peer(), Proto::Btp, b"packet".to_vec()).await.unwrap(), b"btp:packet");
    assert_eq!(b.handle.request(a.peer(), Proto::Nostr, b"[\"REQ\"]".to_vec()).await.unwrap(), b"nostr:[\"REQ\"]");
    // The other direction on the same connection, and an empty frame.
    assert_eq!(a.handle.request(b.peer(), Proto::Btp, vec![]).await.unwrap(), b"btp:");
    // A full-size frame.
    let big = vec![7u8; MAX_FRAME - 4];
    assert_eq!(b.handle.request(a.peer(), Proto::Btp, big.clone()).await.unwrap(), [b"btp:".as_slice(), &big].concat());

    assert_eq!(b.handle.connected().await, vec![(a.peer(), a.pubkey)]);
    assert_eq!(a.handle.connected().await, vec![(b.peer(), b.pubkey)]);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bootstrap_key_is_refused() {
    init_tracing();
    let a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    let expected = x_only(&secret(9));
    let entry = P2pBootstrap { addr: a.addr.clone(), pubkey: expected };
    let mut b = Node::start(2, config(loopback(), vec![entry])).await.unwrap();

    let mut connected = false;
    let ev = b
        .expect("Refused", |ev| {
            connected |= matches!(ev, P2pEvent::PeerConnected { .. });
            matches!(ev, P2pEvent::Refused { .. })
        })
        .await;
    assert!(!connected, "no PeerConnected before the refusal");
    let P2pEvent::Refused { peer, addr, reason } = ev else { unreachable!() };
    assert_eq!(peer, Some(a.peer()));
    assert_eq!(addr, Some(a.addr.clone()));
    assert!(reason.contains(&hex::encode(a.pubkey)) && reason.contains(&hex::encode(expected)), "{reason}");
    assert!(b.handle.connected().await.is_empty());
    // The denied peer is not in B's routing table either.
    assert!(b.handle.known_nodes().await.iter().all(|n| n.peer != a.peer()));

    // A /p2p suffix that contradicts the pubkey is a configuration error.
    let addr: Multiaddr = format!("{}/p2p/{}", a.addr, a.peer()).parse().unwrap();
    let err = p2p::start(&secret(3), config(loopback(), vec![P2pBootstrap { addr, pubkey: expected }])).unwrap_err();
    assert!(matches!(err, P2pError::Config(_)), "{err:?}");
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kademlia_finds_every_node_of_a_chain() {
    init_tracing();
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..5u8 {
        let boot = nodes.last().map(|n| vec![n.bootstrap_entry()]).unwrap_or_default();
        nodes.push(Node::start(10 + i, config(loopback(), boot)).await.unwrap());
    }
    let all: Vec<(PeerId, [u8; 32])> = nodes.iter().map(|n| (n.peer(), n.pubkey)).collect();
    for node in &nodes {
        let me = node.peer();
        eventually("every node known", || async {
            let known = node.handle.known_nodes().await;
            all.iter()
                .filter(|(p, _)| *p != me)
                .all(|(p, k)| known.iter().any(|n| n.peer == *p && n.pubkey == *k && !n.addrs.is_empty()))
        })
        .await;
    }
    // Every node reaches every other, direct connection or not.
    let first = &nodes[0];
    let last = nodes.last().unwrap();
    assert_eq!(first.handle.request(last.peer(), Proto::Btp, b"hi".to_vec()).await.unwrap(), b"btp:hi");
    for n in &nodes {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_and_unknown_peers_fail_locally() {
    init_tracing();
    let a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    let mut b = Node::start(2, config(loopback(), vec![a.bootstrap_entry()])).await.unwrap();
    b.expect("B connected to A", is_connected_to(a.peer())).await;
    let err = b.handle.request(a.peer(), Proto::Btp, vec![0; MAX_FRAME + 1]).await.unwrap_err();
    assert_eq!(err, P2pError::TooLarge);
    // A peer nobody knows an address of.
    let stranger = libp2p::identity::Keypair::generate_secp256k1().public().to_peer_id();
    assert_eq!(b.handle.request(stranger, Proto::Btp, vec![1]).await.unwrap_err(), P2pError::NotConnected);
    // Not a secp256k1 peer id.
    assert_eq!(b.handle.request(PeerId::random(), Proto::Btp, vec![1]).await.unwrap_err(), P2pError::InvalidPeer);
    // Still fine afterwards.
    assert_eq!(b.handle.request(a.peer(), Proto::Btp, vec![1]).await.unwrap(), b"btp:\x01");
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flood_is_limited_per_peer() {
    init_tracing();
    let cfg = P2pConfig { max_requests_per_sec: 5, ..config(loopback(), vec![]) };
    let mut a = Node::start(1, cfg).await.unwrap();
    let mut b = Node::start(2, config(loopback(), vec![a.bootstrap_entry()])).await.unwrap();
    b.expect("B connected to A", is_connected_to(a.peer())).await;
    let results = futures::future::join_all((0..40u8).map(|i| b.handle.request(a.peer(), Proto::Btp, vec![i]))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!((10..40).contains(&ok), "burst of 10 plus refill admitted, the rest dropped: {ok} ok");
    let ev = a.expect("Refused for rate", |ev| matches!(ev, P2pEvent::Refused { .. })).await;
    let P2pEvent::Refused { peer, reason, .. } = ev else { unreachable!() };
    assert_eq!(peer, Some(b.peer()));
    assert!(reason.contains("requests/s"), "{reason}");
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_peer_is_redialed_after_a_restart() {
    init_tracing();
    let a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    let a_addr = a.addr.clone();
    // No Kademlia refresh during the test, so only the bootstrap redial can reconnect.
    let cfg =
        P2pConfig { kad_query_interval: Duration::from_secs(600), ..config(loopback(), vec![a.bootstrap_entry()]) };
    let mut b = Node::start(2, cfg).await.unwrap();
    b.expect("B connected to A", is_connected_to(a.peer())).await;

    a.handle.shutdown().await;
    b.expect("B sees A go", |ev| matches!(ev, P2pEvent::PeerDisconnected { peer, .. } if *peer == a.peer())).await;
    assert!(b.handle.connected().await.is_empty());
    assert_eq!(a.handle.request(b.peer(), Proto::Btp, vec![1]).await.unwrap_err(), P2pError::Stopped);

    // Let B's first redial (after 1 s) find nobody, then start A' on the same port and key
    // (the old socket may take a moment to go away).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deadline = Instant::now() + DEADLINE;
    let a2 = loop {
        match Node::start(1, config(a_addr.clone(), vec![])).await {
            Ok(n) => break n,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot restart A: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(a2.addr, a_addr);
    match b.expect("B reconnected to A'", is_connected_to(a.peer())).await {
        P2pEvent::PeerConnected { bootstrap, outbound, .. } => assert!(bootstrap && outbound),
        _ => unreachable!(),
    }
    assert_eq!(b.handle.request(a2.peer(), Proto::Nostr, b"x".to_vec()).await.unwrap(), b"nostr:x");
    a2.handle.shutdown().await;
    b.handle.shutdown().await;
}

/// Request-response codec that writes the request bytes as they are (no length prefix).
#[derive(Clone, Default)]
struct RawCodec;

impl libp2p::request_response::Codec for RawCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        futures::AsyncReadExt::read_to_end(io, &mut buf).await?;
        Ok(buf)
    }

    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()> {
        futures::AsyncWriteExt::write_all(io, &req).await?;
        futures::AsyncWriteExt::close(io).await
    }

    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_refused_and_the_sender_disconnected() {
    use futures::StreamExt;
    use libp2p::request_response::{self as rr, ProtocolSupport};
    use libp2p::swarm::SwarmEvent;

    init_tracing();
    let mut a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    let key = p2p::keypair_from_secret(&secret(5)).unwrap();
    let raw_peer = key.public().to_peer_id();
    let mut raw = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_quic()
        .with_behaviour(|_| {
            rr::Behaviour::with_codec(
                RawCodec,
                [(libp2p::StreamProtocol::new(p2p::BTP_PROTOCOL), ProtocolSupport::Outbound)],
                rr::Config::default(),
            )
        })
        .unwrap()
        .build();
    raw.dial(a.addr.clone()).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0;
    let mut disconnected = false;
    let too_long = (MAX_FRAME as u32 + 1).to_be_bytes().to_vec();
    let truncated = vec![0, 0, 0, 10, 1, 2, 3];
    while !disconnected {
        let ev = timeout_at(deadline, raw.select_next_some()).await.expect("raw client events");
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                assert_eq!(peer_id, a.peer());
                for i in 0..12 {
                    let garbage = if i % 2 == 0 { too_long.clone() } else { truncated.clone() };
                    raw.behaviour_mut().send_request(&peer_id, garbage);
                    sent += 1;
                }
            }
            SwarmEvent::ConnectionClosed { .. } => disconnected = true,
            _ => {}
        }
    }
    assert_eq!(sent, 12);
    let mut malformed = 0;
    let ev = a
        .expect("disconnect for malformed frames", |ev| match ev {
            P2pEvent::Refused { peer: Some(p), reason, .. } if *p == raw_peer => {
                malformed += usize::from(reason.contains("malformed"));
                reason.contains("disconnected after 10")
            }
            _ => false,
        })
        .await;
    assert!(matches!(ev, P2pEvent::Refused { .. }));
    assert!(malformed >= 10, "{malformed} malformed-frame refusals");
    a.expect("raw peer gone", |ev| matches!(ev, P2pEvent::PeerDisconnected { peer, .. } if *peer == raw_peer)).await;
    a.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused() {
    init_tracing();
    let cfg = P2pConfig { max_connections: 1, ..config(loopback(), vec![]) };
    let mut a = Node::start(1, cfg).await.unwrap();
    let mut b = Node::start(2, config(loopback(), vec![a.bootstrap_entry()])).await.unwrap();
    b.expect("B connected to A", is_connected_to(a.peer())).await;
    a.expect("A connected to B", is_connected_to(b.peer())).await;
    let c = Node::start(3, config(loopback(), vec![a.bootstrap_entry()])).await.unwrap();
    let ev = a.expect("Refused over the limit", |ev| matches!(ev, P2pEvent::Refused { .. })).await;
    let P2pEvent::Refused { peer, reason, .. } = ev else { unreachable!() };
    assert_eq!(peer, Some(c.peer()));
    assert!(reason.contains("limit"), "{reason}");
    assert_eq!(a.handle.connected().await, vec![(b.peer(), b.pubkey)]);
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_checks_the_peer_id_and_skips_self() {
    init_tracing();
    let a = Node::start(1, config(loopback(), vec![])).await.unwrap();
    // B's bootstrap list holds B itself and A: B dials only A.
    let own = P2pBootstrap { addr: loopback(), pubkey: x_only(&secret(2)) };
    let mut b = Node::start(2, config(loopback(), vec![own])).await.unwrap();
    let other = libp2p::identity::Keypair::generate_secp256k1().public().to_peer_id();
    let wrong: Multiaddr = format!("{}/p2p/{other}", a.addr).parse().unwrap();
    b.handle.dial(wrong.clone()).await.unwrap();
    let ev = b.expect("Refused wrong peer id", |ev| matches!(ev, P2pEvent::Refused { .. })).await;
    let P2pEvent::Refused { peer, reason, .. } = ev else { unreachable!() };
    assert_eq!(peer, Some(a.peer()), "{reason}");
    assert!(b.handle.connected().await.is_empty());

    let right: Multiaddr = format!("{}/p2p/{}", a.addr, a.peer()).parse().unwrap();
    b.handle.dial(right.clone()).await.unwrap();
    match b.expect("B connected to A", is_connected_to(a.peer())).await {
        P2pEvent::PeerConnected { bootstrap, outbound, .. } => assert!(outbound && !bootstrap),
        _ => unreachable!(),
    }
    // Already connected: returns at once.
    b.handle.dial(right).await.unwrap();
    assert!(matches!(b.handle.dial("/ip4/127.0.0.1/tcp/1".parse().unwrap()).await, Err(P2pError::Transport(_))));
    // An explicit address lets a request dial a peer that is not connected.
    let c = Node::start(3, config(loopback(), vec![])).await.unwrap();
    b.handle.add_address(c.peer(), c.addr.clone()).await;
    assert_eq!(b.handle.request(c.peer(), Proto::Btp, b"dial".to_vec()).await.unwrap(), b"btp:dial");
    let known = b.handle.known_nodes().await;
    assert!(known.iter().any(|n| n.peer == c.peer() && n.addrs.contains(&c.addr)), "{known:?}");
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_loses_no_request() {
    init_tracing();
    let cfg = P2pConfig { max_requests_per_sec: 0, ..config(loopback(), vec![]) };
    let (a, mut a_events) = p2p::start(&secret(1), cfg).unwrap();
    let a_addr = a.listen_addrs().await.remove(0);
    let mut b = Node::start(2, config(loopback(), vec![P2pBootstrap { addr: a_addr, pubkey: x_only(&secret(1)) }]))
        .await
        .unwrap();
    b.expect("B connected to A", is_connected_to(a.local_peer_id())).await;
    let n = 400u16;
    let requests = futures::future::join_all((0..n).map(|i| {
        let protocol = if i % 2 == 0 { Proto::Btp } else { Proto::Nostr };
        b.handle.request(a.local_peer_id(), protocol, i.to_be_bytes().to_vec())
    }));
    // A's node reads nothing for a while, then answers everything.
    let answer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut answered = 0;
        while answered < n {
            if let P2pEvent::Request { data, reply, .. } = a_events.recv().await.expect("A's events") {
                let _ = reply.send(data);
                answered += 1;
            }
        }
    };
    let (results, ()) = tokio::join!(requests, answer);
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), (i as u16).to_be_bytes(), "request {i}");
    }
    a.shutdown().await;
    b.handle.shutdown().await;
}
