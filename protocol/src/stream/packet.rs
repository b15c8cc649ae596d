//! The plaintext STREAM packet (RFC 29 §5.2, `asn1/Stream.asn`).

use super::{Frame, StreamError};
use crate::oer::{put_var_uint, Reader};

/// The only STREAM version (RFC 29 §5.2).
pub const STREAM_VERSION: u8 = 1;

/// The ILP packet type a STREAM packet must travel in (RFC 29 §5.2); endpoints discard STREAM
/// packets that arrive in a different ILP packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IlpPacketType {
    /// ILP Prepare (12).
    Prepare = 12,
    /// ILP Fulfill (13).
    Fulfill = 13,
    /// ILP Reject (14).
    Reject = 14,
}

impl TryFrom<u8> for IlpPacketType {
    type Error = StreamError;

    fn try_from(b: u8) -> Result<Self, StreamError> {
        match b {
            12 => Ok(IlpPacketType::Prepare),
            13 => Ok(IlpPacketType::Fulfill),
            14 => Ok(IlpPacketType::Reject),
            other => Err(StreamError::InvalidPacketType(other)),
        }
    }
}

impl From<IlpPacketType> for u8 {
    fn from(t: IlpPacketType) -> Self {
        t as u8
    }
}

/// A decrypted STREAM packet (RFC 29 §5.2). Wire form: `version u8 (1) | ilpPacketType u8 |
/// sequence VarUInt | prepareAmount VarUInt | frame count VarUInt | frames… | junk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPacket {
    /// Per-sender Prepare counter; a reply echoes the Prepare's sequence.
    pub sequence: u64,
    /// The ILP packet this STREAM packet travels in.
    pub ilp_packet_type: IlpPacketType,
    /// On a Prepare: the minimum the receiver should accept (receiver's units). On a
    /// Fulfill/Reject: the amount that arrived.
    pub prepare_amount: u64,
    /// The frames, in order.
    pub frames: Vec<Frame>,
}

impl StreamPacket {
    /// Serializes the plaintext packet (no junk/padding).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![STREAM_VERSION, u8::from(self.ilp_packet_type)];
        put_var_uint(&mut out, self.sequence);
        put_var_uint(&mut out, self.prepare_amount);
        put_var_uint(&mut out, self.frames.len() as u64);
        for frame in &self.frames {
            frame.encode_into(&mut out);
        }
        out
    }

    /// Parses a plaintext packet. The version must be 1; frames of unknown type are skipped
    /// (so they do not appear in `frames`); bytes after the last frame are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, StreamError> {
        let mut r = Reader::new(bytes);
        let version = r.read_u8()?;
        if version != STREAM_VERSION {
            return Err(StreamError::UnsupportedVersion(version));
        }
        let ilp_packet_type = IlpPacketType::try_from(r.read_u8()?)?;
        let sequence = r.read_var_uint()?;
        let prepare_amount = r.read_var_uint()?;
        let count = r.read_var_uint()?;
        // Each frame takes at least 2 bytes, so a lying count fails on the bytes, not memory.
        let mut frames = Vec::with_capacity((r.remaining() / 2).min(count.min(64) as usize));
        for _ in 0..count {
            let frame_type = r.read_u8()?;
            let contents = r.read_var_octets()?;
            if let Some(frame) = Frame::decode_contents(frame_type, contents)? {
                frames.push(frame);
            }
        }
        Ok(StreamPacket { sequence, ilp_packet_type, prepare_amount, frames })
    }
}
