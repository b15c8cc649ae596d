//! BTP 2.0 vectors (ilp.md §5) and IL-DCP vectors (ilp.md §6).

use chrono::{DateTime, Utc};
use protocol::btp::*;
use protocol::ildcp::{self, IldcpResponse};
use protocol::ilp::{Address, Fulfill, Packet, Prepare, PEER_PROTOCOL_CONDITION};
use protocol::oer::OerError;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn entry(name: &str, content_type: ContentType, data: &[u8]) -> ProtocolData {
    ProtocolData { protocol_name: name.into(), content_type, data: data.to_vec() }
}

fn check(packet: &BtpPacket, hex: &str) {
    assert_eq!(packet.encode(), h(hex), "encode");
    assert_eq!(&BtpPacket::decode(&h(hex)).unwrap(), packet, "decode");
}

// ---- §5 BTP ---------------------------------------------------------------------------

#[test]
fn btp_message_vector() {
    let packet = BtpPacket::Message {
        request_id: 2,
        protocol_data: vec![
            entry("test", ContentType::OctetStream, &[0xff, 0xff]),
            entry("text", ContentType::TextPlainUtf8, b"hello"),
        ],
    };
    check(&packet, "060000000217010204746573740002ffff0474657874010568656c6c6f");
    assert_eq!(packet.request_id(), 2);
}

#[test]
fn btp_response_vector() {
    let packet = BtpPacket::Response {
        request_id: 129,
        protocol_data: vec![entry("some other protocol", ContentType::OctetStream, &[0xaa; 3])],
    };
    check(&packet, "01000000811b010113736f6d65206f746865722070726f746f636f6c0003aaaaaa");
}

#[test]
fn btp_error_vector() {
    let packet = BtpPacket::Error {
        request_id: 501,
        code: "T00".into(),
        name: "UnreachableError".into(),
        triggered_at: at("2018-08-31T02:53:24.899Z"),
        data: b"oops".to_vec(),
        protocol_data: vec![],
    };
    let hex =
        "02000001f52f54303010556e726561636861626c654572726f721332303138303833313032353332342e3839395a046f6f70730100";
    check(&packet, hex);
    assert_eq!(
        BtpPacket::error(501, error_codes::T00_UNREACHABLE, at("2018-08-31T02:53:24.899Z"), b"oops".to_vec()),
        packet
    );
}

#[test]
fn btp_captured_auth_and_reply() {
    let auth = auth_message(0x30ee6429, "alice", "shh");
    check(
        &auth,
        "0630ee6429 2e 0103 0461757468 00 00 0d617574685f757365726e616d65 01 05616c696365 0a617574685f746f6b656e 01 03736868",
    );
    let parsed = parse_auth(auth.protocol_data()).unwrap();
    assert_eq!(parsed, AuthRequest { username: Some("alice".into()), token: "shh".into() });
    check(&auth_response(0x30ee6429), "0130ee6429020100");
}

#[test]
fn btp_auth_rules() {
    // Empty username -> None; token may be empty but must be present.
    let a = auth_message(1, "", "");
    assert_eq!(parse_auth(a.protocol_data()).unwrap(), AuthRequest { username: None, token: String::new() });
    // interledger-rs style: auth + auth_token only.
    let rs = [entry("auth", ContentType::OctetStream, b""), entry("auth_token", ContentType::TextPlainUtf8, b"u:t")];
    assert_eq!(parse_auth(&rs).unwrap(), AuthRequest { username: None, token: "u:t".into() });
    assert_eq!(parse_auth(&rs[..1]), Err(BtpError::MissingAuthToken));
    assert_eq!(parse_auth(&[]), Err(BtpError::NotAuth));
    assert_eq!(parse_auth(&[ilp_entry(vec![1]), rs[1].clone()]), Err(BtpError::NotAuth));
    let bad = [entry("auth", ContentType::OctetStream, b""), entry("auth_token", ContentType::TextPlainUtf8, &[0xff])];
    assert_eq!(parse_auth(&bad), Err(BtpError::InvalidAuthField("auth_token")));
}

#[test]
fn btp_transfer_and_long_length() {
    let transfer = BtpPacket::Transfer { request_id: 1, amount: 10, protocol_data: vec![] };
    check(&transfer, "07 00000001 0a 000000000000000a 0100");

    // 200-byte ILP payload: body = 2 (count) + 4 ("ilp") + 1 + 2 (81c8) + 200 = 209 = 0xd1.
    let msg = BtpPacket::Message { request_id: 7, protocol_data: vec![ilp_entry(vec![0x5a; 200])] };
    let enc = msg.encode();
    assert_eq!(&enc[..9], &h("06 00000007 81d1 0101")[..]);
    assert_eq!(BtpPacket::decode(&enc).unwrap(), msg);
    assert_eq!(find_entry(msg.protocol_data(), "ilp").unwrap().data.len(), 200);
    assert!(find_entry(msg.protocol_data(), "auth").is_none());
}

#[test]
fn btp_decode_errors() {
    for t in [0u8, 3, 4, 5, 8, 255] {
        let mut bytes = h("0600000002020100");
        bytes[0] = t;
        assert_eq!(BtpPacket::decode(&bytes), Err(BtpError::UnknownType(t)));
    }
    assert_eq!(BtpPacket::decode(&h("06000000")), Err(BtpError::Oer(OerError::UnexpectedEnd)));
    // Count says 2 entries, only one present.
    assert!(BtpPacket::decode(&h("0600000002 08 0102 0161 00 0100")).is_err());
    // Error packet with a bad timestamp.
    let bad_time = h("0200000001 0f 543030 00 0a32303138303833315a 00 0100");
    assert_eq!(BtpPacket::decode(&bad_time), Err(BtpError::InvalidTimestamp));
    // Non-ASCII error code.
    let bad_code = h("0200000001 18 ff3030 00 1332303138303833313032353332342e3839395a 00 0100");
    assert_eq!(BtpPacket::decode(&bad_code), Err(BtpError::InvalidErrorCode));
    // Trailing bytes after the envelope are ignored; unknown content types survive.
    let mut bytes =
        BtpPacket::Response { request_id: 3, protocol_data: vec![entry("x", ContentType::Other(9), b"")] }.encode();
    let decoded = BtpPacket::decode(&bytes).unwrap();
    assert_eq!(decoded.protocol_data()[0].content_type, ContentType::Other(9));
    bytes.push(0);
    assert_eq!(BtpPacket::decode(&bytes).unwrap(), decoded);
}

#[test]
fn generalized_time_forms() {
    let t = at("2018-08-31T02:53:24.899Z");
    assert_eq!(&encode_generalized_time(t), b"20180831025324.899Z");
    assert_eq!(&encode_generalized_time(at("2018-08-31T02:53:24Z")), b"20180831025324.000Z");
    assert_eq!(decode_generalized_time(b"20180831025324.899Z").unwrap(), t);
    assert_eq!(decode_generalized_time(b"20180831025324,899Z").unwrap(), t);
    assert_eq!(decode_generalized_time(b"20180831025324.9Z").unwrap(), at("2018-08-31T02:53:24.9Z"));
    assert_eq!(decode_generalized_time(b"20180831025324Z").unwrap(), at("2018-08-31T02:53:24Z"));
    for bad in [
        &b"20180831025324"[..],
        b"20180831025324.Z",
        b"20180831025324.1234567890Z",
        b"2018083102532Z",
        b"20181331025324Z",
        b"",
    ] {
        assert_eq!(decode_generalized_time(bad), Err(BtpError::InvalidTimestamp), "{bad:?}");
    }
}

#[test]
fn ilp_over_btp() {
    let prepare = ildcp::request(at("2030-01-01T00:00:00Z"));
    let msg = BtpPacket::Message { request_id: 9, protocol_data: vec![ilp_entry(prepare.encode())] };
    let back = BtpPacket::decode(&msg.encode()).unwrap();
    let ilp = find_entry(back.protocol_data(), ILP_PROTOCOL).unwrap();
    assert_eq!(ilp.content_type, ContentType::OctetStream);
    assert_eq!(Packet::decode(&ilp.data).unwrap(), Packet::Prepare(prepare));
}

// ---- §6 IL-DCP ------------------------------------------------------------------------

#[test]
fn ildcp_captured_response() {
    let resp = IldcpResponse {
        client_address: Address::new("test.parent.child").unwrap(),
        asset_scale: 9,
        asset_code: "XRP".into(),
    };
    let fulfill_bytes = h(&format!("0d38{}17 11746573742e706172656e742e6368696c64 09 03585250", "00".repeat(32)));
    assert_eq!(ildcp::fulfill(&resp).encode(), fulfill_bytes);
    let fulfill = Fulfill::decode(&fulfill_bytes).unwrap();
    assert_eq!(IldcpResponse::decode(&fulfill.data).unwrap(), resp);
    assert_eq!(resp.encode(), h("11746573742e706172656e742e6368696c64 09 03585250"));
}

#[test]
fn ildcp_request_shape() {
    let expiry = at("2026-11-21T12:00:00.123Z");
    let req = ildcp::request(expiry);
    let bytes = req.encode();
    // 0c46 | amount 0 | 17-byte expiry | peer condition | 0b "peer.config" | 00
    let expected = h(&format!(
        "0c46 0000000000000000 {} {} 0b706565722e636f6e666967 00",
        hex::encode(b"20261121120000123"),
        hex::encode(PEER_PROTOCOL_CONDITION)
    ));
    assert_eq!(bytes, expected);
    let decoded = Prepare::decode(&bytes).unwrap();
    assert!(ildcp::is_ildcp_request(&decoded));
    let mut other = decoded.clone();
    other.destination = Address::new("peer.route.control").unwrap();
    assert!(!ildcp::is_ildcp_request(&other));
}

#[test]
fn ildcp_decode_errors() {
    assert!(IldcpResponse::decode(&h("05626f677573 09 03585250")).is_err()); // "bogus" address
    assert!(IldcpResponse::decode(&h("0b746573742e706172656e74")).is_err()); // truncated
    assert!(IldcpResponse::decode(&h("0b746573742e706172656e74 09 01ff")).is_err());
    // bad UTF-8
}
