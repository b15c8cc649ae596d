//! STREAM vectors: the RFC 29 fixture file (interledger/rfcs
//! `0029-stream/test-vectors/StreamPacketFixtures.json`, committed as
//! `tests/fixtures/stream_packet_fixtures.json`), the spot vectors and crypto vectors of
//! ilp.md §4.5, and the golden end-to-end vector of §4.6.

use chrono::{DateTime, Utc};
use protocol::ilp::{Address, ErrorCode, Fulfill, Prepare, Reject};
use protocol::stream::*;
use serde_json::Value;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// Minimal standard base64 decoder (with padding) for the fixture file.
fn b64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64 char") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn num(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.as_u64().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn frame_from_json(f: &Value) -> Frame {
    let s = |k: &str| f[k].as_str().unwrap().to_owned();
    let n = |k: &str| num(&f[k]);
    match f["type"].as_u64().unwrap() {
        1 => Frame::ConnectionClose { code: CloseCode::from_u8(n("errorCode") as u8), message: s("errorMessage") },
        2 => Frame::ConnectionNewAddress { source_account: Address::new(&s("sourceAccount")).unwrap() },
        3 => Frame::ConnectionMaxData { max_offset: n("maxOffset") },
        4 => Frame::ConnectionDataBlocked { max_offset: n("maxOffset") },
        5 => Frame::ConnectionMaxStreamId { max_stream_id: n("maxStreamId") },
        6 => Frame::ConnectionStreamIdBlocked { max_stream_id: n("maxStreamId") },
        7 => {
            Frame::ConnectionAssetDetails { asset_code: s("sourceAssetCode"), asset_scale: n("sourceAssetScale") as u8 }
        }
        16 => Frame::StreamClose {
            stream_id: n("streamId"),
            code: CloseCode::from_u8(n("errorCode") as u8),
            message: s("errorMessage"),
        },
        17 => Frame::StreamMoney { stream_id: n("streamId"), shares: n("shares") },
        18 => Frame::StreamMaxMoney {
            stream_id: n("streamId"),
            receive_max: n("receiveMax"),
            total_received: n("totalReceived"),
        },
        19 => {
            Frame::StreamMoneyBlocked { stream_id: n("streamId"), send_max: n("sendMax"), total_sent: n("totalSent") }
        }
        20 => Frame::StreamData { stream_id: n("streamId"), offset: n("offset"), data: b64(&s("data")) },
        21 => Frame::StreamMaxData { stream_id: n("streamId"), max_offset: n("maxOffset") },
        22 => Frame::StreamDataBlocked { stream_id: n("streamId"), max_offset: n("maxOffset") },
        23 => Frame::StreamReceipt { stream_id: n("streamId"), receipt: b64(&s("receipt")) },
        t => panic!("unknown fixture frame type {t}"),
    }
}

#[test]
fn rfc29_fixture_file() {
    let text = include_str!("fixtures/stream_packet_fixtures.json");
    let cases: Vec<Value> = serde_json::from_str(text).unwrap();
    assert_eq!(cases.len(), 53);
    let mut round_tripped = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let p = &case["packet"];
        let expected = StreamPacket {
            sequence: num(&p["sequence"]),
            ilp_packet_type: IlpPacketType::try_from(p["packetType"].as_u64().unwrap() as u8).unwrap(),
            prepare_amount: num(&p["amount"]),
            frames: p["frames"].as_array().unwrap().iter().map(frame_from_json).collect(),
        };
        let buffer = b64(case["buffer"].as_str().unwrap());
        let decoded = StreamPacket::decode(&buffer).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, expected, "{name}: decode");
        if case["decode_only"].as_bool() != Some(true) {
            assert_eq!(expected.encode(), buffer, "{name}: encode");
            round_tripped += 1;
        }
    }
    assert_eq!(round_tripped, 51);
}

#[test]
fn spec_spot_vectors() {
    let frame_only = |frame: Frame| StreamPacket {
        sequence: 0,
        ilp_packet_type: IlpPacketType::Prepare,
        prepare_amount: 0,
        frames: vec![frame],
    };
    let empty = |ty| StreamPacket { sequence: 0, ilp_packet_type: ty, prepare_amount: 0, frames: vec![] };
    let cases: Vec<(&str, StreamPacket)> = vec![
        ("010c010001000100", empty(IlpPacketType::Prepare)),
        ("010d010001000100", empty(IlpPacketType::Fulfill)),
        ("010e010001000100", empty(IlpPacketType::Reject)),
        ("010c071fffffffffffff01000100", StreamPacket { sequence: (1 << 53) - 1, ..empty(IlpPacketType::Prepare) }),
        ("010c08ffffffffffffffff01000100", StreamPacket { sequence: u64::MAX, ..empty(IlpPacketType::Prepare) }),
        ("010c010008ffffffffffffffff0100", StreamPacket { prepare_amount: u64::MAX, ..empty(IlpPacketType::Prepare) }),
        (
            "010c010001000101010601046661696c",
            frame_only(Frame::ConnectionClose { code: CloseCode::NoError, message: "fail".into() }),
        ),
        (
            "010c010001000101020e0d6578616d706c652e616c696365",
            frame_only(Frame::ConnectionNewAddress { source_account: Address::new("example.alice").unwrap() }),
        ),
        (
            "010c010001000101070503414243ff",
            frame_only(Frame::ConnectionAssetDetails { asset_code: "ABC".into(), asset_scale: 255 }),
        ),
        ("010c01000100010103020100", frame_only(Frame::ConnectionMaxData { max_offset: 0 })),
        ("010c010001000101030908ffffffffffffffff", frame_only(Frame::ConnectionMaxData { max_offset: u64::MAX })),
        (
            "010c0100010001011014017bff10616e206572726f72206d657373616765",
            frame_only(Frame::StreamClose {
                stream_id: 123,
                code: CloseCode::Unknown(255),
                message: "an error message".into(),
            }),
        ),
        ("010c0100010001011104017b0100", frame_only(Frame::StreamMoney { stream_id: 123, shares: 0 })),
        (
            "010c0100010001011207017b01000201c8",
            frame_only(Frame::StreamMaxMoney { stream_id: 123, receive_max: 0, total_received: 456 }),
        ),
        (
            "010c010001000101140c017b0201c806666f6f626172",
            frame_only(Frame::StreamData { stream_id: 123, offset: 456, data: b"foobar".to_vec() }),
        ),
        ("010c0100010001011504017b0100", frame_only(Frame::StreamMaxData { stream_id: 123, max_offset: 0 })),
        ("010c0100010001011604017b0100", frame_only(Frame::StreamDataBlocked { stream_id: 123, max_offset: 0 })),
    ];
    for (hex, packet) in cases {
        assert_eq!(packet.encode(), h(hex), "{hex}");
        assert_eq!(StreamPacket::decode(&h(hex)).unwrap(), packet, "{hex}");
    }
    // receiveMax of 2^64 (9 bytes) decodes as u64::MAX; re-encoding is canonical (8 bytes).
    let too_big = h("010c010001000101120f017b090100000000000000000201c8");
    let p = StreamPacket::decode(&too_big).unwrap();
    assert_eq!(p.frames, [Frame::StreamMaxMoney { stream_id: 123, receive_max: u64::MAX, total_received: 456 }]);
}

#[test]
fn packet_rules() {
    // Version must be 1.
    assert_eq!(StreamPacket::decode(&h("020c010001000100")), Err(StreamError::UnsupportedVersion(2)));
    // ILP type must be 12..=14.
    assert_eq!(StreamPacket::decode(&h("010b010001000100")), Err(StreamError::InvalidPacketType(11)));
    // Unknown frame types are skipped; junk after the frames is ignored.
    let bytes = h("010c 0100 0100 0102 ff03aabbcc 1104017b0105 000000");
    let p = StreamPacket::decode(&bytes).unwrap();
    assert_eq!(p.frames, [Frame::StreamMoney { stream_id: 123, shares: 5 }]);
    // A frame count larger than the frames present is an error, not a hang or a panic.
    assert!(StreamPacket::decode(&h("010c 0100 0100 08ffffffffffffffff")).is_err());
    // A known frame with broken contents is an error.
    assert!(StreamPacket::decode(&h("010c 0100 0100 0101 1101ff")).is_err());
}

// ---- §4.5 crypto vectors ---------------------------------------------------------------

#[test]
fn crypto_vectors() {
    let secret = h("7edb755d76f8f9d314d3416eed50fdb35192e543e7315c7ffee6906667a69624");
    let keys = StreamKeys::derive(&secret);
    assert_eq!(hex::encode(keys.encryption_key), "3f8f12c9f2be99d32bd615fdf212e96f47911242556f4f32c75241ba1149cc57");
    assert_eq!(hex::encode(keys.fulfillment_key), "aa044d1508fde0fbff6956f1daf210235dc396810be76ad27bab497f5707f31d");

    let iv: [u8; 12] = h("77f8d5ea3fc8e08cd4de699f").try_into().unwrap();
    let envelope = keys.encrypt(iv, &h("63000cff4d1f"));
    assert_eq!(envelope, h("77f8d5ea3fc8e08cd4de699f f6cb429b97ac44184ce85a0aed92bd49 f8c4b16c73df"));
    assert_eq!(keys.decrypt(&envelope).unwrap(), h("63000cff4d1f"));

    assert_eq!(
        hex::encode(keys.fulfillment(&envelope)),
        "18063849e5ec58e3527098319849b6b7c607e97c77410d44366c78c13be26b27"
    );
    assert_eq!(
        hex::encode(keys.condition(&envelope)),
        "8c1e5999a50fbe1afb92f0a39485cac876f45b5499c8fb8268aa14e5b50b90bb"
    );
}

#[test]
fn decrypt_failures() {
    let keys = StreamKeys::derive(&[7; 32]);
    let envelope = keys.encrypt([0; 12], b"hello");
    assert_eq!(keys.decrypt(&envelope[..27]), Err(StreamError::EnvelopeTooShort(27)));
    assert_eq!(keys.decrypt(&[]), Err(StreamError::EnvelopeTooShort(0)));
    // Empty plaintext is a valid 28-byte envelope.
    assert_eq!(keys.decrypt(&keys.encrypt([1; 12], b"")).unwrap(), b"");
    let mut tampered = envelope.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(keys.decrypt(&tampered), Err(StreamError::DecryptionFailed));
    assert_eq!(StreamKeys::derive(&[8; 32]).decrypt(&envelope), Err(StreamError::DecryptionFailed));
    // Long secrets (> 64 bytes, hashed first per RFC 2104) and short ones both work.
    let long = StreamKeys::derive(&[3; 100]);
    assert_eq!(long.decrypt(&long.encrypt([2; 12], b"x")).unwrap(), b"x");
    assert_eq!(format!("{keys:?}"), "StreamKeys { .. }");
}

#[test]
fn hmac_rfc4231_case_6_long_key() {
    // RFC 4231 test case 6: 131-byte key, exercises the hash-the-key path.
    let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
    assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // Test case 2: short key.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// ---- §4.6 golden end-to-end vector -----------------------------------------------------

const GOLDEN_PLAINTEXT: &str =
    "010c010101630104021211746573742e706172656e742e6368696c6407050358525009110401010101140a010101000568656c6c6f";
const GOLDEN_ENVELOPE: &str = "000102030405060708090a0bdfe1e7da2ab3952eef13d5754c72eadfe3e4a8684bfb41c6d3c5b9df3a1b5e8e5db1e18a60f3e785951b54ef2caeafe0a9502a75225fd283f3bc1a47ab0e3ef7369c2ac82d";
const GOLDEN_FULFILLMENT: &str = "35fe830417560b21e82673531ecee7ad1e97d0077ca5c20cfef30e3729ad55e0";
const GOLDEN_CONDITION: &str = "cccb27074d2efeda0be397983a2d9eb91e8f68e4b63c525c3f11466b69d177a4";

fn golden_packet() -> StreamPacket {
    StreamPacket {
        sequence: 1,
        ilp_packet_type: IlpPacketType::Prepare,
        prepare_amount: 99,
        frames: vec![
            Frame::ConnectionNewAddress { source_account: Address::new("test.parent.child").unwrap() },
            Frame::ConnectionAssetDetails { asset_code: "XRP".into(), asset_scale: 9 },
            Frame::StreamMoney { stream_id: 1, shares: 1 },
            Frame::StreamData { stream_id: 1, offset: 0, data: b"hello".to_vec() },
        ],
    }
}

#[test]
fn golden_stream_in_ilp() {
    let keys = StreamKeys::derive(&[7; 32]);
    assert_eq!(hex::encode(keys.encryption_key), "bf571594b40ec3a57677115fac432e0fd97d5f5f6c746389b9a22bcb5ebc8910");

    let packet = golden_packet();
    assert_eq!(packet.encode(), h(GOLDEN_PLAINTEXT));
    assert_eq!(StreamPacket::decode(&h(GOLDEN_PLAINTEXT)).unwrap(), packet);

    let iv: [u8; 12] = h("000102030405060708090a0b").try_into().unwrap();
    let envelope = keys.encrypt_packet(iv, &packet);
    assert_eq!(envelope, h(GOLDEN_ENVELOPE));
    assert_eq!(keys.decrypt_packet(&envelope).unwrap(), packet);

    assert_eq!(hex::encode(keys.fulfillment(&envelope)), GOLDEN_FULFILLMENT);
    assert_eq!(hex::encode(keys.condition(&envelope)), GOLDEN_CONDITION);

    let prepare = Prepare {
        amount: 100,
        expires_at: DateTime::parse_from_rfc3339("2030-01-01T00:00:00.000Z").unwrap().with_timezone(&Utc),
        execution_condition: keys.condition(&envelope),
        destination: Address::new("test.parent.abc").unwrap(),
        data: envelope.clone(),
    };
    let prepare_bytes = h(&format!(
        "0c819b00000000000000643230333030313031303030303030303030{GOLDEN_CONDITION}0f746573742e706172656e742e61626351{GOLDEN_ENVELOPE}"
    ));
    assert_eq!(prepare.encode(), prepare_bytes);
    let decoded = Prepare::decode(&prepare_bytes).unwrap();
    assert_eq!(decoded, prepare);
    assert_eq!(decoded.data.len(), 81);

    let fulfill = Fulfill { fulfillment: keys.fulfillment(&decoded.data), data: vec![] };
    assert_eq!(fulfill.encode(), h(&format!("0d21{GOLDEN_FULFILLMENT}00")));
    assert!(protocol::ilp::fulfillment_matches(&fulfill.fulfillment, &decoded.execution_condition));

    let reject = Reject {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: Some(Address::new("test.parent").unwrap()),
        message: String::new(),
        data: h("abcd"),
    };
    assert_eq!(reject.encode(), h("0e134639390b746573742e706172656e740002abcd"));
    assert_eq!(Reject::decode(&reject.encode()).unwrap(), reject);
}
