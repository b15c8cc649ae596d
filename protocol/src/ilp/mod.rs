//! ILPv4 (RFC 27 "Interledger Protocol V4") and ILP addresses (RFC 15).
//!
//! - [`Prepare`], [`Fulfill`], [`Reject`] and [`Packet`]: the three packets, each
//!   `type u8 | OER length | body` (RFC 27 §"Packet Format").
//! - [`ErrorCode`]: the F/T/R error codes (RFC 27 §"Error Codes"), and
//!   [`AmountTooLargeData`], the F08 error data.
//! - [`Address`]: validated ILP addresses with segment-aware prefix matching (RFC 15).
//! - [`condition_of`] / [`fulfillment_matches`]: condition = SHA-256(fulfillment), and the
//!   fixed peer-protocol pair [`PEER_PROTOCOL_FULFILLMENT`] / [`PEER_PROTOCOL_CONDITION`].
//! - [`encode_timestamp`] / [`decode_timestamp`]: the 17-digit `expiresAt` format.

mod address;
mod condition;
mod error;
mod error_code;
mod error_data;
mod packet;
mod timestamp;

pub use address::{Address, AddressError, MAX_ADDRESS_LEN, SCHEMES};
pub use condition::{condition_of, fulfillment_matches, PEER_PROTOCOL_CONDITION, PEER_PROTOCOL_FULFILLMENT};
pub use error::PacketError;
pub use error_code::ErrorCode;
pub use error_data::AmountTooLargeData;
pub use packet::{Fulfill, Packet, Prepare, Reject, FULFILL_TYPE, MAX_DATA_LEN, PREPARE_TYPE, REJECT_TYPE};
pub use timestamp::{decode_timestamp, encode_timestamp, TIMESTAMP_LEN};
