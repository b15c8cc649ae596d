//! One-hop forwarding latency through a running node on loopback (issue 3 figure).
//!
//! A node with two child accounts (`x`, `y`) runs in process; two raw BTP peers connect over
//! real WebSockets on 127.0.0.1. `x` sends Prepares to `y`'s address, `y` fulfills, and the
//! time from sending the Prepare to receiving the Fulfill at `x` is recorded. Prints p50,
//! p90, p99 and max, and the sequential rate. Run: `cargo bench -p btpnips --bench forward_latency`.
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use btpnips::config::{AccountConfig, Relation};
use btpnips::node::Node;
use protocol::ilp::{condition_of, Fulfill, Prepare};

const WARMUP: usize = 200;
const SAMPLES: usize = 3000;

fn child(id: &str) -> AccountConfig {
    AccountConfig {
        id: id.into(),
        relation: Relation::Child,
        auth_token: Some(format!("{id}_token")),
        url: None,
        max_packet_amount: None,
        credit_limit: Some(u64::MAX / 4),
        routes: vec![],
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::test_config(dir.path());
        config.accounts = vec![child("x"), child("y")];
        let node = Node::start(config).await.unwrap();
        let (mut x, _) = support::connect_plain(&node, "x_token").await;
        let (mut y, _) = support::connect_plain(&node, "y_token").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let destination = node.address.with_suffix("y.bench").unwrap();
        let fulfillment = [5u8; 32];
        let y_task = tokio::spawn(async move {
            loop {
                y.answer_one(|_| Ok(Fulfill { fulfillment, data: vec![] })).await;
            }
        });
        let mut samples = Vec::with_capacity(SAMPLES);
        let started = Instant::now();
        for i in 0..WARMUP + SAMPLES {
            let p = Prepare {
                amount: 1,
                expires_at: chrono::Utc::now() + chrono::Duration::seconds(30),
                execution_condition: condition_of(&fulfillment),
                destination: destination.clone(),
                data: vec![0u8; 200],
            };
            let t = Instant::now();
            x.send(p).await.expect("fulfilled");
            if i >= WARMUP {
                samples.push(t.elapsed());
            }
        }
        let total = started.elapsed();
        samples.sort();
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!("one-hop forwarding through a running node (loopback, BTP over WebSocket, ledger commit per Fulfill)");
        println!("  samples: {SAMPLES} sequential Prepares (200 B data), after {WARMUP} warm-up");
        println!(
            "  p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            samples[samples.len() - 1]
        );
        println!("  sequential rate: {:.0} Prepares/s", (WARMUP + SAMPLES) as f64 / total.as_secs_f64());
        y_task.abort();
        node.shutdown();
    });
}
