//! NIP-01 filters: matching table, JSON parsing and serialization.

/// Grouped under `nostr` so that `cargo test -p btpnips-protocol nostr` selects these tests.
mod nostr {
    use std::collections::BTreeMap;

    use protocol::nostr::{matches_any, parse_filter, Event, Filter, FilterError, MessageError};
    use serde_json::json;

    const ID: &str = "36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c";
    const PK: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    const OTHER: &str = "2fa2104d6b38d11b0230010559879124e42ab8dfeff5ff29dc9cdadd4ecacc3f";

    fn event() -> Event {
        Event {
            id: ID.into(),
            pubkey: PK.into(),
            created_at: 1000,
            kind: 1,
            tags: vec![
                vec!["e".into(), OTHER.into(), "wss://relay".into()],
                vec!["t".into(), "nostr".into()],
                vec!["t".into(), "ilp".into()],
                vec!["T".into(), "upper".into()],
                vec!["d".into()],
                vec!["title".into(), "long name".into()],
            ],
            content: "hi".into(),
            sig: "00".repeat(64),
        }
    }

    fn f(v: serde_json::Value) -> Filter {
        Filter::from_json(&v).unwrap()
    }

    #[test]
    fn matching_table() {
        let e = event();
        let table: Vec<(serde_json::Value, bool)> = vec![
            (json!({}), true),
            // ids
            (json!({"ids": [ID]}), true),
            (json!({"ids": [OTHER, ID]}), true),
            (json!({"ids": [OTHER]}), false),
            (json!({"ids": []}), false),
            // authors
            (json!({"authors": [PK]}), true),
            (json!({"authors": [OTHER]}), false),
            (json!({"authors": []}), false),
            // kinds
            (json!({"kinds": [1]}), true),
            (json!({"kinds": [0, 1, 3]}), true),
            (json!({"kinds": [0]}), false),
            (json!({"kinds": []}), false),
            // tags
            (json!({"#e": [OTHER]}), true),
            (json!({"#e": [ID]}), false),
            (json!({"#e": [ID, OTHER]}), true),
            (json!({"#e": []}), false),
            (json!({"#t": ["ilp"]}), true),
            (json!({"#t": ["nostr", "x"]}), true),
            (json!({"#t": ["Nostr"]}), false),
            (json!({"#T": ["upper"]}), true),
            (json!({"#T": ["nostr"]}), false),
            (json!({"#p": [PK]}), false),
            (json!({"#d": [""]}), false), // a tag with no value matches nothing
            (json!({"#t": ["nostr"], "#e": [OTHER]}), true),
            (json!({"#t": ["nostr"], "#e": [ID]}), false),
            // multi-letter tag keys are ignored (so they do not restrict)
            (json!({"#title": ["nope"]}), true),
            // since / until, inclusive
            (json!({"since": 1000}), true),
            (json!({"since": 999}), true),
            (json!({"since": 1001}), false),
            (json!({"until": 1000}), true),
            (json!({"until": 1001}), true),
            (json!({"until": 999}), false),
            (json!({"since": 1000, "until": 1000}), true),
            (json!({"since": 1001, "until": 999}), false),
            // limit never affects matching
            (json!({"limit": 0}), true),
            // AND across fields
            (
                json!({"ids": [ID], "authors": [PK], "kinds": [1], "#t": ["ilp"], "since": 1, "until": 2000, "limit": 5}),
                true,
            ),
            (json!({"ids": [ID], "authors": [PK], "kinds": [2]}), false),
            (json!({"authors": [PK], "until": 10}), false),
            // unknown keys ignored
            (json!({"search": "x", "foo": [1]}), true),
        ];
        for (filter, want) in table {
            assert_eq!(f(filter.clone()).matches(&e), want, "{filter}");
        }
    }

    #[test]
    fn matches_any_is_or() {
        let e = event();
        assert!(!matches_any(&[], &e));
        assert!(matches_any(&[f(json!({"kinds": [7]})), f(json!({"authors": [PK]}))], &e));
        assert!(!matches_any(&[f(json!({"kinds": [7]})), f(json!({"authors": [OTHER]}))], &e));
    }

    #[test]
    fn parse_fields() {
        let filter = f(json!({
            "ids": [ID], "authors": [PK, OTHER], "kinds": [0, 65535], "#e": [ID], "#P": ["x"],
            "since": 5, "until": 6, "limit": 7, "search": "ignored", "#emoji": ["x"], "#1": ["y"], "#": ["z"]
        }));
        let mut tags = BTreeMap::new();
        tags.insert('P', vec!["x".to_string()]);
        tags.insert('e', vec![ID.to_string()]);
        assert_eq!(
            filter,
            Filter {
                ids: Some(vec![ID.into()]),
                authors: Some(vec![PK.into(), OTHER.into()]),
                kinds: Some(vec![0, 65535]),
                tags,
                since: Some(5),
                until: Some(6),
                limit: Some(7),
            }
        );
        // null counts as absent
        assert_eq!(f(json!({"ids": null, "since": null, "#e": null})), Filter::default());
        // empty lists are kept
        assert_eq!(f(json!({"kinds": []})).kinds, Some(vec![]));
    }

    #[test]
    fn parse_errors() {
        use FilterError::*;
        let table: Vec<(serde_json::Value, FilterError, &str)> = vec![
        (json!([]), NotObject, "invalid: filter must be a JSON object"),
        (json!("x"), NotObject, "invalid: filter must be a JSON object"),
        (json!({"ids": ["36d88cf5"]}), NotHexList { key: "ids" },
            "invalid: filter \"ids\" must be an array of 64-character lowercase hex strings (prefixes are not supported)"),
        (json!({"ids": [ID.to_uppercase()]}), NotHexList { key: "ids" }, ""),
        (json!({"ids": ID}), NotHexList { key: "ids" }, ""),
        (json!({"ids": [1]}), NotHexList { key: "ids" }, ""),
        (json!({"authors": [format!("{PK}0")]}), NotHexList { key: "authors" }, ""),
        (json!({"kinds": [65536]}), BadKinds, "invalid: filter \"kinds\" must be an array of integers between 0 and 65535"),
        (json!({"kinds": [-1]}), BadKinds, ""),
        (json!({"kinds": [1.5]}), BadKinds, ""),
        (json!({"kinds": ["1"]}), BadKinds, ""),
        (json!({"kinds": 1}), BadKinds, ""),
        (json!({"#e": "x"}), BadTagList { name: 'e' }, "invalid: filter \"#e\" must be an array of strings"),
        (json!({"#t": [1]}), BadTagList { name: 't' }, ""),
        (json!({"since": -1}), NotUnsigned { key: "since" }, "invalid: filter \"since\" must be a non-negative integer"),
        (json!({"until": "5"}), NotUnsigned { key: "until" }, ""),
        (json!({"limit": 1.0}), NotUnsigned { key: "limit" }, ""),
    ];
        for (value, want, text) in table {
            let err = Filter::from_json(&value).unwrap_err();
            assert_eq!(err, want, "{value}");
            assert!(err.to_string().starts_with("invalid: "));
            if !text.is_empty() {
                assert_eq!(err.to_string(), text);
            }
            // parse_filter wraps it without a subscription id.
            let err = parse_filter(&value).unwrap_err();
            assert_eq!(err, MessageError::BadFilter { subscription_id: None, source: want });
            assert_eq!(err.subscription_id(), None);
        }
    }

    #[test]
    fn serialize_round_trip() {
        let filter = f(
            json!({"ids": [ID], "authors": [PK], "kinds": [1, 2], "#t": ["a"], "#e": [OTHER], "since": 1, "until": 2, "limit": 3}),
        );
        let text = filter.to_json();
        assert_eq!(
            text,
            format!(
                r##"{{"ids":["{ID}"],"authors":["{PK}"],"kinds":[1,2],"#e":["{OTHER}"],"#t":["a"],"since":1,"until":2,"limit":3}}"##
            )
        );
        assert_eq!(serde_json::from_str::<Filter>(&text).unwrap(), filter);
        assert_eq!(Filter::default().to_json(), "{}");
        assert_eq!(f(json!({"kinds": []})).to_json(), r#"{"kinds":[]}"#);
        // Deserialize reports the same errors.
        let err = serde_json::from_str::<Filter>(r#"{"ids":["abc"]}"#).unwrap_err();
        assert!(err.to_string().starts_with("invalid: filter \"ids\""), "{err}");
    }
}
