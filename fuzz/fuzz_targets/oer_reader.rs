//! OER primitives (RFC 30): `protocol::oer::Reader` driven by the input.
//!
//! The input is both program and data: each step reads an op byte from the reader, then runs
//! that op on the bytes that follow. Properties besides "never panics":
//! - a successful read consumes exactly the bytes it reports, and on `UnexpectedEnd` the
//!   reader held too few bytes;
//! - lengths, var-octets and strings are canonical: re-encoding a value with the `put_*`
//!   functions gives back exactly the consumed bytes, and `length_prefix_len` agrees;
//! - VarUInts (which tolerate leading zeros) re-encode to a form that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::oer::{length_prefix_len, put_length, put_var_octets, put_var_str, put_var_uint, OerError, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    while let Ok(op) = r.read_u8() {
        let before = r.rest();
        assert_eq!(before.len(), r.remaining());
        let consumed = |r: &Reader<'_>| &before[..before.len() - r.remaining()];
        match op % 12 {
            0 => {
                if let Ok(v) = r.read_u16() {
                    assert_eq!(consumed(&r), v.to_be_bytes());
                } else {
                    assert!(before.len() < 2);
                }
            }
            1 => {
                if let Ok(v) = r.read_u32() {
                    assert_eq!(consumed(&r), v.to_be_bytes());
                } else {
                    assert!(before.len() < 4);
                }
            }
            2 => {
                if let Ok(v) = r.read_u64() {
                    assert_eq!(consumed(&r), v.to_be_bytes());
                } else {
                    assert!(before.len() < 8);
                }
            }
            3 => match r.read_length() {
                Ok(len) => {
                    let mut enc = Vec::new();
                    put_length(&mut enc, len);
                    assert_eq!(consumed(&r), enc, "length {len} was not canonical");
                    assert_eq!(length_prefix_len(len), enc.len());
                }
                Err(OerError::UnexpectedEnd | OerError::NonCanonicalLength | OerError::LengthTooLarge) => {}
                Err(e) => panic!("read_length gave {e:?}"),
            },
            4 => match r.read_var_octets() {
                Ok(bytes) => {
                    let mut enc = Vec::new();
                    put_var_octets(&mut enc, bytes);
                    assert_eq!(consumed(&r), enc);
                }
                Err(OerError::UnexpectedEnd | OerError::NonCanonicalLength | OerError::LengthTooLarge) => {}
                Err(e) => panic!("read_var_octets gave {e:?}"),
            },
            5 => match r.read_var_str() {
                Ok(s) => {
                    let mut enc = Vec::new();
                    put_var_str(&mut enc, s);
                    assert_eq!(consumed(&r), enc);
                }
                Err(e) => {
                    let _ = e.to_string();
                    // Same bytes as octets: only UTF-8 can make the string read fail differently.
                    let octets = Reader::new(before).read_var_octets();
                    match e {
                        OerError::InvalidUtf8 => assert!(std::str::from_utf8(octets.expect("octets")).is_err()),
                        other => assert_eq!(octets, Err(other)),
                    }
                }
            },
            6 | 7 => {
                let saturating = op % 12 == 7;
                let result = if saturating { r.read_var_uint_saturating() } else { r.read_var_uint() };
                match result {
                    Ok(v) => {
                        let mut enc = Vec::new();
                        put_var_uint(&mut enc, v);
                        assert!(enc.len() <= consumed(&r).len() || saturating);
                        assert_eq!(Reader::new(&enc).read_var_uint(), Ok(v));
                        if !saturating {
                            assert_eq!(Reader::new(before).read_var_uint_saturating(), Ok(v));
                        }
                    }
                    Err(OerError::VarUIntTooLarge) => {
                        assert!(!saturating);
                        assert_eq!(Reader::new(before).read_var_uint_saturating(), Ok(u64::MAX));
                    }
                    Err(
                        OerError::UnexpectedEnd
                        | OerError::NonCanonicalLength
                        | OerError::LengthTooLarge
                        | OerError::EmptyVarUInt,
                    ) => {}
                    Err(e) => panic!("read_var_uint gave {e:?}"),
                }
            }
            8 => {
                let n = usize::from(r.read_u8().unwrap_or(0));
                let before = r.rest();
                match r.read_bytes(n) {
                    Ok(bytes) => assert_eq!(bytes, &before[..n]),
                    Err(e) => assert_eq!((e, before.len() < n), (OerError::UnexpectedEnd, true)),
                }
            }
            9 => {
                if let Ok(v) = r.read_fixed::<17>() {
                    assert_eq!(consumed(&r), v);
                } else {
                    assert!(before.len() < 17);
                }
            }
            10 => {
                let _ = r.read_fixed::<32>();
            }
            _ => {
                assert_eq!(r.is_empty(), r.remaining() == 0);
                let _ = r.clone().read_u8();
            }
        }
        assert!(r.remaining() <= before.len());
    }
    assert!(r.is_empty());
});
