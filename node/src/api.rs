//! The operator API on `api_listen` (default `http://127.0.0.1:7780`): `GET /api/status`
//! with `Authorization: Bearer <token>` (the token is in `<data_dir>/api-token`).
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::config::Config;
use crate::node::Node;
use crate::relay::nodelay;

/// File in the data dir where a running node writes its bound addresses (JSON), so
/// `btpnips status` finds the API even when the config asked for port 0.
pub const LISTEN_FILE: &str = "listen.json";

/// Bind the API and serve until shutdown. Returns the bound address.
pub async fn serve(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(node.config.api_listen).await?;
    let addr = listener.local_addr()?;
    let token = crate::node::read_api_token(&node.config)?;
    let mut stop = node.shutdown_signal();
    let app = Router::new().route("/api/status", get(status)).with_state((node, Arc::new(token)));
    tokio::spawn(async move {
        let server = axum::serve(nodelay(listener), app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "operator API stopped");
        }
    });
    Ok(addr)
}

async fn status(State((node, token)): State<(Arc<Node>, Arc<String>)>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(token.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "missing or wrong bearer token"}))).into_response();
    }
    match crate::status::status(&node).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": e.to_string()}))).into_response(),
    }
}

/// Ask the node of `config.data_dir` for its status over HTTP (for `btpnips status`).
///
/// Errors: the node is not running, or answered with an error.
pub async fn fetch_status(config: &Config) -> anyhow::Result<serde_json::Value> {
    let token = crate::node::read_api_token(config)?;
    let listen_path = config.data_dir.join(LISTEN_FILE);
    let addr: SocketAddr = match std::fs::read_to_string(&listen_path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            v["api"].as_str().context("listen.json has no api address")?.parse()?
        }
        Err(_) => config.api_listen,
    };
    let body = http_get(addr, "/api/status", &token).await.with_context(|| format!("asking the node at {addr}"))?;
    Ok(serde_json::from_str(&body)?)
}

/// Minimal HTTP/1.1 GET over loopback (the CLI needs nothing more).
async fn http_get(addr: SocketAddr, path: &str, token: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await?;
    let text = String::from_utf8(buf)?;
    let (head, body) = text.split_once("\r\n\r\n").context("malformed HTTP response")?;
    let status_line = head.lines().next().unwrap_or_default();
    anyhow::ensure!(status_line.contains(" 200 "), "{status_line}: {body}");
    Ok(body.to_owned())
}
