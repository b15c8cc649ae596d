//! ILPv4 Prepare / Fulfill / Reject decoding (RFC 27).
//!
//! Properties besides "never panics":
//! - `Packet::decode` agrees with the typed decoders.
//! - decode → encode → decode gives the same packet, and encoding is then a fixed point.
//! - Prepare and Fulfill re-encode to a prefix of the input's body (the decoders accept only
//!   canonical OER and ignore trailing bytes, so nothing but the trailing bytes may be lost).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ilp::{AmountTooLargeData, Fulfill, Packet, Prepare, Reject};
use protocol::oer::Reader;

/// The body inside the `type | length | body` envelope.
fn body(bytes: &[u8]) -> &[u8] {
    let mut r = Reader::new(bytes);
    r.read_u8().expect("type byte");
    r.read_var_octets().expect("envelope")
}

fuzz_target!(|data: &[u8]| {
    let prepare = Prepare::decode(data);
    let fulfill = Fulfill::decode(data);
    let reject = Reject::decode(data);
    let packet = match Packet::decode(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.reject_code();
            let _ = e.to_string();
            assert!(prepare.is_err() && fulfill.is_err() && reject.is_err());
            return;
        }
    };
    match &packet {
        Packet::Prepare(p) => assert_eq!(prepare.as_ref(), Ok(p)),
        Packet::Fulfill(f) => assert_eq!(fulfill.as_ref(), Ok(f)),
        Packet::Reject(r) => {
            assert_eq!(reject.as_ref(), Ok(r));
            let _ = AmountTooLargeData::decode(&r.data);
            let _ = (r.code.name(), r.code.as_str(), r.code.is_final());
        }
    }
    assert_eq!(packet.packet_type(), data[0]);

    let encoded = packet.encode();
    let again = Packet::decode(&encoded).expect("a re-encoded packet decodes");
    assert_eq!(again, packet, "decode -> encode -> decode changed the packet");
    assert_eq!(again.encode(), encoded, "encoding is not a fixed point");

    if !matches!(packet, Packet::Reject(_)) {
        assert!(body(data).starts_with(body(&encoded)), "re-encoding is not a prefix of the input body");
    }
});
