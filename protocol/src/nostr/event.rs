//! NIP-01 events: the data shape, id computation, BIP-340 signing and verification, kind
//! classes and tag access.
//!
//! Everything here is pure: no clock reads (callers pass `created_at`, unix seconds) and no
//! randomness (callers pass the 32 bytes of BIP-340 auxiliary randomness to [`Event::sign`]).
use secp256k1::{schnorr, Keypair, XOnlyPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A signed Nostr event (NIP-01).
///
/// Hex fields are lowercase: `id` and `pubkey` are 32 bytes (64 hex chars), `sig` is a
/// 64-byte BIP-340 Schnorr signature (128 hex chars). `created_at` is unix time in seconds.
///
/// JSON form (NIP-01), fields in this order:
/// `{"id":..,"pubkey":..,"created_at":n,"kind":n,"tags":[[..],..],"content":..,"sig":..}`.
/// Deserializing requires all seven fields with the right JSON types (a missing field, a
/// `null` tag element, a negative `created_at` or a `kind` above 65535 is an error); unknown
/// extra fields are ignored, because later NIPs may add fields. Hex shapes are *not* checked
/// while deserializing; [`Event::verify`] checks them, so a relay can still answer
/// `["OK", <id>, false, "invalid: ..."]` for a well-formed but wrongly signed event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// 64 lowercase hex chars: SHA-256 of the NIP-01 serialization (see [`Event::compute_id`]).
    pub id: String,
    /// 64 lowercase hex chars: the author's BIP-340 x-only public key.
    pub pubkey: String,
    /// Unix time in seconds, as claimed by the author.
    pub created_at: u64,
    /// Event kind, 0..=65535 (see [`kind_class`]).
    pub kind: u16,
    /// Tags: arrays of one or more strings; element 0 is the tag name, element 1 its value.
    pub tags: Vec<Vec<String>>,
    /// Arbitrary string content.
    pub content: String,
    /// 128 lowercase hex chars: BIP-340 Schnorr signature of the 32-byte id.
    pub sig: String,
}

/// Why an event failed [`Event::verify`], or why [`Event::sign`] / [`public_key_hex`] could
/// not produce one.
///
/// The `Display` text already carries the NIP-01 machine-readable prefix (`invalid:` for
/// anything wrong with the event, `error:` for local failures), so it can be sent as the
/// message of `["OK", <id>, false, <message>]` unchanged (see [`EventError::to_ok_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// `id` is not exactly 64 lowercase hex characters.
    #[error("invalid: event id is not 64 lowercase hex")]
    IdShape,
    /// `pubkey` is not exactly 64 lowercase hex characters.
    #[error("invalid: pubkey is not 64 lowercase hex")]
    PubkeyShape,
    /// `sig` is not exactly 128 lowercase hex characters.
    #[error("invalid: sig is not 128 lowercase hex")]
    SigShape,
    /// `id` is well-formed but differs from the SHA-256 of the NIP-01 serialization.
    #[error("invalid: event id does not match")]
    IdMismatch,
    /// `pubkey` is 64 hex chars but not the x coordinate of a secp256k1 point.
    #[error("invalid: pubkey is not a valid secp256k1 x-only public key")]
    PubkeyNotOnCurve,
    /// The BIP-340 signature does not verify for `id` under `pubkey`.
    #[error("invalid: bad signature")]
    BadSignature,
    /// A secret key passed to [`Event::sign`] / [`public_key_hex`] is zero or not below the
    /// secp256k1 group order.
    #[error("error: secret key is not a valid secp256k1 secret key")]
    InvalidSecretKey,
}

impl EventError {
    /// The message for a NIP-01 `["OK", <event id>, false, <message>]` answer: the `Display`
    /// text, e.g. `"invalid: bad signature"` (machine-readable prefix, `: `, human text).
    pub fn to_ok_message(&self) -> String {
        self.to_string()
    }
}

/// The storage class of an event kind (NIP-01 "Kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KindClass {
    /// Kinds 1, 2, 4..=44, 1000..=9999 and anything else not listed below (40000..=65535
    /// included): every event is stored.
    Regular,
    /// Kinds 0, 3 and 10000..=19999: only the latest event per `(pubkey, kind)` is kept.
    Replaceable,
    /// Kinds 20000..=29999: relayed to live subscribers, not stored.
    Ephemeral,
    /// Kinds 30000..=39999 (NIP-01 "addressable", formerly "parameterized replaceable"):
    /// only the latest event per `(pubkey, kind, d-tag value)` is kept (see [`Event::d_tag`]).
    Addressable,
}

/// Classifies `kind` per NIP-01: replaceable for 0, 3 and 10000..=19999; ephemeral for
/// 20000..=29999; addressable for 30000..=39999; regular for everything else.
pub fn kind_class(kind: u16) -> KindClass {
    match kind {
        0 | 3 | 10000..=19999 => KindClass::Replaceable,
        20000..=29999 => KindClass::Ephemeral,
        30000..=39999 => KindClass::Addressable,
        _ => KindClass::Regular,
    }
}

/// The BIP-340 x-only public key of `secret_key`, as 64 lowercase hex chars (the NIP-01
/// `pubkey` form).
///
/// # Errors
/// [`EventError::InvalidSecretKey`] if `secret_key` is zero or not below the curve order.
pub fn public_key_hex(secret_key: &[u8; 32]) -> Result<String, EventError> {
    let keypair = Keypair::from_secret_bytes(*secret_key).map_err(|_| EventError::InvalidSecretKey)?;
    Ok(hex::encode(keypair.x_only_public_key().0.to_byte_array()))
}

/// BIP-340 Schnorr signature of the 32-byte `message` (for Nostr: the event id) by
/// `secret_key`, using `aux_rand` as the auxiliary randomness. Deterministic given its inputs.
///
/// # Errors
/// [`EventError::InvalidSecretKey`] if `secret_key` is zero or not below the curve order.
pub fn schnorr_sign(secret_key: &[u8; 32], message: &[u8; 32], aux_rand: &[u8; 32]) -> Result<[u8; 64], EventError> {
    let keypair = Keypair::from_secret_bytes(*secret_key).map_err(|_| EventError::InvalidSecretKey)?;
    Ok(schnorr::sign_with_aux_rand(message, &keypair, aux_rand).to_byte_array())
}

/// Verifies a BIP-340 Schnorr signature `sig` (64 bytes) of the 32-byte `message` (for
/// Nostr: the event id) under the x-only public key `pubkey` (32 bytes).
///
/// # Errors
/// [`EventError::PubkeyNotOnCurve`] if `pubkey` is not a valid x coordinate;
/// [`EventError::BadSignature`] if the signature does not verify.
pub fn schnorr_verify(message: &[u8; 32], pubkey: &[u8; 32], sig: &[u8; 64]) -> Result<(), EventError> {
    let pubkey = XOnlyPublicKey::from_byte_array(*pubkey).map_err(|_| EventError::PubkeyNotOnCurve)?;
    let sig = schnorr::Signature::from_byte_array(*sig);
    schnorr::verify(&sig, message, &pubkey).map_err(|_| EventError::BadSignature)
}

/// True when `s` is exactly `len` characters of `0-9a-f`.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How the other C0 control characters (those without a short escape) are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ControlEscape {
    /// NIP-01 text: "all other characters must be included verbatim".
    Verbatim,
    /// What `JSON.stringify`, go-nostr and serde_json emit: `\u00xx` (lowercase hex).
    Unicode,
}

/// Appends `s` as a JSON string literal using NIP-01's escaping rules: only `\n`, `\"`,
/// `\\`, `\r`, `\t`, `\b` and `\f` are escaped; other control characters follow `control`.
fn push_nip01_string(out: &mut String, s: &str, control: ControlEscape) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'\n' => "\\n",
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f if control == ControlEscape::Unicode => "",
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str(&format!("\\u{:04x}", b));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl Event {
    /// The exact UTF-8 text NIP-01 hashes to obtain the id:
    /// `[0,"<pubkey>",<created_at>,<kind>,[["t","v",..],..],"<content>"]`, with no
    /// whitespace and NIP-01 string escaping (only `\n \" \\ \r \t \b \f` are escaped, every
    /// other character — including other control characters — is written verbatim).
    pub fn serialize_for_id(&self) -> String {
        self.serialize_with(ControlEscape::Verbatim)
    }

    fn serialize_with(&self, control: ControlEscape) -> String {
        let tags_len: usize = self.tags.iter().flatten().map(|t| t.len() + 3).sum();
        let mut out = String::with_capacity(100 + self.content.len() + tags_len);
        out.push_str("[0,");
        push_nip01_string(&mut out, &self.pubkey, control);
        out.push(',');
        out.push_str(&self.created_at.to_string());
        out.push(',');
        out.push_str(&self.kind.to_string());
        out.push_str(",[");
        for (i, tag) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, item) in tag.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_nip01_string(&mut out, item, control);
            }
            out.push(']');
        }
        out.push_str("],");
        push_nip01_string(&mut out, &self.content, control);
        out.push(']');
        out
    }

    /// SHA-256 of [`Event::serialize_for_id`] (NIP-01): the 32 bytes whose lowercase hex is
    /// the correct `id`. Ignores the current `id` and `sig` fields.
    pub fn compute_id(&self) -> [u8; 32] {
        Sha256::digest(self.serialize_for_id().as_bytes()).into()
    }

    /// The id as common JSON encoders compute it (`JSON.stringify`, go-nostr): identical to
    /// [`Event::compute_id`] unless a string holds a control character other than
    /// `\n \r \t \b \f`, which those encoders write as `\u00xx` instead of verbatim.
    fn compute_id_unicode_escaped(&self) -> [u8; 32] {
        Sha256::digest(self.serialize_with(ControlEscape::Unicode).as_bytes()).into()
    }

    /// Checks the event per NIP-01: hex shapes of `id`, `pubkey` and `sig`; that `id` is the
    /// SHA-256 of the NIP-01 serialization; and that `sig` is a valid BIP-340 Schnorr
    /// signature of the 32-byte id under the x-only `pubkey`. Does not look at
    /// `created_at` (the caller owns the clock) or at kind-specific rules.
    ///
    /// Interoperability: NIP-01 says control characters other than `\n \r \t \b \f` are
    /// serialized verbatim, but widespread clients (`JSON.stringify`, go-nostr) write them as
    /// `\u00xx`. For an event containing such characters, an `id` computed either way is
    /// accepted; [`Event::compute_id`] and [`Event::sign`] always use the NIP-01 form.
    ///
    /// # Errors
    /// [`EventError::IdShape`], [`EventError::PubkeyShape`], [`EventError::SigShape`],
    /// [`EventError::IdMismatch`], [`EventError::PubkeyNotOnCurve`] or
    /// [`EventError::BadSignature`], checked in that order.
    pub fn verify(&self) -> Result<(), EventError> {
        let id = decode_32(&self.id).ok_or(EventError::IdShape)?;
        let pubkey = decode_32(&self.pubkey).ok_or(EventError::PubkeyShape)?;
        if !is_lower_hex(&self.sig, 128) {
            return Err(EventError::SigShape);
        }
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&self.sig, &mut sig).map_err(|_| EventError::SigShape)?;

        if id != self.compute_id() {
            let has_other_control = self
                .tags
                .iter()
                .flatten()
                .chain(std::iter::once(&self.content))
                .chain(std::iter::once(&self.pubkey))
                .any(|s| s.bytes().any(|b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x08 | 0x0c)));
            if !has_other_control || id != self.compute_id_unicode_escaped() {
                return Err(EventError::IdMismatch);
            }
        }

        schnorr_verify(&id, &pubkey, &sig)
    }

    /// Builds and signs an event (NIP-01, BIP-340): sets `pubkey` from `secret_key`, `id` to
    /// [`Event::compute_id`] and `sig` to the BIP-340 signature of the id using `aux_rand`
    /// as the auxiliary randomness. `created_at` is unix seconds. Deterministic: the same
    /// inputs give the same event. Callers should pass fresh random bytes as `aux_rand`
    /// (BIP-340 stays secure with fixed bytes, but fresh ones protect against side channels).
    ///
    /// # Errors
    /// [`EventError::InvalidSecretKey`] if `secret_key` is zero or not below the curve order.
    pub fn sign(
        secret_key: &[u8; 32],
        created_at: u64,
        kind: u16,
        tags: Vec<Vec<String>>,
        content: String,
        aux_rand: [u8; 32],
    ) -> Result<Event, EventError> {
        let pubkey = public_key_hex(secret_key)?;
        let mut event = Event { id: String::new(), pubkey, created_at, kind, tags, content, sig: String::new() };
        let id = event.compute_id();
        let sig = schnorr_sign(secret_key, &id, &aux_rand)?;
        event.id = hex::encode(id);
        event.sig = hex::encode(sig);
        Ok(event)
    }

    /// The event's [`KindClass`] (NIP-01), i.e. `kind_class(self.kind)`.
    pub fn kind_class(&self) -> KindClass {
        kind_class(self.kind)
    }

    /// The value of the first `d` tag (`["d", <value>, ..]`), or `""` when there is no `d`
    /// tag or it has no value. Together with `pubkey` and `kind` it addresses an
    /// [`KindClass::Addressable`] event (NIP-01).
    pub fn d_tag(&self) -> &str {
        self.tags
            .iter()
            .find(|t| t.first().map(String::as_str) == Some("d"))
            .and_then(|t| t.get(1))
            .map_or("", String::as_str)
    }

    /// The values (element 1) of every tag whose name (element 0) is the single letter
    /// `name`, in tag order — what a NIP-01 `#<name>` filter matches against. Tags with no
    /// value are skipped.
    pub fn tag_values(&self, name: char) -> impl Iterator<Item = &str> + '_ {
        self.tags.iter().filter_map(move |t| match t.as_slice() {
            [n, v, ..] if is_single_char(n, name) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The NIP-01 JSON object, compact, fields in the order
    /// `id, pubkey, created_at, kind, tags, content, sig`. Strings use standard JSON
    /// escaping (control characters as `\u00xx`), so the output is always valid JSON; this
    /// is the wire form, not the id serialization.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializing an Event to JSON cannot fail")
    }

    /// Parses the NIP-01 JSON object produced by [`Event::to_json`] (or any client).
    /// Does not verify; call [`Event::verify`].
    ///
    /// # Errors
    /// The serde_json error for invalid JSON, a missing field or a wrong type.
    pub fn from_json(text: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// True when `s` consists of exactly the one character `c`.
fn is_single_char(s: &str, c: char) -> bool {
    let mut chars = s.chars();
    chars.next() == Some(c) && chars.next().is_none()
}

/// Decodes exactly 64 lowercase hex chars into 32 bytes.
fn decode_32(s: &str) -> Option<[u8; 32]> {
    if !is_lower_hex(s, 64) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}
