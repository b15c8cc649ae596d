//! ILPv4 packet, error-code and address vectors from /work/shared/specs/ilp.md §1–§3.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use protocol::ilp::*;
use protocol::oer::{put_length, put_var_uint, OerError, Reader};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn arr32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

// ---- §1 OER ----------------------------------------------------------------------------

#[test]
fn oer_length_and_var_uint_examples() {
    for (len, hex) in [(7usize, "07"), (130, "8182"), (4660, "821234")] {
        let mut b = Vec::new();
        put_length(&mut b, len);
        assert_eq!(b, h(hex));
        assert_eq!(Reader::new(&h(hex)).read_length(), Ok(len));
    }
    let mut b = Vec::new();
    put_var_uint(&mut b, 0);
    put_var_uint(&mut b, 3);
    assert_eq!(b, h("0100 0103"));
    assert_eq!(Reader::new(&h("817f")).read_length(), Err(OerError::NonCanonicalLength));
}

#[test]
fn ilp_timestamp_example() {
    assert_eq!(&encode_timestamp(at("2017-12-24T16:14:32.279Z")), b"20171224161432279");
    assert_eq!(decode_timestamp(b"20171224161432279").unwrap(), at("2017-12-24T16:14:32.279Z"));
}

// ---- §2 ILP packets -------------------------------------------------------------------

const JS_PREPARE: &str = "0c68 000000000000006b 3230313731323233303132313430353439 \
    74e1136dc71c9e5f283bec83461cbf1261c4014f72d48f8dd65453a0b84e7de1 0d6578616d706c652e616c696365 \
    205db343fdc41898f6df4202329139dc242dd0f558a811b46b28918fdab37c6cb0";

#[test]
fn ilp_packet_js_prepare_example01() {
    let prepare = Prepare {
        amount: 107,
        expires_at: at("2017-12-23T01:21:40.549Z"),
        execution_condition: arr32("74e1136dc71c9e5f283bec83461cbf1261c4014f72d48f8dd65453a0b84e7de1"),
        destination: Address::new("example.alice").unwrap(),
        data: h("5db343fdc41898f6df4202329139dc242dd0f558a811b46b28918fdab37c6cb0"),
    };
    assert_eq!(prepare.encode(), h(JS_PREPARE));
    assert_eq!(Prepare::decode(&h(JS_PREPARE)).unwrap(), prepare);
    assert_eq!(Packet::decode(&h(JS_PREPARE)).unwrap(), Packet::Prepare(prepare));
}

#[test]
fn ilp_packet_js_fulfill_example01() {
    let bytes = h("0d41c3866b48749ccf113b2e15c25d2407fbfc14476fe7296bb1bf1bcd9e6e41665020673febd78a33b28e1c0db14c9a06251a05fa831ed4ed91ebcd150e7249c2e600");
    let fulfill = Fulfill {
        fulfillment: arr32("c3866b48749ccf113b2e15c25d2407fbfc14476fe7296bb1bf1bcd9e6e416650"),
        data: h("673febd78a33b28e1c0db14c9a06251a05fa831ed4ed91ebcd150e7249c2e600"),
    };
    assert_eq!(fulfill.encode(), bytes);
    assert_eq!(Fulfill::decode(&bytes).unwrap(), fulfill);
    assert_eq!(Packet::decode(&bytes).unwrap().encode(), bytes);
}

#[test]
fn ilp_packet_js_reject_example01() {
    let bytes = h("0e414630310e6578616d706c652e75732e626f62276d697373696e672064657374696e6174696f6e2e206c65646765723d6578616d706c652e75732e06000000041041");
    let reject = Reject {
        code: ErrorCode::F01_INVALID_PACKET,
        triggered_by: Some(Address::new("example.us.bob").unwrap()),
        message: "missing destination. ledger=example.us.".into(),
        data: h("000000041041"),
    };
    assert_eq!(reject.encode(), bytes);
    assert_eq!(Reject::decode(&bytes).unwrap(), reject);
}

/// The 257-byte data blob of `interledger-packet@0.4.0 src/fixtures.rs`.
const RS_DATA: &str = "6c99f6a969473028ef46e09b471581c915b6d5496329c1e3a1c2748d7422a7bdcc798e286cabe3197cccfc213e930b8dba57c7abdf2d1f3b2511689de4f0eff441f53da0feffd23249a355b26c3bd0256d5122e7ccdf159fd6cb083dd73cb29397967871becd04890492119c5e3e6b024be35de26466f60c16d90a21054fb13800120cfb85b0df76e50aacd68526fd043026d3d02010c671987a1f6501b5085f0d7d5897624be5862f98c01df65792970181a87d0f3c586a0ca6bd89dc372c45eef5b38a6307b16f1d7d31e8d92e5982c9dd2986eaad581f212d43da9c5cb7b948fc18914be90219709d0c26d3b5f4ad879d8494bb3aebfe612ec54041e4a380f0";
const RS_CONDITION: &str = "117b434f1a54e9044f4f54923b2cff9e4a6d420ae281d5025d7bb040c4b4c04a";

#[test]
fn interledger_rs_long_form_fixtures() {
    let data = h(RS_DATA);
    assert_eq!(data.len(), 257);

    let prepare = Prepare {
        amount: 107,
        expires_at: at("2018-06-07T20:48:42.483Z"),
        execution_condition: arr32(RS_CONDITION),
        destination: Address::new("example.alice").unwrap(),
        data: data.clone(),
    };
    let prepare_bytes = h(&format!(
        "0c82014b 000000000000006b 3230313830363037323034383432343833 {RS_CONDITION} 0d6578616d706c652e616c696365 820101 {RS_DATA}"
    ));
    assert_eq!(prepare.encode(), prepare_bytes);
    assert_eq!(Prepare::decode(&prepare_bytes).unwrap(), prepare);

    let fulfill = Fulfill { fulfillment: arr32(RS_CONDITION), data: data.clone() };
    let fulfill_bytes = h(&format!("0d820124 {RS_CONDITION} 820101 {RS_DATA}"));
    assert_eq!(fulfill.encode(), fulfill_bytes);
    assert_eq!(Fulfill::decode(&fulfill_bytes).unwrap(), fulfill);

    let reject = Reject {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: Some(Address::new("example.connector").unwrap()),
        message: "Some error".into(),
        data,
    };
    let reject_bytes =
        h(&format!("0e820124 463939 116578616d706c652e636f6e6e6563746f72 0a536f6d65206572726f72 820101 {RS_DATA}"));
    assert_eq!(reject.encode(), reject_bytes);
    assert_eq!(Reject::decode(&reject_bytes).unwrap(), reject);
}

#[test]
fn peer_protocol_condition_and_fulfill() {
    assert_eq!(PEER_PROTOCOL_CONDITION, arr32("66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"));
    assert_eq!(condition_of(&PEER_PROTOCOL_FULFILLMENT), PEER_PROTOCOL_CONDITION);
    let fulfill = Fulfill { fulfillment: PEER_PROTOCOL_FULFILLMENT, data: vec![] };
    assert_eq!(fulfill.encode(), h(&format!("0d21{}00", "00".repeat(32))));
    assert!(fulfillment_matches(&fulfill.fulfillment, &PEER_PROTOCOL_CONDITION));
}

#[test]
fn amount_too_large_data() {
    let d = AmountTooLargeData { received_amount: 1_000_000, maximum_amount: 1000 };
    let bytes = d.encode();
    assert_eq!(bytes, h("00000000000f4240 00000000000003e8"));
    assert_eq!(AmountTooLargeData::decode(&bytes).unwrap(), d);
    assert!(AmountTooLargeData::decode(&bytes[..15]).is_err());
}

#[test]
fn decode_errors() {
    let prepare = h(JS_PREPARE);
    assert_eq!(Packet::decode(&[]), Err(PacketError::Oer(OerError::UnexpectedEnd)));
    assert_eq!(Packet::decode(&[0x0b, 0]), Err(PacketError::UnknownType(11)));
    assert_eq!(Fulfill::decode(&prepare), Err(PacketError::UnexpectedType { expected: 13, actual: 12 }));
    for cut in 0..prepare.len() {
        let err = Prepare::decode(&prepare[..cut]).unwrap_err();
        assert_eq!(err.reject_code(), ErrorCode::F01_INVALID_PACKET);
    }
    // Bad expiry digit.
    let mut bad = prepare.clone();
    bad[12] = b'x';
    assert_eq!(Prepare::decode(&bad), Err(PacketError::InvalidTimestamp));
    // Bad destination.
    let mut bad = prepare.clone();
    bad[60] = b'X'; // "example" -> "Xxample"
    assert!(matches!(Prepare::decode(&bad), Err(PacketError::InvalidAddress(_))));
    // Data over 32767 bytes.
    let big = Fulfill { fulfillment: [1; 32], data: vec![0; MAX_DATA_LEN + 1] };
    assert_eq!(Fulfill::decode(&big.encode()), Err(PacketError::DataTooLong(MAX_DATA_LEN + 1)));
    let max = Fulfill { fulfillment: [1; 32], data: vec![0; MAX_DATA_LEN] };
    assert_eq!(Fulfill::decode(&max.encode()).unwrap(), max);
    // Messages read well.
    assert_eq!(PacketError::DataTooLong(40000).to_string(), "data field is 40000 bytes long, the maximum is 32767");
    assert_eq!(PacketError::Oer(OerError::UnexpectedEnd).to_string(), "invalid packet: unexpected end of data");
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut bytes = h(JS_PREPARE);
    bytes.extend_from_slice(b"junk");
    assert!(Prepare::decode(&bytes).is_ok());
    // Extra bytes inside the body after `data` (envelope length grows by 2).
    let f = Fulfill { fulfillment: [9; 32], data: vec![1, 2] };
    let mut enc = f.encode();
    enc[1] += 2;
    enc.extend_from_slice(&[0, 0]);
    assert_eq!(Fulfill::decode(&enc).unwrap(), f);
}

#[test]
fn reject_triggered_by_empty_or_invalid_is_none() {
    let none = Reject { code: ErrorCode::T00_INTERNAL_ERROR, triggered_by: None, message: String::new(), data: vec![] };
    let enc = none.encode();
    assert_eq!(enc, h("0e06 543030 00 00 00"));
    assert_eq!(Reject::decode(&enc).unwrap(), none);
    // triggeredBy "bogus" (not an ILP address) decodes as None.
    let bogus = h("0e0b 543030 05626f677573 00 00");
    assert_eq!(Reject::decode(&bogus).unwrap().triggered_by, None);
    // Invalid UTF-8 in the message is replaced, not fatal.
    let bad_msg = h("0e07 543030 00 01ff 00");
    assert_eq!(Reject::decode(&bad_msg).unwrap().message, "\u{fffd}");
}

#[test]
fn error_codes() {
    let all = [
        (ErrorCode::F00_BAD_REQUEST, "F00", "Bad Request"),
        (ErrorCode::F01_INVALID_PACKET, "F01", "Invalid Packet"),
        (ErrorCode::F02_UNREACHABLE, "F02", "Unreachable"),
        (ErrorCode::F03_INVALID_AMOUNT, "F03", "Invalid Amount"),
        (ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT, "F04", "Insufficient Destination Amount"),
        (ErrorCode::F05_WRONG_CONDITION, "F05", "Wrong Condition"),
        (ErrorCode::F06_UNEXPECTED_PAYMENT, "F06", "Unexpected Payment"),
        (ErrorCode::F07_CANNOT_RECEIVE, "F07", "Cannot Receive"),
        (ErrorCode::F08_AMOUNT_TOO_LARGE, "F08", "Amount Too Large"),
        (ErrorCode::F99_APPLICATION_ERROR, "F99", "Application Error"),
        (ErrorCode::T00_INTERNAL_ERROR, "T00", "Internal Error"),
        (ErrorCode::T01_PEER_UNREACHABLE, "T01", "Peer Unreachable"),
        (ErrorCode::T02_PEER_BUSY, "T02", "Peer Busy"),
        (ErrorCode::T03_CONNECTOR_BUSY, "T03", "Connector Busy"),
        (ErrorCode::T04_INSUFFICIENT_LIQUIDITY, "T04", "Insufficient Liquidity"),
        (ErrorCode::T05_RATE_LIMITED, "T05", "Rate Limited"),
        (ErrorCode::T99_APPLICATION_ERROR, "T99", "Application Error"),
        (ErrorCode::R00_TRANSFER_TIMED_OUT, "R00", "Transfer Timed Out"),
        (ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT, "R01", "Insufficient Source Amount"),
        (ErrorCode::R02_INSUFFICIENT_TIMEOUT, "R02", "Insufficient Timeout"),
        (ErrorCode::R99_APPLICATION_ERROR, "R99", "Application Error"),
    ];
    for (code, text, name) in all {
        assert_eq!(code.as_str(), text);
        assert_eq!(code.to_string(), text);
        assert_eq!(code.name(), name);
        let class = text.as_bytes()[0];
        assert_eq!(code.is_final(), class == b'F');
        assert_eq!(code.is_temporary(), class == b'T');
        assert_eq!(code.is_relative(), class == b'R');
    }
    assert_eq!(ErrorCode(*b"F42").name(), "Final Error");
    assert_eq!(ErrorCode([0xff, 0, 0]).as_str(), "???");
    assert_eq!(format!("{:?}", ErrorCode::F02_UNREACHABLE), "ErrorCode(F02)");
}

// ---- §3 addresses ---------------------------------------------------------------------

#[test]
fn valid_addresses() {
    let segment_1023 = format!("g.{}", "a".repeat(1021));
    for s in [
        "test.alice",
        "test1.a",
        "test2.a.b",
        "test3.x",
        "g.acme.bob",
        "private.acme",
        "example.alice",
        "peer.config",
        "peer.route.control",
        "self.foo",
        "local.admin",
        "g.A-z_0~9",
        "test.parent.child.Zm9v_YmFy-",
        segment_1023.as_str(),
    ] {
        let a = Address::new(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(a.as_str(), s);
        assert_eq!(a.to_string(), s);
        assert_eq!(Address::from_str(s).unwrap(), a);
    }
}

#[test]
fn invalid_addresses() {
    let too_long = format!("g.{}", "a".repeat(1022));
    let cases: [(&str, AddressError); 14] = [
        ("", AddressError::UnknownScheme),
        ("test", AddressError::MissingSegment),
        ("test.", AddressError::EmptySegment),
        ("test..a", AddressError::EmptySegment),
        (".test.a", AddressError::UnknownScheme),
        ("test.a.", AddressError::EmptySegment),
        ("test4.a", AddressError::UnknownScheme),
        ("G.a", AddressError::UnknownScheme),
        ("foo.bar", AddressError::UnknownScheme),
        ("test.a b", AddressError::InvalidCharacter),
        ("test.a/b", AddressError::InvalidCharacter),
        ("test.ä", AddressError::InvalidCharacter),
        ("g.a+b", AddressError::InvalidCharacter),
        (too_long.as_str(), AddressError::TooLong(1024)),
    ];
    for (s, err) in cases {
        assert_eq!(Address::new(s), Err(err), "{s:?}");
    }
}

#[test]
fn address_helpers() {
    let a = Address::new("test.parent.child").unwrap();
    assert_eq!(a.scheme(), "test");
    assert_eq!(a.segments().collect::<Vec<_>>(), ["test", "parent", "child"]);
    assert_eq!(a.segments().last(), Some("child"));
    assert_eq!(a.with_suffix("abc").unwrap().as_str(), "test.parent.child.abc");
    assert_eq!(a.with_suffix("a.b").unwrap().as_str(), "test.parent.child.a.b");
    assert!(a.with_suffix("").is_err());
    assert!(a.with_suffix("a b").is_err());
    assert!(Address::new(&format!("g.{}", "a".repeat(1019))).unwrap().with_suffix("bb").is_err());

    let ab = Address::new("test.a.b").unwrap();
    assert!(ab.has_prefix("test.a"));
    assert!(ab.has_prefix("test.a.b"));
    assert!(ab.has_prefix("test"));
    assert!(ab.has_prefix("test.a."));
    assert!(ab.has_prefix(""));
    assert!(!ab.has_prefix("test.a.b.c"));
    assert!(!ab.has_prefix("test.a.b."));
    assert!(!Address::new("test.ab").unwrap().has_prefix("test.a"));
    assert!(Address::new("test.a").unwrap().has_prefix("test.a"));
}

#[test]
fn address_serde() {
    let a = Address::new("g.acme.bob").unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"g.acme.bob\"");
    assert_eq!(serde_json::from_str::<Address>("\"g.acme.bob\"").unwrap(), a);
    assert!(serde_json::from_str::<Address>("\"nope\"").is_err());
}
