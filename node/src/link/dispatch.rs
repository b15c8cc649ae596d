//! What a BTP Message from a linked peer means, whatever transport carried it (WebSocket or
//! libp2p): an ILP Prepare for the connector, or a settlement claim (`btpnips_claim`).
//! Answers with the BTP Response or Error to send back (RFC 23 §3).
use std::sync::Arc;

use protocol::btp::{self, BtpPacket, ProtocolData};
use protocol::ilp::Prepare;

use crate::connector::{self, Source};
use crate::node::Node;

/// Handle one BTP Message (`request_id`, `protocol_data`) from the linked `account` and
/// return the frame to answer with: Response{ilp: Fulfill|Reject}, Response{} for an accepted
/// claim, or a BTP Error (F00 for a refused claim, F01 when the primary protocol is not ilp).
pub async fn on_message(
    node: &Arc<Node>,
    account: &str,
    request_id: u32,
    protocol_data: Vec<ProtocolData>,
) -> BtpPacket {
    let primary = protocol_data.first().map(|p| p.protocol_name.as_str()).unwrap_or_default();
    if primary == protocol::btpnips::info::CLAIM_PROTOCOL_NAME {
        return match crate::settlement::on_claim_message(node, account, &protocol_data[0].data).await {
            Ok(()) => BtpPacket::Response { request_id, protocol_data: vec![] },
            Err(why) => btp_error(request_id, "F00", "NotAcceptedError", &why.to_string()),
        };
    }
    let Some(entry) = btp::find_entry(&protocol_data, "ilp").filter(|_| primary == "ilp") else {
        return btp_error(request_id, "F01", "InvalidFieldsError", "primary protocol must be ilp");
    };
    let reply = match Prepare::decode(&entry.data) {
        Ok(prepare) => match connector::handle_prepare(node, Source::Peer(account.to_owned()), prepare).await {
            Ok(f) => f.encode(),
            Err(r) => r.encode(),
        },
        Err(e) => connector::reject(node, e.reject_code(), &format!("invalid packet: {e}")).encode(),
    };
    BtpPacket::Response { request_id, protocol_data: vec![btp::ilp_entry(reply)] }
}

/// The answer to a BTP Message over a link's in-flight bound (`max` Messages awaiting their
/// answer): a Response carrying an ILP Reject `T05 Rate Limited` (RFC 27 §3.3), so the sender
/// retries later; nothing of the Prepare was looked at.
pub fn busy(node: &Node, request_id: u32, max: usize) -> BtpPacket {
    let reject = connector::reject(
        node,
        protocol::ilp::ErrorCode::T05_RATE_LIMITED,
        &format!("rate-limited: more than {max} packets in flight on this link"),
    );
    BtpPacket::Response { request_id, protocol_data: vec![btp::ilp_entry(reject.encode())] }
}

/// The BTP Error for a Transfer: value moves by payment-channel claims instead.
pub fn transfer_refused(request_id: u32) -> BtpPacket {
    btp_error(
        request_id,
        "F00",
        "NotAcceptedError",
        "BTP Transfer is not supported; settlement uses payment-channel claims",
    )
}

/// A BTP Error frame (RFC 23 §3.4) triggered now, with `why` as its data.
pub fn btp_error(request_id: u32, code: &str, name: &str, why: &str) -> BtpPacket {
    BtpPacket::Error {
        request_id,
        code: code.into(),
        name: name.into(),
        triggered_at: crate::clock::now(),
        data: why.as_bytes().to_vec(),
        protocol_data: vec![],
    }
}
