//! Decoding errors for ILPv4 packets (RFC 27).

use thiserror::Error;

use super::{AddressError, ErrorCode, MAX_DATA_LEN};
use crate::oer::OerError;

/// Why bytes are not a valid ILPv4 packet (RFC 27 §"Packet Format"). The `Display` text is
/// meant to be usable as-is in the `message` of an ILP Reject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    /// A field was truncated or its OER encoding is invalid (RFC 30).
    #[error("invalid packet: {0}")]
    Oer(#[from] OerError),
    /// The type byte is not 12 (Prepare), 13 (Fulfill) or 14 (Reject).
    #[error("unknown ILP packet type {0}")]
    UnknownType(u8),
    /// The type byte is a valid ILP type, but not the one the caller asked for.
    #[error("expected ILP packet type {expected}, got {actual}")]
    UnexpectedType {
        /// The type the caller expected.
        expected: u8,
        /// The type byte found.
        actual: u8,
    },
    /// `expiresAt` is not a valid `YYYYMMDDHHmmSSfff` UTC timestamp.
    #[error("invalid expiry timestamp")]
    InvalidTimestamp,
    /// The destination (or another address field) is not a valid RFC 15 ILP address.
    #[error("invalid ILP address: {0}")]
    InvalidAddress(#[from] AddressError),
    /// The `data` field is longer than [`MAX_DATA_LEN`] (32767) bytes.
    #[error("data field is {0} bytes long, the maximum is {max}", max = MAX_DATA_LEN)]
    DataTooLong(usize),
}

impl PacketError {
    /// The ILP error code to reject with when a received packet fails to decode: every
    /// variant is a syntax problem, so this is always F01 Invalid Packet (RFC 27).
    pub fn reject_code(&self) -> ErrorCode {
        ErrorCode::F01_INVALID_PACKET
    }
}
