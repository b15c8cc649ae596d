//! STREAM envelope decryption and decoding with a fixed key (RFC 29 §5.1, §6).
//!
//! The shared secret is the golden vector's (32 × 0x07, spec ilp.md §4.6), so the committed
//! seeds are real envelopes that decrypt. Properties besides "never panics":
//! - an envelope that decrypts re-encrypts (same IV) to the same bytes;
//! - the input used as a plaintext: encrypt → decrypt gives it back, `decrypt_packet` agrees
//!   with `StreamPacket::decode`, and flipping any one bit of the envelope makes it fail;
//! - condition = SHA-256(fulfillment).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::ilp::condition_of;
use protocol::stream::{StreamError, StreamKeys, StreamPacket, ENVELOPE_OVERHEAD, IV_LEN};

fn keys() -> &'static StreamKeys {
    static KEYS: OnceLock<StreamKeys> = OnceLock::new();
    KEYS.get_or_init(|| StreamKeys::derive(&[7u8; 32]))
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();

    // 1. The input as an envelope.
    match keys.decrypt(data) {
        Ok(plaintext) => {
            let iv: [u8; IV_LEN] = data[..IV_LEN].try_into().expect("12-byte IV");
            assert_eq!(keys.encrypt(iv, &plaintext), data, "re-encryption differs");
            assert_eq!(keys.decrypt_packet(data), StreamPacket::decode(&plaintext));
            if let Ok(packet) = StreamPacket::decode(&plaintext) {
                let encoded = packet.encode();
                assert_eq!(StreamPacket::decode(&encoded), Ok(packet));
            }
        }
        Err(StreamError::EnvelopeTooShort(n)) => assert!(n < ENVELOPE_OVERHEAD && n == data.len()),
        Err(StreamError::DecryptionFailed) => assert!(data.len() >= ENVELOPE_OVERHEAD),
        Err(other) => panic!("unexpected decrypt error {other:?}"),
    }

    // 2. The input as a plaintext, with an IV taken from its first bytes.
    let mut iv = [0u8; IV_LEN];
    iv.iter_mut().zip(data).for_each(|(d, s)| *d = *s);
    let envelope = keys.encrypt(iv, data);
    assert_eq!(envelope.len(), data.len() + ENVELOPE_OVERHEAD);
    assert_eq!(keys.decrypt(&envelope).as_deref(), Ok(data));
    assert_eq!(keys.decrypt_packet(&envelope), StreamPacket::decode(data));
    let bit = data.iter().fold(0usize, |acc, &b| acc.wrapping_mul(31).wrapping_add(usize::from(b)));
    let mut tampered = envelope.clone();
    let idx = (bit / 8) % tampered.len();
    tampered[idx] ^= 1 << (bit % 8);
    assert_eq!(keys.decrypt(&tampered), Err(StreamError::DecryptionFailed), "tampered byte {idx} accepted");

    let fulfillment = keys.fulfillment(&envelope);
    assert_eq!(keys.condition(&envelope), condition_of(&fulfillment));
});
