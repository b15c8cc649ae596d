//! Property tests for the NIP-01 codecs: parsers never panic, JSON forms round-trip, the id
//! serialization agrees with a standard JSON encoder wherever NIP-01 and JSON agree.

/// Grouped under `nostr` so that `cargo test -p btpnips-protocol nostr` selects these tests.
mod nostr {
    use proptest::prelude::*;
    use protocol::nostr::{ClientMessage, Event, Filter, RelayMessage};
    use serde_json::Value;

    fn hex64() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<u8>(), 32).prop_map(hex::encode)
    }

    fn event_strategy(text: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Event> {
        (
            hex64(),
            hex64(),
            any::<u64>(),
            any::<u16>(),
            proptest::collection::vec(proptest::collection::vec(text.clone(), 0..4), 0..4),
            text,
            proptest::collection::vec(any::<u8>(), 64).prop_map(hex::encode),
        )
            .prop_map(|(id, pubkey, created_at, kind, tags, content, sig)| Event {
                id,
                pubkey,
                created_at,
                kind,
                tags,
                content,
                sig,
            })
    }

    /// Any string, control characters and astral-plane characters included.
    fn any_text() -> impl Strategy<Value = String> + Clone {
        prop_oneof![any::<String>(), "[\\x00-\\x1f\"\\\\a-z\u{7f}\u{2028}λ🎉]{0,12}"]
    }

    fn filter_strategy() -> impl Strategy<Value = Filter> {
        (
            proptest::option::of(proptest::collection::vec(hex64(), 0..3)),
            proptest::option::of(proptest::collection::vec(hex64(), 0..3)),
            proptest::option::of(proptest::collection::vec(any::<u16>(), 0..3)),
            proptest::collection::btree_map(
                prop_oneof![proptest::char::range('a', 'z'), proptest::char::range('A', 'Z')],
                proptest::collection::vec(any::<String>(), 0..3),
                0..3,
            ),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(0usize..1_000_000),
        )
            .prop_map(|(ids, authors, kinds, tags, since, until, limit)| Filter {
                ids,
                authors,
                kinds,
                tags,
                since,
                until,
                limit,
            })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            prop_oneof![any::<String>(), hex64(), Just("EVENT".to_string()), Just("REQ".to_string())]
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("ids".to_string()),
                            Just("authors".to_string()),
                            Just("kinds".to_string()),
                            Just("#e".to_string()),
                            Just("#".to_string()),
                            Just("since".to_string()),
                            Just("limit".to_string()),
                            Just("id".to_string()),
                            Just("kind".to_string()),
                            Just("tags".to_string()),
                            any::<String>(),
                        ],
                        inner,
                    ),
                    0..6,
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn parsers_never_panic_on_strings(text in any::<String>()) {
            let _ = ClientMessage::parse(&text);
            let _ = RelayMessage::parse(&text);
        }

        #[test]
        fn parsers_never_panic_on_message_like_input(
            kind in prop_oneof![Just("EVENT"), Just("REQ"), Just("CLOSE"), Just("OK"), Just("EOSE"), Just("CLOSED"), Just("NOTICE"), Just("X")],
            rest in proptest::collection::vec(json_value(), 0..4),
        ) {
            let mut items = vec![Value::String(kind.to_string())];
            items.extend(rest);
            let text = Value::Array(items).to_string();
            if let Ok(msg) = ClientMessage::parse(&text) {
                // Whatever parses re-serializes to something that parses to the same message.
                prop_assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);
            }
            if let Ok(msg) = RelayMessage::parse(&text) {
                prop_assert_eq!(RelayMessage::parse(&msg.to_json()).unwrap(), msg);
            }
        }

        #[test]
        fn filter_parse_never_panics(value in json_value()) {
            if let Ok(filter) = Filter::from_json(&value) {
                prop_assert_eq!(serde_json::from_str::<Filter>(&filter.to_json()).unwrap(), filter);
            }
        }

        #[test]
        fn event_json_round_trip(event in event_strategy(any_text())) {
            let json = event.to_json();
            prop_assert_eq!(&Event::from_json(&json).unwrap(), &event);
            let msg = ClientMessage::Event(event.clone());
            prop_assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);
            let msg = RelayMessage::Event { subscription_id: "s".into(), event };
            prop_assert_eq!(RelayMessage::parse(&msg.to_json()).unwrap(), msg);
        }

        #[test]
        fn filter_json_round_trip(filter in filter_strategy()) {
            prop_assert_eq!(serde_json::from_str::<Filter>(&filter.to_json()).unwrap(), filter.clone());
            let msg = ClientMessage::Req { subscription_id: "sub".into(), filters: vec![filter.clone(), Filter::default()] };
            prop_assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);
        }

        /// Where NIP-01 and standard JSON agree (no control characters other than \n \r \t \b \f),
        /// the id serialization equals serde_json's compact encoding of the same array.
        #[test]
        fn id_serialization_matches_standard_json(
            event in event_strategy(any::<String>().prop_map(|s| s.replace(|c: char| (c as u32) < 0x20 && !"\n\r\t\u{8}\u{c}".contains(c), "?")))
        ) {
            let standard = serde_json::to_string(&(0, &event.pubkey, event.created_at, event.kind, &event.tags, &event.content)).unwrap();
            prop_assert_eq!(event.serialize_for_id(), standard);
        }
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        #[test]
        fn sign_then_verify(
            seed in any::<[u8; 32]>(),
            aux in any::<[u8; 32]>(),
            created_at in any::<u64>(),
            kind in any::<u16>(),
            tags in proptest::collection::vec(proptest::collection::vec(any_text(), 1..3), 0..3),
            content in any_text(),
        ) {
            let mut sk = seed;
            sk[0] &= 0x7f; // below the group order
            sk[31] |= 1; // non-zero
            let event = Event::sign(&sk, created_at, kind, tags, content, aux).unwrap();
            prop_assert!(event.verify().is_ok());
            let reparsed = Event::from_json(&event.to_json()).unwrap();
            prop_assert!(reparsed.verify().is_ok());
            let mut tampered = event.clone();
            tampered.created_at = tampered.created_at.wrapping_add(1);
            prop_assert!(tampered.verify().is_err());
        }
    }
}
