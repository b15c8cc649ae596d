//! Property tests for the Interledger codecs: encode→decode is the identity for ILP, BTP,
//! STREAM and IL-DCP values, and no decoder panics on arbitrary or mutated bytes.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use protocol::btp::{decode_generalized_time, BtpPacket, ContentType, ProtocolData};
use protocol::ildcp::IldcpResponse;
use protocol::ilp::{
    decode_timestamp, encode_timestamp, Address, AmountTooLargeData, ErrorCode, Fulfill, Packet, Prepare, Reject,
    SCHEMES,
};
use protocol::oer::Reader;
use protocol::stream::{CloseCode, Frame, IlpPacketType, StreamKeys, StreamPacket};

// ---- strategies -----------------------------------------------------------------------

fn address() -> impl Strategy<Value = Address> {
    (prop::sample::select(SCHEMES.to_vec()), prop::collection::vec("[A-Za-z0-9_~-]{1,12}", 1..5))
        .prop_map(|(scheme, segs)| Address::new(&format!("{scheme}.{}", segs.join("."))).unwrap())
}

/// Millisecond-precision times between years 0001 and 9999 (what the wire formats hold).
fn millis_time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800_000i64..=253_402_300_799_999i64).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
}

fn data(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn prepare() -> impl Strategy<Value = Prepare> {
    (any::<u64>(), millis_time(), any::<[u8; 32]>(), address(), data(400)).prop_map(
        |(amount, expires_at, execution_condition, destination, data)| Prepare {
            amount,
            expires_at,
            execution_condition,
            destination,
            data,
        },
    )
}

fn fulfill() -> impl Strategy<Value = Fulfill> {
    (any::<[u8; 32]>(), data(400)).prop_map(|(fulfillment, data)| Fulfill { fulfillment, data })
}

fn reject() -> impl Strategy<Value = Reject> {
    (any::<[u8; 3]>(), prop::option::of(address()), any::<String>(), data(400))
        .prop_map(|(code, triggered_by, message, data)| Reject { code: ErrorCode(code), triggered_by, message, data })
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        prepare().prop_map(Packet::Prepare),
        fulfill().prop_map(Packet::Fulfill),
        reject().prop_map(Packet::Reject),
    ]
}

fn protocol_data() -> impl Strategy<Value = Vec<ProtocolData>> {
    prop::collection::vec(
        (any::<String>(), any::<u8>(), data(200)).prop_map(|(protocol_name, ct, data)| ProtocolData {
            protocol_name,
            content_type: ContentType::from_u8(ct),
            data,
        }),
        0..4,
    )
}

fn btp_packet() -> impl Strategy<Value = BtpPacket> {
    prop_oneof![
        (any::<u32>(), protocol_data())
            .prop_map(|(request_id, protocol_data)| BtpPacket::Message { request_id, protocol_data }),
        (any::<u32>(), protocol_data())
            .prop_map(|(request_id, protocol_data)| BtpPacket::Response { request_id, protocol_data }),
        (any::<u32>(), any::<u64>(), protocol_data())
            .prop_map(|(request_id, amount, protocol_data)| BtpPacket::Transfer { request_id, amount, protocol_data }),
        (any::<u32>(), "[A-Z][0-9]{2}", any::<String>(), millis_time(), data(200), protocol_data()).prop_map(
            |(request_id, code, name, triggered_at, data, protocol_data)| BtpPacket::Error {
                request_id,
                code,
                name,
                triggered_at,
                data,
                protocol_data,
            }
        ),
    ]
}

fn close_code() -> impl Strategy<Value = CloseCode> {
    any::<u8>().prop_map(CloseCode::from_u8)
}

fn frame() -> impl Strategy<Value = Frame> {
    let id = any::<u64>;
    prop_oneof![
        (close_code(), any::<String>()).prop_map(|(code, message)| Frame::ConnectionClose { code, message }),
        address().prop_map(|source_account| Frame::ConnectionNewAddress { source_account }),
        id().prop_map(|max_offset| Frame::ConnectionMaxData { max_offset }),
        id().prop_map(|max_offset| Frame::ConnectionDataBlocked { max_offset }),
        id().prop_map(|max_stream_id| Frame::ConnectionMaxStreamId { max_stream_id }),
        id().prop_map(|max_stream_id| Frame::ConnectionStreamIdBlocked { max_stream_id }),
        (any::<String>(), any::<u8>())
            .prop_map(|(asset_code, asset_scale)| Frame::ConnectionAssetDetails { asset_code, asset_scale }),
        (id(), close_code(), any::<String>()).prop_map(|(stream_id, code, message)| Frame::StreamClose {
            stream_id,
            code,
            message
        }),
        (id(), id()).prop_map(|(stream_id, shares)| Frame::StreamMoney { stream_id, shares }),
        (id(), id(), id()).prop_map(|(stream_id, receive_max, total_received)| Frame::StreamMaxMoney {
            stream_id,
            receive_max,
            total_received
        }),
        (id(), id(), id()).prop_map(|(stream_id, send_max, total_sent)| Frame::StreamMoneyBlocked {
            stream_id,
            send_max,
            total_sent
        }),
        (id(), id(), data(300)).prop_map(|(stream_id, offset, data)| Frame::StreamData { stream_id, offset, data }),
        (id(), id()).prop_map(|(stream_id, max_offset)| Frame::StreamMaxData { stream_id, max_offset }),
        (id(), id()).prop_map(|(stream_id, max_offset)| Frame::StreamDataBlocked { stream_id, max_offset }),
        (id(), data(100)).prop_map(|(stream_id, receipt)| Frame::StreamReceipt { stream_id, receipt }),
    ]
}

fn stream_packet() -> impl Strategy<Value = StreamPacket> {
    (
        any::<u64>(),
        prop::sample::select(vec![IlpPacketType::Prepare, IlpPacketType::Fulfill, IlpPacketType::Reject]),
        any::<u64>(),
        prop::collection::vec(frame(), 0..6),
    )
        .prop_map(|(sequence, ilp_packet_type, prepare_amount, frames)| StreamPacket {
            sequence,
            ilp_packet_type,
            prepare_amount,
            frames,
        })
}

/// A valid encoding with one byte XOR-ed, to reach deep decoder branches.
fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, any::<prop::sample::Index>(), 1u8..=255).prop_map(|(mut bytes, idx, x)| {
        if !bytes.is_empty() {
            let i = idx.index(bytes.len());
            bytes[i] ^= x;
        }
        bytes
    })
}

/// Runs every decoder on `bytes`; none may panic (errors are fine).
fn decode_everything(bytes: &[u8]) {
    let _ = Packet::decode(bytes);
    let _ = Prepare::decode(bytes);
    let _ = Fulfill::decode(bytes);
    let _ = Reject::decode(bytes);
    let _ = AmountTooLargeData::decode(bytes);
    let _ = BtpPacket::decode(bytes);
    let _ = StreamPacket::decode(bytes);
    let _ = IldcpResponse::decode(bytes);
    let _ = decode_generalized_time(bytes);
    let _ = StreamKeys::derive(bytes).decrypt(bytes);
    if let Ok(ts) = <[u8; 17]>::try_from(bytes.get(..17).unwrap_or_default()) {
        let _ = decode_timestamp(&ts);
    }
    let mut r = Reader::new(bytes);
    let _ = (r.read_length(), r.read_var_uint(), r.read_var_uint_saturating(), r.read_var_str(), r.read_u64());
}

// ---- properties -----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn prepare_round_trips(p in prepare()) {
        prop_assert_eq!(Prepare::decode(&p.encode()).unwrap(), p.clone());
        prop_assert_eq!(Packet::decode(&p.encode()).unwrap(), Packet::Prepare(p));
    }

    #[test]
    fn fulfill_round_trips(f in fulfill()) {
        prop_assert_eq!(Fulfill::decode(&f.encode()).unwrap(), f);
    }

    #[test]
    fn reject_round_trips(r in reject()) {
        prop_assert_eq!(Reject::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn any_packet_round_trips(p in packet()) {
        let bytes = p.encode();
        prop_assert_eq!(bytes[0], p.packet_type());
        prop_assert_eq!(Packet::decode(&bytes).unwrap(), p);
    }

    #[test]
    fn timestamp_round_trips(t in millis_time()) {
        prop_assert_eq!(decode_timestamp(&encode_timestamp(t)).unwrap(), t);
    }

    #[test]
    fn btp_round_trips(p in btp_packet()) {
        prop_assert_eq!(BtpPacket::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn stream_round_trips(p in stream_packet()) {
        prop_assert_eq!(StreamPacket::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn stream_encrypted_round_trips(p in stream_packet(), secret in data(64), iv in any::<[u8; 12]>()) {
        let keys = StreamKeys::derive(&secret);
        let envelope = keys.encrypt_packet(iv, &p);
        prop_assert_eq!(envelope.len(), p.encode().len() + 28);
        prop_assert_eq!(keys.decrypt_packet(&envelope).unwrap(), p);
        prop_assert_eq!(keys.condition(&envelope), protocol::ilp::condition_of(&keys.fulfillment(&envelope)));
    }

    #[test]
    fn ildcp_round_trips(client_address in address(), asset_scale in any::<u8>(), asset_code in any::<String>()) {
        let r = IldcpResponse { client_address, asset_scale, asset_code };
        prop_assert_eq!(IldcpResponse::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn address_parse_matches_display(a in address()) {
        prop_assert_eq!(a.as_str().parse::<Address>().unwrap(), a.clone());
        prop_assert!(a.has_prefix(a.scheme()));
        prop_assert!(a.has_prefix(a.as_str()));
    }

    #[test]
    fn address_new_never_panics(s in any::<String>()) {
        let _ = Address::new(&s);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in data(600)) {
        decode_everything(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_prefixed_bytes(first in prop::sample::select(vec![1u8, 2, 6, 7, 12, 13, 14]), rest in data(300)) {
        let mut bytes = vec![first];
        bytes.extend(rest);
        decode_everything(&bytes);
        bytes.insert(0, 1); // STREAM version byte
        decode_everything(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_mutated_ilp(bytes in mutated(packet().prop_map(|p| p.encode()))) {
        decode_everything(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_mutated_btp(bytes in mutated(btp_packet().prop_map(|p| p.encode()))) {
        decode_everything(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_mutated_stream(bytes in mutated(stream_packet().prop_map(|p| p.encode()))) {
        decode_everything(&bytes);
    }
}
