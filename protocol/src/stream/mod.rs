//! STREAM (RFC 29 "STREAM: A Multiplexed Money and Data Transport for ILP"): the plaintext
//! packet and frames, and the crypto that wraps them in ILP `data`.
//!
//! - [`StreamPacket`] / [`Frame`] / [`CloseCode`]: RFC 29 §5.2–§5.4.
//! - [`StreamKeys`]: key derivation, the `IV | tag | ciphertext` AES-256-GCM envelope
//!   (§5.1) and fulfillment / condition generation (§6). Callers supply IVs; nothing here
//!   draws randomness.
//! - [`sender`]: the sending side of a connection as a sans-IO machine (window of Prepares
//!   in flight, retries, fees, flow control; §4.4, §4.5).
//! - [`flow`]: flow-control bookkeeping (stream ids, data and money windows; §3.3, §4.4, §4.5).
//! - [`reassembly`]: the receive side of one stream ([`RecvStream`]: StreamData back in offset
//!   order, the stream's window, BTP-NIPs message framing; §4.4, §5.3.11).

mod crypto;
mod error;
pub mod flow;
mod frame;
mod packet;
pub mod reassembly;
pub mod sender;

pub use crypto::{
    hmac_sha256, StreamKeys, ENCRYPTION_KEY_STRING, ENVELOPE_OVERHEAD, FULFILLMENT_KEY_STRING, IV_LEN, TAG_LEN,
};
pub use error::StreamError;
pub use flow::{remote_limits, FlowError, MoneyWindow, RecvWindow, RemoteLimits, SendWindow, Side, StreamIds};
pub use frame::{frame_type, CloseCode, Frame};
pub use packet::{IlpPacketType, StreamPacket, STREAM_VERSION};
pub use reassembly::{Received, RecvStream};
