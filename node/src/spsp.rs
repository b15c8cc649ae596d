//! Plain STREAM payments set up by SPSP (RFC 9, RFC 29), for Interledger software that is not
//! a btpnips node (e.g. the JS `ilp-protocol-stream` stack).
//!
//! `GET /.well-known/pay` on the relay port issues a fresh receiver: destination
//! `<node address>.spsp.<hex token>` and shared secret `HMAC-SHA256(spsp_key, token)`, where
//! `spsp_key = HMAC-SHA256(node secret key, "btpnips spsp key")`. Nothing is stored per
//! receiver: the token in the address is enough to derive the secret again. Money that
//! arrives is credited to the account it came from (committed before the Fulfill); what each
//! receiver got is kept in memory for the status document.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use protocol::ilp::{Address, ErrorCode};
use protocol::spsp::SpspResponse;
use serde::Serialize;
use sha2::Sha256;

use crate::btpnips::Refusal;
use crate::node::Node;
use crate::stream::{PacketContext, StreamDelivery};

/// Length of a receiver token in bytes (hex in the address: 32 characters).
pub const TOKEN_LEN: usize = 16;
/// The address segment that marks an SPSP receiver.
pub const SEGMENT: &str = "spsp";
/// Most data bytes of a receiver kept for the status document (the rest is counted).
pub const KEEP_DATA_BYTES: usize = 4096;

/// What one SPSP receiver has received so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Receipt {
    /// Money received, asset units.
    pub total_received: u64,
    /// Stream data bytes received.
    pub bytes_received: u64,
    /// The first [`KEEP_DATA_BYTES`] of the data, as (lossy) UTF-8.
    pub data: String,
    /// Prepares fulfilled.
    pub packets: u64,
}

/// Receipts by token hex.
#[derive(Default)]
pub struct Receipts {
    by_token: Mutex<BTreeMap<String, Receipt>>,
}

impl Receipts {
    /// A copy of all receipts, for status output.
    pub fn snapshot(&self) -> BTreeMap<String, Receipt> {
        self.by_token.lock().expect("poisoned").clone()
    }
}

/// HMAC-SHA256(key, msg).
pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The STREAM shared secret of the receiver with `token`.
pub fn shared_secret(node: &Node, token: &[u8; TOKEN_LEN]) -> [u8; 32] {
    hmac(&hmac(&node.key.secret, b"btpnips spsp key"), token)
}

/// If `destination` is `<own>.spsp.<32 hex>` (optionally with more segments), the token.
pub fn token_of(own: &Address, destination: &Address) -> Option<[u8; TOKEN_LEN]> {
    let rest = destination.as_str().strip_prefix(own.as_str())?.strip_prefix('.')?;
    let rest = rest.strip_prefix(SEGMENT)?.strip_prefix('.')?;
    let hex_token = rest.split('.').next()?;
    let mut token = [0u8; TOKEN_LEN];
    hex::decode_to_slice(hex_token, &mut token).ok()?;
    Some(token)
}

/// Issue a new receiver (destination and shared secret).
pub fn new_receiver(node: &Node) -> SpspResponse {
    let token: [u8; TOKEN_LEN] = rand::random();
    let destination_account = node
        .public_address()
        .with_suffix(&format!("{SEGMENT}.{}", hex::encode(token)))
        .expect("a node address plus two short segments is valid");
    SpspResponse { destination_account, shared_secret: shared_secret(node, &token) }
}

/// Apply one fulfilled-to-be packet of an SPSP connection: credit the money to the account
/// it came from (committed before returning) and count money and data per receiver.
pub async fn on_stream_packet(
    node: &Arc<Node>,
    ctx: PacketContext,
    deliveries: Vec<StreamDelivery>,
) -> Result<(), Refusal> {
    if let Some(credit) = ctx.credit(node, "SPSP payment received")? {
        node.storage.writer().submit(vec![credit]).await.map_err(|e| {
            tracing::error!(error = %e, "could not commit payment");
            (ErrorCode::T00_INTERNAL_ERROR, "error: could not store".to_string())
        })?;
    }
    let mut map = node.spsp.by_token.lock().expect("poisoned");
    let r = map.entry(ctx.peer.clone()).or_default();
    r.total_received += ctx.amount;
    r.packets += 1;
    for d in &deliveries {
        r.bytes_received += d.bytes.len() as u64;
        let room = KEEP_DATA_BYTES.saturating_sub(r.data.len());
        r.data.push_str(&String::from_utf8_lossy(&d.bytes[..d.bytes.len().min(room)]));
    }
    if ctx.amount > 0 {
        tracing::info!(receiver = %ctx.peer, amount = ctx.amount, total = r.total_received, "SPSP payment received");
    }
    Ok(())
}
