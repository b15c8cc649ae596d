//! Sans-IO codecs and rules for btpnips.
//!
//! This crate owns every byte format the node speaks and nothing else: it opens no socket,
//! reads no clock (callers pass "now" and random bytes in) and touches no database.
//!
//! - [`oer`]: the OER primitives all Interledger formats share (RFC 30).
//! - [`ilp`]: ILPv4 Prepare / Fulfill / Reject, error codes and ILP addresses (RFC 27, RFC 15).
//! - [`btp`]: BTP 2.0 frames and the auth handshake (RFC 23).
//! - [`stream`]: STREAM packets, frames and crypto (RFC 29).
//! - [`ildcp`]: IL-DCP request and response (RFC 31).
//! - [`ccp`]: CCP route control and route update messages (route broadcasting draft).
//! - [`spsp`]: SPSP response bodies and payment pointers (RFC 9, RFC 26).
//! - [`nostr`]: NIP-01 events, filters and client/relay messages.
//! - [`btpnips`]: how Nostr messages ride inside STREAM (docs/btp-nips.md).
pub mod btp;
pub mod btpnips;
pub mod ccp;
pub mod ildcp;
pub mod ilp;
pub mod nostr;
pub mod oer;
pub mod spsp;
pub mod stream;
