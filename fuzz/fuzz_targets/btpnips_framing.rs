//! BTP-NIPs message framing on a STREAM stream (docs/btp-nips.md §3):
//! `protocol::btpnips::framing::MessageDecoder`.
//!
//! The first input byte picks chunk sizes; the rest is the stream. Properties besides "never
//! panics":
//! - feeding the bytes in chunks gives the same messages, the same error and the same pending
//!   count as feeding them at once;
//! - the messages re-framed with `encode_message` are exactly the consumed bytes (the decoder
//!   accepts only canonical length prefixes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::btpnips::framing::{encode_message, MessageDecoder, MAX_MESSAGE_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_seed, stream)) = data.split_first() else { return };

    let mut whole = MessageDecoder::new();
    let at_once = whole.push(stream);

    let mut chunked = MessageDecoder::new();
    let mut messages = Vec::new();
    let mut error = None;
    let mut rest = stream;
    let mut step = usize::from(chunk_seed % 16) + 1;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at(step.min(rest.len()));
        rest = tail;
        match chunked.push(head) {
            Ok(m) => messages.extend(m),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        step = step * 7 % 23 + 1;
    }

    match at_once {
        Ok(all) => {
            assert_eq!(error, None, "chunked feeding failed where one push succeeded");
            assert_eq!(messages, all, "chunked feeding changed the messages");
            assert_eq!(chunked.pending(), whole.pending());
            let mut reframed = Vec::new();
            for m in &all {
                assert!(m.len() <= MAX_MESSAGE_LEN);
                reframed.extend(encode_message(m).expect("a decoded message fits"));
            }
            assert_eq!(reframed.len() + whole.pending(), stream.len());
            assert_eq!(&stream[..reframed.len()], &reframed[..], "re-framing differs from the input");
        }
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(error, Some(e), "chunked feeding gave a different error");
        }
    }
});
