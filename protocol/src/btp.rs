//! BTP 2.0 frames and the auth handshake (RFC 23 "Bilateral Transfer Protocol 2.0",
//! `asn1/BilateralTransferProtocol.asn`).
//!
//! One BTP packet travels per WebSocket binary message:
//! `type u8 | requestId u32 BE | OER length | body` (RFC 23 §"Message Format"). Types:
//! 1 Response, 2 Error, 6 Message, 7 Transfer; 3/4/5 are retired. ILP packets ride in a
//! Message entry named `ilp` ([`ilp_entry`]) and come back in a Response.
//!
//! Decoders ignore bytes after the envelope and after the last body field (RFC 30
//! extensibility).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use thiserror::Error;

use crate::ilp::encode_timestamp;
use crate::oer::{length_prefix_len, put_length, put_var_octets, put_var_str, put_var_uint, OerError, Reader};

/// Type byte of a BTP Response (RFC 23).
pub const TYPE_RESPONSE: u8 = 1;
/// Type byte of a BTP Error (RFC 23).
pub const TYPE_ERROR: u8 = 2;
/// Type byte of a BTP Message (RFC 23).
pub const TYPE_MESSAGE: u8 = 6;
/// Type byte of a BTP Transfer (RFC 23).
pub const TYPE_TRANSFER: u8 = 7;

/// Name of the protocol-data entry that carries an ILP packet (RFC 23 §"ILP"; reserved).
pub const ILP_PROTOCOL: &str = "ilp";
/// Primary entry of the auth message (RFC 23 §"Authentication").
pub const AUTH_PROTOCOL: &str = "auth";
/// Entry holding the auth username (text/plain, optional; the JS plugin always sends it).
pub const AUTH_USERNAME_PROTOCOL: &str = "auth_username";
/// Entry holding the auth token (text/plain, required, may be empty).
pub const AUTH_TOKEN_PROTOCOL: &str = "auth_token";

/// Decoding and auth failures for BTP (RFC 23).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BtpError {
    /// A field was truncated or its OER encoding is invalid (RFC 30).
    #[error("invalid BTP packet: {0}")]
    Oer(#[from] OerError),
    /// The type byte is not 1, 2, 6 or 7 (3/4/5 are the retired Prepare/Fulfill/Reject).
    #[error("unsupported BTP packet type {0}")]
    UnknownType(u8),
    /// The Error packet's `code` is not three ASCII characters.
    #[error("BTP error code is not three ASCII characters")]
    InvalidErrorCode,
    /// The Error packet's `triggeredAt` is not a `YYYYMMDDHHmmSS[.f]Z` GeneralizedTime.
    #[error("invalid BTP triggeredAt timestamp")]
    InvalidTimestamp,
    /// The first protocol-data entry is not named `auth`.
    #[error("first BTP message is not an auth message")]
    NotAuth,
    /// The auth message lacks an `auth_token` entry.
    #[error("auth message has no auth_token")]
    MissingAuthToken,
    /// An auth field is not valid UTF-8; holds the entry name.
    #[error("{0} is not valid UTF-8")]
    InvalidAuthField(&'static str),
}

/// MIME type of a protocol-data entry (RFC 23 §"Protocol Data"), a u8 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// 0: `application/octet-stream`.
    OctetStream,
    /// 1: `text/plain; charset=utf-8`.
    TextPlainUtf8,
    /// 2: `application/json`.
    ApplicationJson,
    /// Any other byte, kept as received. [`ContentType::from_u8`] only produces it for
    /// values ≥ 3.
    Other(u8),
}

impl ContentType {
    /// Maps the wire byte: 0, 1, 2 to the named variants, anything else to `Other`.
    pub fn from_u8(b: u8) -> Self {
        match b {
            0 => ContentType::OctetStream,
            1 => ContentType::TextPlainUtf8,
            2 => ContentType::ApplicationJson,
            other => ContentType::Other(other),
        }
    }

    /// The wire byte.
    pub fn as_u8(self) -> u8 {
        match self {
            ContentType::OctetStream => 0,
            ContentType::TextPlainUtf8 => 1,
            ContentType::ApplicationJson => 2,
            ContentType::Other(b) => b,
        }
    }
}

impl From<u8> for ContentType {
    fn from(b: u8) -> Self {
        ContentType::from_u8(b)
    }
}

impl From<ContentType> for u8 {
    fn from(c: ContentType) -> Self {
        c.as_u8()
    }
}

/// One protocol-data entry (RFC 23 §"Protocol Data"): `protocolName` var-IA5 ·
/// `contentType` u8 · `data` var-octets. The first entry of a packet is the primary
/// sub-protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolData {
    /// Sub-protocol name, e.g. `"ilp"` or `"auth"`.
    pub protocol_name: String,
    /// How to read `data`.
    pub content_type: ContentType,
    /// The payload.
    pub data: Vec<u8>,
}

/// A BTP 2.0 packet (RFC 23 §"Message Format"). A reply reuses its request's `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtpPacket {
    /// Type 6: a request carrying protocol data (ILP packets, auth, …).
    Message {
        /// Request id (u32) the reply must echo.
        request_id: u32,
        /// Entries; the first is the primary sub-protocol.
        protocol_data: Vec<ProtocolData>,
    },
    /// Type 1: the successful reply to a Message or Transfer.
    Response {
        /// Id of the request this answers.
        request_id: u32,
        /// Reply entries (e.g. `ilp` with a Fulfill or Reject).
        protocol_data: Vec<ProtocolData>,
    },
    /// Type 2: the request could not be processed at the BTP level (RFC 23 §"Error").
    Error {
        /// Id of the request this answers.
        request_id: u32,
        /// Three ASCII characters, see [`error_codes`]. On encode, other lengths are
        /// truncated or padded with spaces to 3 bytes.
        code: String,
        /// Error name, e.g. `"UnreachableError"` (see [`error_codes::name`]).
        name: String,
        /// When the error happened; written as GeneralizedTime with exactly three fraction
        /// digits (`YYYYMMDDHHmmSS.fffZ`), which JS `btp-packet` requires.
        triggered_at: DateTime<Utc>,
        /// Free-form data (the ASN.1 caps it at 8192 bytes; not enforced).
        data: Vec<u8>,
        /// Extra entries.
        protocol_data: Vec<ProtocolData>,
    },
    /// Type 7: settlement; `amount` is the increase since the last settled state, in the
    /// link's asset units (RFC 23 §"Transfer").
    Transfer {
        /// Request id the reply must echo.
        request_id: u32,
        /// Amount transferred.
        amount: u64,
        /// Extra entries.
        protocol_data: Vec<ProtocolData>,
    },
}

impl BtpPacket {
    /// The request id of any packet type.
    pub fn request_id(&self) -> u32 {
        match self {
            BtpPacket::Message { request_id, .. }
            | BtpPacket::Response { request_id, .. }
            | BtpPacket::Error { request_id, .. }
            | BtpPacket::Transfer { request_id, .. } => *request_id,
        }
    }

    /// The protocol-data entries of any packet type.
    pub fn protocol_data(&self) -> &[ProtocolData] {
        match self {
            BtpPacket::Message { protocol_data, .. }
            | BtpPacket::Response { protocol_data, .. }
            | BtpPacket::Error { protocol_data, .. }
            | BtpPacket::Transfer { protocol_data, .. } => protocol_data,
        }
    }

    /// The type byte (1, 2, 6 or 7).
    pub fn packet_type(&self) -> u8 {
        match self {
            BtpPacket::Message { .. } => TYPE_MESSAGE,
            BtpPacket::Response { .. } => TYPE_RESPONSE,
            BtpPacket::Error { .. } => TYPE_ERROR,
            BtpPacket::Transfer { .. } => TYPE_TRANSFER,
        }
    }

    /// An Error packet whose `name` comes from [`error_codes::name`] and whose
    /// protocol data is empty.
    pub fn error(request_id: u32, code: &str, triggered_at: DateTime<Utc>, data: Vec<u8>) -> BtpPacket {
        BtpPacket::Error {
            request_id,
            code: code.to_owned(),
            name: error_codes::name(code).to_owned(),
            triggered_at,
            data,
            protocol_data: Vec::new(),
        }
    }

    /// Serializes to `type | requestId | length | body`.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            BtpPacket::Message { protocol_data, .. } | BtpPacket::Response { protocol_data, .. } => {
                put_protocol_data(&mut body, protocol_data);
            }
            BtpPacket::Error { code, name, triggered_at, data, protocol_data, .. } => {
                let mut code_bytes = [b' '; 3];
                for (slot, b) in code_bytes.iter_mut().zip(code.bytes()) {
                    *slot = b;
                }
                body.extend_from_slice(&code_bytes);
                put_var_str(&mut body, name);
                put_var_octets(&mut body, &encode_generalized_time(*triggered_at));
                put_var_octets(&mut body, data);
                put_protocol_data(&mut body, protocol_data);
            }
            BtpPacket::Transfer { amount, protocol_data, .. } => {
                body.extend_from_slice(&amount.to_be_bytes());
                put_protocol_data(&mut body, protocol_data);
            }
        }
        let mut out = Vec::with_capacity(5 + length_prefix_len(body.len()) + body.len());
        out.push(self.packet_type());
        out.extend_from_slice(&self.request_id().to_be_bytes());
        put_length(&mut out, body.len());
        out.extend_from_slice(&body);
        out
    }

    /// Parses one BTP packet. Types other than 1, 2, 6, 7 are [`BtpError::UnknownType`].
    pub fn decode(bytes: &[u8]) -> Result<Self, BtpError> {
        let mut outer = Reader::new(bytes);
        let packet_type = outer.read_u8()?;
        let request_id = outer.read_u32()?;
        if !matches!(packet_type, TYPE_RESPONSE | TYPE_ERROR | TYPE_MESSAGE | TYPE_TRANSFER) {
            return Err(BtpError::UnknownType(packet_type));
        }
        let mut r = Reader::new(outer.read_var_octets()?);
        Ok(match packet_type {
            TYPE_RESPONSE => BtpPacket::Response { request_id, protocol_data: read_protocol_data(&mut r)? },
            TYPE_MESSAGE => BtpPacket::Message { request_id, protocol_data: read_protocol_data(&mut r)? },
            TYPE_TRANSFER => {
                let amount = r.read_u64()?;
                BtpPacket::Transfer { request_id, amount, protocol_data: read_protocol_data(&mut r)? }
            }
            _ => {
                let code_bytes: [u8; 3] = r.read_fixed()?;
                if !code_bytes.is_ascii() {
                    return Err(BtpError::InvalidErrorCode);
                }
                let code = code_bytes.iter().map(|&b| char::from(b)).collect();
                let name = r.read_var_str()?.to_owned();
                let triggered_at = decode_generalized_time(r.read_var_octets()?)?;
                let data = r.read_var_octets()?.to_vec();
                let protocol_data = read_protocol_data(&mut r)?;
                BtpPacket::Error { request_id, code, name, triggered_at, data, protocol_data }
            }
        })
    }
}

/// Writes `count VarUInt | entries…`.
fn put_protocol_data(buf: &mut Vec<u8>, entries: &[ProtocolData]) {
    put_var_uint(buf, entries.len() as u64);
    for e in entries {
        put_var_str(buf, &e.protocol_name);
        buf.push(e.content_type.as_u8());
        put_var_octets(buf, &e.data);
    }
}

/// Reads `count VarUInt | entries…`; stops with an error as soon as the bytes run out, so a
/// huge count cannot make it allocate.
fn read_protocol_data(r: &mut Reader<'_>) -> Result<Vec<ProtocolData>, BtpError> {
    let count = r.read_var_uint()?;
    // Each entry takes at least 3 bytes.
    let mut out = Vec::with_capacity((r.remaining() / 3).min(count.min(64) as usize));
    for _ in 0..count {
        let protocol_name = r.read_var_str()?.to_owned();
        let content_type = ContentType::from_u8(r.read_u8()?);
        let data = r.read_var_octets()?.to_vec();
        out.push(ProtocolData { protocol_name, content_type, data });
    }
    Ok(out)
}

/// `t` as GeneralizedTime `YYYYMMDDHHmmSS.fffZ` (always 3 fraction digits, UTC); same
/// clamping as [`encode_timestamp`].
pub fn encode_generalized_time(t: DateTime<Utc>) -> [u8; 19] {
    let digits = encode_timestamp(t);
    let mut out = [0u8; 19];
    out[..14].copy_from_slice(&digits[..14]);
    out[14] = b'.';
    out[15..18].copy_from_slice(&digits[14..]);
    out[18] = b'Z';
    out
}

/// Parses GeneralizedTime `YYYYMMDDHHmmSS[.f…]Z` (fraction of 1–9 digits, `.` or `,`,
/// optional; `Z` required). Fractions beyond nanoseconds are not accepted.
pub fn decode_generalized_time(bytes: &[u8]) -> Result<DateTime<Utc>, BtpError> {
    let bad = || BtpError::InvalidTimestamp;
    let (main, rest) = (bytes.get(..14).ok_or_else(bad)?, bytes.get(14..).ok_or_else(bad)?);
    if !main.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let rest = rest.strip_suffix(b"Z").ok_or_else(bad)?;
    let nanos = match rest.split_first() {
        None => 0,
        Some((b'.' | b',', frac)) if (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit) => {
            let value = frac.iter().fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
            value * 10u32.pow(9 - frac.len() as u32)
        }
        Some(_) => return Err(bad()),
    };
    let num = |start: usize, width: usize| -> u32 {
        main.iter().skip(start).take(width).fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4) as i32, num(4, 2), num(6, 2)).ok_or_else(bad)?;
    if num(12, 2) > 59 {
        return Err(bad());
    }
    let time = NaiveTime::from_hms_nano_opt(num(8, 2), num(10, 2), num(12, 2), nanos).ok_or_else(bad)?;
    Ok(date.and_time(time).and_utc())
}

/// The `ilp` entry wrapping a serialized ILP packet (content type octet-stream).
pub fn ilp_entry(packet_bytes: Vec<u8>) -> ProtocolData {
    ProtocolData { protocol_name: ILP_PROTOCOL.to_owned(), content_type: ContentType::OctetStream, data: packet_bytes }
}

/// The first entry named `name`, if any.
pub fn find_entry<'a>(pd: &'a [ProtocolData], name: &str) -> Option<&'a ProtocolData> {
    pd.iter().find(|e| e.protocol_name == name)
}

/// The auth Message a client sends first (RFC 23 §"Authentication"), laid out like the JS
/// `ilp-plugin-btp`: `auth` (octet-stream, empty), `auth_username` (text), `auth_token`
/// (text).
pub fn auth_message(request_id: u32, username: &str, token: &str) -> BtpPacket {
    let text = |name: &str, value: &str| ProtocolData {
        protocol_name: name.to_owned(),
        content_type: ContentType::TextPlainUtf8,
        data: value.as_bytes().to_vec(),
    };
    BtpPacket::Message {
        request_id,
        protocol_data: vec![
            ProtocolData {
                protocol_name: AUTH_PROTOCOL.to_owned(),
                content_type: ContentType::OctetStream,
                data: Vec::new(),
            },
            text(AUTH_USERNAME_PROTOCOL, username),
            text(AUTH_TOKEN_PROTOCOL, token),
        ],
    }
}

/// The successful reply to an auth Message: a Response with no entries.
pub fn auth_response(request_id: u32) -> BtpPacket {
    BtpPacket::Response { request_id, protocol_data: Vec::new() }
}

/// Credentials from an auth Message (RFC 23 §"Authentication").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// `auth_username`, or `None` when absent or empty.
    pub username: Option<String>,
    /// `auth_token` (may be empty). interledger-rs clients pack `username:token` in here.
    pub token: String,
}

/// Reads the credentials of an auth Message: the first entry must be `auth` and an
/// `auth_token` entry must exist; `auth_username` is optional.
pub fn parse_auth(protocol_data: &[ProtocolData]) -> Result<AuthRequest, BtpError> {
    match protocol_data.first() {
        Some(first) if first.protocol_name == AUTH_PROTOCOL => {}
        _ => return Err(BtpError::NotAuth),
    }
    let token_entry = find_entry(protocol_data, AUTH_TOKEN_PROTOCOL).ok_or(BtpError::MissingAuthToken)?;
    let token =
        String::from_utf8(token_entry.data.clone()).map_err(|_| BtpError::InvalidAuthField(AUTH_TOKEN_PROTOCOL))?;
    let username = match find_entry(protocol_data, AUTH_USERNAME_PROTOCOL) {
        None => None,
        Some(e) => {
            let s =
                String::from_utf8(e.data.clone()).map_err(|_| BtpError::InvalidAuthField(AUTH_USERNAME_PROTOCOL))?;
            (!s.is_empty()).then_some(s)
        }
    };
    Ok(AuthRequest { username, token })
}

/// BTP error codes (RFC 23 §"Error Codes") and their names.
pub mod error_codes {
    /// T00 UnreachableError: temporary, e.g. the ledger or peer is unreachable.
    pub const T00_UNREACHABLE: &str = "T00";
    /// F00 NotAcceptedError: the request (e.g. auth) was refused.
    pub const F00_NOT_ACCEPTED: &str = "F00";
    /// F01 InvalidFieldsError: the packet's fields are invalid.
    pub const F01_INVALID_FIELDS: &str = "F01";
    /// F03 TransferNotFoundError.
    pub const F03_TRANSFER_NOT_FOUND: &str = "F03";
    /// F04 InvalidFulfillmentError.
    pub const F04_INVALID_FULFILLMENT: &str = "F04";
    /// F05 DuplicateIdError.
    pub const F05_DUPLICATE_ID: &str = "F05";
    /// F06 AlreadyRolledBackError.
    pub const F06_ALREADY_ROLLED_BACK: &str = "F06";
    /// F07 AlreadyFulfilledError.
    pub const F07_ALREADY_FULFILLED: &str = "F07";
    /// F08 InsufficientBalanceError.
    pub const F08_INSUFFICIENT_BALANCE: &str = "F08";

    /// The conventional `name` for a BTP error code, e.g. `"T00"` → `"UnreachableError"`;
    /// unknown codes give `"UnknownError"`.
    pub fn name(code: &str) -> &'static str {
        match code {
            T00_UNREACHABLE => "UnreachableError",
            F00_NOT_ACCEPTED => "NotAcceptedError",
            F01_INVALID_FIELDS => "InvalidFieldsError",
            F03_TRANSFER_NOT_FOUND => "TransferNotFoundError",
            F04_INVALID_FULFILLMENT => "InvalidFulfillmentError",
            F05_DUPLICATE_ID => "DuplicateIdError",
            F06_ALREADY_ROLLED_BACK => "AlreadyRolledBackError",
            F07_ALREADY_FULFILLED => "AlreadyFulfilledError",
            F08_INSUFFICIENT_BALANCE => "InsufficientBalanceError",
            _ => "UnknownError",
        }
    }
}
