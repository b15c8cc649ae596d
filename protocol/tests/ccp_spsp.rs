//! CCP route broadcasting vectors and SPSP / payment pointer tests (spec ilp.md §6).
//!
//! The CCP hex below was produced with the JS reference serializers, `npm:ilp-protocol-ccp@1.2.3`
//! (`serializeCcpRouteControlRequestPayload`, `serializeCcpRouteUpdateRequestPayload`,
//! `constructCcp*Request` + `npm:ilp-packet@3.1.3 serializeIlpPrepare` with the expiry fixed,
//! `serializeCcpResponse`; `oer-utils@5.1.2`, Node v20.20.2). The SPSP body is what the
//! ilp.md §8.3 harness writes: `JSON.stringify({destination_account, shared_secret:
//! secret.toString('base64')})`.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use protocol::ccp::{self, CcpError, Mode, Route, RouteControlRequest, RouteProp, RouteUpdateRequest};
use protocol::ilp::{Address, ErrorCode, Fulfill, Prepare, PEER_PROTOCOL_CONDITION, SCHEMES};
use protocol::oer::OerError;
use protocol::spsp::{self, SpspError, SpspResponse};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn addr(s: &str) -> Address {
    Address::new(s).unwrap()
}

fn uuid(s: &str) -> [u8; 16] {
    h(&s.replace('-', "")).try_into().unwrap()
}

// ---- CCP vectors ----------------------------------------------------------------------

/// ilp.md §6 capture: SYNC, zero table id, epoch 0, no features (also what the JS serializer
/// writes for that input).
const CONTROL_CAPTURED: &str = "01 00000000000000000000000000000000 00000000 0100";

/// JS: `{mode: MODE_IDLE, lastKnownRoutingTableId: '3b069822-a754-4e44-8a60-0f9f7084144d',
/// lastKnownEpoch: 52, features: ['foo', 'bär']}`.
const CONTROL_RICH: &str = "00 3b069822a7544e448a600f9f7084144d 00000034 0102 03666f6f 0462c3a472";

/// Route auth standing in for the one elided in ilp.md §6 (ilp-connector derives
/// its own from a random routing secret): SHA-256("test.b").
const AUTH_TEST_B: &str = "1b10f70836fe1f634af1a8caca493c641b69eb5e1f68ac2fe44fa3c824b0662e";

/// ilp.md §6 capture from ilp-connector B (`test.b`), re-serialized by JS with
/// [`AUTH_TEST_B`] in place of the elided auth.
const UPDATE_CAPTURED: &str = "489296beadc74a319d30d905b13436fe 00000001 00000000 00000001 0000afc8 \
    06746573742e62 0101 06746573742e62 0101 06746573742e62 \
    1b10f70836fe1f634af1a8caca493c641b69eb5e1f68ac2fe44fa3c824b0662e 0100 0100";

/// The full Prepare for [`CONTROL_CAPTURED`], expiry fixed at 2026-11-21T00:01:00.000Z.
const CONTROL_PREPARE: &str = "0c64 0000000000000000 3230323631313231303030313030303030 \
    66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925 12706565722e726f7574652e636f6e74726f6c \
    17 0100000000000000000000000000000000000000000100";

/// The full Prepare for [`UPDATE_CAPTURED`], same expiry.
const UPDATE_PREPARE: &str = "0c81a9 0000000000000000 3230323631313231303030313030303030 \
    66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925 11706565722e726f7574652e757064617465 \
    5d489296beadc74a319d30d905b13436fe0000000100000000000000010000afc806746573742e62010106746573742e62010106746573742e62\
    1b10f70836fe1f634af1a8caca493c641b69eb5e1f68ac2fe44fa3c824b0662e01000100";

/// JS `serializeCcpResponse()`.
const CCP_RESPONSE: &str = "0d21 0000000000000000000000000000000000000000000000000000000000000000 00";

fn control_captured() -> RouteControlRequest {
    RouteControlRequest {
        mode: Mode::Sync,
        last_known_routing_table_id: [0; 16],
        last_known_epoch: 0,
        features: vec![],
    }
}

fn update_captured() -> RouteUpdateRequest {
    RouteUpdateRequest {
        routing_table_id: uuid("489296be-adc7-4a31-9d30-d905b13436fe"),
        current_epoch_index: 1,
        from_epoch_index: 0,
        to_epoch_index: 1,
        hold_down_time: 45_000,
        speaker: addr("test.b"),
        new_routes: vec![Route {
            prefix: "test.b".into(),
            path: vec!["test.b".into()],
            auth: h(AUTH_TEST_B).try_into().unwrap(),
            props: vec![],
        }],
        withdrawn_routes: vec![],
    }
}

/// JS input: two routes, the second with three props (UTF-8, binary, and a 200-byte value
/// that needs a long-form length), two withdrawn routes. Prop flags are as the JS serializer
/// normalizes them.
fn update_rich() -> RouteUpdateRequest {
    RouteUpdateRequest {
        routing_table_id: uuid("bffbf6ad-0ddc-4d3b-a1e5-b4f0537365bd"),
        current_epoch_index: 52,
        from_epoch_index: 46,
        to_epoch_index: 50,
        hold_down_time: 30_000,
        speaker: addr("example.alpha"),
        new_routes: vec![
            Route {
                prefix: "example.prefix1".into(),
                path: vec!["example.prefix1".into()],
                auth: [0x11; 32],
                props: vec![],
            },
            Route {
                prefix: "example.prefix2".into(),
                path: vec!["example.connector1".into(), "example.prefix2".into()],
                auth: [0x22; 32],
                props: vec![
                    RouteProp {
                        is_optional: false,
                        is_transitive: true,
                        is_partial: false,
                        id: 0,
                        is_utf8: true,
                        value: b"hello world".to_vec(),
                    },
                    RouteProp {
                        is_optional: true,
                        is_transitive: true,
                        is_partial: true,
                        id: 1,
                        is_utf8: false,
                        value: vec![0xa0; 4],
                    },
                    RouteProp {
                        is_optional: true,
                        is_transitive: false,
                        is_partial: false,
                        id: 0xffff,
                        is_utf8: false,
                        value: (0..200u8).collect(),
                    },
                ],
            },
        ],
        withdrawn_routes: vec!["example.prefix3".into(), "example.prefix4".into()],
    }
}

fn update_rich_hex() -> String {
    let value: String = (0..200u8).map(|b| format!("{b:02x}")).collect();
    format!(
        "bffbf6ad0ddc4d3ba1e5b4f0537365bd 00000034 0000002e 00000032 00007530 0d6578616d706c652e616c706861 \
         0102 \
         0f6578616d706c652e70726566697831 0101 0f6578616d706c652e70726566697831 {a1} 0100 \
         0f6578616d706c652e70726566697832 0102 126578616d706c652e636f6e6e6563746f7231 0f6578616d706c652e70726566697832 {a2} \
         0103 50 0000 0b68656c6c6f20776f726c64 e0 0001 04a0a0a0a0 80 ffff 81c8 {value} \
         0102 0f6578616d706c652e70726566697833 0f6578616d706c652e70726566697834",
        a1 = "11".repeat(32),
        a2 = "22".repeat(32),
    )
}

#[test]
fn control_captured_vector() {
    assert_eq!(control_captured().encode(), h(CONTROL_CAPTURED));
    assert_eq!(RouteControlRequest::decode(&h(CONTROL_CAPTURED)).unwrap(), control_captured());
}

#[test]
fn control_rich_vector() {
    let req = RouteControlRequest {
        mode: Mode::Idle,
        last_known_routing_table_id: uuid("3b069822-a754-4e44-8a60-0f9f7084144d"),
        last_known_epoch: 52,
        features: vec!["foo".into(), "bär".into()],
    };
    assert_eq!(req.encode(), h(CONTROL_RICH));
    assert_eq!(RouteControlRequest::decode(&h(CONTROL_RICH)).unwrap(), req);
}

#[test]
fn update_captured_vector() {
    assert_eq!(update_captured().encode(), h(UPDATE_CAPTURED));
    assert_eq!(RouteUpdateRequest::decode(&h(UPDATE_CAPTURED)).unwrap(), update_captured());
}

#[test]
fn update_rich_vector() {
    let bytes = h(&update_rich_hex());
    assert_eq!(update_rich().encode(), bytes);
    assert_eq!(RouteUpdateRequest::decode(&bytes).unwrap(), update_rich());
}

#[test]
fn prepares_match_js_and_are_recognized() {
    let expires_at = at("2026-11-21T00:01:00.000Z");
    let control = ccp::control_prepare(&control_captured(), expires_at);
    assert_eq!(control.encode(), h(CONTROL_PREPARE));
    assert_eq!(control.amount, 0);
    assert_eq!(control.execution_condition, PEER_PROTOCOL_CONDITION);
    assert!(ccp::is_control(&control) && !ccp::is_update(&control));

    let update = ccp::update_prepare(&update_captured(), expires_at);
    assert_eq!(update.encode(), h(UPDATE_PREPARE));
    assert!(ccp::is_update(&update) && !ccp::is_control(&update));

    let decoded = Prepare::decode(&h(UPDATE_PREPARE)).unwrap();
    assert!(ccp::is_update(&decoded));
    assert_eq!(RouteUpdateRequest::decode(&decoded.data).unwrap(), update_captured());

    let other = Prepare { destination: addr("peer.config"), ..control };
    assert!(!ccp::is_control(&other) && !ccp::is_update(&other));
}

#[test]
fn fulfill_matches_js() {
    let fulfill = ccp::ccp_fulfill();
    assert_eq!(fulfill, Fulfill { fulfillment: [0; 32], data: vec![] });
    assert_eq!(fulfill.encode(), h(CCP_RESPONSE));
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut control = h(CONTROL_CAPTURED);
    control.extend_from_slice(b"extra");
    assert_eq!(RouteControlRequest::decode(&control).unwrap(), control_captured());
    let mut update = h(UPDATE_CAPTURED);
    update.extend_from_slice(&[0xff; 9]);
    assert_eq!(RouteUpdateRequest::decode(&update).unwrap(), update_captured());
}

#[test]
fn control_errors() {
    let mut bad_mode = h(CONTROL_CAPTURED);
    bad_mode[0] = 2;
    let err = RouteControlRequest::decode(&bad_mode).unwrap_err();
    assert_eq!(err, CcpError::UnknownMode(2));
    assert_eq!(err.reject_code(), ErrorCode::F01_INVALID_PACKET);
    assert_eq!(Mode::try_from(1).unwrap(), Mode::Sync);
    assert_eq!(Mode::Idle.as_u8(), 0);

    let full = h(CONTROL_CAPTURED);
    for len in 0..full.len() {
        assert_eq!(
            RouteControlRequest::decode(&full[..len]),
            Err(CcpError::Oer(OerError::UnexpectedEnd)),
            "truncated to {len}"
        );
    }
    // A feature count far larger than the data ends in UnexpectedEnd, not a huge allocation.
    let huge = h("01 00000000000000000000000000000000 00000000 08ffffffffffffffff 0161");
    assert_eq!(RouteControlRequest::decode(&huge), Err(CcpError::Oer(OerError::UnexpectedEnd)));
    let not_utf8 = h("01 00000000000000000000000000000000 00000000 0101 01ff");
    assert_eq!(RouteControlRequest::decode(&not_utf8), Err(CcpError::Oer(OerError::InvalidUtf8)));
}

#[test]
fn update_errors() {
    let full = h(UPDATE_CAPTURED);
    for len in 0..full.len() {
        assert!(RouteUpdateRequest::decode(&full[..len]).is_err(), "truncated to {len}");
    }
    // speaker "nope.b" is not an ILP address (unknown scheme)
    let mut bad_speaker = full.clone();
    bad_speaker[33..39].copy_from_slice(b"nope.b");
    assert!(matches!(RouteUpdateRequest::decode(&bad_speaker), Err(CcpError::InvalidSpeaker(_))));
    // route count 2^64-1 with one route's worth of bytes
    let mut huge = full[..39].to_vec();
    huge.extend_from_slice(&h("08ffffffffffffffff"));
    huge.extend_from_slice(&full[41..]);
    assert_eq!(RouteUpdateRequest::decode(&huge), Err(CcpError::Oer(OerError::UnexpectedEnd)));
}

#[test]
fn prop_flags_are_written_as_given() {
    let mut req = update_captured();
    req.new_routes[0].props = vec![RouteProp {
        is_optional: false,
        is_transitive: false,
        is_partial: true,
        id: 7,
        is_utf8: false,
        value: vec![],
    }];
    let bytes = req.encode();
    let tail = &bytes[bytes.len() - 8..];
    assert_eq!(tail, h("0101 20 0007 00 0100"));
    assert_eq!(RouteUpdateRequest::decode(&bytes).unwrap(), req);
    // low meta bits are ignored on decode
    let mut low_bits = bytes.clone();
    let meta_at = low_bits.len() - 6;
    low_bits[meta_at] |= 0x0f;
    assert_eq!(RouteUpdateRequest::decode(&low_bits).unwrap(), req);
}

// ---- CCP property tests ---------------------------------------------------------------

fn address() -> impl Strategy<Value = Address> {
    (prop::sample::select(SCHEMES.to_vec()), prop::collection::vec("[A-Za-z0-9_~-]{1,12}", 1..4))
        .prop_map(|(scheme, segs)| Address::new(&format!("{scheme}.{}", segs.join("."))).unwrap())
}

fn control() -> impl Strategy<Value = RouteControlRequest> {
    (any::<bool>(), any::<[u8; 16]>(), any::<u32>(), prop::collection::vec(".{0,20}", 0..4)).prop_map(
        |(sync, last_known_routing_table_id, last_known_epoch, features)| RouteControlRequest {
            mode: if sync { Mode::Sync } else { Mode::Idle },
            last_known_routing_table_id,
            last_known_epoch,
            features,
        },
    )
}

fn prop_strategy() -> impl Strategy<Value = RouteProp> {
    (any::<[bool; 4]>(), any::<u16>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(f, id, value)| {
        RouteProp { is_optional: f[0], is_transitive: f[1], is_partial: f[2], id, is_utf8: f[3], value }
    })
}

fn route() -> impl Strategy<Value = Route> {
    (".{0,30}", prop::collection::vec(".{0,20}", 0..4), any::<[u8; 32]>(), prop::collection::vec(prop_strategy(), 0..3))
        .prop_map(|(prefix, path, auth, props)| Route { prefix, path, auth, props })
}

fn update() -> impl Strategy<Value = RouteUpdateRequest> {
    (
        any::<[u8; 16]>(),
        any::<[u32; 4]>(),
        address(),
        prop::collection::vec(route(), 0..4),
        prop::collection::vec(".{0,20}", 0..140),
    )
        .prop_map(|(routing_table_id, n, speaker, new_routes, withdrawn_routes)| RouteUpdateRequest {
            routing_table_id,
            current_epoch_index: n[0],
            from_epoch_index: n[1],
            to_epoch_index: n[2],
            hold_down_time: n[3],
            speaker,
            new_routes,
            withdrawn_routes,
        })
}

proptest! {
    #[test]
    fn control_round_trips(req in control()) {
        prop_assert_eq!(RouteControlRequest::decode(&req.encode()).unwrap(), req);
    }

    #[test]
    fn update_round_trips(req in update()) {
        let bytes = req.encode();
        let decoded = RouteUpdateRequest::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.encode(), bytes);
        prop_assert_eq!(decoded, req);
    }

    #[test]
    fn ccp_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = RouteControlRequest::decode(&bytes);
        let _ = RouteUpdateRequest::decode(&bytes);
    }

    #[test]
    fn ccp_decode_never_panics_on_mutated_vectors(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = match which {
            0 => h(CONTROL_RICH),
            1 => h(UPDATE_CAPTURED),
            _ => h(&update_rich_hex()),
        };
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = RouteControlRequest::decode(&bytes);
        let _ = RouteUpdateRequest::decode(&bytes);
    }
}

// ---- SPSP ----------------------------------------------------------------------------

/// Secret bytes of the JS body below.
const JS_SECRET: &str = "e0e6ecf6f8c6ccd6d0d6aca6b8b68c8680868c7678666c5650564c4638362c26";
/// Node v20.20.2: `JSON.stringify({destination_account: 'test.parent.child.abc', shared_secret:
/// Buffer.from(JS_SECRET, 'hex').toString('base64')})`.
const JS_BODY: &str =
    r#"{"destination_account":"test.parent.child.abc","shared_secret":"4Obs9vjGzNbQ1qymuLaMhoCGjHZ4ZmxWUFZMRjg2LCY="}"#;
/// The RFC 9 example secret (has `+` and `/`), and its bytes.
const RFC_SECRET_B64: &str = "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs=";
const RFC_SECRET_HEX: &str = "ea347988d21546fa9e6ac25e0adcba0be601e57f458523943c22ffe6785ae55b";

fn secret(hex_str: &str) -> [u8; 32] {
    h(hex_str).try_into().unwrap()
}

#[test]
fn spsp_constants() {
    assert_eq!(spsp::CONTENT_TYPE, "application/spsp4+json");
    assert_eq!(spsp::ACCEPT, "application/spsp4+json, application/spsp+json");
}

#[test]
fn spsp_parses_and_writes_js_body() {
    let resp = SpspResponse::from_json(JS_BODY.as_bytes()).unwrap();
    assert_eq!(resp.destination_account, addr("test.parent.child.abc"));
    assert_eq!(resp.shared_secret, secret(JS_SECRET));
    assert_eq!(resp.to_json(), JS_BODY);
    assert_eq!(serde_json::to_string(&resp).unwrap(), JS_BODY);
    let via_serde: SpspResponse = serde_json::from_str(JS_BODY).unwrap();
    assert_eq!(via_serde, resp);
}

#[test]
fn spsp_rfc_example_and_unknown_fields() {
    let body = r#"{
      "destination_account": "example.ilpdemo.red~invoice123",
      "shared_secret": "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs=",
      "balance": {"maximum": "-10000", "current": "-5360"},
      "asset_info": {"code": "USD", "scale": 2},
      "receiver_info": {"name": "XYZ Store", "image_url": "https://red.ilpdemo.org/logo.jpg"}
    }"#;
    let resp = SpspResponse::from_json(body.as_bytes()).unwrap();
    assert_eq!(resp.destination_account.as_str(), "example.ilpdemo.red~invoice123");
    assert_eq!(resp.shared_secret, secret(RFC_SECRET_HEX));
    assert_eq!(
        resp.to_json(),
        format!(r#"{{"destination_account":"example.ilpdemo.red~invoice123","shared_secret":"{RFC_SECRET_B64}"}}"#)
    );
}

#[test]
fn spsp_secret_encodings_accepted() {
    let want = secret(RFC_SECRET_HEX);
    for text in [
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs=", // standard, padded
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs",  // standard, unpadded
        "6jR5iNIVRvqeasJeCty6C-YB5X9FhSOUPCL_5nha5Vs=", // url-safe, padded
        "6jR5iNIVRvqeasJeCty6C-YB5X9FhSOUPCL_5nha5Vs",  // url-safe, unpadded
    ] {
        assert_eq!(spsp::decode_shared_secret(text).unwrap(), want, "{text}");
        let body = format!(r#"{{"shared_secret":"{text}","destination_account":"g.x"}}"#);
        assert_eq!(SpspResponse::from_json(body.as_bytes()).unwrap().shared_secret, want);
    }
    assert_eq!(spsp::encode_shared_secret(&want), RFC_SECRET_B64);
}

#[test]
fn spsp_secret_rejections() {
    for text in [
        "",
        "AAAA",                                           // 3 bytes
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs=AA", // too long
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5VsA",   // 33 bytes' worth
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5V=",    // 31 bytes + junk
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL_5nha5Vs=",   // mixed alphabets
        "6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5V s",   // whitespace
        "!jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs=",
    ] {
        assert!(
            matches!(spsp::decode_shared_secret(text), Err(SpspError::InvalidSharedSecret(_))),
            "{text:?} accepted"
        );
    }
    let short = r#"{"destination_account":"g.x","shared_secret":"AAAA"}"#;
    let err = SpspResponse::from_json(short.as_bytes()).unwrap_err();
    assert!(matches!(&err, SpspError::InvalidResponse(m) if m.contains("32 bytes")), "{err}");
}

#[test]
fn spsp_body_rejections() {
    for body in [
        "",
        "[]",
        "not json",
        r#"{"destination_account":"g.x"}"#,
        r#"{"shared_secret":"6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs="}"#,
        r#"{"destination_account":"nope.x","shared_secret":"6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs="}"#,
        r#"{"destination_account":42,"shared_secret":"6jR5iNIVRvqeasJeCty6C+YB5X9FhSOUPCL/5nha5Vs="}"#,
        r#"{"destination_account":"g.x","shared_secret":null}"#,
    ] {
        assert!(
            matches!(SpspResponse::from_json(body.as_bytes()), Err(SpspError::InvalidResponse(_))),
            "{body:?} accepted"
        );
    }
}

#[test]
fn spsp_debug_redacts_secret() {
    let resp = SpspResponse::from_json(JS_BODY.as_bytes()).unwrap();
    let debug = format!("{resp:?}");
    assert!(debug.contains("test.parent.child.abc"));
    assert!(!debug.contains("4Obs9") && !debug.contains("224"), "{debug}");
}

#[test]
fn spsp_invalid_receiver_body() {
    assert_eq!(
        spsp::invalid_receiver_body("Invalid receiver ID"),
        r#"{"id":"InvalidReceiverError","message":"Invalid receiver ID"}"#
    );
    // Escaping matches JS JSON.stringify for the same message.
    assert_eq!(
        spsp::invalid_receiver_body("Invalid receiver ID \"x\"\n"),
        r#"{"id":"InvalidReceiverError","message":"Invalid receiver ID \"x\"\n"}"#
    );
    let v: serde_json::Value = serde_json::from_str(&spsp::invalid_receiver_body("no such user")).unwrap();
    assert_eq!(v["id"], "InvalidReceiverError");
    assert_eq!(v["message"], "no such user");
}

#[test]
fn payment_pointers_resolve() {
    for (pointer, url) in [
        ("$example.com", "https://example.com/.well-known/pay"),
        ("$example.com/", "https://example.com/.well-known/pay"),
        ("$example.com/invoices/12345", "https://example.com/invoices/12345"),
        ("$bob.example.com", "https://bob.example.com/.well-known/pay"),
        ("$example.com/bob", "https://example.com/bob"),
        ("$example.com/bob/", "https://example.com/bob/"),
        ("$127.0.0.1", "https://127.0.0.1/.well-known/pay"),
        ("$[::1]/p", "https://[::1]/p"),
        ("$ex-ample.com/~a_b/c%20d/e:f@g", "https://ex-ample.com/~a_b/c%20d/e:f@g"),
    ] {
        assert_eq!(spsp::payment_pointer_to_url(pointer).unwrap(), url, "{pointer}");
    }
}

#[test]
fn malformed_payment_pointers_rejected() {
    for pointer in [
        "",
        "$",
        "example.com",
        "https://example.com",
        "$/bob",
        "$example.com:8443",
        "$example.com:8443/bob",
        "$alice@example.com",
        "$example.com?x=1",
        "$example.com/bob?x=1",
        "$example.com#frag",
        "$exa mple.com",
        "$example.com/b ob",
        "$exämple.com",
        "$example.com/%zz",
        "$example.com/%4",
        "$example.com\\bob",
        "$[::1",
        "$[zz]",
        "$exa\"mple.com",
    ] {
        assert!(
            matches!(spsp::payment_pointer_to_url(pointer), Err(SpspError::InvalidPaymentPointer(_))),
            "{pointer:?} accepted"
        );
    }
}

proptest! {
    #[test]
    fn spsp_round_trips(account in address(), secret in any::<[u8; 32]>()) {
        let resp = SpspResponse { destination_account: account, shared_secret: secret };
        let json = resp.to_json();
        prop_assert_eq!(SpspResponse::from_json(json.as_bytes()).unwrap(), resp);
    }

    #[test]
    fn spsp_parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..200), text in ".{0,60}") {
        let _ = SpspResponse::from_json(&body);
        let _ = spsp::decode_shared_secret(&text);
        let _ = spsp::payment_pointer_to_url(&text);
        let _ = spsp::payment_pointer_to_url(&format!("${text}"));
    }
}
