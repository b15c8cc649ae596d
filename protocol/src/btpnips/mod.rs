//! BTP-NIPs: how Nostr messages ride inside ILP STREAM between btpnips nodes.
//!
//! The normative description, with byte layouts and test vectors, is `docs/btp-nips.md`.
//! This module holds the pure parts of it:
//! - [`framing`]: each NIP-01 message is an OER var-octet-string on a STREAM stream.
//! - [`secret`]: the STREAM shared secret two nodes derive from their keys (ECDH + HKDF).
//! - [`addressing`]: the ILP address of a connection (receiver, sender key, connection tag).
//! - [`auth`]: the signed BTP auth token that binds a peer link to a node's key.
//! - [`info`]: the node info (address, asset, prices) exchanged when a link comes up.
//! - [`announcement`]: Kind 32001 node announcements (signed node info, multiaddrs, expiry).
//! - [`owner`]: Kind 32001 owner pointers (an owner key naming the node that publishes for it).
pub mod account;
pub mod addressing;
pub mod announcement;
pub mod auth;
pub mod framing;
pub mod info;
pub mod owner;
pub mod secret;

/// Version of the BTP-NIPs mapping described in docs/btp-nips.md.
pub const VERSION: u8 = 1;

/// Errors of the BTP-NIPs layer. Display strings are fit for an ILP Reject message or a
/// NIP-01 NOTICE.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtpNipsError {
    /// A hex key was not 64 lowercase hex characters or not a valid secp256k1 point/scalar.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A framed message was longer than [`framing::MAX_MESSAGE_LEN`].
    #[error("message too large: {0} bytes (max {max})", max = framing::MAX_MESSAGE_LEN)]
    MessageTooLarge(usize),
    /// A framed message was not valid UTF-8.
    #[error("message is not valid UTF-8")]
    InvalidUtf8,
    /// The length prefix of a framed message was malformed.
    #[error("malformed length prefix")]
    BadLength,
    /// A BTP auth token was malformed, stale or carried a bad signature.
    #[error("auth failed: {0}")]
    Auth(&'static str),
    /// Node info JSON did not parse.
    #[error("invalid node info: {0}")]
    Info(String),
}
