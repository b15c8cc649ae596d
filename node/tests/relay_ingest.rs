//! The relay's EVENT pipeline (issue 17 §1, issue 10 §3): a connection keeps reading while its
//! EVENTs wait for the writer, so one client's window shares group commits; every EVENT gets
//! its `OK`, in the order sent, only after its commit. Assertions are about behaviour (order,
//! counts, what is stored), never about speed.
mod support;

use std::sync::Arc;

use btpnips::node::Node;
use futures_util::{SinkExt, StreamExt};
use protocol::nostr::{Event, Filter};
use tokio_tungstenite::tungstenite::Message;

async fn start(dir: &std::path::Path) -> Arc<Node> {
    support::init_logs();
    let mut config = support::test_config(dir);
    config.p2p.enabled = false;
    Node::start(config).await.unwrap()
}

async fn client(node: &Node) -> support::Ws {
    let relay = node.bound.lock().unwrap().relay.unwrap();
    tokio_tungstenite::connect_async(format!("ws://{relay}")).await.unwrap().0
}

/// The node's next message as JSON, within 10 s.
async fn next_json(ws: &mut support::Ws) -> serde_json::Value {
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await;
    let text = next.expect("a message within 10 s").unwrap().unwrap().into_text().unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The next `(event id, accepted, message)` of an `OK`.
async fn next_ok(ws: &mut support::Ws) -> (String, bool, String) {
    let v = next_json(ws).await;
    assert_eq!(v[0], "OK", "{v}");
    (v[1].as_str().unwrap().into(), v[2].as_bool().unwrap(), v[3].as_str().unwrap().into())
}

/// 300 EVENTs sent without waiting, a forged one every 50th: 300 `OK`s in the order sent
/// (forged ones `invalid:`), every accepted one stored. One connection alone shares commits:
/// before the pipeline, each EVENT's commit was awaited before the next was read, so 294
/// events took exactly 294 transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_of_events_gets_every_ok_in_order_and_shares_commits() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let mut ws = client(&node).await;
    let now = btpnips::clock::now_secs();
    let mut sent = Vec::new();
    let before = node.storage.writer().stats().batches;
    for i in 0..300u32 {
        let mut e = Event::sign(&[0x51; 32], now, 1, vec![], format!("n{i}"), [(i % 251) as u8; 32]).unwrap();
        let forged = i % 50 == 7;
        if forged {
            e.content.push('!'); // the id no longer matches
        }
        sent.push((e.id.clone(), !forged));
        ws.send(Message::text(format!(r#"["EVENT",{}]"#, e.to_json()))).await.unwrap();
    }
    for (id, valid) in &sent {
        let (got, accepted, message) = next_ok(&mut ws).await;
        assert_eq!(&got, id, "OKs come in the order the EVENTs were sent");
        assert_eq!(accepted, *valid, "{message}");
        if !valid {
            assert!(message.starts_with("invalid:"), "{message}");
        }
    }
    let batches = node.storage.writer().stats().batches - before;
    let stored = node
        .storage
        .query_events(&[Filter { kinds: Some(vec![1]), limit: Some(1000), ..Default::default() }])
        .await
        .unwrap();
    let accepted = sent.iter().filter(|(_, v)| *v).count();
    assert_eq!(stored.len(), accepted, "every OK true is stored");
    assert!(batches < accepted as u64, "{accepted} events from one connection took {batches} transactions");
    node.shutdown();
}

/// An EVENT and a REQ for it right behind it, without waiting for the OK: the REQ sees the
/// event, as a stored match or live, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_req_right_behind_an_event_sees_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let mut ws = client(&node).await;
    let now = btpnips::clock::now_secs();
    for i in 0..20u8 {
        let e = Event::sign(&[0x52; 32], now, 1, vec![], format!("r{i}"), [i; 32]).unwrap();
        ws.send(Message::text(format!(r#"["EVENT",{}]"#, e.to_json()))).await.unwrap();
        let sub = format!("s{i}");
        let req = format!(r#"["REQ","{sub}",{{"ids":["{}"]}}]"#, e.id);
        ws.send(Message::text(req)).await.unwrap();
        let (mut ok, mut seen, mut eose) = (false, 0, false);
        while !(ok && eose && seen == 1) {
            let v = next_json(&mut ws).await;
            match v[0].as_str().unwrap() {
                "OK" => ok = v[2].as_bool().unwrap(),
                "EVENT" => {
                    assert_eq!(v[1], sub.as_str());
                    assert_eq!(v[2]["id"], e.id.as_str());
                    seen += 1;
                }
                "EOSE" => eose = true,
                other => panic!("event {i}: {other}: {v} (ok {ok} seen {seen} eose {eose})"),
            }
        }
        ws.send(Message::text(format!(r#"["CLOSE","{sub}"]"#))).await.unwrap();
    }
    // Nothing twice: no message is left over.
    let extra = tokio::time::timeout(std::time::Duration::from_millis(300), ws.next()).await;
    assert!(extra.is_err(), "{extra:?}");
    node.shutdown();
}
