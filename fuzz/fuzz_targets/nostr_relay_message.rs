//! NIP-01 relay messages (`EVENT`, `OK`, `EOSE`, `CLOSED`, `NOTICE`) as they arrive from a
//! relay or a peer node.
//!
//! Properties besides "never panics": parse → to_json → parse gives the same message, and
//! `to_json` is then a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::nostr::RelayMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let msg = match RelayMessage::parse(text) {
        Ok(m) => m,
        Err(e) => {
            let _ = (e.to_string(), e.subscription_id(), e.event_id());
            return;
        }
    };
    let json = msg.to_json();
    let again = RelayMessage::parse(&json).unwrap_or_else(|e| panic!("re-serialized message fails: {e}\n{json}"));
    assert_eq!(again, msg, "parse -> to_json -> parse changed the message");
    assert_eq!(again.to_json(), json, "to_json is not a fixed point");
    if let RelayMessage::Event { event, .. } = &msg {
        let _ = event.verify();
    }
});
