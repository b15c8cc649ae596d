//! Plaintext STREAM packet and frame decoding (RFC 29 §5.2–§5.4).
//!
//! Properties besides "never panics":
//! - decode → encode → decode gives the same packet, and encoding is then a fixed point;
//! - a single frame read from the input (`type | contents`) re-encodes and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::oer::Reader;
use protocol::stream::{Frame, StreamPacket};

fuzz_target!(|data: &[u8]| {
    match StreamPacket::decode(data) {
        Ok(packet) => {
            let encoded = packet.encode();
            let again = StreamPacket::decode(&encoded).expect("a re-encoded packet decodes");
            assert_eq!(again, packet, "decode -> encode -> decode changed the packet");
            assert_eq!(again.encode(), encoded, "encoding is not a fixed point");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // The input read as one frame: type byte, then the frame contents.
    if let Some((&frame_type, contents)) = data.split_first() {
        if let Ok(Some(frame)) = Frame::decode_contents(frame_type, contents) {
            assert_eq!(frame.frame_type(), frame_type);
            let mut wire = Vec::new();
            frame.encode_into(&mut wire);
            let mut r = Reader::new(&wire);
            let ty = r.read_u8().expect("type");
            let body = r.read_var_octets().expect("contents");
            assert!(r.is_empty());
            assert_eq!(Frame::decode_contents(ty, body), Ok(Some(frame)));
        }
    }
});
