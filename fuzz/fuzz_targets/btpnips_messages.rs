//! The BTP-NIPs message layer (docs/btp-nips.md §3, §4): the bytes of one stream cut into
//! NIP-01 messages by `protocol::btpnips::framing::MessageDecoder`, and each message read as
//! the node reads it (node/src/btpnips/mod.rs `parse`): a NIP-01 client message
//! (`nostr::ClientMessage`), a relay message (`nostr::RelayMessage`) or the publisher's
//! `ACCOUNT` (`btpnips::account::Account`).
//!
//! Input: byte 0 mod 9 is a count n of split points, the next 2n bytes are the split points
//! (u16 BE, each taken mod the stream length + 1), the rest is the stream. `btpnips_framing`
//! already checks the decoder alone (a fixed chunking pattern, re-framing); this target is
//! about what the messages become. Properties besides "never panics":
//! - the stream fed in pieces cut at the split points (as StreamData frames of any size would
//!   deliver it) gives the same messages and the same error as fed whole;
//! - no message parses as more than one of client, relay and ACCOUNT message, and the node's
//!   dispatch (message type and arity) picks the parser that accepts it;
//! - whatever parses re-encodes (`to_json`) to a text that parses back to the same value and is
//!   a fixed point of `to_json`, and that text framed with `encode_message` decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::btpnips::account::{Account, ACCOUNT};
use protocol::btpnips::framing::{encode_message, MessageDecoder};
use protocol::nostr::{ClientMessage, RelayMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Client,
    Relay,
    Account,
}

/// Which parser node/src/btpnips/mod.rs `parse` hands the text to (`None`: refused before,
/// not a JSON array with a string type).
fn dispatch(text: &str) -> Option<Kind> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let arr = value.as_array()?;
    let kind = arr.first()?.as_str()?;
    if kind == ACCOUNT {
        return Some(Kind::Account);
    }
    let relay_side = match kind {
        "EVENT" => arr.len() == 3,
        "EOSE" | "CLOSED" | "NOTICE" | "OK" => true,
        _ => false,
    };
    Some(if relay_side { Kind::Relay } else { Kind::Client })
}

/// The re-encoded text survives framing on a stream.
fn reframes(json: &str) {
    let wire = encode_message(json).expect("a re-encoded message fits a frame");
    let back = MessageDecoder::new().push(&wire).expect("a framed message decodes");
    assert_eq!(back, vec![json.to_string()], "framing changed the message");
}

fn check_message(text: &str) {
    let mut parsed = Vec::new();
    if let Ok(msg) = ClientMessage::parse(text) {
        let json = msg.to_json();
        let again =
            ClientMessage::parse(&json).unwrap_or_else(|e| panic!("client message re-encoding fails: {e}\n{json}"));
        assert_eq!(again, msg, "client message: parse -> to_json -> parse changed it");
        assert_eq!(again.to_json(), json, "client message: to_json is not a fixed point");
        reframes(&json);
        parsed.push(Kind::Client);
    }
    if let Ok(msg) = RelayMessage::parse(text) {
        let json = msg.to_json();
        let again =
            RelayMessage::parse(&json).unwrap_or_else(|e| panic!("relay message re-encoding fails: {e}\n{json}"));
        assert_eq!(again, msg, "relay message: parse -> to_json -> parse changed it");
        assert_eq!(again.to_json(), json, "relay message: to_json is not a fixed point");
        reframes(&json);
        parsed.push(Kind::Relay);
    }
    if let Ok(msg) = Account::parse(text) {
        let json = msg.to_json();
        let again = Account::parse(&json).unwrap_or_else(|e| panic!("ACCOUNT re-encoding fails: {e}\n{json}"));
        assert_eq!(again, msg, "ACCOUNT: parse -> to_json -> parse changed it");
        assert_eq!(again.to_json(), json, "ACCOUNT: to_json is not a fixed point");
        reframes(&json);
        parsed.push(Kind::Account);
    }
    assert!(parsed.len() <= 1, "a message parses as {parsed:?}: {text}");
    if let Some(&kind) = parsed.first() {
        assert_eq!(dispatch(text), Some(kind), "the node hands this {kind:?} message to another parser: {text}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 9);
    if rest.len() < 2 * n {
        return;
    }
    let (points, stream) = rest.split_at(2 * n);
    let mut cuts: Vec<usize> =
        points.chunks_exact(2).map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % (stream.len() + 1)).collect();
    cuts.sort_unstable();

    let whole = MessageDecoder::new().push(stream);

    let mut pieces = MessageDecoder::new();
    let mut messages = Vec::new();
    let mut error = None;
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&stream.len())) {
        match pieces.push(&stream[from..to]) {
            Ok(m) => messages.extend(m),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        from = to;
    }

    match whole {
        Ok(all) => {
            assert_eq!(error, None, "feeding in pieces failed where one push succeeded");
            assert_eq!(messages, all, "feeding in pieces changed the messages");
            for m in &all {
                check_message(m);
            }
        }
        Err(e) => {
            assert_eq!(error, Some(e), "feeding in pieces gave a different error");
            // What was delivered before the error still reached the node: check it too.
            for m in &messages {
                check_message(m);
            }
        }
    }
});
