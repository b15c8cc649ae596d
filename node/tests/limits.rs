//! Resource bounds (issue 11), each against an in-process node with the bound set small:
//! connection caps, handshake and silence timeouts, the relay's outbound byte cap, RFC 6455
//! close codes, EVENT rate limits, API auth before the body, a BTP peer that does not read.
//! Assertions are about behaviour (refused, closed, answered), never about speed.
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use btpnips::limits::{LimitsConfig, ListenerLimits, RateLimit};
use btpnips::node::Node;
use futures_util::{SinkExt, StreamExt};
use protocol::btp::BtpPacket;
use protocol::nostr::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn start(dir: &std::path::Path, limits: impl FnOnce(&mut LimitsConfig)) -> Arc<Node> {
    support::init_logs();
    let mut config = support::test_config(dir);
    config.p2p.enabled = false;
    limits(&mut config.limits);
    Node::start(config).await.unwrap()
}

fn addrs(node: &Node) -> (SocketAddr, SocketAddr, SocketAddr) {
    let b = node.bound.lock().unwrap();
    (b.relay.unwrap(), b.api.unwrap(), b.peer.unwrap())
}

fn caps(max: usize, per_ip: usize) -> ListenerLimits {
    ListenerLimits { max_connections: max, max_connections_per_ip: per_ip, exempt_loopback: false }
}

/// How a TCP connection ended, if it did within `within`: `Some(bytes read)` at EOF/reset.
async fn ends_within(tcp: &mut TcpStream, within: Duration) -> Option<usize> {
    let mut total = 0;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    })
    .await
    .ok()
}

async fn ws_url(url: String) -> Result<support::Ws, tokio_tungstenite::tungstenite::Error> {
    tokio_tungstenite::connect_async(url).await.map(|(ws, _)| ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_refuses_connections_over_its_per_ip_and_global_caps() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| {
        l.relay = caps(100, 2);
        l.api = caps(1, 100);
        l.peer = caps(100, 1);
    })
    .await;
    let (relay, api, peer) = addrs(&node);

    // Relay, per IP: two WebSockets from 127.0.0.1, the third refused; a freed place is reused.
    let a = ws_url(format!("ws://{relay}")).await.unwrap();
    let _b = ws_url(format!("ws://{relay}")).await.unwrap();
    assert!(ws_url(format!("ws://{relay}")).await.is_err(), "third connection from one IP accepted");
    drop(a);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(ws) = ws_url(format!("ws://{relay}")).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the place of a closed connection was not freed");

    // API, global cap 1: the second TCP connection is closed at once, before a byte.
    let _first = TcpStream::connect(api).await.unwrap();
    let mut second = TcpStream::connect(api).await.unwrap();
    assert_eq!(ends_within(&mut second, Duration::from_secs(10)).await, Some(0), "API: over the global cap");

    // Peer listener, per IP 1.
    let _first = TcpStream::connect(peer).await.unwrap();
    let mut second = TcpStream::connect(peer).await.unwrap();
    assert_eq!(ends_within(&mut second, Duration::from_secs(10)).await, Some(0), "peer: over the per-IP cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_exempt_from_per_ip_caps_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| l.relay = ListenerLimits { exempt_loopback: true, ..caps(100, 1) }).await;
    let relay = addrs(&node).0;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(ws_url(format!("ws://{relay}")).await.expect("loopback is the owner's"));
    }
}

/// A connection that sends nothing, or half a request head, is closed after
/// `handshake_timeout_secs` on all three listeners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_closed_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| l.handshake_timeout_secs = 1).await;
    let (relay, api, peer) = addrs(&node);
    for (name, addr) in [("relay", relay), ("api", api), ("peer", peer)] {
        let started = std::time::Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let ended = ends_within(&mut silent, Duration::from_secs(20)).await;
        assert!(ended.is_some(), "{name}: a silent connection stayed open");
        eprintln!("{name}: silent connection closed after {:?}", started.elapsed());

        let started = std::time::Instant::now();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n").await.unwrap();
        let ended = ends_within(&mut half, Duration::from_secs(20)).await;
        assert!(ended.is_some(), "{name}: a half-sent request stayed open");
        eprintln!("{name}: half-sent request closed after {:?}", started.elapsed());
    }
}

/// A relay client and a BTP peer that answer nothing (no Pong, no frame) are closed after the
/// ping interval and the pong timeout; a relay client that reads (and so answers Pings) stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_websockets_are_pinged_and_closed_and_live_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| {
        l.ws_ping_interval_secs = 1;
        l.ws_pong_timeout_secs = 1;
    })
    .await;
    let relay = addrs(&node).0;
    let mut silent = ws_url(format!("ws://{relay}")).await.unwrap();
    let mut alive = ws_url(format!("ws://{relay}")).await.unwrap();
    let (mut peer, _) = support::connect(&node, [0x31; 32], None).await;

    // The live client reads for 5 s: it gets Pings (answered by tungstenite) and no Close.
    let mut pings = 0;
    let reading = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = alive.next().await {
            match m {
                Ok(Message::Ping(_)) => pings += 1,
                other => return other,
            }
        }
        Ok(Message::Close(None))
    })
    .await;
    assert!(reading.is_err(), "a client answering Pings was closed: {reading:?}");
    assert!(pings >= 2, "{pings} pings in 5 s");

    // Meanwhile the silent ones never read: by now they are closed.
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = silent.next().await {
            match m {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("silent relay client still open");
    assert_eq!(close, Some(1008), "close code for a silent client");

    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match peer.ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "silent BTP peer link still open");
}

// --- raw WebSocket client (frames by hand: inputs a good client library would not send) ---

async fn raw_upgrade(mut tcp: TcpStream) -> TcpStream {
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// A client frame: `first` is FIN/RSV/opcode, the payload masked with a fixed key.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [1u8, 2, 3, 4];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A server frame: (opcode, payload), or None at EOF.
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    tcp.read_exact(&mut h).await.ok()?;
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            tcp.read_exact(&mut l).await.ok()?;
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            tcp.read_exact(&mut l).await.ok()?;
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((h[0] & 0x0f, payload))
}

/// The close code the server sends next (skipping other frames), or None if it closes
/// without a close frame.
async fn close_code(tcp: &mut TcpStream) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some((op, payload)) = read_frame(tcp).await {
            if op == 8 {
                return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
        }
        None
    })
    .await
    .expect("no close within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_errors_close_with_rfc_6455_codes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |_| {}).await;
    let relay = addrs(&node).0;
    let cases: [(&str, Vec<u8>, u16); 4] = [
        ("300 KB text message", frame(0x81, &vec![b'x'; 300 * 1024]), 1009),
        ("invalid UTF-8 text", frame(0x81, &[b'[', 0xff, 0xfe, b']']), 1007),
        ("reserved bit set", frame(0xC1, b"[]"), 1002),
        ("unmasked client frame", vec![0x81, 2, b'[', b']'], 1002),
    ];
    for (what, bytes, code) in cases {
        let mut ws = raw_upgrade(TcpStream::connect(relay).await.unwrap()).await;
        ws.write_all(&bytes).await.unwrap();
        assert_eq!(close_code(&mut ws).await, Some(code), "{what}");
    }
}

/// A client that sends one REQ over ~10 MB of stored events and never reads: the session
/// pauses at the outbound byte cap, then closes the client; it never queues the whole replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_replay_is_closed_at_the_outbound_byte_cap() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| {
        l.relay_outbound_bytes = 256 * 1024;
        l.relay_slow_reader_secs = 2;
        l.ws_ping_interval_secs = 600;
    })
    .await;
    let author = [0x51u8; 32];
    let now = btpnips::clock::now_secs();
    const N: usize = 100;
    for i in 0..N {
        let e = Event::sign(&author, now - i as u64, 1, vec![], "x".repeat(100_000), [i as u8; 32]).unwrap();
        let (ok, why) = btpnips::ingest::publish(&node, e).await;
        assert!(ok, "{why}");
    }
    let relay = addrs(&node).0;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(relay).await.unwrap();
    let mut ws = raw_upgrade(tcp).await;
    ws.write_all(&frame(0x81, br#"["REQ","all",{"kinds":[1]}]"#)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await; // never read meanwhile

    // Now read what is left: some events, maybe the NOTICE, then the end; never all of them.
    let (mut events, mut notice, mut eose) = (0, None, false);
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some((op, payload)) = read_frame(&mut ws).await {
            let text = String::from_utf8_lossy(&payload);
            match op {
                1 if text.starts_with(r#"["EVENT""#) => events += 1,
                1 if text.starts_with(r#"["EOSE""#) => eose = true,
                1 if text.starts_with(r#"["NOTICE""#) => notice = Some(text.into_owned()),
                8 => return,
                _ => {}
            }
        }
    })
    .await;
    eprintln!("slow reader: {events} of {N} events before the close; notice {notice:?}");
    assert!(ended.is_ok(), "the slow reader was not closed ({events} events read)");
    assert!(!eose && events < N, "the whole replay was queued for a client that did not read");
    if let Some(n) = notice {
        assert!(n.contains("rate-limited:"), "{n}");
    }
}

/// A client that only publishes holds no hub receiver, so it gets no "live events were
/// dropped" NOTICE however many events others publish meanwhile; a REQ subscribes it, the
/// CLOSE of its last subscription unsubscribes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publishing_only_client_holds_no_hub_receiver_and_gets_no_dropped_events_notice() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |_| {}).await;
    let relay = addrs(&node).0;
    let receivers = node.hub.receiver_count();
    let mut client = ws_url(format!("ws://{relay}")).await.unwrap();
    let now = btpnips::clock::now_secs();
    let key = [0x61u8; 32];
    let first = Event::sign(&key, now, 1, vec![], "first".into(), [0; 32]).unwrap();
    assert!(publish(&mut client, &first).await.0);
    assert_eq!(node.hub.receiver_count(), receivers, "a publishing-only client listens to the hub");

    // Others publish more than the hub's 4 096 while the client is idle.
    let other = [0x62u8; 32];
    let events: Vec<Event> = (0..4_200u32)
        .map(|i| Event::sign(&other, now, 1, vec![], format!("n{i}"), [(i % 251) as u8; 32]).unwrap())
        .collect();
    for chunk in events.chunks(200) {
        let publishing: Vec<_> = chunk.iter().cloned().map(|e| btpnips::ingest::publish(&node, e)).collect();
        for (ok, why) in futures_util::future::join_all(publishing).await {
            assert!(ok, "{why}");
        }
    }
    let second = Event::sign(&key, now, 1, vec![], "second".into(), [1; 32]).unwrap();
    let (ok, why) = publish(&mut client, &second).await; // the next message is its OK, no NOTICE
    assert!(ok, "{why}");

    client.send(Message::text(r#"["REQ","mine",{"kinds":[30999]}]"#)).await.unwrap();
    let eose = client.next().await.unwrap().unwrap();
    assert!(eose.to_text().unwrap().starts_with(r#"["EOSE""#), "{eose:?}");
    assert_eq!(node.hub.receiver_count(), receivers + 1);
    client.send(Message::text(r#"["CLOSE","mine"]"#)).await.unwrap();
    let third = Event::sign(&key, now, 1, vec![], "third".into(), [2; 32]).unwrap();
    assert!(publish(&mut client, &third).await.0); // the CLOSE was handled before this
    assert_eq!(node.hub.receiver_count(), receivers);
}

async fn publish(client: &mut support::Ws, e: &Event) -> (bool, String) {
    client.send(Message::text(format!(r#"["EVENT",{}]"#, e.to_json()))).await.unwrap();
    let reply: serde_json::Value =
        serde_json::from_str(client.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply[0], "OK");
    assert_eq!(reply[1], e.id.as_str());
    (reply[2].as_bool().unwrap(), reply[3].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_past_the_per_pubkey_and_per_ip_rates_get_ok_false_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| {
        l.rate_limit_loopback = true;
        l.event_rate_per_pubkey = RateLimit { per_sec: 1, burst: 2 };
        l.event_rate_per_ip = RateLimit { per_sec: 1, burst: 4 };
    })
    .await;
    let relay = addrs(&node).0;
    let mut client = ws_url(format!("ws://{relay}")).await.unwrap();
    let now = btpnips::clock::now_secs();
    let sign = |key: u8, i: u8| Event::sign(&[key; 32], now, 1, vec![], format!("e{i}"), [i; 32]).unwrap();
    assert!(publish(&mut client, &sign(0x71, 0)).await.0);
    assert!(publish(&mut client, &sign(0x71, 1)).await.0);
    let (ok, why) = publish(&mut client, &sign(0x71, 2)).await;
    assert!(!ok && why.starts_with("rate-limited:") && why.contains("author"), "{why}");
    // The IP's bucket (4) is spent by now with another author's event.
    let (ok, why) = publish(&mut client, &sign(0x72, 3)).await;
    assert!(ok, "{why}");
    let (ok, why) = publish(&mut client, &sign(0x73, 4)).await;
    assert!(!ok && why.starts_with("rate-limited:") && why.contains("IP"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_loopback_client_is_not_rate_limited_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |_| {}).await;
    let relay = addrs(&node).0;
    let mut client = ws_url(format!("ws://{relay}")).await.unwrap();
    let now = btpnips::clock::now_secs();
    let burst = LimitsConfig::default().event_rate_per_pubkey.burst as usize + 50;
    for i in 0..burst {
        let e = Event::sign(&[0x81; 32], now, 1, vec![], format!("e{i}"), [(i % 251) as u8; 32]).unwrap();
        let (ok, why) = publish(&mut client, &e).await;
        assert!(ok, "event {i}: {why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_api_requests_get_401_before_their_body_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |_| {}).await;
    let api = addrs(&node).1;
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let cases: [Case; 5] = [
        ("POST", "/api/pay", vec![], b"garbage"),
        ("POST", "/api/pay", vec![("Content-Type", "application/json")], b"{not json"),
        ("POST", "/api/pay", vec![("Content-Type", "application/json")], b"{}"),
        ("POST", "/api/settlement/close", vec![("Authorization", "Bearer wrong")], b"[]"),
        ("GET", "/api/status", vec![], b""),
    ];
    for (method, path, headers, body) in cases {
        let res = btpnips::http_client::request(method, &format!("http://{api}{path}"), &headers, body.to_vec())
            .await
            .unwrap();
        assert_eq!(res.status, 401, "{method} {path} {headers:?} {}", String::from_utf8_lossy(body));
    }
}

/// A linked peer that sends BTP packets and never reads the answers: once the answers queued
/// for it fill `peer_outbound_messages`, the link is closed (no task or memory per message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_its_answers_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |l| {
        l.peer_outbound_messages = 16;
        l.peer_in_flight = 4;
    })
    .await;
    let peer_addr = addrs(&node).2;
    let secret = [0x91u8; 32];
    // Our receive buffer is small, so the node's answers back up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(peer_addr).await.unwrap();
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{peer_addr}"), tcp).await.unwrap();
    let pubkey = support::pubkey_of(&secret);
    let now = btpnips::clock::now_secs();
    let token = protocol::btpnips::auth::make_token(&secret, &node.key.pubkey, now, &[7; 32]).unwrap();
    let mut auth = protocol::btp::auth_message(1, &hex::encode(pubkey), &token);
    if let BtpPacket::Message { protocol_data, .. } = &mut auth {
        protocol_data.push(support::my_info(&pubkey, None));
    }
    ws.send(Message::binary(auth.encode())).await.unwrap();
    assert!(matches!(support::next(&mut ws).await, Some(BtpPacket::Response { .. })));

    // Flood with Transfers (each answered by a BTP Error) without reading.
    let transfer = |id: u32| BtpPacket::Transfer { request_id: id, amount: 1, protocol_data: vec![] }.encode();
    let mut sent = 0u32;
    let flooded = tokio::time::timeout(Duration::from_secs(60), async {
        while sent < 500_000 {
            if ws.send(Message::binary(transfer(sent + 10))).await.is_err() {
                return;
            }
            sent += 1;
        }
    })
    .await;
    // Either our sends failed (the node closed) or they blocked (it stopped reading us).
    eprintln!("peer flood: {sent} packets sent before the node closed/stopped reading; {flooded:?}");
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok() && sent < 500_000, "a peer that never reads stayed linked ({sent} packets)");
}

/// Reads a REQ's answer: the EVENT ids in order, up to EOSE.
async fn replayed(client: &mut support::Ws, req: &str) -> Vec<(String, u64)> {
    client.send(Message::text(req.to_owned())).await.unwrap();
    let mut got = Vec::new();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), client.next()).await.expect("EOSE within 30 s");
        let v: serde_json::Value = serde_json::from_str(m.unwrap().unwrap().to_text().unwrap()).unwrap();
        match v[0].as_str().unwrap() {
            "EVENT" => got.push((v[2]["id"].as_str().unwrap().to_owned(), v[2]["created_at"].as_u64().unwrap())),
            "EOSE" => return got,
            other => panic!("unexpected {other}: {v}"),
        }
    }
}

/// Stored matches go out in pages (a REQ never holds its whole result): every match exactly
/// once, newest first, across page boundaries, a second holding more than a page, a filter's
/// `limit`, and filters that overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_replay_sends_every_stored_match_once_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), |_| {}).await;
    let now = btpnips::clock::now_secs();
    let (a, b) = ([0xa1u8; 32], [0xb2u8; 32]);
    let mut events = Vec::new();
    for i in 0..150u32 {
        // One second holding more than a page (~100 of these 10 KB events make 1 MiB).
        let content = format!("same second {i} {}", "x".repeat(10_000));
        events.push(Event::sign(&a, now - 100, 1, vec![], content, [(i % 251) as u8; 32]).unwrap());
    }
    for i in 0..1_200u32 {
        let key = if i % 2 == 0 { &a } else { &b };
        events.push(
            Event::sign(key, now - 200 - (i / 3) as u64, 1, vec![], format!("spread {i}"), [(i % 251) as u8; 32])
                .unwrap(),
        );
    }
    for chunk in events.chunks(100) {
        let publishing: Vec<_> = chunk.iter().cloned().map(|e| btpnips::ingest::publish(&node, e)).collect();
        for (ok, why) in futures_util::future::join_all(publishing).await {
            assert!(ok, "{why}");
        }
    }
    let relay = addrs(&node).0;
    let mut client = ws_url(format!("ws://{relay}")).await.unwrap();

    let all = replayed(&mut client, r#"["REQ","all",{"kinds":[1]}]"#).await;
    let distinct: std::collections::HashSet<_> = all.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!((all.len(), distinct.len()), (events.len(), events.len()), "every match exactly once");
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");

    let newest = replayed(&mut client, r#"["REQ","ten",{"kinds":[1],"limit":10}]"#).await;
    assert_eq!(newest, all[..10].to_vec());

    let filters =
        format!(r#"["REQ","both",{{"authors":["{}"]}},{{"kinds":[1]}}]"#, protocol::nostr::public_key_hex(&a).unwrap());
    let both = replayed(&mut client, &filters).await;
    let distinct: std::collections::HashSet<_> = both.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!((both.len(), distinct.len()), (events.len(), events.len()), "overlapping filters: each once");
}
