//! The test vectors published in docs/btp-nips.md §7: computed here from fixed inputs with
//! the crate's codecs, and checked against the hex printed in the document, so the document
//! and the code cannot drift apart. (The shared-secret vector is also computed independently
//! with Node's crypto: protocol/tests/vectors/gen-btpnips-secret.js.)
use protocol::btpnips::{addressing, framing, secret};
use protocol::ilp::{Address, Prepare};
use protocol::nostr::{ClientMessage, Filter};
use protocol::stream::{Frame, IlpPacketType, StreamKeys, StreamPacket};

const DOC: &str = include_str!("../../docs/btp-nips.md");

fn pk(sk: &[u8; 32]) -> [u8; 32] {
    secp256k1::Keypair::from_secret_bytes(*sk).unwrap().x_only_public_key().0.to_byte_array()
}

/// Every `name: hex` pair must appear in the document as "`name`: `hex`".
fn assert_in_doc(pairs: &[(&str, String)]) {
    for (name, hex) in pairs {
        let needle = format!("`{name}`: `{hex}`");
        assert!(DOC.contains(&needle), "docs/btp-nips.md lacks {needle}");
    }
}

#[test]
fn paid_req_vector_matches_the_document() {
    let alice_sk = [0x11u8; 32];
    let bob_sk = [0x22u8; 32];
    let (alice_pk, bob_pk) = (pk(&alice_sk), pk(&bob_sk));
    let tag = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let secret = secret::shared_secret(&bob_sk, &alice_pk, &tag).unwrap();
    assert_eq!(secret, secret::shared_secret(&alice_sk, &bob_pk, &tag).unwrap());

    let req = ClientMessage::Req {
        subscription_id: "s1".into(),
        filters: vec![Filter {
            authors: Some(vec![hex::encode(alice_pk)]),
            kinds: Some(vec![1]),
            ..Default::default()
        }],
    };
    let framed = framing::encode_message(&req.to_json()).unwrap();
    let packet = StreamPacket {
        sequence: 1,
        ilp_packet_type: IlpPacketType::Prepare,
        prepare_amount: 1000,
        frames: vec![
            Frame::StreamMoney { stream_id: 1, shares: 1 },
            Frame::StreamData { stream_id: 1, offset: 0, data: framed.clone() },
        ],
    };
    let keys = StreamKeys::derive(&secret);
    let envelope = keys.encrypt([0u8; 12], &packet.encode());
    let fulfillment = keys.fulfillment(&envelope);
    let alice_addr: Address = "test.btpnips.alice".parse().unwrap();
    let prepare = Prepare {
        amount: 1000,
        expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        execution_condition: keys.condition(&envelope),
        destination: addressing::connection_address(&alice_addr, &bob_pk, &tag).unwrap(),
        data: envelope.clone(),
    };
    assert_eq!(
        addressing::sender_of(&alice_addr, &prepare.destination),
        Some((bob_pk, tag)),
        "the receiver recovers the sender and tag from the address"
    );
    let pairs = [
        ("alice_pubkey", hex::encode(alice_pk)),
        ("bob_pubkey", hex::encode(bob_pk)),
        ("shared_secret", hex::encode(secret)),
        ("req_json", hex::encode(req.to_json())),
        ("framed_req", hex::encode(&framed)),
        ("stream_plaintext", hex::encode(packet.encode())),
        ("envelope", hex::encode(&envelope)),
        ("fulfillment", hex::encode(fulfillment)),
        ("condition", hex::encode(prepare.execution_condition)),
        ("ilp_prepare", hex::encode(prepare.encode())),
    ];
    if std::env::var_os("PRINT_VECTORS").is_some() {
        for (n, h) in &pairs {
            println!("- `{n}`: `{h}`");
        }
        println!("destination: {}", prepare.destination);
        println!("req: {}", req.to_json());
    }
    assert_in_doc(&pairs);
}

/// §8's owner pointer: owner key `0a…0a` names node key `11…11` at 1700000000 (BIP-340
/// auxiliary randomness all zero); its event id is printed in the document.
#[test]
fn owner_pointer_vector_matches_the_document() {
    use protocol::btpnips::owner::OwnerPointer;
    let node = hex::encode(pk(&[0x11; 32]));
    let event = OwnerPointer::sign(&[0x0a; 32], &node, 1_700_000_000, None, [0; 32]).unwrap();
    assert_eq!(event.pubkey, hex::encode(pk(&[0x0a; 32])));
    let pointer = OwnerPointer::from_event(&event, 1_700_000_000).unwrap();
    assert_eq!(pointer.node, node);
    assert_in_doc(&[("owner pointer id", event.id.clone()), ("owner pointer sig", event.sig.clone())]);
}
