//! Path-vector routing (CCP) among btpnips peers, over real loopback links: a node learns
//! routes to nodes several hops away, a STREAM sender pays the fees of the connectors on the
//! way so the receiver still gets what was asked, and when a node stops the network routes
//! around it.
mod support;

use std::sync::Arc;
use std::time::Duration;

use btpnips::config::{BootstrapEntry, FeeConfig};
use btpnips::node::Node;
use support::{init_logs, test_config};

/// Start a node in `dir` that links to `bootstrap` and takes `fee` on what it forwards.
async fn start(dir: &std::path::Path, fee: u64, bootstrap: &[&Arc<Node>]) -> Arc<Node> {
    init_logs();
    let mut config = test_config(dir);
    config.fee = FeeConfig { fixed: fee, basis_points: 0 };
    config.bootstrap = bootstrap
        .iter()
        .map(|n| BootstrapEntry {
            multiaddr: None,
            url: Some(format!("ws://{}", n.bound.lock().unwrap().peer.unwrap())),
            pubkey: n.key.pubkey_hex.clone(),
        })
        .collect();
    Node::start(config).await.unwrap()
}

/// Poll `check` every 50 ms until it yields a value, at most `secs` seconds.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn balance(node: &Node, account: &str) -> i64 {
    node.storage.account(account).await.unwrap().map(|a| a.balance).unwrap_or(0)
}

async fn all_balances(node: &Node) -> i64 {
    node.storage.accounts().await.unwrap().iter().map(|a| a.balance).sum()
}

/// Let `from` address STREAM packets to `to` (as if it had its announcement) and send
/// `amount` to it on a new stream.
async fn stream_send(from: &Arc<Node>, to: &Arc<Node>, amount: u64) -> Result<(), btpnips::stream::SendError> {
    from.peers.lock().unwrap().entry(to.key.pubkey_hex.clone()).or_insert_with(|| to.info());
    let conn = from.stream.outgoing(from, to.key.pubkey)?;
    let stream = conn.open_stream();
    conn.send(stream, Vec::new(), amount).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_of_four_learns_routes_and_the_sender_pays_the_fees() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path(), 0, &[]).await;
    let b = start(dirs[1].path(), 1, &[&a]).await;
    let c = start(dirs[2].path(), 1, &[&b]).await;
    let d = start(dirs[3].path(), 0, &[&c]).await;
    let d_address = d.address.to_string();

    let route = eventually(20, "A to learn a route to D", || {
        let r = a.routes.best(&d_address);
        async move { r.filter(|r| r.path.len() == 3) }
    })
    .await;
    assert_eq!(route.account, b.key.pubkey_hex, "A reaches D through B");
    assert!(!route.is_static);
    assert_eq!(route.path, vec![b.address.to_string(), c.address.to_string(), d_address.clone()]);
    // And the other way round, so D's replies and pushes can come back.
    eventually(20, "D to learn a route to A", || {
        let r = d.routes.best(a.address.as_str());
        async move { r.filter(|r| r.path.len() == 3) }
    })
    .await;

    let (ab, ba) = (b.key.pubkey_hex.clone(), a.key.pubkey_hex.clone());
    let (cb, dc) = (c.key.pubkey_hex.clone(), d.key.pubkey_hex.clone());
    stream_send(&a, &d, 100).await.expect("A pays D 100 through B and C");
    let received = balance(&d, &cb).await;
    assert!(received >= 100, "D got {received}");
    assert_eq!(received, 100, "fixed fees: exactly what was asked arrives");
    assert_eq!(balance(&a, &ab).await, -102, "A paid B the amount plus B's and C's fee");
    assert_eq!(balance(&b, &ba).await, 102);
    assert_eq!(balance(&b, &cb).await, -101);
    assert_eq!(balance(&c, &ab).await, 101);
    assert_eq!(balance(&c, &dc).await, -100);

    // The sender remembers the path's fee: the next payment goes out right the first time
    // (and, either way, arrives whole).
    stream_send(&a, &d, 50).await.expect("second payment");
    assert_eq!(balance(&d, &cb).await, 150);
    assert_eq!(balance(&a, &ab).await, -154);

    let mut sum = 0;
    for n in [&a, &b, &c, &d] {
        sum += all_balances(n).await;
    }
    assert_eq!(sum, 0, "every unit paid is a unit received by a neighbour");
    for n in [a, b, c, d] {
        n.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_routes_around_a_stopped_node() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path(), 0, &[]).await;
    let b = start(dirs[1].path(), 1, &[&a]).await;
    let c = start(dirs[2].path(), 1, &[&b]).await;
    let d = start(dirs[3].path(), 1, &[&c, &a]).await;
    let c_address = c.address.to_string();

    // A reaches C in two hops through B or D (equal paths: the smaller account id wins once
    // A has heard both).
    let expected = std::cmp::min(&b.key.pubkey_hex, &d.key.pubkey_hex).clone();
    let route = eventually(20, "A to route to C through the neighbour with the smaller id", || {
        let r = a.routes.best(&c_address);
        let expected = expected.clone();
        async move { r.filter(|r| r.path.len() == 2 && r.account == expected) }
    })
    .await;
    stream_send(&a, &c, 10).await.expect("A pays C");

    // Stop the node A's route goes through; A must reach C through the other one.
    let (gone, other) = if route.account == b.key.pubkey_hex { (&b, &d) } else { (&d, &b) };
    gone.shutdown();
    let other_id = other.key.pubkey_hex.clone();
    let route = eventually(10, "A to route to C around the stopped node", || {
        let r = a.routes.best(&c_address);
        let other_id = other_id.clone();
        async move { r.filter(|r| r.account == other_id) }
    })
    .await;
    assert_eq!(route.path.len(), 2);
    let before = balance(&c, &other_id).await;
    stream_send(&a, &c, 10).await.expect("A pays C around the stopped node");
    eventually(5, "C to be paid by the other neighbour", || {
        let c = c.clone();
        let other_id = other_id.clone();
        async move { (balance(&c, &other_id).await >= before + 10).then_some(()) }
    })
    .await;
    for n in [a, b, c, d] {
        n.shutdown();
    }
}
