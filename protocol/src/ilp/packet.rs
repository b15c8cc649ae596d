//! ILPv4 Prepare, Fulfill and Reject packets (RFC 27 §"Packet Format",
//! `asn1/InterledgerPacket.asn`, `asn1/InterledgerProtocol.asn`).
//!
//! Every packet is `type u8 | length determinant | body` (RFC 27 §"Type-Length Wrapper").
//! Decoders ignore bytes after the envelope and after the last body field (OER
//! extensibility, RFC 30), so the re-encoding of such input is shorter than the input.

use chrono::{DateTime, Utc};

use super::timestamp::{decode_timestamp, encode_timestamp};
use super::{Address, ErrorCode, PacketError};
use crate::oer::{length_prefix_len, put_length, put_var_octets, put_var_str, Reader};

/// Type byte of an ILP Prepare (RFC 27 §"ILP Prepare").
pub const PREPARE_TYPE: u8 = 12;
/// Type byte of an ILP Fulfill (RFC 27 §"ILP Fulfill").
pub const FULFILL_TYPE: u8 = 13;
/// Type byte of an ILP Reject (RFC 27 §"ILP Reject").
pub const REJECT_TYPE: u8 = 14;

/// Largest `data` field of any ILPv4 packet, in bytes (RFC 27, `InterledgerProtocol.asn`
/// `OCTET STRING (SIZE (0..32767))`). Decoders reject more; encoders do not check, so
/// callers building packets must.
pub const MAX_DATA_LEN: usize = 32767;

/// An ILP Prepare, type 12 (RFC 27 §"ILP Prepare"). Wire body: `amount` u64 BE ·
/// `expiresAt` 17-byte timestamp · `executionCondition` 32 bytes · `destination` var-string ·
/// `data` var-octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepare {
    /// Amount in the smallest unit of the link's asset (its agreed asset scale).
    pub amount: u64,
    /// Expiry in UTC, millisecond precision on the wire (finer precision is truncated).
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the fulfillment that executes this packet.
    pub execution_condition: [u8; 32],
    /// ILP address of the receiver (RFC 15).
    pub destination: Address,
    /// End-to-end data, at most [`MAX_DATA_LEN`] bytes.
    pub data: Vec<u8>,
}

/// An ILP Fulfill, type 13 (RFC 27 §"ILP Fulfill"). Wire body: `fulfillment` 32 bytes ·
/// `data` var-octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfill {
    /// 32-byte preimage of the Prepare's execution condition.
    pub fulfillment: [u8; 32],
    /// End-to-end data, at most [`MAX_DATA_LEN`] bytes.
    pub data: Vec<u8>,
}

/// An ILP Reject, type 14 (RFC 27 §"ILP Reject"). Wire body: `code` 3 bytes ·
/// `triggeredBy` var-string · `message` var-UTF-8 · `data` var-octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The ILP error code.
    pub code: ErrorCode,
    /// Address of the party that produced the error. `None` is written as an empty string;
    /// on decode an empty *or invalid* address becomes `None` (JS accepts both), so a Reject
    /// is never dropped for its `triggeredBy`.
    pub triggered_by: Option<Address>,
    /// Human-readable message for debugging. Invalid UTF-8 from the wire is replaced with
    /// U+FFFD rather than failing the decode.
    pub message: String,
    /// End-to-end data, at most [`MAX_DATA_LEN`] bytes.
    pub data: Vec<u8>,
}

/// Any ILPv4 packet, dispatched on its type byte (RFC 27 §"Type-Length Wrapper").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Type 12.
    Prepare(Prepare),
    /// Type 13.
    Fulfill(Fulfill),
    /// Type 14.
    Reject(Reject),
}

/// Wraps `body` in the type-length envelope.
fn envelope(packet_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + length_prefix_len(body.len()) + body.len());
    out.push(packet_type);
    put_length(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// Checks the type byte and returns a reader over the envelope's body.
fn open_envelope(bytes: &[u8], expected: u8) -> Result<Reader<'_>, PacketError> {
    let mut r = Reader::new(bytes);
    let actual = r.read_u8()?;
    if actual != expected {
        return Err(match actual {
            PREPARE_TYPE | FULFILL_TYPE | REJECT_TYPE => PacketError::UnexpectedType { expected, actual },
            other => PacketError::UnknownType(other),
        });
    }
    Ok(Reader::new(r.read_var_octets()?))
}

/// Reads the trailing `data` var-octets and enforces [`MAX_DATA_LEN`].
fn read_data(r: &mut Reader<'_>) -> Result<Vec<u8>, PacketError> {
    let data = r.read_var_octets()?;
    if data.len() > MAX_DATA_LEN {
        return Err(PacketError::DataTooLong(data.len()));
    }
    Ok(data.to_vec())
}

impl Prepare {
    /// Serializes to `0c | length | body`. Does not check `data.len()` (see [`MAX_DATA_LEN`]).
    pub fn encode(&self) -> Vec<u8> {
        let dest = self.destination.as_str();
        let mut body = Vec::with_capacity(8 + 17 + 32 + 3 + dest.len() + 3 + self.data.len());
        body.extend_from_slice(&self.amount.to_be_bytes());
        body.extend_from_slice(&encode_timestamp(self.expires_at));
        body.extend_from_slice(&self.execution_condition);
        put_var_str(&mut body, dest);
        put_var_octets(&mut body, &self.data);
        envelope(PREPARE_TYPE, &body)
    }

    /// Parses a Prepare; any other type byte is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let mut r = open_envelope(bytes, PREPARE_TYPE)?;
        let amount = r.read_u64()?;
        let expires_at = decode_timestamp(&r.read_fixed()?)?;
        let execution_condition = r.read_fixed()?;
        let destination = Address::new(r.read_var_str()?)?;
        let data = read_data(&mut r)?;
        Ok(Prepare { amount, expires_at, execution_condition, destination, data })
    }
}

impl Fulfill {
    /// Serializes to `0d | length | body`. Does not check `data.len()`.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(32 + 3 + self.data.len());
        body.extend_from_slice(&self.fulfillment);
        put_var_octets(&mut body, &self.data);
        envelope(FULFILL_TYPE, &body)
    }

    /// Parses a Fulfill; any other type byte is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let mut r = open_envelope(bytes, FULFILL_TYPE)?;
        let fulfillment = r.read_fixed()?;
        let data = read_data(&mut r)?;
        Ok(Fulfill { fulfillment, data })
    }
}

impl Reject {
    /// Serializes to `0e | length | body`. Does not check `data.len()` or the message length
    /// (the ASN.1 caps the message at 8191 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let triggered_by = self.triggered_by.as_ref().map(Address::as_str).unwrap_or_default();
        let mut body = Vec::with_capacity(3 + 3 + triggered_by.len() + 3 + self.message.len() + 3 + self.data.len());
        body.extend_from_slice(&self.code.0);
        put_var_str(&mut body, triggered_by);
        put_var_str(&mut body, &self.message);
        put_var_octets(&mut body, &self.data);
        envelope(REJECT_TYPE, &body)
    }

    /// Parses a Reject; any other type byte is an error. See the field docs for the lenient
    /// handling of `triggeredBy` and `message`.
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let mut r = open_envelope(bytes, REJECT_TYPE)?;
        let code = ErrorCode(r.read_fixed()?);
        let triggered_by = std::str::from_utf8(r.read_var_octets()?).ok().and_then(|s| Address::new(s).ok());
        let message = String::from_utf8_lossy(r.read_var_octets()?).into_owned();
        let data = read_data(&mut r)?;
        Ok(Reject { code, triggered_by, message, data })
    }
}

impl Packet {
    /// The type byte: 12, 13 or 14.
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Prepare(_) => PREPARE_TYPE,
            Packet::Fulfill(_) => FULFILL_TYPE,
            Packet::Reject(_) => REJECT_TYPE,
        }
    }

    /// Serializes whichever packet this is.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Packet::Prepare(p) => p.encode(),
            Packet::Fulfill(f) => f.encode(),
            Packet::Reject(r) => r.encode(),
        }
    }

    /// Parses any ILPv4 packet by its first byte; other type bytes are
    /// [`PacketError::UnknownType`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        match bytes.first() {
            Some(&PREPARE_TYPE) => Prepare::decode(bytes).map(Packet::Prepare),
            Some(&FULFILL_TYPE) => Fulfill::decode(bytes).map(Packet::Fulfill),
            Some(&REJECT_TYPE) => Reject::decode(bytes).map(Packet::Reject),
            Some(&other) => Err(PacketError::UnknownType(other)),
            None => Err(PacketError::Oer(crate::oer::OerError::UnexpectedEnd)),
        }
    }
}

impl From<Prepare> for Packet {
    fn from(p: Prepare) -> Self {
        Packet::Prepare(p)
    }
}

impl From<Fulfill> for Packet {
    fn from(f: Fulfill) -> Self {
        Packet::Fulfill(f)
    }
}

impl From<Reject> for Packet {
    fn from(r: Reject) -> Self {
        Packet::Reject(r)
    }
}
