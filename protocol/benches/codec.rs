//! Codec benchmarks for the hot paths of a btpnips node: every paid Nostr message is a STREAM
//! packet (encrypted, with a fulfillment HMAC) inside an ILP Prepare inside a BTP frame, and
//! every EVENT is verified.
//!
//! Run: `cargo bench -p btpnips-protocol --bench codec -- --warm-up-time 1 --measurement-time 3`
//! Each benchmark reports `thrpt` in elem/s, i.e. operations per second.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::btp::{ilp_entry, BtpPacket};
use protocol::btpnips::framing::encode_message;
use protocol::ilp::{Address, ErrorCode, Fulfill, Prepare, Reject};
use protocol::nostr::{ClientMessage, Event};
use protocol::stream::{Frame, IlpPacketType, StreamKeys, StreamPacket};

/// A signed kind-1 event with a few tags and ~280 bytes of content.
fn sample_event() -> Event {
    let tags = vec![
        vec!["e".to_owned(), "36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c".to_owned()],
        vec!["p".to_owned(), "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".to_owned()],
        vec!["t".to_owned(), "interledger".to_owned()],
    ];
    let content = "Paying for relays per message over Interledger: each EVENT rides in a STREAM packet. ".repeat(3);
    Event::sign(&[0x11; 32], 1_763_000_000, 1, tags, content, [0x42; 32]).expect("sign")
}

/// The framed `["EVENT",…]` of a short signed note, padded with content to `len` bytes.
fn framed_event(len: usize) -> Vec<u8> {
    let sign = |content: String| {
        let event = Event::sign(&[0x11; 32], 1_763_000_000, 1, vec![], content, [0x42; 32]).expect("sign");
        encode_message(&ClientMessage::Event(event).to_json()).expect("frame")
    };
    let bare = sign(String::new()).len();
    let framed = sign("x".repeat(len.saturating_sub(bare)));
    assert_eq!(framed.len(), len.max(bare));
    framed
}

/// A STREAM packet carrying one framed NIP-01 message of 400 bytes (a short EVENT).
fn stream_packet() -> StreamPacket {
    let framed = framed_event(400);
    StreamPacket {
        sequence: 7,
        ilp_packet_type: IlpPacketType::Prepare,
        prepare_amount: 1_000,
        frames: vec![
            Frame::StreamMoney { stream_id: 1, shares: 1 },
            Frame::StreamData { stream_id: 1, offset: 4_096, data: framed },
        ],
    }
}

fn keys() -> StreamKeys {
    StreamKeys::derive(&[7u8; 32])
}

/// A realistic Prepare: the encrypted STREAM packet above padded to ~500 bytes of data.
fn prepare() -> Prepare {
    let keys = keys();
    let mut data = keys.encrypt([9u8; 12], &stream_packet().encode());
    data.resize(500, 0);
    Prepare {
        amount: 1_000,
        expires_at: "2030-01-01T00:00:30.123Z".parse().expect("expiry"),
        execution_condition: keys.condition(&data),
        destination: Address::new("g.btpnips.4f355bdcb7cc0af7.79be667ef9dcbbac55a06295ce870b07.0102030405060708")
            .expect("address"),
        data,
    }
}

fn ilp(c: &mut Criterion) {
    let prepare = prepare();
    let prepare_bytes = prepare.encode();
    let fulfill_bytes = Fulfill { fulfillment: [0x35; 32], data: vec![0xab; 60] }.encode();
    let reject_bytes = Reject {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: Some(Address::new("g.btpnips.4f355bdcb7cc0af7").expect("address")),
        message: "payment-required: 1000 units".into(),
        data: vec![0xcd; 60],
    }
    .encode();

    let mut g = c.benchmark_group("ilp");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("prepare_encode_{}B", prepare_bytes.len()), |b| b.iter(|| black_box(&prepare).encode()));
    g.bench_function(format!("prepare_decode_{}B", prepare_bytes.len()), |b| {
        b.iter(|| Prepare::decode(black_box(&prepare_bytes)).expect("decode"))
    });
    g.bench_function("prepare_encode_decode", |b| {
        b.iter(|| Prepare::decode(&black_box(&prepare).encode()).expect("decode"))
    });
    g.bench_function("fulfill_decode", |b| b.iter(|| Fulfill::decode(black_box(&fulfill_bytes)).expect("decode")));
    g.bench_function("reject_decode", |b| b.iter(|| Reject::decode(black_box(&reject_bytes)).expect("decode")));
    g.finish();
}

fn stream(c: &mut Criterion) {
    let keys = keys();
    let packet = stream_packet();
    let envelope = keys.encrypt([9u8; 12], &packet.encode());

    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("encode_encrypt_{}B", envelope.len()), |b| {
        b.iter(|| keys.encrypt_packet(black_box([9u8; 12]), black_box(&packet)))
    });
    g.bench_function(format!("decrypt_decode_{}B", envelope.len()), |b| {
        b.iter(|| keys.decrypt_packet(black_box(&envelope)).expect("decrypt"))
    });
    g.bench_function("fulfillment_hmac", |b| b.iter(|| keys.fulfillment(black_box(&envelope))));
    g.bench_function("condition", |b| b.iter(|| keys.condition(black_box(&envelope))));
    g.finish();
}

fn btp(c: &mut Criterion) {
    let frame = BtpPacket::Message { request_id: 0x30ee_6429, protocol_data: vec![ilp_entry(prepare().encode())] };
    let bytes = frame.encode();

    let mut g = c.benchmark_group("btp");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("message_encode_{}B", bytes.len()), |b| b.iter(|| black_box(&frame).encode()));
    g.bench_function(format!("message_decode_{}B", bytes.len()), |b| {
        b.iter(|| BtpPacket::decode(black_box(&bytes)).expect("decode"))
    });
    g.finish();
}

fn nostr(c: &mut Criterion) {
    let event = sample_event();
    let message = ClientMessage::Event(event.clone()).to_json();

    let mut g = c.benchmark_group("nostr");
    g.throughput(Throughput::Elements(1));
    g.bench_function("event_verify", |b| b.iter(|| black_box(&event).verify().expect("valid")));
    g.bench_function("event_compute_id", |b| b.iter(|| black_box(&event).compute_id()));
    g.bench_function(format!("client_event_parse_{}B", message.len()), |b| {
        b.iter(|| ClientMessage::parse(black_box(&message)).expect("parse"))
    });
    g.finish();
}

criterion_group!(benches, ilp, stream, btp, nostr);
criterion_main!(benches);
