//! SPSP, the Simple Payment Setup Protocol (RFC 9, draft 7), and payment pointers (RFC 26):
//! how a STREAM sender learns the receiver's ILP address and shared secret over HTTPS. See
//! spec ilp.md §6.
//!
//! This module only holds the formats: the JSON body ([`SpspResponse`]), the media types
//! ([`CONTENT_TYPE`], [`ACCEPT`]), the not-found body ([`invalid_receiver_body`]) and
//! pointer resolution ([`payment_pointer_to_url`]). The HTTP server and client live elsewhere.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::ilp::Address;

/// `Content-Type` of an SPSP response, success or error (RFC 9 §"Response Headers").
pub const CONTENT_TYPE: &str = "application/spsp4+json";

/// `Accept` header an SPSP client sends (RFC 9 §"Query", example request).
pub const ACCEPT: &str = "application/spsp4+json, application/spsp+json";

/// Path a payment pointer without a path resolves to (RFC 26 §"Payment Setup Protocol
/// Receiver Endpoint Resolution").
pub const WELL_KNOWN_PATH: &str = "/.well-known/pay";

/// Length of an SPSP shared secret in bytes (RFC 9 §"Response Body").
pub const SHARED_SECRET_LEN: usize = 32;

/// Why a payment pointer, shared secret or SPSP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpspError {
    /// The payment pointer does not match `"$" host path-abempty` (RFC 26 §"Payment Pointer
    /// Syntax"); the text says which part is wrong.
    #[error("invalid payment pointer: {0}")]
    InvalidPaymentPointer(&'static str),
    /// `shared_secret` is not base64 (standard or URL-safe alphabet, padding optional) or
    /// does not decode to exactly 32 bytes (RFC 9 §"Response Body").
    #[error("invalid shared secret: {0}")]
    InvalidSharedSecret(&'static str),
    /// The body is not JSON, lacks a required field, or holds an invalid
    /// `destination_account` / `shared_secret`; the text is serde_json's.
    #[error("invalid SPSP response: {0}")]
    InvalidResponse(String),
}

/// The body of a successful SPSP query (RFC 9 §"Response Body"), e.g.
/// `{"destination_account":"test.parent.child.abc","shared_secret":"6jR5…5Vs="}`.
///
/// Serializes to exactly those two fields, `shared_secret` as standard base64 *with*
/// padding (44 characters). Deserializing ignores unknown fields (`balance`, `asset_info`,
/// `receiver_info`, …), validates `destination_account` as an RFC 15 address and accepts
/// `shared_secret` in the standard or URL-safe alphabet with or without padding; it must
/// decode to exactly 32 bytes. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SpspResponse {
    /// The receiver's ILP address, used as the STREAM destination.
    pub destination_account: Address,
    /// The STREAM shared secret for this client (32 raw bytes).
    pub shared_secret: [u8; 32],
}

impl SpspResponse {
    /// Parses a response body (the bytes of a 200 answer). See the type docs for what is
    /// accepted.
    pub fn from_json(body: &[u8]) -> Result<Self, SpspError> {
        serde_json::from_slice(body).map_err(|e| SpspError::InvalidResponse(e.to_string()))
    }

    /// The response body as compact JSON, `destination_account` first.
    pub fn to_json(&self) -> String {
        // Serializing two string fields into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for SpspResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpspResponse")
            .field("destination_account", &self.destination_account)
            .field("shared_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize)]
struct WireOut<'a> {
    destination_account: &'a str,
    shared_secret: String,
}

#[derive(Deserialize)]
struct WireIn {
    destination_account: Address,
    shared_secret: String,
}

impl Serialize for SpspResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireOut {
            destination_account: self.destination_account.as_str(),
            shared_secret: encode_shared_secret(&self.shared_secret),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SpspResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireIn::deserialize(deserializer)?;
        let shared_secret = decode_shared_secret(&wire.shared_secret).map_err(serde::de::Error::custom)?;
        Ok(SpspResponse { destination_account: wire.destination_account, shared_secret })
    }
}

/// Decoding config shared by the two lenient engines: padding optional, canonical trailing
/// bits required.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
/// Standard alphabet (`+/`), padding optional.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// URL-safe alphabet (`-_`), padding optional.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The `shared_secret` text for `secret`: standard base64 with padding, 44 characters
/// (RFC 9 §"Response Body").
pub fn encode_shared_secret(secret: &[u8; 32]) -> String {
    STANDARD.encode(secret)
}

/// Decodes a `shared_secret` string: standard (`+/`) or URL-safe (`-_`) base64, with or
/// without `=` padding, no whitespace; the result must be exactly 32 bytes (RFC 9
/// §"Response Body"; ilp.md §6 "clients should also accept base64url").
pub fn decode_shared_secret(text: &str) -> Result<[u8; 32], SpspError> {
    // 32 bytes are 43 characters unpadded, 44 padded; anything longer cannot fit.
    if text.len() > 44 {
        return Err(SpspError::InvalidSharedSecret("longer than 32 bytes"));
    }
    let bytes = STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .map_err(|_| SpspError::InvalidSharedSecret("not base64 or base64url"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SpspError::InvalidSharedSecret("must decode to 32 bytes"))
}

#[derive(Serialize)]
struct InvalidReceiver<'a> {
    id: &'static str,
    message: &'a str,
}

/// The JSON body of the 404 an SPSP endpoint answers for an unknown receiver (RFC 9
/// §"Errors"): `{"id":"InvalidReceiverError","message":<message>}`, with `message` JSON-escaped.
/// Send it with [`CONTENT_TYPE`].
pub fn invalid_receiver_body(message: &str) -> String {
    // Serializing two string fields into a String cannot fail.
    serde_json::to_string(&InvalidReceiver { id: "InvalidReceiverError", message }).unwrap_or_default()
}

/// Resolves a payment pointer to its SPSP endpoint URL (RFC 26 §"Payment Setup Protocol
/// Receiver Endpoint Resolution"): `"$" host path-abempty` becomes `"https://" host path`,
/// with an empty path or `/` replaced by [`WELL_KNOWN_PATH`].
///
/// * `$example.com` → `https://example.com/.well-known/pay`
/// * `$example.com/bob` → `https://example.com/bob`
///
/// `host` is an RFC 3986 reg-name (letters, digits, `-._~`, `%XX`, `!$&'()*+,;=`) or a
/// bracketed IPv6 literal; userinfo (`@`), a port (`:`), a query (`?`), a fragment (`#`),
/// whitespace and non-ASCII text are refused, as is anything not starting with `$`. The path
/// is RFC 3986 `path-abempty`.
pub fn payment_pointer_to_url(pointer: &str) -> Result<String, SpspError> {
    let rest = pointer.strip_prefix('$').ok_or(SpspError::InvalidPaymentPointer("must start with '$'"))?;
    if !rest.is_ascii() {
        return Err(SpspError::InvalidPaymentPointer("must be ASCII"));
    }
    if rest.contains('?') {
        return Err(SpspError::InvalidPaymentPointer("must not have a query"));
    }
    if rest.contains('#') {
        return Err(SpspError::InvalidPaymentPointer("must not have a fragment"));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    check_host(host)?;
    if !is_valid_path(path) {
        return Err(SpspError::InvalidPaymentPointer("path has an invalid character"));
    }
    let path = if path.is_empty() || path == "/" { WELL_KNOWN_PATH } else { path };
    Ok(format!("https://{host}{path}"))
}

/// RFC 3986 `host`, restricted to reg-name (IPv4 addresses are reg-names) and bracketed
/// IPv6 literals.
fn check_host(host: &str) -> Result<(), SpspError> {
    if host.is_empty() {
        return Err(SpspError::InvalidPaymentPointer("host is empty"));
    }
    if host.contains('@') {
        return Err(SpspError::InvalidPaymentPointer("must not have userinfo"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(SpspError::InvalidPaymentPointer("unclosed IP literal"))?;
        let ok = !inner.is_empty()
            && inner.contains(':')
            && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return if ok { Ok(()) } else { Err(SpspError::InvalidPaymentPointer("invalid IP literal")) };
    }
    if host.contains(':') {
        return Err(SpspError::InvalidPaymentPointer("must not have a port"));
    }
    if !all_chars(host, |b| is_unreserved(b) || is_sub_delim(b)) {
        return Err(SpspError::InvalidPaymentPointer("host has an invalid character"));
    }
    Ok(())
}

/// RFC 3986 `path-abempty` = `*( "/" segment )`, `segment` = `*pchar`.
fn is_valid_path(path: &str) -> bool {
    (path.is_empty() || path.starts_with('/'))
        && all_chars(path, |b| b == b'/' || is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'@')
}

/// True when every byte of `s` passes `allowed` or starts a well-formed `%XX` escape.
fn all_chars(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex_pair = matches!((bytes.next(), bytes.next()), (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit());
            if !hex_pair {
                return false;
            }
        } else if !allowed(b) {
            return false;
        }
    }
    true
}

/// RFC 3986 `unreserved`: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `sub-delims`: `!$&'()*+,;=`.
fn is_sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}
