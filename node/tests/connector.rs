//! The connector between two raw BTP child accounts: fee, expiry lowering, fulfillment check
//! (F05), max packet amount (F08), credit limit (T04), R00/R02, oversized data (F01),
//! unreachable (F02) and IL-DCP. Balances move only on a valid Fulfill.
mod support;

use std::sync::Arc;

use btpnips::config::{AccountConfig, FeeConfig, Relation};
use btpnips::node::Node;
use protocol::btp::{self, BtpPacket};
use protocol::ildcp::{self, IldcpResponse};
use protocol::ilp::{condition_of, AmountTooLargeData, ErrorCode, Fulfill, Prepare};
use support::{connect_plain, test_config, Peer};

fn account(id: &str, token: &str, max: Option<u64>, credit: Option<u64>) -> AccountConfig {
    AccountConfig {
        id: id.into(),
        relation: Relation::Child,
        auth_token: Some(token.into()),
        url: None,
        max_packet_amount: max,
        credit_limit: credit,
        routes: vec![],
    }
}

async fn setup() -> (tempfile::TempDir, Arc<Node>, Peer, Peer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.fee = FeeConfig { fixed: 1, basis_points: 100 };
    config.accounts = vec![account("x", "x_token", Some(1000), Some(1500)), account("y", "y_token", None, None)];
    let node = Node::start(config).await.unwrap();
    let (x, r) = connect_plain(&node, "x_token").await;
    assert!(matches!(r, BtpPacket::Response { .. }));
    let (y, r) = connect_plain(&node, "y_token").await;
    assert!(matches!(r, BtpPacket::Response { .. }));
    // wait until both links are registered
    for _ in 0..100 {
        if node.links.get("x").is_some() && node.links.get("y").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    (dir, node, x, y)
}

fn prepare(node: &Node, amount: u64, fulfillment: [u8; 32], expires_in_ms: i64) -> Prepare {
    Prepare {
        amount,
        expires_at: chrono::Utc::now() + chrono::Duration::milliseconds(expires_in_ms),
        execution_condition: condition_of(&fulfillment),
        destination: node.address.with_suffix("y.receiver").unwrap(),
        data: b"payload".to_vec(),
    }
}

async fn balances(node: &Node) -> (i64, i64) {
    let b = |id: &str| {
        let id = id.to_owned();
        async move { node.storage.account(&id).await.unwrap().map(|a| a.balance).unwrap_or(0) }
    };
    (b("x").await, b("y").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_with_fee_and_lower_expiry_and_moves_balances_only_on_a_valid_fulfill() {
    let (_d, node, mut x, mut y) = setup().await;
    let f = [7u8; 32];
    let p = prepare(&node, 1000, f, 10_000);
    let sent_expiry = p.expires_at;
    let (reply, seen) = tokio::join!(x.send(p), y.answer_one(|_| Ok(Fulfill { fulfillment: f, data: b"ok".to_vec() })));
    let fulfill = reply.expect("fulfilled");
    assert_eq!(fulfill.fulfillment, f);
    assert_eq!(seen.amount, 1000 - (1 + 10), "fee: 1 fixed + 1% of 1000");
    assert!(seen.expires_at <= sent_expiry - chrono::Duration::milliseconds(1000), "expiry lowered by the margin");
    assert_eq!(seen.data, b"payload");
    assert_eq!(balances(&node).await, (1000, -989));

    // A next hop that fulfills with the wrong preimage: F05, nothing credited.
    let p = prepare(&node, 100, [8; 32], 10_000);
    let (reply, _) = tokio::join!(x.send(p), y.answer_one(|_| Ok(Fulfill { fulfillment: [9; 32], data: vec![] })));
    assert_eq!(reply.unwrap_err().code, ErrorCode::F05_WRONG_CONDITION);
    assert_eq!(balances(&node).await, (1000, -989));

    // A Reject from the next hop passes through unchanged and moves nothing.
    let p = prepare(&node, 100, [8; 32], 10_000);
    let (reply, _) = tokio::join!(
        x.send(p),
        y.answer_one(|_| Err(protocol::ilp::Reject {
            code: ErrorCode::F99_APPLICATION_ERROR,
            triggered_by: None,
            message: "nope".into(),
            data: vec![1]
        }))
    );
    let r = reply.unwrap_err();
    assert_eq!((r.code, r.message.as_str(), r.data.as_slice()), (ErrorCode::F99_APPLICATION_ERROR, "nope", &[1u8][..]));
    assert_eq!(balances(&node).await, (1000, -989));

    // Credit: x owes 1000 of its 1500 limit; another 1000 would pass it.
    let r = x.send(prepare(&node, 1000, [10; 32], 10_000)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::T04_INSUFFICIENT_LIQUIDITY, "{}", r.message);
    assert_eq!(balances(&node).await, (1000, -989));
    node.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_it_must_with_the_rfc27_code() {
    let (_d, node, mut x, mut y) = setup().await;

    let r = x.send(prepare(&node, 1001, [1; 32], 10_000)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::F08_AMOUNT_TOO_LARGE);
    assert_eq!(
        AmountTooLargeData::decode(&r.data).unwrap(),
        AmountTooLargeData { received_amount: 1001, maximum_amount: 1000 }
    );

    let r = x.send(prepare(&node, 5, [1; 32], 500)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::R02_INSUFFICIENT_TIMEOUT, "500 ms left is less than the 1 s margin");

    let r = x.send(prepare(&node, 5, [1; 32], -10)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::R00_TRANSFER_TIMED_OUT);

    let mut p = prepare(&node, 5, [1; 32], 10_000);
    p.destination = "test.nowhere".parse().unwrap();
    assert_eq!(x.send(p).await.unwrap_err().code, ErrorCode::F02_UNREACHABLE);

    // The next hop never answers: R00 once the (lowered) expiry passes.
    let p = prepare(&node, 5, [1; 32], 2_500);
    let (reply, _) = tokio::join!(
        x.send(p),
        y.answer_one(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2_000));
            Ok(Fulfill { fulfillment: [1; 32], data: vec![] })
        })
    );
    assert_eq!(reply.unwrap_err().code, ErrorCode::R00_TRANSFER_TIMED_OUT);

    // Data over 32 767 bytes is not a valid ILP Prepare: F01, and the link stays up.
    let mut p = prepare(&node, 5, [1; 32], 10_000);
    p.data = vec![0; 32_768];
    let frame = BtpPacket::Message { request_id: 99, protocol_data: vec![btp::ilp_entry(p.encode())] };
    let r = x.send_raw(frame.encode(), 99).await.expect("reply").unwrap_err();
    assert_eq!(r.code, ErrorCode::F01_INVALID_PACKET);

    // IL-DCP for a child: its address under ours, our asset.
    let f = x.send(ildcp::request(chrono::Utc::now() + chrono::Duration::seconds(30))).await.expect("IL-DCP");
    let resp = IldcpResponse::decode(&f.data).unwrap();
    assert_eq!(resp.client_address, node.address.with_suffix("x").unwrap());
    assert_eq!((resp.asset_code.as_str(), resp.asset_scale), ("ETH", 9));

    assert_eq!(balances(&node).await, (0, 0), "no refusal moved a balance");
    node.shutdown();
}

/// A peer that sends more Prepares than a link may have in flight (its next hop never
/// answers, so they pile up): past the bound each one is rejected T05 at once, the held ones
/// end R00 at their expiry, and the link then carries packets again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_past_the_links_in_flight_bound_are_rejected_t05_and_the_link_recovers() {
    use futures_util::SinkExt;
    use protocol::ilp::Packet;
    let (_d, node, mut x, _y) = setup().await;
    let bound = btpnips::link::MAX_INCOMING_IN_FLIGHT;
    let total = bound + 36;
    for i in 0..total {
        let p = prepare(&node, 0, [i as u8; 32], 3_000);
        let frame =
            BtpPacket::Message { request_id: 5_000 + i as u32, protocol_data: vec![btp::ilp_entry(p.encode())] };
        x.ws.send(tokio_tungstenite::tungstenite::Message::binary(frame.encode())).await.unwrap();
    }
    let (mut busy, mut timed_out) = (0, 0);
    while busy + timed_out < total {
        let Some(BtpPacket::Response { protocol_data, .. }) = x.next_packet().await else { panic!("link closed") };
        match Packet::decode(&btp::find_entry(&protocol_data, "ilp").unwrap().data).unwrap() {
            Packet::Reject(r) if r.code == ErrorCode::T05_RATE_LIMITED => {
                assert!(r.message.starts_with("rate-limited:"), "{}", r.message);
                assert_eq!(timed_out, 0, "refused at once, before any held packet expired");
                busy += 1;
            }
            Packet::Reject(r) if r.code == ErrorCode::R00_TRANSFER_TIMED_OUT => timed_out += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((busy, timed_out), (total - bound, bound), "exactly the bound was held");
    let r = x.send(prepare(&node, 0, [1; 32], 1_500)).await.unwrap_err();
    assert_eq!(r.code, ErrorCode::R00_TRANSFER_TIMED_OUT, "accepted and forwarded again: {}", r.message);
    node.shutdown();
}
