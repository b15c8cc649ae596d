//! The operator API on `api_listen` (default `http://127.0.0.1:7780`): `GET /api/status`
//! with `Authorization: Bearer <token>` (the token is in `<data_dir>/api-token`). The token
//! is checked by a route layer before any extractor runs: an unauthenticated request gets 401
//! whatever its body.
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::config::Config;
use crate::node::Node;

/// File in the data dir where a running node writes its bound addresses (JSON), so
/// `btpnips status` finds the API even when the config asked for port 0.
pub const LISTEN_FILE: &str = "listen.json";

/// Bind the API and serve until shutdown. Returns the bound address.
pub async fn serve(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(node.config.api_listen).await?;
    let addr = listener.local_addr()?;
    let token = Arc::new(crate::node::read_api_token(&node.config)?);
    let app = Router::new()
        .route("/api/status", get(status))
        .route("/api/pay", axum::routing::post(pay))
        .route("/api/settlement/close", axum::routing::post(settlement_close))
        .route_layer(axum::middleware::from_fn_with_state(token, require_token))
        .with_state(node.clone());
    let limits = &node.config.limits;
    crate::listen::serve_http("api", listener, app, limits.api, limits.handshake_timeout(), node.shutdown_signal());
    Ok(addr)
}

/// The bearer token check, run before the handler's extractors (so before the body is read).
async fn require_token(State(token): State<Arc<String>>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let presented =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        next.run(req).await
    } else {
        (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "missing or wrong bearer token"}))).into_response()
    }
}

/// Equality that takes as long whatever the first differing byte (lengths may leak).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /api/pay` body: pay a plain Interledger receiver found by SPSP.
#[derive(serde::Deserialize)]
struct PayRequest {
    /// SPSP endpoint URL (`http://…`).
    spsp: String,
    /// Amount in asset units.
    amount: u64,
    /// Optional data to send on the stream (UTF-8).
    #[serde(default)]
    data: String,
}

async fn pay(State(node): State<Arc<Node>>, Json(req): Json<PayRequest>) -> Response {
    let bad = |status: StatusCode, e: String| (status, Json(serde_json::json!({"error": e}))).into_response();
    let spsp = match crate::http_client::request("GET", &req.spsp, &[("Accept", protocol::spsp::ACCEPT)], vec![]).await
    {
        Ok(r) if r.status == 200 => match protocol::spsp::SpspResponse::from_json(&r.body) {
            Ok(s) => s,
            Err(e) => return bad(StatusCode::BAD_GATEWAY, format!("SPSP answer: {e}")),
        },
        Ok(r) => return bad(StatusCode::BAD_GATEWAY, format!("SPSP endpoint answered HTTP {}", r.status)),
        Err(e) => return bad(StatusCode::BAD_GATEWAY, format!("SPSP endpoint: {e}")),
    };
    match crate::stream::pay(
        &node,
        spsp.destination_account.clone(),
        spsp.shared_secret,
        req.amount,
        req.data.into_bytes(),
    )
    .await
    {
        Ok(out) => Json(serde_json::json!({"destination": spsp.destination_account, "outcome": out})).into_response(),
        Err(e) => bad(StatusCode::BAD_GATEWAY, format!("payment failed: {e}")),
    }
}

/// `POST /api/settlement/close` body: close, on chain, the channels from a peer that pay us.
#[derive(serde::Deserialize)]
struct CloseRequest {
    /// The peer's account id (pubkey hex).
    peer: String,
}

async fn settlement_close(State(node): State<Arc<Node>>, Json(req): Json<CloseRequest>) -> Response {
    match crate::settlement::close_channels_from(&node, &req.peer).await {
        Ok(ids) => Json(serde_json::json!({ "closed": ids })).into_response(),
        Err(e) => (StatusCode::CONFLICT, Json(serde_json::json!({ "error": e.to_string() }))).into_response(),
    }
}

async fn status(State(node): State<Arc<Node>>) -> Response {
    match crate::status::status(&node).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": e.to_string()}))).into_response()
        }
    }
}

/// Ask the node of `config.data_dir` for its status over HTTP (for `btpnips status`).
///
/// Errors: the node is not running, or answered with an error.
pub async fn fetch_status(config: &Config) -> anyhow::Result<serde_json::Value> {
    call(config, "GET", "/api/status", None).await
}

/// Call the operator API of the node of `config.data_dir` (for the CLI).
///
/// Errors: the node is not running, or answered with a non-2xx status (its JSON error is in
/// the message).
pub async fn call(
    config: &Config,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let token = crate::node::read_api_token(config)?;
    let listen_path = config.data_dir.join(LISTEN_FILE);
    let addr: SocketAddr = match std::fs::read_to_string(&listen_path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            v["api"].as_str().context("listen.json has no api address")?.parse()?
        }
        Err(_) => config.api_listen,
    };
    let auth = format!("Bearer {token}");
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let res = crate::http_client::request(
        method,
        &format!("http://{addr}{path}"),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body,
    )
    .await
    .with_context(|| format!("asking the node at {addr}"))?;
    let json: serde_json::Value = serde_json::from_slice(&res.body).context("the node's answer is not JSON")?;
    anyhow::ensure!((200..300).contains(&res.status), "HTTP {}: {json}", res.status);
    Ok(json)
}
