//! A node's peer face under bad and good input, driven by a raw BTP peer built from the
//! `protocol` codecs: every refusal is the protocol's own answer (ILP Reject code, BTP
//! Error) and leaves balances and subscriptions untouched.
mod support;

use std::sync::Arc;

use btpnips::node::Node;
use futures_util::SinkExt;
use protocol::btp::{self, BtpPacket};
use protocol::btpnips::{auth, framing, secret};
use protocol::ilp::{condition_of, Address, ErrorCode, Fulfill, Packet};
use protocol::nostr::{ClientMessage, Filter};
use protocol::stream::{CloseCode, Frame, IlpPacketType, StreamKeys, StreamPacket};
use support::{connect, next, start_alice, Peer};
use tokio_tungstenite::tungstenite::Message;

fn req_frames(sub_id: &str, author: &str, amount: u64) -> Vec<Frame> {
    let req = ClientMessage::Req {
        subscription_id: sub_id.into(),
        filters: vec![Filter { authors: Some(vec![author.into()]), ..Default::default() }],
    };
    let mut frames =
        vec![Frame::StreamData { stream_id: 1, offset: 0, data: framing::encode_message(&req.to_json()).unwrap() }];
    if amount > 0 {
        frames.insert(0, Frame::StreamMoney { stream_id: 1, shares: 1 });
    }
    frames
}

async fn balance_and_subs(node: &Arc<Node>) -> (i64, usize) {
    let status = btpnips::status::status(node).await.unwrap();
    let balance = status["accounts"].as_array().unwrap().iter().map(|a| a["balance"].as_i64().unwrap()).sum();
    (balance, status["subscriptions"].as_array().unwrap().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_and_underpaid_req_are_rejected_f04_and_change_nothing_then_a_paid_one_counts() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, reply) = connect(&alice, [0x42; 32], None).await;
    assert!(matches!(reply, BtpPacket::Response { .. }), "auth accepted: {reply:?}");
    let author = alice.key.pubkey_hex.clone();
    let tag = [9u8; 8];

    for amount in [0u64, 999] {
        let p = peer.stream_prepare(&alice, &tag, amount, req_frames("s1", &author, amount));
        let r = peer.send(p).await.expect_err("must be rejected");
        assert_eq!(r.code, ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT, "{amount}: {}", r.message);
        assert!(r.message.starts_with("payment-required: "), "{}", r.message);
        assert_eq!(r.triggered_by.as_ref(), Some(&alice.address));
        // The reject carries an encrypted STREAM reply saying what arrived.
        let reply = StreamPacket::decode(&peer.keys(&tag, &alice).decrypt(&r.data).unwrap()).unwrap();
        assert_eq!((reply.ilp_packet_type, reply.sequence, reply.prepare_amount), (IlpPacketType::Reject, 1, amount));
        assert_eq!(balance_and_subs(&alice).await, (0, 0), "nothing stored after a {amount} REQ");
    }

    // The stream's offset 0 was never accepted, so the paid REQ reuses it.
    let p = peer.stream_prepare(&alice, &tag, 1000, req_frames("s1", &author, 1000));
    let condition = p.execution_condition;
    let f = peer.send(p).await.expect("paid REQ fulfilled");
    assert_eq!(condition_of(&f.fulfillment), condition, "the fulfillment matches the condition");
    assert_eq!(balance_and_subs(&alice).await, (1000, 1));
    alice.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_get_the_rfc27_code_and_leave_balances_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, _) = connect(&alice, [0x43; 32], None).await;
    let tag = [1u8; 8];
    let good = peer.stream_prepare(&alice, &tag, 5, vec![Frame::StreamMoney { stream_id: 1, shares: 1 }]);

    let mut garbage = good.clone();
    garbage.data = vec![0xde; 64];
    assert_eq!(peer.send(garbage).await.unwrap_err().code, ErrorCode::F06_UNEXPECTED_PAYMENT);

    let mut wrong_condition = good.clone();
    wrong_condition.execution_condition = [0x55; 32];
    let r = peer.send(wrong_condition).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR, "unfulfillable probe");
    assert!(!r.data.is_empty(), "F99 carries an encrypted STREAM reply");

    let mut expired = good.clone();
    expired.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(peer.send(expired).await.unwrap_err().code, ErrorCode::R00_TRANSFER_TIMED_OUT);

    let mut nowhere = good.clone();
    nowhere.destination = "test.nowhere.at.all".parse::<Address>().unwrap();
    assert_eq!(peer.send(nowhere).await.unwrap_err().code, ErrorCode::F02_UNREACHABLE);

    let mut no_conn = good.clone();
    no_conn.destination = alice.address.clone();
    assert_eq!(peer.send(no_conn).await.unwrap_err().code, ErrorCode::F02_UNREACHABLE);

    // STREAM protocol violations close the connection, saying why in the encrypted reply.
    let close_code = |peer: &Peer, tag: &[u8; 8], r: &protocol::ilp::Reject| {
        let reply = StreamPacket::decode(&peer.keys(tag, &alice).decrypt(&r.data).unwrap()).unwrap();
        reply.frames.iter().find_map(|f| match f {
            Frame::ConnectionClose { code, .. } => Some(*code),
            _ => None,
        })
    };
    let wrong_parity = peer.stream_prepare(&alice, &[2; 8], 5, vec![Frame::StreamMoney { stream_id: 2, shares: 1 }]);
    let r = peer.send(wrong_parity).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert_eq!(close_code(&peer, &[2; 8], &r), Some(CloseCode::ProtocolViolation));
    let over_window = peer.stream_prepare(
        &alice,
        &[6; 8],
        0,
        vec![Frame::StreamData { stream_id: 1, offset: 600 * 1024, data: vec![1; 10] }],
    );
    let r = peer.send(over_window).await.unwrap_err();
    assert_eq!(close_code(&peer, &[6; 8], &r), Some(CloseCode::FlowControlError), "{}", r.message);

    let money_without_stream = peer.stream_prepare(&alice, &[3; 8], 5, vec![]);
    assert_eq!(peer.send(money_without_stream).await.unwrap_err().code, ErrorCode::F99_APPLICATION_ERROR);

    // A malformed ILP packet inside a good BTP frame: F01, link stays up.
    let frame = BtpPacket::Message { request_id: 77, protocol_data: vec![btp::ilp_entry(vec![12, 3, 1, 2, 3])] };
    let r = peer.send_raw(frame.encode(), 77).await.expect("reply").unwrap_err();
    assert_eq!(r.code, ErrorCode::F01_INVALID_PACKET);

    assert_eq!(balance_and_subs(&alice).await, (0, 0));
    // A payment the node can fulfil still goes through on the same link: money alone is
    // credited to the account.
    let f = peer.send(good).await.expect("fulfilled");
    assert_eq!(f.fulfillment.len(), 32);
    assert_eq!(balance_and_subs(&alice).await, (5, 0));
    alice.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_auth_is_refused_and_a_garbage_peer_is_dropped_without_hurting_others() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;

    let (_, reply) = connect(&alice, [0x44; 32], Some("1.00".into())).await;
    assert!(matches!(reply, BtpPacket::Error { ref code, .. } if code == "F00"), "{reply:?}");
    let stale = auth::make_token(&[0x44; 32], &alice.key.pubkey, 1_000_000, &[0; 32]).unwrap();
    let (_, reply) = connect(&alice, [0x44; 32], Some(stale)).await;
    assert!(matches!(reply, BtpPacket::Error { ref code, .. } if code == "F00"), "{reply:?}");

    let (mut good, _) = connect(&alice, [0x45; 32], None).await;
    let (mut bad, _) = connect(&alice, [0x46; 32], None).await;
    bad.ws.send(Message::binary(vec![0xff, 0x00, 0x01])).await.unwrap();
    assert!(next(&mut bad.ws).await.is_none(), "garbage closes that link");

    let p = good.stream_prepare(&alice, &[4; 8], 3, vec![Frame::StreamMoney { stream_id: 1, shares: 1 }]);
    good.send(p).await.expect("the other link still works");
    alice.shutdown();
}

/// Answer the node's Prepares as a subscriber that stores nothing and never pays: fulfill
/// each one we can derive and collect the NIP-01 messages, until `done` says stop.
async fn receive_messages(peer: &mut Peer, node: &Node, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut decoders: std::collections::HashMap<u64, framing::MessageDecoder> = Default::default();
    let mut messages = Vec::new();
    while !done(&messages) {
        let Some(packet) = peer.next_packet().await else { panic!("link closed; got {messages:?}") };
        let BtpPacket::Message { request_id, protocol_data } = packet else { continue };
        let Ok(Packet::Prepare(p)) = Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data) else {
            continue;
        };
        let suffix = p.destination.as_str().rsplit('.').next().unwrap();
        let mut tag = [0u8; 8];
        hex::decode_to_slice(suffix, &mut tag).unwrap();
        let keys = StreamKeys::derive(&secret::shared_secret(&peer.secret, &node.key.pubkey, &tag).unwrap());
        let plain = StreamPacket::decode(&keys.decrypt(&p.data).unwrap()).unwrap();
        for f in plain.frames {
            if let Frame::StreamData { stream_id, data, .. } = f {
                messages.extend(decoders.entry(stream_id).or_default().push(&data).unwrap());
            }
        }
        let fulfill = Fulfill { fulfillment: keys.fulfillment(&p.data), data: vec![] };
        let reply = BtpPacket::Response { request_id, protocol_data: vec![btp::ilp_entry(fulfill.encode())] };
        peer.ws.send(Message::binary(reply.encode())).await.unwrap();
    }
    messages
}

/// Flow control (issue 10): at the credit limit the publisher pauses delivery instead of
/// closing; a payment resumes it; a subscriber that then stops paying is closed with
/// `CLOSED payment-required:` only after the grace time (2 s in the test config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_pauses_at_the_credit_resumes_on_payment_and_closes_after_the_grace_time() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await; // 1000 per period, 10 per event, credit 100, grace 2 s
    let (mut peer, _) = connect(&alice, [0x47; 32], None).await;
    let author = alice.key.pubkey_hex.clone();
    let tag = [5u8; 8];
    let p = peer.stream_prepare(&alice, &tag, 1000, req_frames("s1", &author, 1000));
    peer.send(p).await.expect("paid REQ");
    let eose = receive_messages(&mut peer, &alice, |m| m.iter().any(|x| x.starts_with(r#"["EOSE""#))).await;
    // First the publisher's ACCOUNT of the subscription (docs/btp-nips.md §4), then EOSE.
    assert_eq!(
        eose,
        vec![
            r#"["ACCOUNT","s1",{"periods_paid":1,"events_delivered":0,"amount_paid":1000,"owed":0}]"#,
            r#"["EOSE","s1"]"#
        ]
    );

    for i in 0..40u64 {
        let e = protocol::nostr::Event::sign(
            &alice.key.secret,
            1_700_000_000 + i,
            1,
            vec![],
            format!("note {i}"),
            [i as u8; 32],
        )
        .unwrap();
        assert_eq!(btpnips::ingest::publish(&alice, e).await, (true, String::new()));
    }
    let count = |m: &[String]| m.iter().filter(|x| x.starts_with(r#"["EVENT""#)).count();
    // 100 units of credit at 10 per event: 10 unpaid deliveries, then a pause (no CLOSED).
    let started = std::time::Instant::now();
    let got = receive_messages(&mut peer, &alice, |m| count(m) >= 10).await;
    assert_eq!(count(&got), 10, "{got:?}");
    let status = btpnips::status::status(&alice).await.unwrap();
    assert_eq!(status["subscriptions"][0]["status"], "active", "paused, not closed");

    // Pay for those 10 (money alone on the REQ's stream): the next 10 come.
    let pay = peer.stream_prepare(&alice, &tag, 100, vec![Frame::StreamMoney { stream_id: 1, shares: 1 }]);
    peer.send(pay).await.expect("payment fulfilled");
    let got = receive_messages(&mut peer, &alice, |m| count(m) >= 10).await;
    assert_eq!(count(&got), 10, "resumed after the payment: {got:?}");

    // Stop paying: nothing more is sent, and after the grace time the subscription closes.
    let got = receive_messages(&mut peer, &alice, |m| m.iter().any(|x| x.starts_with(r#"["CLOSED""#))).await;
    assert_eq!(count(&got), 0, "nothing past the credit: {got:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "closed only after the grace time");
    let closed = got.last().unwrap();
    assert!(closed.starts_with(r#"["CLOSED","s1","payment-required: "#), "{closed}");
    let status = btpnips::status::status(&alice).await.unwrap();
    let sub = &status["subscriptions"][0];
    assert_eq!(sub["events_delivered"], 20);
    assert_eq!(sub["amount_paid"], 1100);
    assert!(sub["status"].as_str().unwrap().starts_with("closed"));
    alice.shutdown();
}

/// A test peer as a publisher that Alice's node subscribes to: Alice's own client sends
/// `REQ` for its pubkey, her node sends the REQ to the peer. Returns the peer, the
/// subscription id of that REQ, and the client (keep it open: it holds the subscription).
async fn subscribed_publisher(alice: &Arc<Node>, secret: [u8; 32]) -> (Peer, String, impl Sized) {
    let (mut publisher, _) = connect(alice, secret, None).await;
    let publisher_hex = hex::encode(publisher.pubkey);
    let relay = alice.bound.lock().unwrap().relay.unwrap();
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{relay}")).await.unwrap();
    let req = format!(r#"["REQ","c1",{{"authors":["{publisher_hex}"]}}]"#);
    client.send(Message::text(req)).await.unwrap();
    let got = receive_messages(&mut publisher, alice, |m| m.iter().any(|x| x.starts_with(r#"["REQ""#))).await;
    let sub_id = match ClientMessage::parse(&got[0]).unwrap() {
        ClientMessage::Req { subscription_id, .. } => subscription_id,
        other => panic!("{other:?}"),
    };
    (publisher, sub_id, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_delivered_by_a_publisher_are_verified_before_storage() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let publisher_secret = [0x48u8; 32];
    let (mut publisher, sub_id, _client) = subscribed_publisher(&alice, publisher_secret).await;

    let tag = [6u8; 8];
    let good =
        protocol::nostr::Event::sign(&publisher_secret, 1_700_000_000, 1, vec![], "good".into(), [1; 32]).unwrap();
    let mut forged =
        protocol::nostr::Event::sign(&publisher_secret, 1_700_000_001, 1, vec![], "forged".into(), [2; 32]).unwrap();
    forged.content = "changed after signing".into();
    let foreign =
        protocol::nostr::Event::sign(&[0x49; 32], 1_700_000_002, 1, vec![], "someone else".into(), [3; 32]).unwrap();
    let mut offset = 0;
    let deliver = |event: &protocol::nostr::Event| {
        let msg = protocol::nostr::RelayMessage::Event { subscription_id: sub_id.clone(), event: event.clone() };
        let data = framing::encode_message(&msg.to_json()).unwrap();
        let frames = vec![Frame::StreamData { stream_id: 1, offset, data: data.clone() }];
        (frames, data.len() as u64)
    };
    for bad in [&forged, &foreign] {
        let (frames, _) = deliver(bad);
        let r = publisher.send(publisher.stream_prepare(&alice, &tag, 0, frames)).await.unwrap_err();
        assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
        assert!(r.message.starts_with("invalid: "), "{}", r.message);
    }
    let (frames, len) = deliver(&good);
    publisher.send(publisher.stream_prepare(&alice, &tag, 0, frames)).await.expect("good event fulfilled");
    offset += len;
    assert!(offset > 0);

    // Alice's store also holds her own Kind 32001 announcement; look at kind 1.
    let stored = alice.storage.query_events(&[Filter { kinds: Some(vec![1]), ..Default::default() }]).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.content.as_str()).collect::<Vec<_>>(),
        vec!["good"],
        "only the valid, matching event was stored"
    );
    alice.shutdown();
}

/// Deliveries sent all at once (several Prepares in flight, which the receiver commits as a
/// group): each still gets its own answer. One with a forged event is refused `F99` and
/// nothing of it is stored; the good ones before it are stored and fulfilled; the ones after
/// it, whose data now starts after a gap, are never fulfilled (`R00` once the gap does not
/// fill). Sent again with the gap filled, all are fulfilled and stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_flight_together_get_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let publisher_secret = [0x4au8; 32];
    let (mut publisher, sub_id, _client) = subscribed_publisher(&alice, publisher_secret).await;
    let tag = [9u8; 8];
    let event = |i: u64| {
        protocol::nostr::Event::sign(
            &publisher_secret,
            1_700_000_000 + i,
            1,
            vec![],
            format!("note {i}"),
            [i as u8; 32],
        )
        .unwrap()
    };
    let framed = |e: &protocol::nostr::Event| {
        let msg = protocol::nostr::RelayMessage::Event { subscription_id: sub_id.clone(), event: e.clone() };
        framing::encode_message(&msg.to_json()).unwrap()
    };
    let events: Vec<_> = (1..=6).map(event).collect();
    let mut forged = events[2].clone();
    forged.content = "note X".into(); // same length, so the offsets after it do not move
    let chunks: Vec<Vec<u8>> =
        events.iter().enumerate().map(|(i, e)| if i == 2 { framed(&forged) } else { framed(e) }).collect();
    let good_chunks: Vec<Vec<u8>> = events.iter().map(framed).collect();
    assert_eq!(chunks[2].len(), good_chunks[2].len(), "the forged event frames to the same length");
    let prepares = |publisher: &Peer, chunks: &[Vec<u8>]| -> Vec<protocol::ilp::Prepare> {
        let mut offset = 0u64;
        chunks
            .iter()
            .map(|data| {
                let frames = vec![Frame::StreamData { stream_id: 1, offset, data: data.clone() }];
                offset += data.len() as u64;
                publisher.stream_prepare(&alice, &tag, 0, frames)
            })
            .collect()
    };
    let first = prepares(&publisher, &chunks);
    let replies = publisher.send_all(first).await;
    let codes: Vec<_> = replies.iter().map(|r| r.as_ref().err().map(|r| r.code)).collect();
    assert_eq!(
        codes,
        vec![
            None,
            None,
            Some(ErrorCode::F99_APPLICATION_ERROR),
            Some(ErrorCode::R00_TRANSFER_TIMED_OUT),
            Some(ErrorCode::R00_TRANSFER_TIMED_OUT),
            Some(ErrorCode::R00_TRANSFER_TIMED_OUT),
        ],
        "{replies:?}"
    );
    let stored = |alice: Arc<Node>| async move {
        let kind1 = Filter { kinds: Some(vec![1]), ..Default::default() };
        let mut c: Vec<String> =
            alice.storage.query_events(&[kind1]).await.unwrap().into_iter().map(|e| e.content).collect();
        c.sort();
        c
    };
    assert_eq!(stored(alice.clone()).await, vec!["note 1", "note 2"]);

    // The sender sends what was not fulfilled again, the forged event replaced.
    let again = prepares(&publisher, &good_chunks).split_off(2);
    let replies = publisher.send_all(again).await;
    assert!(replies.iter().all(Result::is_ok), "{replies:?}");
    assert_eq!(stored(alice.clone()).await, (1..=6).map(|i| format!("note {i}")).collect::<Vec<_>>());
    alice.shutdown();
}

/// Effects only after commit (issue 10): a paid REQ and an EVENT the node refuses in one
/// Prepare. The packet is rejected, so no money moved; the REQ must have changed nothing
/// either: no subscription in status, and a later REQ with no money is still
/// `payment-required:` (before the fix its `paid_until` was already extended in memory, so the
/// next free REQ passed as a paid-up subscription).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_packet_gives_no_free_period() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, _) = connect(&alice, [0x47; 32], None).await;
    let author = alice.key.pubkey_hex.clone();
    let tag = [7u8; 8];

    let refused_event =
        r#"["EVENT",{"id":"00","pubkey":"00","created_at":1,"kind":1,"tags":[],"content":"x","sig":"00"}]"#;
    let mut frames = req_frames("s1", &author, 1000);
    frames.push(Frame::StreamData { stream_id: 3, offset: 0, data: framing::encode_message(refused_event).unwrap() });
    let r = peer.send(peer.stream_prepare(&alice, &tag, 1000, frames)).await.expect_err("packet refused");
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR, "{}", r.message);
    assert_eq!(balance_and_subs(&alice).await, (0, 0), "a refused packet moves no money and opens nothing");

    let r = peer
        .send(peer.stream_prepare(&alice, &tag, 0, req_frames("s1", &author, 0)))
        .await
        .expect_err("an unpaid REQ after a refused paid one is still unpaid");
    assert_eq!(r.code, ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT, "{}", r.message);
    assert!(r.message.starts_with("payment-required: "), "{}", r.message);
    assert_eq!(balance_and_subs(&alice).await, (0, 0));

    // An honest retry of the paid REQ pays exactly one period.
    peer.send(peer.stream_prepare(&alice, &tag, 1000, req_frames("s1", &author, 1000))).await.expect("paid REQ");
    assert_eq!(balance_and_subs(&alice).await, (1000, 1));
    let status = btpnips::status::status(&alice).await.unwrap();
    assert_eq!(status["subscriptions"][0]["periods_paid"], 1, "{}", status["subscriptions"]);
    alice.shutdown();
}

/// A peer that keeps opening subscriptions is bounded: past 64 open ones per peer a REQ is
/// refused `F99 rate-limited:` and nothing is stored or credited; CLOSE frees a place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_opening_too_many_subscriptions_is_refused_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path());
    config.prices.subscription = 1; // cheap, so only the bound stops it
    let alice = Node::start(config).await.unwrap();
    let (mut peer, _) = connect(&alice, [0x49; 32], None).await;
    let author = alice.key.pubkey_hex.clone();
    for i in 0..64u8 {
        let p = peer.stream_prepare(&alice, &[0x10, i, 0, 0, 0, 0, 0, 0], 1, req_frames(&format!("s{i}"), &author, 1));
        peer.send(p).await.unwrap_or_else(|r| panic!("REQ {i}: {} {}", r.code, r.message));
    }
    assert_eq!(balance_and_subs(&alice).await, (64, 64));
    let p = peer.stream_prepare(&alice, &[0x11; 8], 1, req_frames("one-too-many", &author, 1));
    let r = peer.send(p).await.expect_err("the 65th is refused");
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(r.message.starts_with("rate-limited: "), "{}", r.message);
    assert_eq!(balance_and_subs(&alice).await, (64, 64), "nothing stored or credited");

    let close = ClientMessage::Close { subscription_id: "s0".into() };
    let frames =
        vec![Frame::StreamData { stream_id: 3, offset: 0, data: framing::encode_message(&close.to_json()).unwrap() }];
    peer.send(peer.stream_prepare(&alice, &[0x10, 0, 0, 0, 0, 0, 0, 0], 0, frames)).await.expect("CLOSE");
    let p = peer.stream_prepare(&alice, &[0x12; 8], 1, req_frames("one-too-many", &author, 1));
    peer.send(p).await.expect("a closed subscription frees a place");
    alice.shutdown();
}

/// Packets of one connection may overtake each other. Data that starts after a gap is not
/// fulfilled unread: the receiver parks it until the bytes before it arrive, then applies and
/// fulfills both in order; a gap that never fills ends in `R00` (out of order), nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_after_a_gap_waits_for_the_gap_and_is_never_fulfilled_unread() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, _) = connect(&alice, [0x43; 32], None).await;
    let author = alice.key.pubkey_hex.clone();
    let tag = [4u8; 8];
    let bytes = framing::encode_message(
        &ClientMessage::Req {
            subscription_id: "gap".into(),
            filters: vec![Filter { authors: Some(vec![author.clone()]), ..Default::default() }],
        }
        .to_json(),
    )
    .unwrap();
    let (head, tail) = bytes.split_at(7);
    // The tail completes the REQ, so it carries the payment (docs/btp-nips.md §4).
    let second = peer.stream_prepare(
        &alice,
        &tag,
        1000,
        vec![
            Frame::StreamMoney { stream_id: 1, shares: 1 },
            Frame::StreamData { stream_id: 1, offset: head.len() as u64, data: tail.to_vec() },
        ],
    );
    let frame = BtpPacket::Message { request_id: 901, protocol_data: vec![btp::ilp_entry(second.encode())] };
    peer.ws.send(Message::binary(frame.encode())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(balance_and_subs(&alice).await, (0, 0), "nothing applied while the head is missing");
    // The head: both packets are applied, in order, and fulfilled.
    let frames = vec![Frame::StreamData { stream_id: 1, offset: 0, data: head.to_vec() }];
    let first = peer.stream_prepare(&alice, &tag, 0, frames);
    peer.send(first).await.expect("the head is fulfilled");
    let answer = loop {
        match peer.next_packet().await.expect("link up") {
            BtpPacket::Response { request_id: 901, protocol_data } => break protocol_data,
            _ => continue,
        }
    };
    let parked = Packet::decode(&btp::find_entry(&answer, "ilp").unwrap().data).unwrap();
    assert!(matches!(parked, Packet::Fulfill(_)), "the parked tail is fulfilled once applied: {parked:?}");
    assert_eq!(balance_and_subs(&alice).await, (1000, 1), "the REQ the two packets carry counts once");

    // A gap that never fills: R00 after the park time, and nothing is stored.
    let lone = peer.stream_prepare(
        &alice,
        &[5; 8],
        0,
        vec![Frame::StreamData { stream_id: 1, offset: 9, data: tail.to_vec() }],
    );
    let r = peer.send(lone).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::R00_TRANSFER_TIMED_OUT);
    assert!(r.message.starts_with("out of order:"), "{}", r.message);
    assert_eq!(balance_and_subs(&alice).await, (1000, 1));
    alice.shutdown();
}

/// A peer cannot make one STREAM connection hold unbounded memory: incomplete BTP-NIPs messages
/// spread over many streams are refused `F99` once the connection holds
/// `MAX_CONNECTION_HELD` bytes (and nothing of the refused packet is kept), and a stream the
/// sender closed drops its state: later data on it is refused, the connection goes on.
#[tokio::test]
async fn a_connection_holds_bounded_incomplete_data_and_closed_streams_take_no_more() {
    use btpnips::stream::MAX_CONNECTION_HELD;
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, _) = connect(&alice, [0x44; 32], None).await;
    let tag = [6u8; 8];
    // The start of a 100 000-byte message: a 3-byte OER length, then 30 000 bytes of it.
    let chunk = {
        let mut c = vec![0x82, 0x86, 0xa0];
        c.resize(30_003, b' ');
        c
    };
    let mut held = 0usize;
    let mut stream_id = 1u64;
    let refused = loop {
        let frames = vec![Frame::StreamData { stream_id, offset: 0, data: chunk.clone() }];
        match peer.send(peer.stream_prepare(&alice, &tag, 0, frames)).await {
            Ok(_) => held += chunk.len(),
            Err(r) => break r,
        }
        assert!(held <= MAX_CONNECTION_HELD, "held {held} bytes without refusal");
        stream_id += 2;
    };
    assert_eq!(refused.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(refused.message.contains("incomplete stream data"), "{}", refused.message);
    assert!(held + chunk.len() > MAX_CONNECTION_HELD, "refused early, at {held} bytes");

    // Closing a stream frees what it held: the refused packet now fits.
    let close = vec![Frame::StreamClose { stream_id: 1, code: CloseCode::NoError, message: String::new() }];
    peer.send(peer.stream_prepare(&alice, &tag, 0, close)).await.expect("the close is fulfilled");
    let frames = vec![Frame::StreamData { stream_id, offset: 0, data: chunk.clone() }];
    peer.send(peer.stream_prepare(&alice, &tag, 0, frames)).await.expect("fits once stream 1 is closed");
    // Data on the closed stream is refused; the connection is not closed for it.
    let late = vec![Frame::StreamData { stream_id: 1, offset: chunk.len() as u64, data: vec![b' '; 10] }];
    let r = peer.send(peer.stream_prepare(&alice, &tag, 0, late)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(r.message.contains("stream 1 is closed"), "{}", r.message);
    let next = vec![Frame::StreamData { stream_id: stream_id + 2, offset: 0, data: vec![0x82, 0x86, 0xa0] }];
    peer.send(peer.stream_prepare(&alice, &tag, 0, next)).await.expect("the connection goes on");
    alice.shutdown();
}

/// A connection keeps at most `MAX_OPEN_STREAMS` streams open: up to it every packet is
/// fulfilled, a stream the sender closes makes room for another, and a packet opening one
/// more ends the connection with `StreamIdError` (RFC 29 §5.4) instead of growing its state.
#[tokio::test]
async fn a_connection_keeps_a_bounded_number_of_open_streams() {
    use btpnips::stream::MAX_OPEN_STREAMS;
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await;
    let (mut peer, _) = connect(&alice, [0x45; 32], None).await;
    let tag = [7u8; 8];
    let open = |ids: std::ops::Range<u64>| -> Vec<Frame> {
        ids.map(|i| Frame::StreamDataBlocked { stream_id: 2 * i + 1, max_offset: 10 }).collect()
    };
    let n = MAX_OPEN_STREAMS as u64;
    // Many streams per packet: 1 024 StreamDataBlocked frames fit one Prepare's data.
    for start in (0..n).step_by(1024) {
        let frames = open(start..(start + 1024).min(n));
        peer.send(peer.stream_prepare(&alice, &tag, 0, frames)).await.expect("streams up to the bound");
    }
    // Closing stream 1 makes room for exactly one more.
    let close = vec![Frame::StreamClose { stream_id: 1, code: CloseCode::NoError, message: String::new() }];
    peer.send(peer.stream_prepare(&alice, &tag, 0, close)).await.expect("the close is fulfilled");
    peer.send(peer.stream_prepare(&alice, &tag, 0, open(n..n + 1))).await.expect("one more after a close");

    let r = peer.send(peer.stream_prepare(&alice, &tag, 0, open(n + 1..n + 2))).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F99_APPLICATION_ERROR);
    assert!(r.message.contains("streams open on one connection"), "{}", r.message);
    let reply = peer.keys(&tag, &alice).decrypt_packet(&r.data).expect("an encrypted STREAM reply");
    assert!(
        reply.frames.iter().any(|f| matches!(f, Frame::ConnectionClose { code: CloseCode::StreamIdError, .. })),
        "{:?}",
        reply.frames
    );
    alice.shutdown();
}

/// A delivery the node sent us and we have not answered yet.
struct Held {
    request_id: u32,
    prepare: protocol::ilp::Prepare,
    keys: StreamKeys,
    messages: Vec<String>,
}

/// Read the node's next Prepare without answering it (within `wait`; `None` if none came).
async fn hold_next(peer: &mut Peer, node: &Node, wait: std::time::Duration) -> Option<Held> {
    let packet = tokio::time::timeout(wait, peer.next_packet()).await.ok()??;
    let BtpPacket::Message { request_id, protocol_data } = packet else { return None };
    let Ok(Packet::Prepare(prepare)) = Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data) else {
        return None;
    };
    let suffix = prepare.destination.as_str().rsplit('.').next().unwrap();
    let mut tag = [0u8; 8];
    hex::decode_to_slice(suffix, &mut tag).unwrap();
    let keys = StreamKeys::derive(&secret::shared_secret(&peer.secret, &node.key.pubkey, &tag).unwrap());
    let plain = StreamPacket::decode(&keys.decrypt(&prepare.data).unwrap()).unwrap();
    let mut messages = Vec::new();
    for f in plain.frames {
        if let Frame::StreamData { data, .. } = f {
            // Each delivery in this test starts its messages at a frame boundary.
            messages.extend(framing::MessageDecoder::default().push(&data).unwrap());
        }
    }
    Some(Held { request_id, prepare, keys, messages })
}

async fn answer(peer: &mut Peer, held: &Held, fulfill: bool) {
    let reply = if fulfill {
        Fulfill { fulfillment: held.keys.fulfillment(&held.prepare.data), data: vec![] }.encode()
    } else {
        protocol::ilp::Reject {
            code: ErrorCode::F99_APPLICATION_ERROR,
            triggered_by: None,
            message: "test: not stored".into(),
            data: vec![],
        }
        .encode()
    };
    let frame = BtpPacket::Response { request_id: held.request_id, protocol_data: vec![btp::ilp_entry(reply)] };
    peer.ws.send(Message::binary(frame.encode())).await.unwrap();
}

/// Resume (docs/btp-nips.md §4): the `ACCOUNT` after a REQ on a subscription with deliveries
/// still in flight is the exact truth of what is owed only if it counts exactly the
/// deliveries the subscriber fulfilled. So the publisher sends it once nothing is in flight (a
/// delivery rejected meanwhile is not counted), and nothing after it until it is answered.
/// Before this, it went out at once counting the deliveries in flight on its stream as
/// delivered (one later rejected was charged), and deliveries on another connection were not
/// counted although the subscriber could store them before the `ACCOUNT` reached it (the
/// crash test's follower then owed a batch it never paid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_account_waits_for_deliveries_in_flight_and_counts_only_fulfilled_ones() {
    let dir = tempfile::tempdir().unwrap();
    let alice = start_alice(dir.path()).await; // 1000 per period, 10 per event, credit 100
    let (mut peer, _) = connect(&alice, [0x48; 32], None).await;
    let author = alice.key.pubkey_hex.clone();
    let tag = [6u8; 8];
    peer.send(peer.stream_prepare(&alice, &tag, 1000, req_frames("s1", &author, 1000))).await.expect("paid REQ");
    receive_messages(&mut peer, &alice, |m| m.iter().any(|x| x.starts_with(r#"["EOSE""#))).await;

    // Three notes; hold their deliveries unanswered (at most PUMP_WINDOW = 4 in flight).
    for i in 0..3u64 {
        let e = protocol::nostr::Event::sign(
            &alice.key.secret,
            1_700_000_000 + i,
            1,
            vec![],
            format!("n{i}"),
            [i as u8; 32],
        )
        .unwrap();
        assert_eq!(btpnips::ingest::publish(&alice, e).await, (true, String::new()));
    }
    let events = |h: &Held| h.messages.iter().filter(|m| m.starts_with(r#"["EVENT""#)).count() as u64;
    let mut held = Vec::new();
    while held.iter().map(events).sum::<u64>() < 3 {
        held.push(hold_next(&mut peer, &alice, std::time::Duration::from_secs(10)).await.expect("a delivery"));
    }

    // The subscriber resumes: a REQ on a new stream, free while the period is paid.
    let req = ClientMessage::Req {
        subscription_id: "s1".into(),
        filters: vec![Filter { authors: Some(vec![author.clone()]), ..Default::default() }],
    };
    let frames =
        vec![Frame::StreamData { stream_id: 3, offset: 0, data: framing::encode_message(&req.to_json()).unwrap() }];
    peer.send(peer.stream_prepare(&alice, &tag, 0, frames)).await.expect("resume REQ");
    assert!(
        hold_next(&mut peer, &alice, std::time::Duration::from_millis(700)).await.is_none(),
        "nothing (no ACCOUNT) is sent while deliveries are in flight"
    );

    // The last delivery is rejected (a rejected one in the middle would break the stream for
    // those after it, RFC 29 §3.4), the others fulfilled: only those are counted.
    assert!(held.len() >= 2, "one delivery per note: {}", held.len());
    let (last, fulfilled_ones) = held.split_last().unwrap();
    for h in fulfilled_ones {
        answer(&mut peer, h, true).await;
    }
    answer(&mut peer, last, false).await;
    let fulfilled: u64 = fulfilled_ones.iter().map(events).sum();
    let account = hold_next(&mut peer, &alice, std::time::Duration::from_secs(10)).await.expect("the ACCOUNT");
    assert_eq!(
        account.messages,
        vec![format!(
            r#"["ACCOUNT","s1",{{"periods_paid":1,"events_delivered":{fulfilled},"amount_paid":1000,"owed":{}}}]"#,
            fulfilled * 10
        )],
        "the ACCOUNT alone, counting the fulfilled deliveries"
    );
    assert!(
        hold_next(&mut peer, &alice, std::time::Duration::from_millis(700)).await.is_none(),
        "nothing after the ACCOUNT until it is answered"
    );
    answer(&mut peer, &account, true).await;
    let replay = receive_messages(&mut peer, &alice, |m| m.iter().any(|x| x.starts_with(r#"["EOSE""#))).await;
    assert!(replay.iter().any(|m| m.starts_with(r#"["EVENT""#)), "the replay follows: {replay:?}");
    alice.shutdown();
}
