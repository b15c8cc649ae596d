//! BTP 2.0 packet decoding (RFC 23).
//!
//! Properties besides "never panics":
//! - decode → encode → decode gives the same packet, except that an Error's `triggeredAt` is
//!   written with millisecond precision (so it may lose up to 999_999 ns, never gain);
//! - after one round trip encoding is a fixed point;
//! - the auth parser never panics on any packet's protocol data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::btp::{find_entry, parse_auth, BtpPacket, ILP_PROTOCOL};

fuzz_target!(|data: &[u8]| {
    let packet = match BtpPacket::decode(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = parse_auth(packet.protocol_data());
    let _ = find_entry(packet.protocol_data(), ILP_PROTOCOL);

    let encoded = packet.encode();
    assert_eq!(encoded.first(), Some(&packet.packet_type()));
    let again = BtpPacket::decode(&encoded).expect("a re-encoded packet decodes");
    assert_eq!(again.encode(), encoded, "encoding is not a fixed point");

    match (&packet, &again) {
        (
            BtpPacket::Error { request_id, code, name, triggered_at, data, protocol_data },
            BtpPacket::Error {
                request_id: request_id2,
                code: code2,
                name: name2,
                triggered_at: triggered_at2,
                data: data2,
                protocol_data: protocol_data2,
            },
        ) => {
            assert_eq!(
                (request_id, code, name, data, protocol_data),
                (request_id2, code2, name2, data2, protocol_data2)
            );
            let lost = (*triggered_at - *triggered_at2).num_nanoseconds().expect("small difference");
            assert!((0..1_000_000).contains(&lost), "triggeredAt changed by {lost} ns");
            assert_eq!(triggered_at2.timestamp_subsec_nanos() % 1_000_000, 0);
        }
        _ => assert_eq!(again, packet, "decode -> encode -> decode changed the packet"),
    }
});
