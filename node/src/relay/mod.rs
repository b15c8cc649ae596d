//! The local face: a NIP-01 relay on `relay_listen` (default `ws://127.0.0.1:7777`) for the
//! owner's ordinary Nostr clients, plus the NIP-11 document on the same port.
mod nip11;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::node::Node;

/// A listener whose accepted sockets have TCP_NODELAY set (a Nagle stall costs ~40 ms per
/// small reply).
pub(crate) fn nodelay(listener: tokio::net::TcpListener) -> impl axum::serve::Listener<Addr = SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    })
}

/// Bind the relay endpoint and serve until shutdown. Returns the bound address.
pub async fn serve(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(node.config.relay_listen).await?;
    let addr = listener.local_addr()?;
    let mut stop = node.shutdown_signal();
    let app = Router::new()
        .route("/", get(root))
        .route(protocol::spsp::WELL_KNOWN_PATH, get(spsp).options(spsp_options))
        .with_state(node);
    tokio::spawn(async move {
        let server = axum::serve(nodelay(listener), app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "relay endpoint stopped");
        }
    });
    Ok(addr)
}

/// SPSP (RFC 9): a fresh STREAM receiver for plain Interledger payments.
async fn spsp(State(node): State<Arc<Node>>) -> Response {
    let body = crate::spsp::new_receiver(&node).to_json();
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
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(ws) = ws {
        return ws.max_message_size(session::MAX_MESSAGE_BYTES).on_upgrade(move |socket| session::run(node, socket));
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
