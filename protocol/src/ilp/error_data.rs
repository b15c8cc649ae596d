//! Structured `data` of ILP Reject packets (RFC 27 §"Error Codes",
//! `asn1/InterledgerErrorData.asn`).

use super::PacketError;
use crate::oer::Reader;

/// The `data` of an F08 Amount Too Large reject (`asn1/InterledgerErrorData.asn`): two
/// big-endian UInt64s, 16 bytes, both in the rejecting connector's incoming units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AmountTooLargeData {
    /// The amount of the Prepare the connector received.
    pub received_amount: u64,
    /// The largest amount the connector is willing to forward.
    pub maximum_amount: u64,
}

impl AmountTooLargeData {
    /// Length of the encoding in bytes.
    pub const LEN: usize = 16;

    /// `receivedAmount u64 BE | maximumAmount u64 BE` (16 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(&self.received_amount.to_be_bytes());
        out.extend_from_slice(&self.maximum_amount.to_be_bytes());
        out
    }

    /// Parses the 16-byte form; fewer bytes is an error, extra trailing bytes are ignored
    /// (OER extensibility, RFC 30).
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let mut r = Reader::new(bytes);
        Ok(AmountTooLargeData { received_amount: r.read_u64()?, maximum_amount: r.read_u64()? })
    }
}
