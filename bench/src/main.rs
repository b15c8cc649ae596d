//! `loadgen`: load on a running btpnips node's NIP-01 relay endpoint, with figures printed.
//!
//! Phase 1 (ingest): `--clients` WebSocket clients, each with its own key, publish `--events`
//! signed kind-1 events each, keeping `--window` EVENTs unanswered per client; every `OK` is
//! timed from its EVENT. `OK true` means committed by the node's single writer, so this
//! measures the group commit under concurrency. Phase 2 (queries): each client sends
//! `--queries` REQs (`authors: [own key]`, `limit: --limit`) one after another, each timed to
//! its EOSE. Then each client checks that every event it published is stored. Exits non-zero
//! on any refusal or missing event. Signing happens before the clock starts.
mod client;
mod stats;

use std::time::Instant;

use anyhow::bail;
use clap::Parser;
use protocol::nostr::{Event, Filter};

#[derive(Parser, Clone)]
#[command(name = "loadgen", about = "Load generator for a btpnips node's NIP-01 relay endpoint")]
struct Args {
    /// The node's relay endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    relay: String,
    /// Concurrent clients (one WebSocket and one key each).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Events each client publishes.
    #[arg(long, default_value_t = 1000)]
    events: usize,
    /// EVENTs a client keeps unanswered.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// REQs each client sends after publishing.
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// `limit` of each REQ.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// Seconds (so events) per page of the final check; at most the node's per-REQ cap.
const CHECK_PAGE: u64 = 4_000;

fn signed_events(n: usize, client: usize) -> (String, Vec<Event>) {
    let secret: [u8; 32] = loop {
        let s: [u8; 32] = rand::random();
        if protocol::nostr::public_key_hex(&s).is_ok() {
            break s;
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let content = format!("loadgen client {client} event {i}");
            // Spread created_at back in time so REQ limits have an order to work with.
            Event::sign(&secret, now - (n - i) as u64, 1, vec![], content, rand::random()).expect("valid key")
        })
        .collect();
    (protocol::nostr::public_key_hex(&secret).expect("valid key"), events)
}

/// One client's run on a connected socket: publish, then query, then check. Returns its
/// report and when its publishing ended.
async fn run_client(
    args: Args,
    mut ws: client::Ws,
    pubkey: String,
    events: Vec<Event>,
) -> anyhow::Result<(client::Report, Instant)> {
    let mut report = client::Report::default();
    // One event per second (see `signed_events`), oldest first.
    let (first, last) = (events.first().map_or(0, |e| e.created_at), events.last().map_or(0, |e| e.created_at));
    client::publish(&mut ws, events, args.window, &mut report).await?;
    let published = Instant::now();
    for q in 0..args.queries {
        let filter = Filter { authors: Some(vec![pubkey.clone()]), limit: Some(args.limit), ..Default::default() };
        client::req(&mut ws, &format!("q{q}"), filter, &mut report).await?;
    }
    // The check counts what is stored in windows of CHECK_PAGE seconds: the node answers a
    // REQ with at most 5 000 events (`storage::MAX_QUERY_EVENTS`).
    let mut since = first;
    while since <= last {
        let until = (since + CHECK_PAGE - 1).min(last);
        let page = Filter {
            authors: Some(vec![pubkey.clone()]),
            since: Some(since),
            until: Some(until),
            limit: Some(CHECK_PAGE as usize),
            ..Default::default()
        };
        report.stored += client::req(&mut ws, "check", page, &mut client::Report::default()).await?;
        since = until + 1;
    }
    Ok((report, published))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "loadgen: {} clients × {} events (window {}), then {} REQs each (limit {}), against {}",
        args.clients, args.events, args.window, args.queries, args.limit, args.relay
    );
    // Sign and connect first, so the clock measures the node, not our signing.
    let mut ready = Vec::new();
    for i in 0..args.clients {
        let (pubkey, events) = signed_events(args.events, i);
        ready.push((client::connect(&args.relay).await?, pubkey, events));
    }
    let t0 = Instant::now();
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|(ws, pubkey, events)| tokio::spawn(run_client(args.clone(), ws, pubkey, events)))
        .collect();
    let mut total = client::Report::default();
    let (mut missing, mut publish_end) = (0, t0);
    for t in tasks {
        let (r, published) = t.await??;
        publish_end = publish_end.max(published);
        missing += args.events.saturating_sub(r.stored);
        total.refused += r.refused;
        if total.first_refusal.is_none() {
            total.first_refusal = r.first_refusal;
        }
        total.ok_latency.extend(r.ok_latency);
        total.eose_latency.extend(r.eose_latency);
    }
    let publish_secs = (publish_end - t0).as_secs_f64();
    let query_secs = t0.elapsed().as_secs_f64() - publish_secs;
    let events = total.ok_latency.len();
    println!(
        "ingest: {events} events in {publish_secs:.2} s = {:.0} events/s; EVENT→OK {}",
        events as f64 / publish_secs,
        total.ok_latency.summary()
    );
    let reqs = total.eose_latency.len();
    println!(
        "query:  {reqs} REQs in {query_secs:.2} s = {:.0} REQ/s; REQ→EOSE {}",
        reqs as f64 / query_secs,
        total.eose_latency.summary()
    );
    if total.refused > 0 {
        bail!("{} events refused, e.g. {:?}", total.refused, total.first_refusal);
    }
    if missing > 0 {
        bail!("{missing} published events not returned by a REQ");
    }
    println!("check:  every event answered OK true and returned by a REQ");
    Ok(())
}
