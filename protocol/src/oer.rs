//! OER primitives shared by every Interledger format (RFC 30, "Notes on OER Encoding").
//!
//! * Fixed-size unsigned integers are big-endian with no prefix.
//! * A *length determinant* is one byte `0x00..=0x7f` (short form, the length itself) or
//!   `0x80 | n` followed by an `n`-byte big-endian length (long form). Short form is mandatory
//!   for lengths up to and including 127, the long form must have no leading zero bytes, and
//!   `n` is capped at 8.
//! * A *variable-length octet string* is a length determinant followed by that many bytes;
//!   UTF-8 strings, IA5 strings and ILP addresses use the same form.
//! * A *VarUInt* is a length determinant followed by a big-endian unsigned integer; zero is
//!   written `01 00`.
//!
//! [`Reader`] decodes from a borrowed slice and never panics: every read that runs past the
//! end returns [`OerError::UnexpectedEnd`]. The `put_*` functions append to a `Vec<u8>`.

use thiserror::Error;

/// Largest length-of-length accepted in a long-form length determinant (RFC 30 allows
/// implementations to cap it; 8 bytes already covers any `u64`).
pub const MAX_LENGTH_OF_LENGTH: usize = 8;

/// Decoding failures of the OER primitives (RFC 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OerError {
    /// The buffer ended before the field did.
    #[error("unexpected end of data")]
    UnexpectedEnd,
    /// A long-form length determinant used more than 8 length bytes, or its value does not
    /// fit in `usize`.
    #[error("length prefix is too large")]
    LengthTooLarge,
    /// A length determinant was not in canonical form: long form for a length ≤ 127, a
    /// long-form length with leading zero bytes, or the indefinite form `0x80`.
    #[error("length prefix is not canonical")]
    NonCanonicalLength,
    /// A VarUInt holds more than 8 significant bytes (its value exceeds `u64::MAX`).
    #[error("variable-length integer is larger than 64 bits")]
    VarUIntTooLarge,
    /// A VarUInt has a zero-length body (zero must be written `01 00`).
    #[error("variable-length integer has no bytes")]
    EmptyVarUInt,
    /// A string field is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
}

/// A cursor over a borrowed byte slice that decodes OER fields front to back (RFC 30).
///
/// Every `read_*` method either consumes exactly the bytes of one field and returns it, or
/// returns an [`OerError`]; after an error the reader's position is unspecified.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Number of bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not yet consumed (does not advance).
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Consumes exactly `n` bytes and returns them.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], OerError> {
        if n > self.buf.len() {
            return Err(OerError::UnexpectedEnd);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Consumes exactly `N` bytes into an array (fixed-size fields such as a 32-byte
    /// condition or a 17-byte ILP timestamp).
    pub fn read_fixed<const N: usize>(&mut self) -> Result<[u8; N], OerError> {
        let bytes = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a UInt8.
    pub fn read_u8(&mut self) -> Result<u8, OerError> {
        Ok(self.read_fixed::<1>()?[0])
    }

    /// Reads a big-endian UInt16.
    pub fn read_u16(&mut self) -> Result<u16, OerError> {
        Ok(u16::from_be_bytes(self.read_fixed()?))
    }

    /// Reads a big-endian UInt32.
    pub fn read_u32(&mut self) -> Result<u32, OerError> {
        Ok(u32::from_be_bytes(self.read_fixed()?))
    }

    /// Reads a big-endian UInt64.
    pub fn read_u64(&mut self) -> Result<u64, OerError> {
        Ok(u64::from_be_bytes(self.read_fixed()?))
    }

    /// Reads a length determinant (RFC 30 "Length Prefixes"): short form `0x00..=0x7f`, or
    /// long form `0x80 | n` + `n` big-endian bytes with `1 ≤ n ≤ 8`, no leading zero byte and
    /// a value above 127. The returned length is *not* checked against [`Self::remaining`].
    pub fn read_length(&mut self) -> Result<usize, OerError> {
        let first = self.read_u8()?;
        if first & 0x80 == 0 {
            return Ok(usize::from(first));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(OerError::NonCanonicalLength);
        }
        if n > MAX_LENGTH_OF_LENGTH {
            return Err(OerError::LengthTooLarge);
        }
        let bytes = self.read_bytes(n)?;
        if bytes.first() == Some(&0) {
            return Err(OerError::NonCanonicalLength);
        }
        let value = be_to_u64(bytes);
        if value <= 127 {
            return Err(OerError::NonCanonicalLength);
        }
        usize::try_from(value).map_err(|_| OerError::LengthTooLarge)
    }

    /// Reads a variable-length octet string: a length determinant, then that many bytes.
    pub fn read_var_octets(&mut self) -> Result<&'a [u8], OerError> {
        let len = self.read_length()?;
        self.read_bytes(len)
    }

    /// Reads a variable-length UTF-8 string (same wire form as [`Self::read_var_octets`]);
    /// invalid UTF-8 is [`OerError::InvalidUtf8`].
    pub fn read_var_str(&mut self) -> Result<&'a str, OerError> {
        let bytes = self.read_var_octets()?;
        std::str::from_utf8(bytes).map_err(|_| OerError::InvalidUtf8)
    }

    /// Reads a VarUInt (RFC 30 "Variable-Length Unsigned Integer"). Leading zero bytes are
    /// tolerated; more than 8 significant bytes is [`OerError::VarUIntTooLarge`] and an empty
    /// body is [`OerError::EmptyVarUInt`].
    pub fn read_var_uint(&mut self) -> Result<u64, OerError> {
        let bytes = self.read_var_uint_bytes()?;
        if bytes.len() > 8 {
            return Err(OerError::VarUIntTooLarge);
        }
        Ok(be_to_u64(bytes))
    }

    /// Like [`Self::read_var_uint`], but a value above `u64::MAX` decodes as `u64::MAX`
    /// instead of failing (RFC 29 §5.1.4, for STREAM `receiveMax` / `sendMax`).
    pub fn read_var_uint_saturating(&mut self) -> Result<u64, OerError> {
        let bytes = self.read_var_uint_bytes()?;
        if bytes.len() > 8 {
            return Ok(u64::MAX);
        }
        Ok(be_to_u64(bytes))
    }

    /// Reads the body of a VarUInt with leading zero bytes stripped.
    fn read_var_uint_bytes(&mut self) -> Result<&'a [u8], OerError> {
        let bytes = self.read_var_octets()?;
        if bytes.is_empty() {
            return Err(OerError::EmptyVarUInt);
        }
        let first_significant = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        Ok(bytes.get(first_significant..).unwrap_or_default())
    }
}

/// Big-endian bytes (at most 8) to `u64`.
fn be_to_u64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// The minimal big-endian representation of `value` as `(array, start)`: the significant
/// bytes are `array[start..]`, and there is always at least one.
fn minimal_be_bytes(value: u64) -> ([u8; 8], usize) {
    let bytes = value.to_be_bytes();
    let leading = (value.leading_zeros() / 8) as usize;
    (bytes, leading.min(7))
}

/// Appends a length determinant for `len` (RFC 30): short form up to 127, otherwise
/// `0x80 | n` followed by the `n` minimal big-endian bytes of `len`.
pub fn put_length(buf: &mut Vec<u8>, len: usize) {
    if len <= 127 {
        buf.push(len as u8);
        return;
    }
    let (bytes, start) = minimal_be_bytes(len as u64);
    let significant = bytes.get(start..).unwrap_or_default();
    buf.push(0x80 | significant.len() as u8);
    buf.extend_from_slice(significant);
}

/// Appends a variable-length octet string: length determinant, then `bytes`.
pub fn put_var_octets(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_length(buf, bytes.len());
    buf.extend_from_slice(bytes);
}

/// Appends a variable-length UTF-8 string (same wire form as [`put_var_octets`]).
pub fn put_var_str(buf: &mut Vec<u8>, s: &str) {
    put_var_octets(buf, s.as_bytes());
}

/// Appends a VarUInt: length determinant, then the minimal big-endian bytes of `value`
/// (zero is `01 00`).
pub fn put_var_uint(buf: &mut Vec<u8>, value: u64) {
    let (bytes, start) = minimal_be_bytes(value);
    put_var_octets(buf, bytes.get(start..).unwrap_or_default());
}

/// Number of bytes [`put_length`] writes for `len`.
pub fn length_prefix_len(len: usize) -> usize {
    if len <= 127 {
        1
    } else {
        let (_, start) = minimal_be_bytes(len as u64);
        1 + 8 - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length_bytes(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        put_length(&mut v, len);
        v
    }

    #[test]
    fn length_examples_from_rfc30() {
        assert_eq!(length_bytes(7), [0x07]);
        assert_eq!(length_bytes(127), [0x7f]);
        assert_eq!(length_bytes(128), [0x81, 0x80]);
        assert_eq!(length_bytes(130), [0x81, 0x82]);
        assert_eq!(length_bytes(4660), [0x82, 0x12, 0x34]);
        assert_eq!(Reader::new(&[0x07]).read_length(), Ok(7));
        assert_eq!(Reader::new(&[0x81, 0x82]).read_length(), Ok(130));
        assert_eq!(Reader::new(&[0x82, 0x12, 0x34]).read_length(), Ok(4660));
        for len in [0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24] {
            assert_eq!(length_prefix_len(len), length_bytes(len).len());
        }
    }

    #[test]
    fn rejects_non_canonical_lengths() {
        assert_eq!(Reader::new(&[0x81, 0x7f]).read_length(), Err(OerError::NonCanonicalLength));
        assert_eq!(Reader::new(&[0x82, 0x00, 0x80]).read_length(), Err(OerError::NonCanonicalLength));
        assert_eq!(Reader::new(&[0x80]).read_length(), Err(OerError::NonCanonicalLength));
        assert_eq!(Reader::new(&[0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0]).read_length(), Err(OerError::LengthTooLarge));
        assert_eq!(Reader::new(&[0x82, 0x01]).read_length(), Err(OerError::UnexpectedEnd));
        assert_eq!(Reader::new(&[]).read_length(), Err(OerError::UnexpectedEnd));
    }

    #[test]
    fn var_uint_examples() {
        let enc = |v: u64| {
            let mut b = Vec::new();
            put_var_uint(&mut b, v);
            b
        };
        assert_eq!(enc(0), [0x01, 0x00]);
        assert_eq!(enc(3), [0x01, 0x03]);
        assert_eq!(enc(456), [0x02, 0x01, 0xc8]);
        assert_eq!(enc(u64::MAX), [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Reader::new(&[0x02, 0x00, 0x05]).read_var_uint(), Ok(5));
        assert_eq!(Reader::new(&[0x00]).read_var_uint(), Err(OerError::EmptyVarUInt));
        let too_big = [0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(Reader::new(&too_big).read_var_uint(), Err(OerError::VarUIntTooLarge));
        assert_eq!(Reader::new(&too_big).read_var_uint_saturating(), Ok(u64::MAX));
        let nine_with_zero = [0x09, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe];
        assert_eq!(Reader::new(&nine_with_zero).read_var_uint(), Ok(u64::MAX - 1));
    }

    #[test]
    fn fixed_ints_and_strings() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 2, b'h', b'i', 1, 0xff]);
        assert_eq!(r.read_u8(), Ok(1));
        assert_eq!(r.read_u16(), Ok(2));
        assert_eq!(r.read_u32(), Ok(3));
        assert_eq!(r.read_u64(), Ok(4));
        assert_eq!(r.read_var_str(), Ok("hi"));
        assert_eq!(r.read_var_str(), Err(OerError::InvalidUtf8));
        assert!(r.is_empty());
        assert_eq!(r.read_u8(), Err(OerError::UnexpectedEnd));
        assert_eq!(Reader::new(&[5, 1, 2]).read_var_octets(), Err(OerError::UnexpectedEnd));
    }
}
