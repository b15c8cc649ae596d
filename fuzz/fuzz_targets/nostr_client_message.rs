//! NIP-01 client messages (`EVENT`, `REQ`, `CLOSE`) as they arrive from a client or a peer.
//!
//! Properties besides "never panics":
//! - parse → to_json → parse gives the same message, and `to_json` is then a fixed point;
//! - every filter survives its own JSON form (`Filter::to_json` / `Deserialize`) and can be
//!   matched against a real event; an EVENT's `verify` runs without panicking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::nostr::{matches_any, ClientMessage, Event, Filter};

/// A real signed event (nak, NIP-01) to match filters against.
fn sample_event() -> &'static Event {
    static EVENT: OnceLock<Event> = OnceLock::new();
    EVENT.get_or_init(|| {
        Event::from_json(r#"{"id":"36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c","pubkey":"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","created_at":1699485669,"kind":1,"tags":[["e","aec4de6d051a7c2b6ca2d087903d42051a31e07fb742f1240970084822de10a6"],["t","x"]],"content":"hello from the nostr army knife","sig":"68e71a192e8abcf8582a222434ac823ecc50607450ebe8cc4c145eb047794cc382dc3f888ce879d2f404f5ba6085a47601360a0fa2dd4b50d317bd0c6197c2c2"}"#)
            .expect("sample event parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let msg = match ClientMessage::parse(text) {
        Ok(m) => m,
        Err(e) => {
            let _ = (e.to_string(), e.subscription_id(), e.event_id());
            return;
        }
    };
    let json = msg.to_json();
    let again = ClientMessage::parse(&json).unwrap_or_else(|e| panic!("re-serialized message fails: {e}\n{json}"));
    assert_eq!(again, msg, "parse -> to_json -> parse changed the message");
    assert_eq!(again.to_json(), json, "to_json is not a fixed point");

    match &msg {
        ClientMessage::Event(event) => {
            let _ = event.verify();
            let _ = (event.kind_class(), event.d_tag(), event.tag_values('e').count());
            assert_eq!(Event::from_json(&event.to_json()).as_ref().ok(), Some(event));
        }
        ClientMessage::Req { filters, .. } => {
            for f in filters {
                let back: Filter = serde_json::from_str(&f.to_json()).expect("filter JSON parses");
                assert_eq!(&back, f);
            }
            let _ = matches_any(filters, sample_event());
        }
        ClientMessage::Close { .. } => {}
    }
});
