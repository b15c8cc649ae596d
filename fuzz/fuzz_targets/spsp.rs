//! SPSP (RFC 9 / RFC 26, ilp.md §6): the response body, shared-secret base64 and payment
//! pointer resolution.
//!
//! The input is tried as a response body (`SpspResponse::from_json`) and, when UTF-8, as a
//! shared secret, a payment pointer and a not-found message. Properties besides "never panics":
//! - a body that parses survives to_json → from_json, and its secret is written as 44-char
//!   padded standard base64;
//! - a secret that decodes re-encodes to a string that decodes to the same 32 bytes;
//! - a pointer that resolves gives `https://<host><path>` with no query, fragment, userinfo
//!   or whitespace, and the host is what followed the `$`;
//! - the not-found body is JSON whose `message` is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::spsp::{
    decode_shared_secret, encode_shared_secret, invalid_receiver_body, payment_pointer_to_url, SpspResponse,
    WELL_KNOWN_PATH,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = SpspResponse::from_json(data) {
        let json = resp.to_json();
        assert_eq!(SpspResponse::from_json(json.as_bytes()), Ok(resp.clone()), "SPSP body round trip");
        assert_eq!(encode_shared_secret(&resp.shared_secret).len(), 44);
        assert!(!format!("{resp:?}").contains(&encode_shared_secret(&resp.shared_secret)), "Debug leaks the secret");
    }

    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(secret) = decode_shared_secret(text) {
        let encoded = encode_shared_secret(&secret);
        assert_eq!(decode_shared_secret(&encoded), Ok(secret));
    }

    if let Ok(url) = payment_pointer_to_url(text) {
        let rest = url.strip_prefix("https://").expect("https URL");
        assert!(!rest[..rest.find('/').unwrap_or(rest.len())].contains('@'), "userinfo in {url}");
        assert!(!url.contains(['?', '#']) && !url.chars().any(char::is_whitespace), "{url}");
        let pointer = text.strip_prefix('$').expect("pointer starts with $");
        let host_len = pointer.find('/').unwrap_or(pointer.len());
        assert_eq!(&rest[..host_len], &pointer[..host_len], "host changed");
        let path = &rest[host_len..];
        assert!(path == WELL_KNOWN_PATH || path == &pointer[host_len..], "path changed: {url}");
    }

    let body = invalid_receiver_body(text);
    let value: serde_json::Value = serde_json::from_str(&body).expect("not-found body is JSON");
    assert_eq!(value["message"].as_str(), Some(text));
    assert_eq!(value["id"].as_str(), Some("InvalidReceiverError"));
});
