//! ILP addresses (RFC 15 "ILP Addresses", `asn1/InterledgerTypes.asn`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Longest valid ILP address, in bytes (RFC 15 §"Length Requirements").
pub const MAX_ADDRESS_LEN: usize = 1023;

/// The allocation schemes RFC 15 §"Allocation Schemes" allows as the first segment.
pub const SCHEMES: [&str; 10] = ["g", "private", "example", "peer", "self", "test", "test1", "test2", "test3", "local"];

/// Why a string is not a valid ILP address (RFC 15).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Longer than [`MAX_ADDRESS_LEN`] bytes.
    #[error("address is {0} bytes long, the maximum is 1023")]
    TooLong(usize),
    /// The first segment is not one of [`SCHEMES`].
    #[error("address has an unknown allocation scheme")]
    UnknownScheme,
    /// No segment follows the scheme (e.g. `"test"`).
    #[error("address needs at least one segment after the scheme")]
    MissingSegment,
    /// Two dots in a row, or a leading or trailing dot.
    #[error("address has an empty segment")]
    EmptySegment,
    /// A segment contains a byte outside `[A-Za-z0-9_~-]`.
    #[error("address contains an invalid character")]
    InvalidCharacter,
}

/// A validated ILP address (RFC 15): `scheme 1*("." segment)`, where the scheme is one of
/// [`SCHEMES`], each segment is one or more of `[A-Za-z0-9_~-]`, and the whole is at most
/// 1023 bytes. Case-sensitive. Serializes to and from a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(String);

impl Address {
    /// Validates `s` against RFC 15 and wraps it.
    pub fn new(s: &str) -> Result<Address, AddressError> {
        validate(s)?;
        Ok(Address(s.to_owned()))
    }

    /// Wraps a compile-time constant known to be valid (e.g. `"peer.config"`) without
    /// re-validating it; checked in debug builds.
    pub(crate) fn from_static_unchecked(s: &'static str) -> Address {
        debug_assert!(validate(s).is_ok(), "invalid constant address {s}");
        Address(s.to_owned())
    }

    /// The address as text, e.g. `"test.parent.child"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the address, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The address with `suffix` appended after a dot: `test.a` + `b` → `test.a.b`. The
    /// suffix may itself hold several dot-separated segments; the result is validated again
    /// (so an overlong result or a bad character is an error).
    pub fn with_suffix(&self, suffix: &str) -> Result<Address, AddressError> {
        let mut s = String::with_capacity(self.0.len() + 1 + suffix.len());
        s.push_str(&self.0);
        s.push('.');
        s.push_str(suffix);
        validate(&s)?;
        Ok(Address(s))
    }

    /// The allocation scheme (first segment), e.g. `"g"` or `"test"`.
    pub fn scheme(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }

    /// All dot-separated segments, scheme included: `test.a.b` → `["test", "a", "b"]`.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('.')
    }

    /// Segment-aware prefix test for longest-prefix routing (RFC 15 §"Routing"): `prefix`
    /// matches when it equals this address or is followed by a `.` in it. `"test.a"` is a
    /// prefix of `"test.a"` and `"test.a.b"`, not of `"test.ab"`. A prefix ending in `.`
    /// (old-style `"test.a."`) matches only strictly longer addresses, and the empty prefix
    /// (a default route) matches every address.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        if prefix.is_empty() {
            return true;
        }
        match self.0.strip_prefix(prefix) {
            None => false,
            Some(rest) => prefix.ends_with('.') || rest.is_empty() || rest.starts_with('.'),
        }
    }
}

/// Checks `s` against RFC 15 without allocating.
fn validate(s: &str) -> Result<(), AddressError> {
    if s.len() > MAX_ADDRESS_LEN {
        return Err(AddressError::TooLong(s.len()));
    }
    let mut parts = s.split('.');
    let scheme = parts.next().unwrap_or_default();
    if !SCHEMES.contains(&scheme) {
        return Err(AddressError::UnknownScheme);
    }
    let mut count = 0usize;
    for segment in parts {
        count += 1;
        if segment.is_empty() {
            return Err(AddressError::EmptySegment);
        }
        if !segment.bytes().all(is_segment_byte) {
            return Err(AddressError::InvalidCharacter);
        }
    }
    if count == 0 {
        return Err(AddressError::MissingSegment);
    }
    Ok(())
}

/// `[A-Za-z0-9_~-]`.
fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-')
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::new(s)
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate(&s)?;
        Ok(Address(s))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Address::try_from(s).map_err(serde::de::Error::custom)
    }
}
