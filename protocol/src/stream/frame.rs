//! STREAM frames and close codes (RFC 29 §5.3, §5.4; `asn1/Stream.asn`).
//!
//! On the wire each frame is `type u8 | var-octet-string contents`. Bytes after the known
//! fields of a frame's contents are ignored.

use super::StreamError;
use crate::ilp::Address;
use crate::oer::{put_var_octets, put_var_str, put_var_uint, Reader};

/// Frame type ids (RFC 29 §5.3).
pub mod frame_type {
    /// `ConnectionClose` (RFC 29 §5.3.1).
    pub const CONNECTION_CLOSE: u8 = 0x01;
    /// `ConnectionNewAddress` (RFC 29 §5.3.2).
    pub const CONNECTION_NEW_ADDRESS: u8 = 0x02;
    /// `ConnectionMaxData` (RFC 29 §5.3.3).
    pub const CONNECTION_MAX_DATA: u8 = 0x03;
    /// `ConnectionDataBlocked` (RFC 29 §5.3.4).
    pub const CONNECTION_DATA_BLOCKED: u8 = 0x04;
    /// `ConnectionMaxStreamId` (RFC 29 §5.3.5).
    pub const CONNECTION_MAX_STREAM_ID: u8 = 0x05;
    /// `ConnectionStreamIdBlocked` (RFC 29 §5.3.6).
    pub const CONNECTION_STREAM_ID_BLOCKED: u8 = 0x06;
    /// `ConnectionAssetDetails` (RFC 29 §5.3.14).
    pub const CONNECTION_ASSET_DETAILS: u8 = 0x07;
    /// `StreamClose` (RFC 29 §5.3.7).
    pub const STREAM_CLOSE: u8 = 0x10;
    /// `StreamMoney` (RFC 29 §5.3.8).
    pub const STREAM_MONEY: u8 = 0x11;
    /// `StreamMaxMoney` (RFC 29 §5.3.9).
    pub const STREAM_MAX_MONEY: u8 = 0x12;
    /// `StreamMoneyBlocked` (RFC 29 §5.3.10).
    pub const STREAM_MONEY_BLOCKED: u8 = 0x13;
    /// `StreamData` (RFC 29 §5.3.11).
    pub const STREAM_DATA: u8 = 0x14;
    /// `StreamMaxData` (RFC 29 §5.3.12).
    pub const STREAM_MAX_DATA: u8 = 0x15;
    /// `StreamDataBlocked` (RFC 29 §5.3.13).
    pub const STREAM_DATA_BLOCKED: u8 = 0x16;
    /// `StreamReceipt` (RFC 29 §5.3.15, RFC 39).
    pub const STREAM_RECEIPT: u8 = 0x17;
}

/// Why a stream or connection closed (RFC 29 §5.4), a u8 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 0x01: closed normally.
    NoError,
    /// 0x02: unexpected error in the endpoint.
    InternalError,
    /// 0x03: temporarily overloaded.
    EndpointBusy,
    /// 0x04: the other side exceeded advertised flow-control limits.
    FlowControlError,
    /// 0x05: the other side opened more streams than allowed.
    StreamIdError,
    /// 0x06: frames for a stream that is already closed.
    StreamStateError,
    /// 0x07: a frame with invalid syntax.
    FrameFormatError,
    /// 0x08: invalid data or another protocol violation.
    ProtocolViolation,
    /// 0x09: the application closed with an error.
    ApplicationError,
    /// Any other byte, kept as received ([`CloseCode::from_u8`] uses it only for 0 and ≥ 10).
    Unknown(u8),
}

impl CloseCode {
    /// Maps the wire byte.
    pub fn from_u8(b: u8) -> Self {
        match b {
            1 => CloseCode::NoError,
            2 => CloseCode::InternalError,
            3 => CloseCode::EndpointBusy,
            4 => CloseCode::FlowControlError,
            5 => CloseCode::StreamIdError,
            6 => CloseCode::StreamStateError,
            7 => CloseCode::FrameFormatError,
            8 => CloseCode::ProtocolViolation,
            9 => CloseCode::ApplicationError,
            other => CloseCode::Unknown(other),
        }
    }

    /// The wire byte.
    pub fn as_u8(self) -> u8 {
        match self {
            CloseCode::NoError => 1,
            CloseCode::InternalError => 2,
            CloseCode::EndpointBusy => 3,
            CloseCode::FlowControlError => 4,
            CloseCode::StreamIdError => 5,
            CloseCode::StreamStateError => 6,
            CloseCode::FrameFormatError => 7,
            CloseCode::ProtocolViolation => 8,
            CloseCode::ApplicationError => 9,
            CloseCode::Unknown(b) => b,
        }
    }
}

impl From<u8> for CloseCode {
    fn from(b: u8) -> Self {
        CloseCode::from_u8(b)
    }
}

impl From<CloseCode> for u8 {
    fn from(c: CloseCode) -> Self {
        c.as_u8()
    }
}

/// A STREAM frame (RFC 29 §5.3). All integers are VarUInts except the u8 close code and
/// asset scale. Money amounts are in the units of the frame's sender; offsets in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// 0x01: the connection is closing (§5.3.1).
    ConnectionClose {
        /// Why.
        code: CloseCode,
        /// Human-readable detail.
        message: String,
    },
    /// 0x02: the sender's (new) ILP address (§5.3.2).
    ConnectionNewAddress {
        /// Where to send Prepares to the frame's sender.
        source_account: Address,
    },
    /// 0x03: total bytes the sender will accept on the connection (§5.3.3).
    ConnectionMaxData {
        /// Byte limit.
        max_offset: u64,
    },
    /// 0x04: the sender wants to send more than the connection limit allows (§5.3.4).
    ConnectionDataBlocked {
        /// Total bytes the sender wants to send.
        max_offset: u64,
    },
    /// 0x05: the largest stream id the sender will accept (§5.3.5).
    ConnectionMaxStreamId {
        /// Stream id limit.
        max_stream_id: u64,
    },
    /// 0x06: the sender wants to open streams above the limit (§5.3.6).
    ConnectionStreamIdBlocked {
        /// The stream id the sender wants to open.
        max_stream_id: u64,
    },
    /// 0x07: the sender's asset (§5.3.14; missing from the ASN.1 FrameSet but used by JS).
    ConnectionAssetDetails {
        /// Asset code, e.g. `"XRP"`.
        asset_code: String,
        /// Asset scale (decimal places of the smallest unit).
        asset_scale: u8,
    },
    /// 0x10: a stream is closing (§5.3.7).
    StreamClose {
        /// The stream.
        stream_id: u64,
        /// Why.
        code: CloseCode,
        /// Human-readable detail.
        message: String,
    },
    /// 0x11: share of the Prepare amount destined for a stream (§5.3.8).
    StreamMoney {
        /// The stream.
        stream_id: u64,
        /// Proportion of the packet amount (divided by the sum of all shares in the packet).
        shares: u64,
    },
    /// 0x12: how much the sender will receive on a stream (§5.3.9). A `receiveMax` above
    /// `u64::MAX` decodes as `u64::MAX` (§5.1.4).
    StreamMaxMoney {
        /// The stream.
        stream_id: u64,
        /// Total the sender is willing to receive.
        receive_max: u64,
        /// Total received so far.
        total_received: u64,
    },
    /// 0x13: the sender wants to send more than allowed (§5.3.10). A `sendMax` above
    /// `u64::MAX` decodes as `u64::MAX` (§5.1.4).
    StreamMoneyBlocked {
        /// The stream.
        stream_id: u64,
        /// Total the sender wants to send.
        send_max: u64,
        /// Total sent so far.
        total_sent: u64,
    },
    /// 0x14: stream bytes at an offset (§5.3.11).
    StreamData {
        /// The stream.
        stream_id: u64,
        /// Position of `data` in the stream's byte sequence.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// 0x15: total bytes the sender will accept on a stream (§5.3.12).
    StreamMaxData {
        /// The stream.
        stream_id: u64,
        /// Byte limit.
        max_offset: u64,
    },
    /// 0x16: the sender wants to send more stream bytes than allowed (§5.3.13).
    StreamDataBlocked {
        /// The stream.
        stream_id: u64,
        /// Total bytes the sender wants to send.
        max_offset: u64,
    },
    /// 0x17: a STREAM receipt (§5.3.15, RFC 39; deprecated).
    StreamReceipt {
        /// The stream.
        stream_id: u64,
        /// Opaque receipt bytes.
        receipt: Vec<u8>,
    },
}

impl Frame {
    /// The frame's type id (see [`frame_type`]).
    pub fn frame_type(&self) -> u8 {
        use frame_type::*;
        match self {
            Frame::ConnectionClose { .. } => CONNECTION_CLOSE,
            Frame::ConnectionNewAddress { .. } => CONNECTION_NEW_ADDRESS,
            Frame::ConnectionMaxData { .. } => CONNECTION_MAX_DATA,
            Frame::ConnectionDataBlocked { .. } => CONNECTION_DATA_BLOCKED,
            Frame::ConnectionMaxStreamId { .. } => CONNECTION_MAX_STREAM_ID,
            Frame::ConnectionStreamIdBlocked { .. } => CONNECTION_STREAM_ID_BLOCKED,
            Frame::ConnectionAssetDetails { .. } => CONNECTION_ASSET_DETAILS,
            Frame::StreamClose { .. } => STREAM_CLOSE,
            Frame::StreamMoney { .. } => STREAM_MONEY,
            Frame::StreamMaxMoney { .. } => STREAM_MAX_MONEY,
            Frame::StreamMoneyBlocked { .. } => STREAM_MONEY_BLOCKED,
            Frame::StreamData { .. } => STREAM_DATA,
            Frame::StreamMaxData { .. } => STREAM_MAX_DATA,
            Frame::StreamDataBlocked { .. } => STREAM_DATA_BLOCKED,
            Frame::StreamReceipt { .. } => STREAM_RECEIPT,
        }
    }

    /// Appends `type | var-octet contents` to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        let mut c = Vec::new();
        match self {
            Frame::ConnectionClose { code, message } => {
                c.push(code.as_u8());
                put_var_str(&mut c, message);
            }
            Frame::ConnectionNewAddress { source_account } => put_var_str(&mut c, source_account.as_str()),
            Frame::ConnectionMaxData { max_offset } | Frame::ConnectionDataBlocked { max_offset } => {
                put_var_uint(&mut c, *max_offset)
            }
            Frame::ConnectionMaxStreamId { max_stream_id } | Frame::ConnectionStreamIdBlocked { max_stream_id } => {
                put_var_uint(&mut c, *max_stream_id)
            }
            Frame::ConnectionAssetDetails { asset_code, asset_scale } => {
                put_var_str(&mut c, asset_code);
                c.push(*asset_scale);
            }
            Frame::StreamClose { stream_id, code, message } => {
                put_var_uint(&mut c, *stream_id);
                c.push(code.as_u8());
                put_var_str(&mut c, message);
            }
            Frame::StreamMoney { stream_id, shares } => {
                put_var_uint(&mut c, *stream_id);
                put_var_uint(&mut c, *shares);
            }
            Frame::StreamMaxMoney { stream_id, receive_max: a, total_received: b }
            | Frame::StreamMoneyBlocked { stream_id, send_max: a, total_sent: b } => {
                put_var_uint(&mut c, *stream_id);
                put_var_uint(&mut c, *a);
                put_var_uint(&mut c, *b);
            }
            Frame::StreamData { stream_id, offset, data } => {
                put_var_uint(&mut c, *stream_id);
                put_var_uint(&mut c, *offset);
                put_var_octets(&mut c, data);
            }
            Frame::StreamMaxData { stream_id, max_offset } | Frame::StreamDataBlocked { stream_id, max_offset } => {
                put_var_uint(&mut c, *stream_id);
                put_var_uint(&mut c, *max_offset);
            }
            Frame::StreamReceipt { stream_id, receipt } => {
                put_var_uint(&mut c, *stream_id);
                put_var_octets(&mut c, receipt);
            }
        }
        buf.push(self.frame_type());
        put_var_octets(buf, &c);
    }

    /// Parses a frame's contents given its type. Unknown types give `Ok(None)` (they must be
    /// skipped, RFC 29 §5.3); a malformed known frame is an error.
    pub fn decode_contents(frame_type: u8, contents: &[u8]) -> Result<Option<Frame>, StreamError> {
        use frame_type::*;
        let mut r = Reader::new(contents);
        let r = &mut r;
        let frame = match frame_type {
            CONNECTION_CLOSE => {
                Frame::ConnectionClose { code: CloseCode::from_u8(r.read_u8()?), message: r.read_var_str()?.to_owned() }
            }
            CONNECTION_NEW_ADDRESS => Frame::ConnectionNewAddress { source_account: Address::new(r.read_var_str()?)? },
            CONNECTION_MAX_DATA => Frame::ConnectionMaxData { max_offset: r.read_var_uint()? },
            CONNECTION_DATA_BLOCKED => Frame::ConnectionDataBlocked { max_offset: r.read_var_uint()? },
            CONNECTION_MAX_STREAM_ID => Frame::ConnectionMaxStreamId { max_stream_id: r.read_var_uint()? },
            CONNECTION_STREAM_ID_BLOCKED => Frame::ConnectionStreamIdBlocked { max_stream_id: r.read_var_uint()? },
            CONNECTION_ASSET_DETAILS => {
                Frame::ConnectionAssetDetails { asset_code: r.read_var_str()?.to_owned(), asset_scale: r.read_u8()? }
            }
            STREAM_CLOSE => Frame::StreamClose {
                stream_id: r.read_var_uint()?,
                code: CloseCode::from_u8(r.read_u8()?),
                message: r.read_var_str()?.to_owned(),
            },
            STREAM_MONEY => Frame::StreamMoney { stream_id: r.read_var_uint()?, shares: r.read_var_uint()? },
            STREAM_MAX_MONEY => Frame::StreamMaxMoney {
                stream_id: r.read_var_uint()?,
                receive_max: r.read_var_uint_saturating()?,
                total_received: r.read_var_uint()?,
            },
            STREAM_MONEY_BLOCKED => Frame::StreamMoneyBlocked {
                stream_id: r.read_var_uint()?,
                send_max: r.read_var_uint_saturating()?,
                total_sent: r.read_var_uint()?,
            },
            STREAM_DATA => Frame::StreamData {
                stream_id: r.read_var_uint()?,
                offset: r.read_var_uint()?,
                data: r.read_var_octets()?.to_vec(),
            },
            STREAM_MAX_DATA => Frame::StreamMaxData { stream_id: r.read_var_uint()?, max_offset: r.read_var_uint()? },
            STREAM_DATA_BLOCKED => {
                Frame::StreamDataBlocked { stream_id: r.read_var_uint()?, max_offset: r.read_var_uint()? }
            }
            STREAM_RECEIPT => {
                Frame::StreamReceipt { stream_id: r.read_var_uint()?, receipt: r.read_var_octets()?.to_vec() }
            }
            _ => return Ok(None),
        };
        Ok(Some(frame))
    }
}
