//! Paid publishing (docs/btp-nips.md §4 "Paid publishing"): an EVENT and its price in one
//! Prepare. A raw BTP peer tries every refusal (no price set, unpaid, under-paid, bad
//! signature, an announcement) and each is the protocol's own Reject with nothing stored or
//! credited; a paid one is stored before the Fulfill. Then two real nodes over libp2p: B pays
//! A to keep a copy of each event B's owner publishes (`store_on`).
mod support;

use std::sync::Arc;
use std::time::Duration;

use btpnips::config::BootstrapEntry;
use btpnips::node::Node;
use protocol::btpnips::framing;
use protocol::ilp::ErrorCode;
use protocol::nostr::{ClientMessage, Event, Filter};
use protocol::stream::Frame;
use support::{connect, test_config};

fn event_frames(event: &Event, amount: u64) -> Vec<Frame> {
    let msg = ClientMessage::Event(event.clone()).to_json();
    let mut frames = vec![Frame::StreamData { stream_id: 1, offset: 0, data: framing::encode_message(&msg).unwrap() }];
    if amount > 0 {
        frames.insert(0, Frame::StreamMoney { stream_id: 1, shares: 1 });
    }
    frames
}

async fn stored(node: &Node, id: &str) -> bool {
    let filter = Filter { ids: Some(vec![id.to_owned()]), ..Default::default() };
    !node.storage.query_events(&[filter]).await.unwrap().is_empty()
}

async fn balance_total(node: &Node) -> i64 {
    node.storage.accounts().await.unwrap().iter().map(|a| a.balance).sum()
}

async fn start(dir: &std::path::Path, price: Option<u64>) -> Arc<Node> {
    support::init_logs();
    let mut config = test_config(dir);
    config.prices.event_published = price;
    Node::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_event_is_one_prepare_and_every_refusal_stores_nothing() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let writer = [0x42u8; 32];
    let now = btpnips::clock::now_secs();
    let note = Event::sign(&writer, now, 1, vec![], "pay to store me".into(), [1; 32]).unwrap();

    // A node that sells no storage refuses any EVENT, paid or not.
    let closed = start(d1.path(), None).await;
    let (mut peer, _) = connect(&closed, writer, None).await;
    let r = peer.send(peer.stream_prepare(&closed, &[1; 8], 50, event_frames(&note, 50))).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(r.message.starts_with("restricted: "), "{}", r.message);
    assert!(!stored(&closed, &note.id).await);
    assert_eq!(balance_total(&closed).await, 0);
    closed.shutdown();

    // Price 7: unpaid and under-paid EVENTs are F04 payment-required.
    let a = start(d2.path(), Some(7)).await;
    assert_eq!(a.info().prices.event_published, Some(7), "the price is in the node info (and announcement)");
    let (mut peer, _) = connect(&a, writer, None).await;
    for (i, amount) in [0u64, 6].into_iter().enumerate() {
        let p = peer.stream_prepare(&a, &[10 + i as u8; 8], amount, event_frames(&note, amount));
        let r = peer.send(p).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT, "{amount}: {}", r.message);
        assert!(r.message.starts_with("payment-required: storing an event costs 7"), "{}", r.message);
    }
    // A forged event (content changed after signing), paid in full: F99 invalid.
    let mut forged = note.clone();
    forged.content = "not what was signed".into();
    let r = peer.send(peer.stream_prepare(&a, &[20; 8], 7, event_frames(&forged, 7))).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(r.message.starts_with("invalid: "), "{}", r.message);
    // A Kind 32001 spreads by gossip, never by paid publishing.
    let pointer = protocol::btpnips::owner::OwnerPointer::sign(&writer, &a.key.pubkey_hex, now, None, [2; 32]).unwrap();
    let r = peer.send(peer.stream_prepare(&a, &[21; 8], 7, event_frames(&pointer, 7))).await.unwrap_err();
    assert!(r.message.starts_with("invalid: Kind 32001"), "{}", r.message);
    assert!(!stored(&a, &note.id).await && !stored(&a, &forged.id).await && !stored(&a, &pointer.id).await);
    assert_eq!(balance_total(&a).await, 0, "no refusal moved money");

    // Paid: the Fulfill comes after the commit of both the event and the credit.
    peer.send(peer.stream_prepare(&a, &[30; 8], 7, event_frames(&note, 7))).await.expect("paid EVENT fulfilled");
    assert!(stored(&a, &note.id).await, "stored before the Fulfill");
    assert_eq!(balance_total(&a).await, 7);
    let status = btpnips::status::status(&a).await.unwrap();
    assert_eq!(status["paid_publishing"]["stored_for_peers"], 1);
    assert_eq!(status["paid_publishing"]["earned"], 7);
    a.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_on_pays_another_node_to_keep_each_owner_event() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), Some(7)).await;
    let a_addr = format!("{}", a.p2p.as_ref().unwrap().listen_addrs().await[0]);
    let mut config = test_config(db.path());
    config.bootstrap = vec![BootstrapEntry { multiaddr: Some(a_addr), url: None, pubkey: a.key.pubkey_hex.clone() }];
    config.store_on = vec![a.key.pubkey_hex.clone()];
    let b = Node::start(config).await.unwrap();

    // B's owner (B's key) publishes two notes to B; someone else's event is not copied.
    let now = btpnips::clock::now_secs();
    let notes: Vec<Event> = (0..2)
        .map(|i| Event::sign(&b.key.secret, now, 1, vec![], format!("note {i}"), [i as u8; 32]).unwrap())
        .collect();
    for n in &notes {
        assert!(btpnips::ingest::publish(&b, n.clone()).await.0);
    }
    let stranger = Event::sign(&[0x77; 32], now, 1, vec![], "not an owner".into(), [9; 32]).unwrap();
    assert!(btpnips::ingest::publish(&b, stranger.clone()).await.0);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if stored(&a, &notes[0].id).await && stored(&a, &notes[1].id).await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "B's owner's notes stored on A");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Balances: A earned exactly 2 × 7 from B, B owes it; the sum is zero.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while balance_total(&a).await != 14 {
        assert!(tokio::time::Instant::now() < deadline, "A credited 14");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(balance_total(&b).await, -14);
    let status = btpnips::status::status(&b).await.unwrap();
    assert_eq!(status["paid_publishing"]["stored_on_peers"], 2);
    assert_eq!(status["paid_publishing"]["paid"], 14);
    assert!(!stored(&a, &stranger.id).await, "only the owners' events are copied");
    a.shutdown();
    b.shutdown();
}
