//! STREAM errors (RFC 29).

use thiserror::Error;

use crate::ilp::AddressError;
use crate::oer::OerError;

/// Why STREAM data could not be decrypted or parsed (RFC 29 §5).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamError {
    /// A field was truncated or its OER encoding is invalid (RFC 30).
    #[error("invalid STREAM packet: {0}")]
    Oer(#[from] OerError),
    /// The version byte is not 1 (RFC 29 §5.2).
    #[error("unsupported STREAM version {0}")]
    UnsupportedVersion(u8),
    /// The ILP packet type byte is not 12, 13 or 14 (RFC 29 §5.2).
    #[error("invalid STREAM ILP packet type {0}")]
    InvalidPacketType(u8),
    /// A `ConnectionNewAddress` frame holds an invalid ILP address (RFC 29 §5.3.2).
    #[error("invalid address in STREAM frame: {0}")]
    InvalidAddress(#[from] AddressError),
    /// The encrypted data is shorter than the 12-byte IV plus 16-byte tag (RFC 29 §5.1.1).
    #[error("STREAM data is {0} bytes, shorter than the 28-byte encryption envelope")]
    EnvelopeTooShort(usize),
    /// AES-256-GCM authentication failed: wrong shared secret or tampered data (RFC 29 §5.1).
    #[error("STREAM data could not be decrypted")]
    DecryptionFailed,
}
