//! ILP address validation and prefix matching (RFC 15).
//!
//! Input: `address` or `address\nsuffix` (UTF-8). Properties besides "never panics":
//! - a valid address keeps its text (`as_str`, `Display`, `FromStr`, JSON round trip);
//! - it is at most 1023 bytes, its scheme is known and its segments rebuild it;
//! - every segment-aligned prefix matches with `has_prefix`;
//! - `with_suffix(s)` equals `Address::new(addr + "." + s)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ilp::{Address, MAX_ADDRESS_LEN, SCHEMES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (addr_text, suffix) = match text.split_once('\n') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };

    let parsed = Address::new(addr_text);
    assert_eq!(addr_text.parse::<Address>(), parsed, "FromStr and Address::new disagree");
    assert_eq!(Address::try_from(addr_text.to_owned()), parsed, "TryFrom<String> and Address::new disagree");
    let addr = match parsed {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };

    assert_eq!(addr.as_str(), addr_text);
    assert_eq!(addr.to_string(), addr_text);
    assert!(addr.as_str().len() <= MAX_ADDRESS_LEN);
    assert!(SCHEMES.contains(&addr.scheme()));
    let segments: Vec<&str> = addr.segments().collect();
    assert!(segments.len() >= 2);
    assert_eq!(segments.join("."), addr_text);
    assert_eq!(segments[0], addr.scheme());

    let json = serde_json::to_string(&addr).expect("serialize");
    let back: Address = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, addr);

    assert!(addr.has_prefix(""));
    let mut prefix = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            prefix.push('.');
            // Old-style prefix with a trailing dot matches strictly longer addresses.
            assert!(addr.has_prefix(&prefix), "{prefix:?} should prefix {addr}");
        }
        prefix.push_str(seg);
        assert!(addr.has_prefix(&prefix), "{prefix:?} should prefix {addr}");
    }
    // One more character (a segment byte) than the whole address never matches.
    assert!(!addr.has_prefix(&format!("{addr_text}a")));

    if let Some(suffix) = suffix {
        let _ = addr.has_prefix(suffix);
        let joined = addr.with_suffix(suffix);
        assert_eq!(joined, Address::new(&format!("{addr_text}.{suffix}")));
        if let Ok(joined) = joined {
            assert!(joined.has_prefix(addr.as_str()));
        }
    }
});
