//! IL-DCP, the Interledger Dynamic Configuration Protocol (RFC 31): how a child asks its
//! parent for its ILP address and asset.
//!
//! The request is an ILP Prepare to `peer.config` with amount 0, the peer-protocol
//! condition and empty data; the answer is a Fulfill with the 32-zero-byte fulfillment whose
//! data is an [`IldcpResponse`]; a failure is a Reject whose `triggeredBy` is the parent.

use chrono::{DateTime, Utc};

use crate::ilp::{Address, Fulfill, PacketError, Prepare, PEER_PROTOCOL_CONDITION, PEER_PROTOCOL_FULFILLMENT};
use crate::oer::{put_var_str, Reader};

/// Destination of IL-DCP requests (RFC 31).
pub const ILDCP_DESTINATION: &str = "peer.config";

/// The configuration a parent hands a child (RFC 31 `asn1/DynamicConfigurationProtocol.asn`),
/// carried as the Fulfill data: `clientAddress` var-string · `assetScale` u8 ·
/// `assetCode` var-UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IldcpResponse {
    /// The child's ILP address, usually `<parent>.<segment>`.
    pub client_address: Address,
    /// Decimal places of the link's smallest unit (e.g. 9).
    pub asset_scale: u8,
    /// Asset code of the link (e.g. `"XRP"`).
    pub asset_code: String,
}

impl IldcpResponse {
    /// Serializes the Fulfill-data form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.client_address.as_str().len() + self.asset_code.len() + 5);
        put_var_str(&mut out, self.client_address.as_str());
        out.push(self.asset_scale);
        put_var_str(&mut out, &self.asset_code);
        out
    }

    /// Parses the Fulfill-data form; trailing bytes are ignored (RFC 30).
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let mut r = Reader::new(bytes);
        let client_address = Address::new(r.read_var_str()?)?;
        let asset_scale = r.read_u8()?;
        let asset_code = r.read_var_str()?.to_owned();
        Ok(IldcpResponse { client_address, asset_scale, asset_code })
    }
}

/// True when `prepare` is an IL-DCP request, i.e. addressed to `peer.config` (RFC 31).
pub fn is_ildcp_request(prepare: &Prepare) -> bool {
    prepare.destination.as_str() == ILDCP_DESTINATION
}

/// The IL-DCP request Prepare: amount 0, the given expiry (JS uses now + 60 s), the
/// peer-protocol condition, destination `peer.config`, empty data (RFC 31).
pub fn request(expires_at: DateTime<Utc>) -> Prepare {
    Prepare {
        amount: 0,
        expires_at,
        execution_condition: PEER_PROTOCOL_CONDITION,
        destination: peer_config_address(),
        data: Vec::new(),
    }
}

/// The Fulfill answering an IL-DCP request: 32 zero bytes plus `resp` as data (RFC 31).
pub fn fulfill(resp: &IldcpResponse) -> Fulfill {
    Fulfill { fulfillment: PEER_PROTOCOL_FULFILLMENT, data: resp.encode() }
}

/// `peer.config` as an [`Address`].
pub fn peer_config_address() -> Address {
    Address::from_static_unchecked(ILDCP_DESTINATION)
}
