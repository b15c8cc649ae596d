//! The BTP auth exchange that opens a link between two btpnips nodes (docs/btp-nips.md §1).
use protocol::btp::{self, BtpPacket, ContentType, ProtocolData};
use protocol::btpnips::{auth, info, info::NodeInfo, secret::parse_hex32};

use crate::config::Relation;
use crate::node::Node;

/// BTP error code F00 NotAccepted (RFC 23), sent when auth fails.
const NOT_ACCEPTED: &str = "F00";

/// The auth Message a dialer sends to `server_pubkey`.
pub fn client_auth(node: &Node, request_id: u32, server_pubkey: &[u8; 32]) -> anyhow::Result<BtpPacket> {
    let token = auth::make_token(&node.key.secret, server_pubkey, crate::clock::now_secs(), &rand::random())?;
    let mut packet = btp::auth_message(request_id, &node.key.pubkey_hex, &token);
    if let BtpPacket::Message { protocol_data, .. } = &mut packet {
        protocol_data.push(info_entry(node));
    }
    Ok(packet)
}

fn info_entry(node: &Node) -> ProtocolData {
    ProtocolData {
        protocol_name: info::PROTOCOL_NAME.into(),
        content_type: ContentType::ApplicationJson,
        data: node.info().to_json_bytes(),
    }
}

/// A refused auth: the reason (for the log) and the BTP Error to send before closing.
pub type Refused = Box<(String, BtpPacket)>;

/// Who a new link belongs to, once auth passed.
pub struct Accepted {
    /// Account id: the btpnips peer's pubkey hex, or a configured account's id.
    pub account: String,
    /// A btpnips peer's node info.
    pub info: Option<NodeInfo>,
    /// Relation of the account.
    pub relation: Relation,
    /// The Response to send.
    pub response: BtpPacket,
}

/// Server side: check the first frame of a new connection. A frame with a `btpnips_info`
/// entry is a btpnips node proving its key; otherwise the `auth_token` must be the token of a
/// configured account (compared in constant time), as with the JS BTP plugin.
pub fn server_accept(node: &Node, first: &BtpPacket) -> Result<Accepted, Refused> {
    let request_id = first.request_id();
    let fail = |why: String| {
        let err = BtpPacket::Error {
            request_id,
            code: NOT_ACCEPTED.into(),
            name: "NotAcceptedError".into(),
            triggered_at: crate::clock::now(),
            data: why.clone().into_bytes(),
            protocol_data: vec![],
        };
        Box::new((why, err))
    };
    let BtpPacket::Message { protocol_data, .. } = first else {
        return Err(fail("first frame must be an auth Message".into()));
    };
    let req = btp::parse_auth(protocol_data).map_err(|e| fail(format!("auth: {e}")))?;
    let Some(entry) = btp::find_entry(protocol_data, info::PROTOCOL_NAME) else {
        let account = node
            .config
            .accounts
            .iter()
            .find(|a| a.auth_token.as_deref().is_some_and(|t| constant_time_eq(t.as_bytes(), req.token.as_bytes())))
            .ok_or_else(|| fail("auth_token matches no configured account".into()))?;
        return Ok(Accepted {
            account: account.id.clone(),
            info: None,
            relation: account.relation,
            response: BtpPacket::Response { request_id, protocol_data: vec![] },
        });
    };
    let username = req.username.unwrap_or_default();
    let client = parse_hex32(&username).map_err(|e| fail(format!("auth_username: {e}")))?;
    auth::verify_token(&req.token, &node.key.pubkey, &client, crate::clock::now_secs())
        .map_err(|e| fail(e.to_string()))?;
    let peer = NodeInfo::from_json_bytes(&entry.data).map_err(|e| fail(e.to_string()))?;
    if peer.pubkey != username {
        return Err(fail("node info pubkey differs from auth_username".into()));
    }
    Ok(Accepted {
        account: username,
        info: Some(peer),
        relation: Relation::Peer,
        response: BtpPacket::Response { request_id, protocol_data: vec![info_entry(node)] },
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Client side for a configured account: the plain BTP auth Message (`auth`,
/// `auth_username`, `auth_token`), as the JS plugin sends it.
pub fn plain_auth(request_id: u32, username: &str, token: &str) -> BtpPacket {
    btp::auth_message(request_id, username, token)
}

/// Client side for a configured account: the listener must answer with a Response.
pub fn plain_check(reply: &BtpPacket) -> anyhow::Result<()> {
    match reply {
        BtpPacket::Response { .. } => Ok(()),
        BtpPacket::Error { code, name, data, .. } => {
            anyhow::bail!("peer refused auth: {code} {name}: {}", String::from_utf8_lossy(data))
        }
        _ => anyhow::bail!("unexpected reply to auth"),
    }
}

/// Client side: check the server's answer to our auth Message.
pub fn client_check(reply: &BtpPacket, expected_pubkey: &str) -> anyhow::Result<NodeInfo> {
    match reply {
        BtpPacket::Response { protocol_data, .. } => {
            let entry = btp::find_entry(protocol_data, info::PROTOCOL_NAME)
                .ok_or_else(|| anyhow::anyhow!("peer sent no {} entry", info::PROTOCOL_NAME))?;
            let peer = NodeInfo::from_json_bytes(&entry.data)?;
            anyhow::ensure!(
                peer.pubkey == expected_pubkey,
                "peer is {} but the bootstrap list expects {expected_pubkey}",
                peer.pubkey
            );
            Ok(peer)
        }
        BtpPacket::Error { code, name, data, .. } => {
            anyhow::bail!("peer refused auth: {code} {name}: {}", String::from_utf8_lossy(data))
        }
        _ => anyhow::bail!("unexpected reply to auth"),
    }
}
