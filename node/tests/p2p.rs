//! Peer network over libp2p (issue 5, docs/btp-nips.md §8–§9): two in-process nodes link over
//! QUIC from a bootstrap list and exchange announcements; a third, raw libp2p peer (our own
//! discovery crate driven by hand, to send what no well-behaved node sends) tries forged,
//! stale and mis-bound announcements and garbage, and is refused each time with a reason
//! while the good link keeps working.
mod support;

use std::sync::Arc;
use std::time::Duration;

use btpnips::config::BootstrapEntry;
use btpnips::node::Node;
use discovery::p2p::{P2pBootstrap, P2pConfig, P2pHandle, PeerId, Proto};
use protocol::btp::BtpPacket;
use protocol::btpnips::announcement::Announcement;
use protocol::btpnips::info::{self, NodeInfo};
use protocol::nostr::{ClientMessage, RelayMessage};
use storage::{CloseReason, SubscriptionStatus};
use support::{pubkey_of, test_config};

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start(dir: &std::path::Path, bootstrap: Vec<BootstrapEntry>) -> Arc<Node> {
    support::init_logs();
    let mut config = test_config(dir);
    config.bootstrap = bootstrap;
    Node::start(config).await.unwrap()
}

async fn multiaddr_of(node: &Node) -> String {
    let p2p = node.p2p.as_ref().unwrap();
    format!("{}", p2p.listen_addrs().await[0])
}

fn info_for(secret: &[u8; 32]) -> NodeInfo {
    let pk = hex::encode(pubkey_of(secret));
    NodeInfo {
        version: 1,
        ilp_address: format!("test.btpnips.{}", &pk[..16]),
        pubkey: pk,
        asset_code: "ETH".into(),
        asset_scale: 9,
        prices: info::Prices {
            subscription: 1,
            subscription_period_secs: 60,
            event_delivered: 1,
            delivery_credit: 1,
            event_published: None,
        },
        settlement: None,
    }
}

fn announcement(secret: &[u8; 32], peer: &PeerId, created_at: u64, ttl: u64) -> Announcement {
    Announcement {
        info: info_for(secret),
        multiaddrs: vec![format!("/ip4/127.0.0.1/udp/9/quic-v1/p2p/{peer}")],
        btp_url: None,
        owners: vec![],
        expires_at: created_at + ttl,
        created_at,
    }
}

async fn gossip(m: &P2pHandle, to: PeerId, event: protocol::nostr::Event) -> RelayMessage {
    let data = ClientMessage::Event(event).to_json().into_bytes();
    let reply = m.request(to, Proto::Nostr, data).await.unwrap();
    RelayMessage::parse(&String::from_utf8(reply).unwrap()).unwrap()
}

fn refused(reply: &RelayMessage) -> String {
    match reply {
        RelayMessage::Ok { accepted: false, message, .. } => message.clone(),
        other => panic!("expected OK false, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_over_quic_announcements_and_bad_input() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), vec![]).await;
    let a_addr = multiaddr_of(&a).await;
    let b = start(
        db.path(),
        vec![BootstrapEntry { multiaddr: Some(a_addr.clone()), url: None, pubkey: a.key.pubkey_hex.clone() }],
    )
    .await;

    // The PeerId is the node key: the same secp256k1 key as the Nostr pubkey.
    let a_peer = a.p2p.as_ref().unwrap().local_peer_id();
    assert_eq!(discovery::p2p::nostr_pubkey_of(&a_peer), Some(a.key.pubkey));

    // B links to A over libp2p; both see the link and each other's announcement.
    eventually("A–B link", || {
        (a.links.get(&b.key.pubkey_hex).is_some() && b.links.get(&a.key.pubkey_hex).is_some()).then_some(())
    })
    .await;
    assert_eq!(a.p2p_state.linked(), vec![b.key.pubkey_hex.clone()]);
    let now = btpnips::clock::now_secs();
    eventually("announcements both ways", || {
        (a.directory.get(&b.key.pubkey_hex, now).is_some() && b.directory.get(&a.key.pubkey_hex, now).is_some())
            .then_some(())
    })
    .await;
    let seen_by_b = b.directory.get(&a.key.pubkey_hex, now).unwrap();
    assert_eq!(seen_by_b.announcement.info.ilp_address, a.address.to_string());
    assert!(seen_by_b.announcement.multiaddrs.iter().all(|m| m.ends_with(&format!("/p2p/{a_peer}"))));
    // Its route to A is the libp2p link.
    assert_eq!(b.routes.resolve(&a.address).as_deref(), Some(a.key.pubkey_hex.as_str()));

    // A raw libp2p peer M with its own key.
    let m_secret = [0x5a; 32];
    let (m, _m_events) = discovery::p2p::start(
        &m_secret,
        P2pConfig {
            listen: vec!["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()],
            bootstrap: vec![P2pBootstrap::parse(&a_addr, &a.key.pubkey_hex).unwrap()],
            ..Default::default()
        },
    )
    .unwrap();
    let m_peer = m.local_peer_id();
    let mut connected = false;
    for _ in 0..100 {
        if m.connected().await.iter().any(|(p, _)| *p == a_peer) {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(connected, "M connects to A");
    let now = btpnips::clock::now_secs();

    // Forged: content changed after signing.
    let mut forged = announcement(&m_secret, &m_peer, now, 600).to_event(&m_secret, [1; 32]).unwrap();
    forged.content = forged.content.replace("\"subscription\":1", "\"subscription\":0");
    let why = refused(&gossip(&m, a_peer, forged).await);
    assert!(why.starts_with("invalid:"), "{why}");

    // Stale: expired.
    let stale = announcement(&m_secret, &m_peer, now - 1000, 10).to_event(&m_secret, [2; 32]).unwrap();
    let why = refused(&gossip(&m, a_peer, stale).await);
    assert!(why.contains("expired"), "{why}");

    // A PeerId that is not the announced key's (B's PeerId in M's announcement).
    let b_peer = b.p2p.as_ref().unwrap().local_peer_id();
    let misbound = announcement(&m_secret, &b_peer, now, 600).to_event(&m_secret, [3; 32]).unwrap();
    let why = refused(&gossip(&m, a_peer, misbound).await);
    assert!(why.contains("not the key of the author"), "{why}");

    // Garbage on both protocols.
    let reply = m.request(a_peer, Proto::Nostr, b"\xff\x00 not json".to_vec()).await.unwrap();
    assert!(matches!(RelayMessage::parse(&String::from_utf8_lossy(&reply)), Ok(RelayMessage::Notice { .. })));
    let reply = m.request(a_peer, Proto::Btp, b"garbage".to_vec()).await.unwrap();
    assert!(matches!(BtpPacket::decode(&reply), Ok(BtpPacket::Error { ref code, .. }) if code == "F01"));
    // An ILP packet from a peer that never asked for a link.
    let prepare = BtpPacket::Message { request_id: 7, protocol_data: vec![protocol::btp::ilp_entry(vec![12, 0])] };
    let reply = m.request(a_peer, Proto::Btp, prepare.encode()).await.unwrap();
    assert!(
        matches!(BtpPacket::decode(&reply), Ok(BtpPacket::Error { ref code, ref data, .. }) if code == "F00" && String::from_utf8_lossy(data).contains("not linked"))
    );
    // A link request whose node info names another key than M's PeerId.
    let mut lying = info_for(&[0x77; 32]);
    lying.ilp_address = "test.btpnips.liar".into();
    let request = BtpPacket::Message {
        request_id: 8,
        protocol_data: vec![protocol::btp::ProtocolData {
            protocol_name: info::PROTOCOL_NAME.into(),
            content_type: protocol::btp::ContentType::ApplicationJson,
            data: lying.to_json_bytes(),
        }],
    };
    let reply = m.request(a_peer, Proto::Btp, request.encode()).await.unwrap();
    assert!(matches!(BtpPacket::decode(&reply), Ok(BtpPacket::Error { ref code, .. }) if code == "F00"));

    // Nothing of that was stored or installed; the A–B link is untouched and a valid
    // announcement from M is accepted and spread to B.
    let now = btpnips::clock::now_secs();
    assert!(a.directory.get(&hex::encode(pubkey_of(&m_secret)), now).is_none());
    assert!(a.links.get(&hex::encode(pubkey_of(&[0x77; 32]))).is_none());
    assert!(a.links.get(&b.key.pubkey_hex).is_some());
    let good = announcement(&m_secret, &m_peer, now, 600).to_event(&m_secret, [4; 32]).unwrap();
    assert!(matches!(gossip(&m, a_peer, good.clone()).await, RelayMessage::Ok { accepted: true, .. }));
    eventually("M's announcement to reach B through A", || {
        b.directory.get(&hex::encode(pubkey_of(&m_secret)), now).map(|e| e.event.id == good.id).filter(|ok| *ok)
    })
    .await;
    // The same again is a duplicate, not re-spread.
    match gossip(&m, a_peer, good).await {
        RelayMessage::Ok { accepted: true, message, .. } => assert!(message.starts_with("duplicate:"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Re-signing in a loop (a flood of "newer" announcements) is refused.
    let again = announcement(&m_secret, &m_peer, now + 1, 600).to_event(&m_secret, [5; 32]).unwrap();
    let why = refused(&gossip(&m, a_peer, again).await);
    assert!(why.starts_with("rate-limited:"), "{why}");
    assert!(a.links.get(&b.key.pubkey_hex).is_some(), "the A–B link outlived all of it");
    m.shutdown().await;
    a.shutdown();
    b.shutdown();
}

/// A follow with no route to the publisher: the follower asks the peer network for a direct
/// link (docs/btp-nips.md §9–§10). B refuses every ILP link (`max_links = 0`) but still
/// gossips, so C learns A's announcement through B, has no route to A, links to A directly
/// and subscribes; A's events then reach C's store. Unfollowing closes the subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_without_a_route_links_directly() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), vec![]).await;
    let a_addr = multiaddr_of(&a).await;
    let boot_a = BootstrapEntry { multiaddr: Some(a_addr), url: None, pubkey: a.key.pubkey_hex.clone() };
    let mut config = test_config(db.path());
    config.bootstrap = vec![boot_a];
    config.p2p.max_links = 0;
    let b = Node::start(config).await.unwrap();
    let b_addr = multiaddr_of(&b).await;
    let c =
        start(dc.path(), vec![BootstrapEntry { multiaddr: Some(b_addr), url: None, pubkey: b.key.pubkey_hex.clone() }])
            .await;

    let now = btpnips::clock::now_secs();
    eventually("C to learn A's announcement through B", || c.directory.get(&a.key.pubkey_hex, now).map(|_| ())).await;
    assert!(b.links.all().is_empty() && c.links.all().is_empty(), "B links with nobody");
    assert!(c.routes.resolve(&a.address).is_none(), "no route from C to A");

    // A's owner (A's node key) publishes a note; C's owner follows A.
    let note = protocol::nostr::Event::sign(&a.key.secret, now, 1, vec![], "hello from A".into(), [9; 32]).unwrap();
    assert!(btpnips::ingest::publish(&a, note.clone()).await.0);
    let contacts = protocol::nostr::Event::sign(
        &c.key.secret,
        now,
        3,
        vec![vec!["p".into(), a.key.pubkey_hex.clone()]],
        String::new(),
        [8; 32],
    )
    .unwrap();
    assert!(btpnips::ingest::publish(&c, contacts).await.0);

    eventually("a direct C–A link", || c.links.get(&a.key.pubkey_hex).map(|_| ())).await;
    let mut stored = false;
    for _ in 0..200 {
        let got = c
            .storage
            .query_events(&[protocol::nostr::Filter { ids: Some(vec![note.id.clone()]), ..Default::default() }])
            .await
            .unwrap();
        if !got.is_empty() {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored, "A's note reached C's store over the direct link");
    let sub = c.subs.records().into_iter().find(|r| r.peer == a.key.pubkey_hex).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);

    // Unfollow: an empty, newer contact list.
    let empty = protocol::nostr::Event::sign(&c.key.secret, now + 1, 3, vec![], String::new(), [7; 32]).unwrap();
    assert!(btpnips::ingest::publish(&c, empty).await.0);
    eventually("the subscription to close", || {
        c.subs
            .records()
            .into_iter()
            .find(|r| r.peer == a.key.pubkey_hex && r.status == SubscriptionStatus::Closed(CloseReason::Unfollowed))
            .map(|_| ())
    })
    .await;
    eventually("A to see the CLOSE", || {
        a.subs
            .records()
            .into_iter()
            .find(|r| r.peer == c.key.pubkey_hex && r.status == SubscriptionStatus::Closed(CloseReason::Subscriber))
            .map(|_| ())
    })
    .await;
    for n in [&a, &b, &c] {
        n.shutdown();
    }
}

async fn stored(node: &Node, id: &str) -> bool {
    for _ in 0..200 {
        let filter = protocol::nostr::Filter { ids: Some(vec![id.to_owned()]), ..Default::default() };
        if !node.storage.query_events(&[filter]).await.unwrap().is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// An owner whose key lives in a separate signer (docs/btp-nips.md §8 "Owners with a
/// separate signer"): node A runs under its own key with `owners = [O]`; O publishes a note
/// and an owner pointer O → A to A's relay. Follower B follows O and gets the note from A.
/// Node C also claims O as owner; without O's pointer naming C that claim is not believed,
/// and a pointer naming a node that does not name O back resolves to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_with_a_separate_signer_is_followed_through_its_pointer() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let owner_secret = [0x0au8; 32];
    let owner = hex::encode(pubkey_of(&owner_secret));
    let mut config = test_config(da.path());
    config.owners = vec![owner.clone()];
    let a = Node::start(config).await.unwrap();
    let boot_a =
        BootstrapEntry { multiaddr: Some(multiaddr_of(&a).await), url: None, pubkey: a.key.pubkey_hex.clone() };
    let b = start(db.path(), vec![boot_a.clone()]).await;
    let mut config = test_config(dc.path());
    config.owners = vec![owner.clone()];
    config.bootstrap = vec![boot_a];
    let c = Node::start(config).await.unwrap();

    // Both A and C name O as owner in their announcements; B holds both, and believes neither.
    let now = btpnips::clock::now_secs();
    eventually("B to hold A's and C's announcements", || {
        let (ea, ec) = (b.directory.get(&a.key.pubkey_hex, now)?, b.directory.get(&c.key.pubkey_hex, now)?);
        (ea.announcement.owners == vec![owner.clone()] && ec.announcement.owners == vec![owner.clone()]).then_some(())
    })
    .await;
    assert!(b.directory.resolve(&owner, now).is_none(), "an owner tag alone binds nothing");

    // B's owner follows O before O has pointed anywhere: the subscription waits.
    let contacts = protocol::nostr::Event::sign(
        &b.key.secret,
        now,
        3,
        vec![vec!["p".into(), owner.clone()]],
        String::new(),
        [8; 32],
    )
    .unwrap();
    assert!(btpnips::ingest::publish(&b, contacts).await.0);
    eventually("B's subscription to wait for O's node", || {
        b.subs
            .records()
            .into_iter()
            .find(|r| r.peer == owner && r.status == SubscriptionStatus::WaitingForAnnouncement)
            .map(|_| ())
    })
    .await;

    // O, from their own client, publishes a note and the pointer O → A to A's relay.
    let note = protocol::nostr::Event::sign(&owner_secret, now, 1, vec![], "hello from O".into(), [9; 32]).unwrap();
    assert!(btpnips::ingest::publish(&a, note.clone()).await.0);
    let pointer =
        protocol::btpnips::owner::OwnerPointer::sign(&owner_secret, &a.key.pubkey_hex, now, None, [6; 32]).unwrap();
    assert!(btpnips::ingest::publish(&a, pointer.clone()).await.0);

    eventually("B to resolve O to A", || {
        b.directory.resolve(&owner, btpnips::clock::now_secs()).filter(|e| e.event.pubkey == a.key.pubkey_hex)
    })
    .await;
    assert!(stored(&b, &note.id).await, "O's note reached B from A");
    let sub = record_of(&b, &owner);
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert!(
        a.subs.records().iter().any(|r| r.peer == b.key.pubkey_hex && r.status.is_active()),
        "A serves B's subscription"
    );
    assert!(c.subs.records().is_empty(), "C, which O never named, got no subscription");
    // The pointer spread to C too (C holds it, and it names A, not C).
    eventually("C to hold O's pointer", || {
        c.directory.pointer(&owner, now).filter(|p| p.pointer.node == a.key.pubkey_hex)
    })
    .await;

    // O points at B, which does not name O back: that resolves to nothing on any node.
    let later = now + 10;
    let one_sided =
        protocol::btpnips::owner::OwnerPointer::sign(&owner_secret, &b.key.pubkey_hex, later, None, [5; 32]).unwrap();
    assert!(btpnips::ingest::publish(&a, one_sided).await.0);
    eventually("B to take the one-sided pointer", || {
        b.directory.pointer(&owner, later).filter(|p| p.pointer.node == b.key.pubkey_hex)
    })
    .await;
    assert!(b.directory.resolve(&owner, later).is_none(), "a pointer alone binds nothing");
    for n in [&a, &b, &c] {
        n.shutdown();
    }
}

fn record_of(node: &Node, author: &str) -> storage::SubscriptionRecord {
    node.subs.records().into_iter().find(|r| r.peer == author).expect("a subscription record")
}
