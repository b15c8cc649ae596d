//! STREAM key derivation, encryption envelope and fulfillments (RFC 29 §5.1, §6).

use std::fmt;

use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::Aes256Gcm;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{StreamError, StreamPacket};
use crate::ilp::condition_of;

/// Bytes of the AES-GCM IV at the front of the envelope (RFC 29 §5.1.1).
pub const IV_LEN: usize = 12;
/// Bytes of the AES-GCM tag after the IV (RFC 29 §5.1.1).
pub const TAG_LEN: usize = 16;
/// Total envelope overhead: IV + tag = 28 bytes.
pub const ENVELOPE_OVERHEAD: usize = IV_LEN + TAG_LEN;

/// HMAC key label for the encryption key (RFC 29 §5.1.2).
pub const ENCRYPTION_KEY_STRING: &[u8] = b"ilp_stream_encryption";
/// HMAC key label for the fulfillment key (RFC 29 §6.2).
pub const FULFILLMENT_KEY_STRING: &[u8] = b"ilp_stream_fulfillment";

/// HMAC-SHA256(`key`, `message`) (RFC 2104). Keys of any length are accepted: longer than
/// the 64-byte block they are hashed first, shorter ones are zero-padded, exactly as RFC 2104
/// §2 prescribes, so this never fails.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        let digest: [u8; 32] = Sha256::digest(key).into();
        block.iter_mut().zip(digest).for_each(|(d, s)| *d = s);
    } else {
        block.iter_mut().zip(key).for_each(|(d, s)| *d = *s);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The two keys of a STREAM connection, both derived from the shared secret (RFC 29 §5.1.2,
/// §6.2). `Debug` does not print them.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamKeys {
    /// AES-256-GCM key: HMAC-SHA256(shared_secret, "ilp_stream_encryption").
    pub encryption_key: [u8; 32],
    /// HMAC key for fulfillments: HMAC-SHA256(shared_secret, "ilp_stream_fulfillment").
    pub fulfillment_key: [u8; 32],
}

impl fmt::Debug for StreamKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamKeys { .. }")
    }
}

impl StreamKeys {
    /// Derives both keys from the shared secret (32 bytes recommended; any length works).
    pub fn derive(shared_secret: &[u8]) -> Self {
        StreamKeys {
            encryption_key: hmac_sha256(shared_secret, ENCRYPTION_KEY_STRING),
            fulfillment_key: hmac_sha256(shared_secret, FULFILLMENT_KEY_STRING),
        }
    }

    /// AES-256-GCM encrypts `plaintext` with the caller's random 12-byte `iv` (never reuse
    /// one) and no AAD, returning the envelope `IV(12) | tag(16) | ciphertext` (RFC 29 §5.1.1).
    /// Plaintexts beyond AES-GCM's limit (2^36 − 32 bytes) cannot occur in ILP; if one were
    /// passed, the result would be an envelope with a zero tag that never decrypts.
    pub fn encrypt(&self, iv: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&self.encryption_key.into());
        let nonce: Nonce<Aes256Gcm> = iv.into();
        let mut ciphertext = plaintext.to_vec();
        let tag = cipher.encrypt_inout_detached(&nonce, &[], ciphertext.as_mut_slice().into()).unwrap_or_default();
        let mut out = Vec::with_capacity(ENVELOPE_OVERHEAD + ciphertext.len());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&tag);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens an `IV | tag | ciphertext` envelope. Shorter than 28 bytes is
    /// [`StreamError::EnvelopeTooShort`]; a bad tag (wrong secret, tampering) is
    /// [`StreamError::DecryptionFailed`] — a receiver answers both with F06 (RFC 29 §4.2).
    pub fn decrypt(&self, envelope: &[u8]) -> Result<Vec<u8>, StreamError> {
        let (Some(iv), Some(tag), Some(ciphertext)) =
            (envelope.get(..IV_LEN), envelope.get(IV_LEN..ENVELOPE_OVERHEAD), envelope.get(ENVELOPE_OVERHEAD..))
        else {
            return Err(StreamError::EnvelopeTooShort(envelope.len()));
        };
        let nonce = Nonce::<Aes256Gcm>::try_from(iv).map_err(|_| StreamError::EnvelopeTooShort(envelope.len()))?;
        let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| StreamError::EnvelopeTooShort(envelope.len()))?;
        let cipher = Aes256Gcm::new(&self.encryption_key.into());
        let mut plaintext = ciphertext.to_vec();
        cipher
            .decrypt_inout_detached(&nonce, &[], plaintext.as_mut_slice().into(), &tag)
            .map_err(|_| StreamError::DecryptionFailed)?;
        Ok(plaintext)
    }

    /// The fulfillment for an ILP Prepare whose `data` is `data`: HMAC-SHA256(fulfillment_key,
    /// data) over the *whole* encrypted envelope (RFC 29 §6.3).
    pub fn fulfillment(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.fulfillment_key, data)
    }

    /// The execution condition for `data`: SHA-256 of [`Self::fulfillment`] (RFC 29 §6.2).
    pub fn condition(&self, data: &[u8]) -> [u8; 32] {
        condition_of(&self.fulfillment(data))
    }

    /// Encodes and encrypts `packet` (convenience for `encrypt(iv, &packet.encode())`).
    pub fn encrypt_packet(&self, iv: [u8; 12], packet: &StreamPacket) -> Vec<u8> {
        self.encrypt(iv, &packet.encode())
    }

    /// Decrypts and decodes a STREAM packet from an ILP `data` field.
    pub fn decrypt_packet(&self, envelope: &[u8]) -> Result<StreamPacket, StreamError> {
        StreamPacket::decode(&self.decrypt(envelope)?)
    }
}
