//! NIP-01 client/relay message grammar: good and malformed input, exact error prefixes.

/// Grouped under `nostr` so that `cargo test -p btpnips-protocol nostr` selects these tests.
mod nostr {
    use protocol::nostr::{
        machine_message, prefix, ClientMessage, Event, EventError, Filter, FilterError, MessageError, RelayMessage,
    };

    const NAK_BASIC: &str = r#"{"id":"36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c","pubkey":"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","created_at":1699485669,"kind":1,"tags":[],"content":"hello from the nostr army knife","sig":"68e71a192e8abcf8582a222434ac823ecc50607450ebe8cc4c145eb047794cc382dc3f888ce879d2f404f5ba6085a47601360a0fa2dd4b50d317bd0c6197c2c2"}"#;
    const ID: &str = "36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c";
    const PK: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    fn nak() -> Event {
        Event::from_json(NAK_BASIC).unwrap()
    }

    #[test]
    fn client_event() {
        let text = format!(r#"["EVENT",{NAK_BASIC}]"#);
        let msg = ClientMessage::parse(&text).unwrap();
        assert_eq!(msg, ClientMessage::Event(nak()));
        assert_eq!(msg.to_json(), text);
        // Whitespace is fine on input.
        let spaced = format!("[ \"EVENT\" ,\n {NAK_BASIC} ]");
        assert_eq!(ClientMessage::parse(&spaced).unwrap(), msg);
    }

    #[test]
    fn client_req_and_close() {
        // From fiatjaf/nak example_test.go (ExampleReq).
        let text = r##"["REQ","nak",{"kinds":[1],"authors":["2fa2104d6b38d11b0230010559879124e42ab8dfeff5ff29dc9cdadd4ecacc3f"],"limit":18,"#e":["aec4de6d051a7c2b6ca2d087903d42051a31e07fb742f1240970084822de10a6"]}]"##;
        let ClientMessage::Req { subscription_id, filters } = ClientMessage::parse(text).unwrap() else { panic!() };
        assert_eq!(subscription_id, "nak");
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].kinds, Some(vec![1]));
        assert_eq!(filters[0].limit, Some(18));
        assert_eq!(filters[0].tags[&'e'], ["aec4de6d051a7c2b6ca2d087903d42051a31e07fb742f1240970084822de10a6"]);

        let msg = ClientMessage::Req {
            subscription_id: "s".into(),
            filters: vec![Filter { kinds: Some(vec![1]), ..Filter::default() }, Filter::default()],
        };
        assert_eq!(msg.to_json(), r#"["REQ","s",{"kinds":[1]},{}]"#);
        assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);

        let close = ClientMessage::Close { subscription_id: "a \"quoted\" id".into() };
        assert_eq!(close.to_json(), r#"["CLOSE","a \"quoted\" id"]"#);
        assert_eq!(ClientMessage::parse(&close.to_json()).unwrap(), close);

        // Exactly 64 chars (multi-byte chars count as one) is allowed.
        let id64: String = "é".repeat(64);
        assert!(ClientMessage::parse(&format!(r#"["CLOSE","{id64}"]"#)).is_ok());
    }

    fn err(text: &str) -> MessageError {
        ClientMessage::parse(text).unwrap_err()
    }

    #[test]
    fn client_errors() {
        let long = "x".repeat(65);
        let table: Vec<(String, MessageError)> = vec![
            ("".into(), MessageError::NotJson(String::new())),
            ("not json".into(), MessageError::NotJson(String::new())),
            ("[\"EVENT\"".into(), MessageError::NotJson(String::new())),
            ("{}".into(), MessageError::NotArray),
            ("\"REQ\"".into(), MessageError::NotArray),
            ("[]".into(), MessageError::NotArray),
            ("[1,2]".into(), MessageError::NotArray),
            (r#"["FOO","x"]"#.into(), MessageError::UnknownType("FOO".into())),
            (r#"["req","x",{}]"#.into(), MessageError::UnknownType("req".into())),
            (r#"["AUTH",{}]"#.into(), MessageError::UnknownType("AUTH".into())),
            (r#"["OK","x",true,""]"#.into(), MessageError::UnknownType("OK".into())),
            (format!(r#"["{}"]"#, "Z".repeat(100)), MessageError::UnknownType("Z".repeat(32))),
            (r#"["REQ"]"#.into(), MessageError::BadSubscriptionId),
            (r#"["REQ",""]"#.into(), MessageError::BadSubscriptionId),
            (r#"["REQ",5,{}]"#.into(), MessageError::BadSubscriptionId),
            (format!(r#"["REQ","{long}",{{}}]"#), MessageError::BadSubscriptionId),
            (r#"["REQ","sub"]"#.into(), MessageError::NoFilters { subscription_id: "sub".into() }),
            (
                r#"["REQ","sub",{},[]]"#.into(),
                MessageError::BadFilter { subscription_id: Some("sub".into()), source: FilterError::NotObject },
            ),
            (
                r#"["REQ","sub",{"ids":["abc"]}]"#.into(),
                MessageError::BadFilter {
                    subscription_id: Some("sub".into()),
                    source: FilterError::NotHexList { key: "ids" },
                },
            ),
            (r#"["CLOSE"]"#.into(), MessageError::WrongLength { message_type: "CLOSE", expected: 2, found: 1 }),
            (r#"["CLOSE","a","b"]"#.into(), MessageError::WrongLength { message_type: "CLOSE", expected: 2, found: 3 }),
            (r#"["CLOSE",""]"#.into(), MessageError::BadSubscriptionId),
            (format!(r#"["CLOSE","{long}"]"#), MessageError::BadSubscriptionId),
        ];
        for (text, want) in table {
            let got = err(&text);
            match (&got, &want) {
                (MessageError::NotJson(_), MessageError::NotJson(_)) => {}
                _ => assert_eq!(got, want, "{text}"),
            }
            assert!(got.to_string().starts_with("invalid: "), "{text}: {got}");
        }
    }

    #[test]
    fn client_error_texts() {
        assert!(err("nope").to_string().starts_with("invalid: message is not valid JSON ("));
        assert_eq!(err("{}").to_string(), "invalid: message must be a JSON array starting with the message type");
        assert_eq!(err(r#"["FOO"]"#).to_string(), "invalid: unknown message type \"FOO\"");
        assert_eq!(
            err(r#"["REQ",""]"#).to_string(),
            "invalid: subscription id must be a non-empty string of at most 64 characters"
        );
        assert_eq!(err(r#"["REQ","s"]"#).to_string(), "invalid: REQ needs at least one filter");
        assert_eq!(err(r#"["REQ","s",1]"#).to_string(), "invalid: filter must be a JSON object");
        assert_eq!(err(r#"["CLOSE"]"#).to_string(), "invalid: CLOSE message must have 2 elements, got 1");
    }

    #[test]
    fn error_ids_for_ok_and_closed() {
        // REQ failures with a readable id → CLOSED.
        assert_eq!(err(r#"["REQ","s"]"#).subscription_id(), Some("s"));
        assert_eq!(err(r#"["REQ","s",{"kinds":"x"}]"#).subscription_id(), Some("s"));
        assert_eq!(err(r#"["REQ","",{}]"#).subscription_id(), None);
        assert_eq!(err("[]").subscription_id(), None);
        // EVENT failures with a readable id → OK false.
        let missing_sig = NAK_BASIC.replace(r#","sig":"68e71a192e8abcf8582a222434ac823ecc50607450ebe8cc4c145eb047794cc382dc3f888ce879d2f404f5ba6085a47601360a0fa2dd4b50d317bd0c6197c2c2""#, "");
        let e = err(&format!(r#"["EVENT",{missing_sig}]"#));
        assert!(matches!(e, MessageError::BadEvent { .. }));
        assert_eq!(e.event_id(), Some(ID));
        assert!(e.to_string().starts_with("invalid: malformed event ("), "{e}");
        assert!(e.to_string().contains("sig"), "{e}");
        assert_eq!(e.subscription_id(), None);

        let bad_kind = NAK_BASIC.replace(r#""kind":1"#, r#""kind":"1""#);
        assert_eq!(err(&format!(r#"["EVENT",{bad_kind}]"#)).event_id(), Some(ID));
        // Unreadable id → NOTICE.
        let bad_id = NAK_BASIC.replace(ID, "xyz");
        let bad_id = bad_id.replace(r#""kind":1"#, r#""kind":-1"#);
        assert_eq!(err(&format!(r#"["EVENT",{bad_id}]"#)).event_id(), None);
        assert_eq!(err(r#"["EVENT"]"#).event_id(), None);
        assert_eq!(err(r#"["EVENT",7]"#).event_id(), None);
        // Relay-style EVENT sent by a client: wrong element count, id still readable.
        let e = err(&format!(r#"["EVENT","sub",{NAK_BASIC}]"#));
        assert!(matches!(e, MessageError::BadEvent { .. }), "{e:?}");
        assert_eq!(e.event_id(), None);
        let e = err(&format!(r#"["EVENT",{NAK_BASIC},"extra"]"#));
        assert_eq!(e.event_id(), Some(ID));
        assert_eq!(e.to_string(), "invalid: malformed event (EVENT message must have 2 elements, got 3)");
        // A well-formed but badly signed event parses; verification is the caller's step.
        let forged = NAK_BASIC.replace("hello from", "goodbye from");
        let ClientMessage::Event(event) = ClientMessage::parse(&format!(r#"["EVENT",{forged}]"#)).unwrap() else {
            panic!()
        };
        assert_eq!(event.verify(), Err(EventError::IdMismatch));
    }

    #[test]
    fn relay_messages_round_trip() {
        let msgs = vec![
            RelayMessage::Event { subscription_id: "sub".into(), event: nak() },
            RelayMessage::Ok { event_id: ID.into(), accepted: true, message: String::new() },
            RelayMessage::Ok {
                event_id: ID.into(),
                accepted: false,
                message: EventError::BadSignature.to_ok_message(),
            },
            RelayMessage::Eose { subscription_id: "sub".into() },
            RelayMessage::Closed {
                subscription_id: "sub".into(),
                message: machine_message(prefix::ERROR, "shutting down"),
            },
            RelayMessage::Notice { message: "hi \"there\"\n".into() },
        ];
        for msg in msgs {
            let text = msg.to_json();
            assert_eq!(RelayMessage::parse(&text).unwrap(), msg, "{text}");
        }
        assert_eq!(
            RelayMessage::Event { subscription_id: "sub".into(), event: nak() }.to_json(),
            format!(r#"["EVENT","sub",{NAK_BASIC}]"#)
        );
        assert_eq!(
            RelayMessage::Ok { event_id: ID.into(), accepted: false, message: "invalid: bad signature".into() }
                .to_json(),
            format!(r#"["OK","{ID}",false,"invalid: bad signature"]"#)
        );
        assert_eq!(RelayMessage::Eose { subscription_id: "s".into() }.to_json(), r#"["EOSE","s"]"#);
        assert_eq!(
            RelayMessage::Closed { subscription_id: "s".into(), message: "error: x".into() }.to_json(),
            r#"["CLOSED","s","error: x"]"#
        );
        assert_eq!(RelayMessage::Notice { message: "n".into() }.to_json(), r#"["NOTICE","n"]"#);
    }

    #[test]
    fn relay_errors() {
        let table: Vec<(String, MessageError)> = vec![
            ("oops".into(), MessageError::NotJson(String::new())),
            ("{}".into(), MessageError::NotArray),
            (r#"["REQ","s",{}]"#.into(), MessageError::UnknownType("REQ".into())),
            (r#"["COUNT","s",{"count":1}]"#.into(), MessageError::UnknownType("COUNT".into())),
            (
                format!(r#"["EVENT",{NAK_BASIC}]"#),
                MessageError::WrongLength { message_type: "EVENT", expected: 3, found: 2 },
            ),
            (format!(r#"["EVENT","",{NAK_BASIC}]"#), MessageError::BadSubscriptionId),
            (
                r#"["OK","x",true,""]"#.into(),
                MessageError::BadField { message_type: "OK", detail: "event id must be 64 lowercase hex" },
            ),
            (
                format!(r#"["OK","{ID}","true",""]"#),
                MessageError::BadField { message_type: "OK", detail: "accepted must be a boolean" },
            ),
            (
                format!(r#"["OK","{ID}",true,null]"#),
                MessageError::BadField { message_type: "OK", detail: "message must be a string" },
            ),
            (format!(r#"["OK","{ID}",true]"#), MessageError::WrongLength { message_type: "OK", expected: 4, found: 3 }),
            (r#"["EOSE"]"#.into(), MessageError::WrongLength { message_type: "EOSE", expected: 2, found: 1 }),
            (r#"["EOSE",""]"#.into(), MessageError::BadSubscriptionId),
            (r#"["CLOSED","s"]"#.into(), MessageError::WrongLength { message_type: "CLOSED", expected: 3, found: 2 }),
            (
                r#"["CLOSED","s",1]"#.into(),
                MessageError::BadField { message_type: "CLOSED", detail: "message must be a string" },
            ),
            (r#"["NOTICE"]"#.into(), MessageError::WrongLength { message_type: "NOTICE", expected: 2, found: 1 }),
            (
                r#"["NOTICE",{}]"#.into(),
                MessageError::BadField { message_type: "NOTICE", detail: "message must be a string" },
            ),
        ];
        for (text, want) in table {
            let got = RelayMessage::parse(&text).unwrap_err();
            match (&got, &want) {
                (MessageError::NotJson(_), MessageError::NotJson(_)) => {}
                _ => assert_eq!(got, want, "{text}"),
            }
            assert!(got.to_string().starts_with("invalid: "), "{text}: {got}");
        }
        assert_eq!(
            RelayMessage::parse(r#"["OK","x",true,""]"#).unwrap_err().to_string(),
            "invalid: OK message: event id must be 64 lowercase hex"
        );
        let bad_event = NAK_BASIC.replace(PK, "").replace(r#","pubkey":"""#, "");
        let e = RelayMessage::parse(&format!(r#"["EVENT","s",{bad_event}]"#)).unwrap_err();
        assert_eq!(e.event_id(), Some(ID));
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix::INVALID, "invalid");
        assert_eq!(prefix::DUPLICATE, "duplicate");
        assert_eq!(prefix::BLOCKED, "blocked");
        assert_eq!(prefix::RATE_LIMITED, "rate-limited");
        assert_eq!(prefix::RESTRICTED, "restricted");
        assert_eq!(prefix::ERROR, "error");
        assert_eq!(prefix::PAYMENT_REQUIRED, "payment-required");
        assert_eq!(prefix::POW, "pow");
        assert_eq!(prefix::MUTE, "mute");
        assert_eq!(machine_message(prefix::DUPLICATE, "already have this event"), "duplicate: already have this event");
        assert_eq!(machine_message(prefix::RATE_LIMITED, "slow down"), "rate-limited: slow down");
    }
}
