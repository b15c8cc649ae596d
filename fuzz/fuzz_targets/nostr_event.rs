//! NIP-01 events (`Event::from_json`, id computation, `verify`) and filters
//! (`Filter::from_json`, `Filter::matches`).
//!
//! Properties besides "never panics":
//! - from_json → to_json → from_json gives the same event;
//! - `verify` accepts only an event whose `id` is a SHA-256 of its serialization;
//! - any JSON value that is a valid filter survives its JSON form, and matching it against the
//!   parsed event (or a fixed one) does not panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::nostr::{Event, Filter};

/// A fixed signed event to match filters against.
fn fixed_event() -> &'static Event {
    static EVENT: OnceLock<Event> = OnceLock::new();
    EVENT.get_or_init(|| {
        let tags = vec![vec!["t".into(), "x".into()], vec!["d".into(), "slot".into()]];
        Event::sign(&[1; 32], 1_700_000_000, 30001, tags, "fixed".into(), [0; 32]).expect("sign")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(event) = Event::from_json(text) {
        let json = event.to_json();
        assert_eq!(Event::from_json(&json).ok().as_ref(), Some(&event), "event JSON round trip");
        let _ = event.serialize_for_id();
        if event.verify().is_ok() {
            // The id is the NIP-01 one, or the `\u00xx`-escaped variant common clients use.
            let nip01 = hex::encode(event.compute_id());
            assert!(nip01 == event.id || event.serialize_for_id().bytes().any(|b| b < 0x20));
        }
        let _ = (event.kind_class(), event.d_tag(), event.tag_values('p').count());
        Filter::default().matches(&event).then_some(()).expect("the empty filter matches everything");
    }

    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        if let Ok(filter) = Filter::from_json(&value) {
            let back: Filter = serde_json::from_str(&filter.to_json()).expect("filter JSON parses");
            assert_eq!(back, filter);
            let _ = filter.matches(fixed_event());
            if let Ok(event) = Event::from_json(text) {
                let _ = filter.matches(&event);
            }
        }
    }
});
