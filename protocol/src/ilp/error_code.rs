//! ILP error codes (RFC 27 §"Error Codes").

use std::fmt;

/// A three-character ILP error code as carried in an ILP Reject (RFC 27 §"Error Codes"),
/// e.g. `F02`. The first letter gives the class: `F` final, `T` temporary, `R` relative.
///
/// The bytes are kept as received, so codes this crate does not know (or non-ASCII junk from
/// a peer) survive a decode/encode round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub [u8; 3]);

impl ErrorCode {
    /// F00 Bad Request: generic sender error.
    pub const F00_BAD_REQUEST: ErrorCode = ErrorCode(*b"F00");
    /// F01 Invalid Packet: the ILP packet was syntactically invalid.
    pub const F01_INVALID_PACKET: ErrorCode = ErrorCode(*b"F01");
    /// F02 Unreachable: no route to the destination.
    pub const F02_UNREACHABLE: ErrorCode = ErrorCode(*b"F02");
    /// F03 Invalid Amount.
    pub const F03_INVALID_AMOUNT: ErrorCode = ErrorCode(*b"F03");
    /// F04 Insufficient Destination Amount: the receiver deemed the amount too small.
    pub const F04_INSUFFICIENT_DESTINATION_AMOUNT: ErrorCode = ErrorCode(*b"F04");
    /// F05 Wrong Condition: the receiver generated a different condition.
    pub const F05_WRONG_CONDITION: ErrorCode = ErrorCode(*b"F05");
    /// F06 Unexpected Payment: the receiver did not expect or understand this payment.
    pub const F06_UNEXPECTED_PAYMENT: ErrorCode = ErrorCode(*b"F06");
    /// F07 Cannot Receive: a receiver constraint (e.g. its maximum balance) prevents it.
    pub const F07_CANNOT_RECEIVE: ErrorCode = ErrorCode(*b"F07");
    /// F08 Amount Too Large: data holds [`crate::ilp::AmountTooLargeData`].
    pub const F08_AMOUNT_TOO_LARGE: ErrorCode = ErrorCode(*b"F08");
    /// F99 Application Error (final).
    pub const F99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"F99");
    /// T00 Internal Error.
    pub const T00_INTERNAL_ERROR: ErrorCode = ErrorCode(*b"T00");
    /// T01 Peer Unreachable: a route exists but the next hop could not be reached.
    pub const T01_PEER_UNREACHABLE: ErrorCode = ErrorCode(*b"T01");
    /// T02 Peer Busy.
    pub const T02_PEER_BUSY: ErrorCode = ErrorCode(*b"T02");
    /// T03 Connector Busy.
    pub const T03_CONNECTOR_BUSY: ErrorCode = ErrorCode(*b"T03");
    /// T04 Insufficient Liquidity (also used for a peer's maximum balance, RFC 32).
    pub const T04_INSUFFICIENT_LIQUIDITY: ErrorCode = ErrorCode(*b"T04");
    /// T05 Rate Limited.
    pub const T05_RATE_LIMITED: ErrorCode = ErrorCode(*b"T05");
    /// T99 Application Error (temporary).
    pub const T99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"T99");
    /// R00 Transfer Timed Out.
    pub const R00_TRANSFER_TIMED_OUT: ErrorCode = ErrorCode(*b"R00");
    /// R01 Insufficient Source Amount.
    pub const R01_INSUFFICIENT_SOURCE_AMOUNT: ErrorCode = ErrorCode(*b"R01");
    /// R02 Insufficient Timeout: too little time left to subtract a safety margin.
    pub const R02_INSUFFICIENT_TIMEOUT: ErrorCode = ErrorCode(*b"R02");
    /// R99 Application Error (relative).
    pub const R99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"R99");

    /// The code as text, e.g. `"F02"`; `"???"` if the bytes are not UTF-8.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Final error (`F..`): do not retry unchanged.
    pub fn is_final(&self) -> bool {
        self.0[0] == b'F'
    }

    /// Temporary error (`T..`): retry later.
    pub fn is_temporary(&self) -> bool {
        self.0[0] == b'T'
    }

    /// Relative error (`R..`): retry with a larger amount or time margin.
    pub fn is_relative(&self) -> bool {
        self.0[0] == b'R'
    }

    /// The RFC 27 name, e.g. `"Unreachable"` for F02. Unknown codes get their class name
    /// (`"Final Error"`, `"Temporary Error"`, `"Relative Error"`) or `"Unknown Error"`.
    pub fn name(&self) -> &'static str {
        match &self.0 {
            b"F00" => "Bad Request",
            b"F01" => "Invalid Packet",
            b"F02" => "Unreachable",
            b"F03" => "Invalid Amount",
            b"F04" => "Insufficient Destination Amount",
            b"F05" => "Wrong Condition",
            b"F06" => "Unexpected Payment",
            b"F07" => "Cannot Receive",
            b"F08" => "Amount Too Large",
            b"F99" | b"T99" | b"R99" => "Application Error",
            b"T00" => "Internal Error",
            b"T01" => "Peer Unreachable",
            b"T02" => "Peer Busy",
            b"T03" => "Connector Busy",
            b"T04" => "Insufficient Liquidity",
            b"T05" => "Rate Limited",
            b"R00" => "Transfer Timed Out",
            b"R01" => "Insufficient Source Amount",
            b"R02" => "Insufficient Timeout",
            [b'F', ..] => "Final Error",
            [b'T', ..] => "Temporary Error",
            [b'R', ..] => "Relative Error",
            _ => "Unknown Error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "ErrorCode({s})"),
            Err(_) => write!(f, "ErrorCode({:?})", self.0),
        }
    }
}
