//! One load-generating NIP-01 client: publishes signed events with a window of EVENTs in
//! flight, then runs REQs and times each until its EOSE.
use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use protocol::nostr::{ClientMessage, Event, Filter, RelayMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::stats::Samples;

/// A client's WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one client measured.
#[derive(Default)]
pub struct Report {
    /// EVENT sent → its OK received.
    pub ok_latency: Samples,
    /// Events answered `OK false`, with the first refusal.
    pub refused: usize,
    /// The first refusal message.
    pub first_refusal: Option<String>,
    /// REQ sent → EOSE received.
    pub eose_latency: Samples,
    /// Events the final check REQ returned.
    pub stored: usize,
}

/// Connect to `url` with Nagle off (a stalled small write costs ~40 ms).
pub async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

async fn next_relay_message(ws: &mut Ws) -> anyhow::Result<RelayMessage> {
    loop {
        match ws.next().await.context("relay closed the connection")?? {
            Message::Text(t) => return RelayMessage::parse(&t).map_err(|e| anyhow::anyhow!("bad relay message: {e}")),
            Message::Close(_) => bail!("relay closed the connection"),
            _ => continue,
        }
    }
}

/// Publish `events` with at most `window` unanswered at a time.
pub async fn publish(ws: &mut Ws, events: Vec<Event>, window: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let mut queue = events.into_iter();
    let mut pending = true;
    while pending || !sent_at.is_empty() {
        while pending && sent_at.len() < window.max(1) {
            match queue.next() {
                Some(e) => {
                    sent_at.insert(e.id.clone(), Instant::now());
                    ws.send(Message::text(ClientMessage::Event(e).to_json())).await?;
                }
                None => pending = false,
            }
        }
        if sent_at.is_empty() {
            break;
        }
        if let RelayMessage::Ok { event_id, accepted, message } = next_relay_message(ws).await? {
            let Some(t0) = sent_at.remove(&event_id) else { bail!("OK for an event we did not send: {event_id}") };
            report.ok_latency.push(t0.elapsed());
            if !accepted {
                report.refused += 1;
                report.first_refusal.get_or_insert(message);
            }
        }
    }
    Ok(())
}

/// Send `filter` as REQ `sub_id`, count events until EOSE, CLOSE it. Returns the count.
pub async fn req(ws: &mut Ws, sub_id: &str, filter: Filter, report: &mut Report) -> anyhow::Result<usize> {
    let t0 = Instant::now();
    ws.send(Message::text(ClientMessage::Req { subscription_id: sub_id.into(), filters: vec![filter] }.to_json()))
        .await?;
    let mut count = 0;
    loop {
        match next_relay_message(ws).await? {
            RelayMessage::Event { subscription_id, .. } if subscription_id == sub_id => count += 1,
            RelayMessage::Eose { subscription_id } if subscription_id == sub_id => break,
            RelayMessage::Closed { message, .. } => bail!("REQ closed: {message}"),
            _ => {}
        }
    }
    report.eose_latency.push(t0.elapsed());
    ws.send(Message::text(ClientMessage::Close { subscription_id: sub_id.into() }.to_json())).await?;
    Ok(count)
}
