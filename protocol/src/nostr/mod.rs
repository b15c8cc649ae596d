//! Nostr (NIP-01): events, filters and the client/relay message grammar.
//!
//! - [`Event`]: id computation ([`Event::compute_id`]), BIP-340 signing ([`Event::sign`]) and
//!   verification ([`Event::verify`]), kind classes ([`kind_class`]), tag access.
//! - [`Filter`]: matching ([`Filter::matches`]) and the JSON filter object.
//! - [`ClientMessage`] / [`RelayMessage`]: the JSON-array messages; [`MessageError`] and
//!   [`EventError`] display with the NIP-01 machine-readable prefixes ([`prefix`]).
//!
//! Sans-IO: callers pass the time (`created_at`, unix seconds) and BIP-340 auxiliary randomness.
#![warn(missing_docs)]
mod event;
mod filter;
mod message;

pub use event::*;
pub use filter::*;
pub use message::*;
