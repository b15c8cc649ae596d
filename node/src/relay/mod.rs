//! The local face: a NIP-01 relay on `relay_listen` (default `ws://127.0.0.1:7777`) for the
//! owner's ordinary Nostr clients, plus the NIP-11 document on the same port.
mod close_code;
mod nip11;
mod outbox;
mod rate;
mod replay;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::listen::ConnGuard;
use crate::node::Node;

/// Size of a relay connection's WebSocket read buffer, bytes (tungstenite's default, 128 KiB,
/// is allocated per connection up front: 10 000 idle clients would hold 1.3 GB).
pub const WS_READ_BUFFER_BYTES: usize = 4 * 1024;
/// A relay connection's WebSocket write buffer: frames are written once it holds this many
/// bytes (or on flush, after every message), bytes.
pub const WS_WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// What the relay's handlers share.
#[derive(Clone)]
struct RelayState {
    node: Arc<Node>,
    rate: Arc<rate::EventRate>,
}

/// Bind the relay endpoint and serve until shutdown, with the connection caps and timeouts of
/// `limits` (TCP_NODELAY on every socket). Returns the bound address.
pub async fn serve(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(node.config.relay_listen).await?;
    let addr = listener.local_addr()?;
    let limits = node.config.limits.clone();
    let rate = Arc::new(rate::EventRate::new(&limits));
    let prune = Arc::downgrade(&rate);
    let mut stop = node.shutdown_signal();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = every.tick() => match prune.upgrade() {
                    Some(r) => r.prune(),
                    None => return,
                },
            }
        }
    });
    let state = RelayState { node: node.clone(), rate };
    let app = Router::new()
        .route("/", get(root))
        .route(protocol::spsp::WELL_KNOWN_PATH, get(spsp).options(spsp_options))
        .with_state(state);
    crate::listen::serve_http("relay", listener, app, limits.relay, limits.handshake_timeout(), node.shutdown_signal());
    Ok(addr)
}

/// SPSP (RFC 9): a fresh STREAM receiver for plain Interledger payments.
async fn spsp(State(state): State<RelayState>) -> Response {
    let body = crate::spsp::new_receiver(&state.node).to_json();
    (
        [
            (header::CONTENT_TYPE, protocol::spsp::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "web-monetization-id"),
        ],
        body,
    )
        .into_response()
}

async fn spsp_options() -> Response {
    ([(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"), (header::ACCESS_CONTROL_ALLOW_HEADERS, "web-monetization-id")], "")
        .into_response()
}

async fn root(
    State(RelayState { node, rate }): State<RelayState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Extension(guard): Extension<Arc<ConnGuard>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(ws) = ws {
        let conn = session::Conn { remote, rate, _guard: guard };
        return ws
            .max_message_size(session::MAX_MESSAGE_BYTES)
            .max_frame_size(session::MAX_MESSAGE_BYTES)
            .read_buffer_size(WS_READ_BUFFER_BYTES)
            .write_buffer_size(WS_WRITE_BUFFER_BYTES)
            .on_upgrade(move |socket| session::run(node, socket, conn));
    }
    let wants_nip11 =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/nostr+json"));
    if wants_nip11 {
        (
            [(header::CONTENT_TYPE, "application/nostr+json"), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
            nip11::document(&node).to_string(),
        )
            .into_response()
    } else {
        "btpnips relay: connect with a Nostr client (WebSocket), or ask for application/nostr+json\n".into_response()
    }
}
