//! NIP-01 events: id serialization, BIP-340 signing/verification, kind classes, tags, JSON.

/// Grouped under `nostr` so that `cargo test -p btpnips-protocol nostr` selects these tests.
mod nostr {
    use protocol::nostr::{kind_class, public_key_hex, schnorr_sign, schnorr_verify, Event, EventError, KindClass};

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn sk_one() -> [u8; 32] {
        let mut sk = [0u8; 32];
        sk[31] = 1;
        sk
    }

    /// Produced by `nak event --ts 1699485669` (fiatjaf/nak example_test.go), secret key 1,
    /// signed by go-nostr/btcec — an independent implementation.
    const NAK_BASIC: &str = r#"{"id":"36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c","pubkey":"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","created_at":1699485669,"kind":1,"tags":[],"content":"hello from the nostr army knife","sig":"68e71a192e8abcf8582a222434ac823ecc50607450ebe8cc4c145eb047794cc382dc3f888ce879d2f404f5ba6085a47601360a0fa2dd4b50d317bd0c6197c2c2"}"#;

    /// Produced by `nak event --ts 1699485669 -k 11 -c skjdbaskd --sec 17 -t t=spam -e … -t
    /// r=https://abc.def;nothing` (fiatjaf/nak example_test.go).
    const NAK_COMPLEX: &str = r#"{"id":"aec4de6d051a7c2b6ca2d087903d42051a31e07fb742f1240970084822de10a6","pubkey":"2fa2104d6b38d11b0230010559879124e42ab8dfeff5ff29dc9cdadd4ecacc3f","created_at":1699485669,"kind":11,"tags":[["t","spam"],["r","https://abc.def","nothing"],["e","36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c"]],"content":"skjdbaskd","sig":"1165ac7a27d774d351ef19c8e918fb22f4005fcba193976c3d7edba6ef87ead7f14467f376a9e199f8371835368d86a8506f591e382528d00287fb168a7b8f38"}"#;

    #[test]
    fn external_events_verify() {
        for text in [NAK_BASIC, NAK_COMPLEX] {
            let event = Event::from_json(text).unwrap();
            assert_eq!(hex::encode(event.compute_id()), event.id);
            event.verify().unwrap();
            // Wire form round-trips byte for byte (same field order, compact).
            assert_eq!(event.to_json(), text);
        }
    }

    #[test]
    fn external_pubkeys_match() {
        assert_eq!(
            public_key_hex(&sk_one()).unwrap(),
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        let mut sk = [0u8; 32];
        sk[31] = 0x17;
        assert_eq!(public_key_hex(&sk).unwrap(), "2fa2104d6b38d11b0230010559879124e42ab8dfeff5ff29dc9cdadd4ecacc3f");
    }

    #[test]
    fn tampering_is_detected() {
        let good = Event::from_json(NAK_BASIC).unwrap();

        let mut e = good.clone();
        e.content.push('!');
        assert_eq!(e.verify(), Err(EventError::IdMismatch));

        let mut e = good.clone();
        e.created_at += 1;
        assert_eq!(e.verify(), Err(EventError::IdMismatch));

        // Flip one signature bit: well-formed but wrong.
        let mut e = good.clone();
        let mut sig = hex::decode(&e.sig).unwrap();
        sig[63] ^= 1;
        e.sig = hex::encode(sig);
        assert_eq!(e.verify(), Err(EventError::BadSignature));

        // A valid signature by someone else (re-signed with key 2 but pubkey kept).
        let mut sk2 = [0u8; 32];
        sk2[31] = 2;
        let other =
            Event::sign(&sk2, good.created_at, good.kind, good.tags.clone(), good.content.clone(), [0; 32]).unwrap();
        let mut e = good.clone();
        e.sig = other.sig;
        assert_eq!(e.verify(), Err(EventError::BadSignature));
    }

    #[test]
    fn shape_errors() {
        let good = Event::from_json(NAK_BASIC).unwrap();
        type Mutation = Box<dyn Fn(&mut Event)>;
        let cases: Vec<(Mutation, EventError)> = vec![
            (Box::new(|e| e.id = e.id.to_uppercase()), EventError::IdShape),
            (Box::new(|e| e.id.truncate(63)), EventError::IdShape),
            (Box::new(|e| e.id = String::new()), EventError::IdShape),
            (Box::new(|e| e.pubkey = e.pubkey.to_uppercase()), EventError::PubkeyShape),
            (Box::new(|e| e.pubkey.push('0')), EventError::PubkeyShape),
            (Box::new(|e| e.sig.truncate(126)), EventError::SigShape),
            (Box::new(|e| e.sig = format!("{}g", &e.sig[..127])), EventError::SigShape),
        ];
        for (mutate, want) in cases {
            let mut e = good.clone();
            mutate(&mut e);
            assert_eq!(e.verify(), Err(want), "{e:?}");
        }
    }

    #[test]
    fn pubkey_not_on_curve() {
        // BIP-340 vector 5's public key is not on the curve. Build an event claiming it.
        let mut e = Event::from_json(NAK_BASIC).unwrap();
        e.pubkey = "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34".into();
        e.id = hex::encode(e.compute_id());
        assert_eq!(e.verify(), Err(EventError::PubkeyNotOnCurve));
    }

    #[test]
    fn error_messages_carry_nip01_prefix() {
        assert_eq!(EventError::IdMismatch.to_ok_message(), "invalid: event id does not match");
        assert_eq!(EventError::BadSignature.to_ok_message(), "invalid: bad signature");
        assert_eq!(EventError::PubkeyShape.to_ok_message(), "invalid: pubkey is not 64 lowercase hex");
        assert_eq!(EventError::IdShape.to_string(), "invalid: event id is not 64 lowercase hex");
        assert_eq!(EventError::SigShape.to_string(), "invalid: sig is not 128 lowercase hex");
        assert!(EventError::PubkeyNotOnCurve.to_string().starts_with("invalid: "));
        assert!(EventError::InvalidSecretKey.to_string().starts_with("error: "));
    }

    #[test]
    fn invalid_secret_keys() {
        assert_eq!(public_key_hex(&[0; 32]), Err(EventError::InvalidSecretKey));
        assert_eq!(public_key_hex(&[0xff; 32]), Err(EventError::InvalidSecretKey));
        // The group order n itself is invalid.
        let n = h32("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
        assert_eq!(Event::sign(&n, 0, 1, vec![], String::new(), [0; 32]), Err(EventError::InvalidSecretKey));
        assert!(public_key_hex(&[1; 32]).is_ok());
    }

    /// A fixed vector: the id was computed independently (Python `json.dumps(...,
    /// ensure_ascii=False, separators=(',',':'))` + `hashlib.sha256`).
    #[test]
    fn sign_fixed_vector() {
        let tags = vec![
            vec![
                "e".into(),
                "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36".into(),
                "wss://nostr.example.com".into(),
            ],
            vec!["p".into(), "f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca".into()],
            vec!["t".into(), "nostr".into()],
        ];
        let content = "Hello \"Nostr\"\n\tλ ☕ \\ end\r\u{8}\u{c}🎉".to_string();
        let e = Event::sign(&sk_one(), 1_700_000_000, 1, tags, content, [0; 32]).unwrap();
        assert_eq!(e.pubkey, "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
        assert_eq!(e.id, "0926ed7468bd4d3db812fe35ec6de47402eb6bab1871548d28f4f8911900c6d5");
        assert_eq!(e.sig.len(), 128);
        e.verify().unwrap();
        // Deterministic given aux randomness; different aux gives a different (valid) signature.
        let again = Event::sign(&sk_one(), e.created_at, e.kind, e.tags.clone(), e.content.clone(), [0; 32]).unwrap();
        assert_eq!(again, e);
        let other = Event::sign(&sk_one(), e.created_at, e.kind, e.tags.clone(), e.content.clone(), [7; 32]).unwrap();
        assert_eq!(other.id, e.id);
        assert_ne!(other.sig, e.sig);
        other.verify().unwrap();
        // The signature is exactly BIP-340 over the id bytes.
        let sig: [u8; 64] = hex::decode(&e.sig).unwrap().try_into().unwrap();
        assert_eq!(schnorr_sign(&sk_one(), &h32(&e.id), &[0; 32]).unwrap(), sig);
    }

    /// BIP-340 test vectors (bitcoin/bips bip-0340/test-vectors.csv, final version): index,
/// secret key, public key, aux_rand, message, signature, expected verification result.
#[rustfmt::skip]
const BIP340: &[(u32, &str, &str, &str, &str, &str, bool)] = &[
    (0, "0000000000000000000000000000000000000000000000000000000000000003", "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9", "0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000", "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0", true), // -
    (1, "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "0000000000000000000000000000000000000000000000000000000000000001", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A", true), // -
    (2, "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9", "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8", "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906", "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C", "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1BAB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7", true), // -
    (3, "0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710", "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3", true), // test fails if msg is reduced modulo p or n
    (4, "", "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9", "", "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703", "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C6376AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4", true), // -
    (5, "", "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", false), // public key not on the curve
    (6, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A14602975563CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2", false), // has_even_y(R) is false
    (7, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD", false), // negated message
    (8, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6", false), // negated s value
    (9, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "0000000000000000000000000000000000000000000000000000000000000000123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051", false), // sG - eP is infinite (x(inf) as 0)
    (10, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "00000000000000000000000000000000000000000000000000000000000000017615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197", false), // sG - eP is infinite (x(inf) as 1)
    (11, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", false), // sig[0:32] is not an X coordinate on the curve
    (12, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", false), // sig[0:32] is equal to field size
    (13, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", false), // sig[32:64] is equal to curve order
    (14, "", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30", "", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B", false), // public key exceeds the field size
];

    #[test]
    fn bip340_vectors() {
        for &(index, sk, pk, aux, msg, sig, valid) in BIP340 {
            let pk: [u8; 32] = h32(&pk.to_lowercase());
            let msg = h32(&msg.to_lowercase());
            let sig: [u8; 64] = hex::decode(sig.to_lowercase()).unwrap().try_into().unwrap();
            if !sk.is_empty() {
                let sk = h32(&sk.to_lowercase());
                assert_eq!(public_key_hex(&sk).unwrap(), hex::encode(pk), "vector {index} pubkey");
                assert_eq!(
                    schnorr_sign(&sk, &msg, &h32(&aux.to_lowercase())).unwrap(),
                    sig,
                    "vector {index} signature"
                );
            }
            let result = schnorr_verify(&msg, &pk, &sig);
            assert_eq!(result.is_ok(), valid, "vector {index}: {result:?}");
        }
        // Vectors 5 and 14 fail because the public key is unusable.
        let (_, _, pk, _, msg, sig, _) = BIP340[5];
        let sig: [u8; 64] = hex::decode(sig.to_lowercase()).unwrap().try_into().unwrap();
        assert_eq!(
            schnorr_verify(&h32(&msg.to_lowercase()), &h32(&pk.to_lowercase()), &sig),
            Err(EventError::PubkeyNotOnCurve)
        );
    }

    fn unsigned(tags: Vec<Vec<&str>>, content: &str) -> Event {
        Event {
            id: String::new(),
            pubkey: "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".into(),
            created_at: 1_700_000_000,
            kind: 1,
            tags: tags.into_iter().map(|t| t.into_iter().map(String::from).collect()).collect(),
            content: content.into(),
            sig: String::new(),
        }
    }

    const PK1: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn id_serialization_escapes_exactly_the_nip01_set() {
        let cases: &[(&str, &str)] = &[
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("line\nbreak", r#""line\nbreak""#),
            ("cr\rlf", r#""cr\rlf""#),
            ("tab\there", r#""tab\there""#),
            ("bs\u{8}ff\u{c}", r#""bs\bff\f""#),
            // Not escaped: '/', non-ASCII, emoji, DEL, U+2028, other control chars.
            ("a/b", r#""a/b""#),
            ("λ ☕ 🎉 \u{2028}", "\"λ ☕ 🎉 \u{2028}\""),
            ("\u{1}\u{1f}\u{7f}\u{0}", "\"\u{1}\u{1f}\u{7f}\u{0}\""),
            ("\\\"\n", r#""\\\"\n""#),
        ];
        for (content, want) in cases {
            let e = unsigned(vec![], content);
            assert_eq!(e.serialize_for_id(), format!("[0,\"{PK1}\",1700000000,1,[],{want}]"), "content {content:?}");
        }
    }

    #[test]
    fn id_serialization_of_tags() {
        let e = unsigned(vec![vec!["e", "x\"y"], vec!["t"], vec![]], "c");
        assert_eq!(e.serialize_for_id(), format!(r#"[0,"{PK1}",1700000000,1,[["e","x\"y"],["t"],[]],"c"]"#));
    }

    #[test]
    fn id_with_control_characters_fixed_vector() {
        // Computed independently: sha256 of the UTF-8 bytes, control characters verbatim.
        let e = unsigned(vec![vec!["x", "a\u{1}b"]], "c\u{1f}d\u{7f}");
        assert_eq!(hex::encode(e.compute_id()), "f9f92b5f40b3bef4b0bb81c5a8fcab7498ae726c8a437b7c883734ea2930a6c2");
    }

    #[test]
    fn verify_accepts_both_control_character_conventions() {
        let tags = vec![vec!["x".to_string(), "a\u{1}b".to_string()]];
        let content = "c\u{1f}d\u{7f}".to_string();
        // NIP-01 form, as produced by sign().
        let e = Event::sign(&sk_one(), 1_700_000_000, 1, tags.clone(), content.clone(), [3; 32]).unwrap();
        assert_eq!(e.id, "f9f92b5f40b3bef4b0bb81c5a8fcab7498ae726c8a437b7c883734ea2930a6c2");
        e.verify().unwrap();
        // JSON.stringify / go-nostr form (`\u0001`, `\u001f`), computed independently with Python json.dumps.
        let js_id = "eafa7fb8000b761b778c07d5bedf75908b3a960283f2cfdd9023fcefe23c6e08";
        let sig = schnorr_sign(&sk_one(), &h32(js_id), &[3; 32]).unwrap();
        let js = Event { id: js_id.into(), sig: hex::encode(sig), ..e.clone() };
        js.verify().unwrap();
        // Without other control characters, only the one id is accepted.
        let plain = Event::sign(&sk_one(), 1, 1, vec![], "plain\n".into(), [0; 32]).unwrap();
        let mut wrong = plain.clone();
        wrong.id = js_id.into();
        assert_eq!(wrong.verify(), Err(EventError::IdMismatch));
    }

    #[test]
    fn kind_classes() {
        use KindClass::*;
        let table = [
            (0, Replaceable),
            (1, Regular),
            (2, Regular),
            (3, Replaceable),
            (4, Regular),
            (7, Regular),
            (9999, Regular),
            (10000, Replaceable),
            (10002, Replaceable),
            (19999, Replaceable),
            (20000, Ephemeral),
            (22242, Ephemeral),
            (29999, Ephemeral),
            (30000, Addressable),
            (30023, Addressable),
            (39999, Addressable),
            (40000, Regular),
            (65535, Regular),
        ];
        for (kind, class) in table {
            assert_eq!(kind_class(kind), class, "kind {kind}");
            let mut e = unsigned(vec![], "");
            e.kind = kind;
            assert_eq!(e.kind_class(), class);
        }
    }

    #[test]
    fn d_tag_and_tag_values() {
        let e = unsigned(
            vec![
                vec!["e", "one", "wss://r"],
                vec!["p", "pk"],
                vec!["d", "first"],
                vec!["e", "two"],
                vec!["d", "second"],
                vec!["e"],
                vec!["ee", "no"],
                vec![],
            ],
            "",
        );
        assert_eq!(e.d_tag(), "first");
        assert_eq!(e.tag_values('e').collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(e.tag_values('p').collect::<Vec<_>>(), ["pk"]);
        assert_eq!(e.tag_values('x').count(), 0);
        assert_eq!(e.tag_values('E').count(), 0);

        assert_eq!(unsigned(vec![], "").d_tag(), "");
        assert_eq!(unsigned(vec![vec!["d"]], "").d_tag(), "");
        assert_eq!(unsigned(vec![vec!["d", ""]], "").d_tag(), "");
        assert_eq!(unsigned(vec![vec!["dd", "x"], vec!["d", "y"]], "").d_tag(), "y");
    }

    #[test]
    fn json_field_order_and_escaping() {
        let e = Event::sign(&sk_one(), 5, 1, vec![vec!["t".into(), "a\u{1}".into()]], "q\"\n".into(), [0; 32]).unwrap();
        let json = e.to_json();
        let keys = ["\"id\":", "\"pubkey\":", "\"created_at\":", "\"kind\":", "\"tags\":", "\"content\":", "\"sig\":"];
        let positions: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(json.contains(r#""tags":[["t","a\u0001"]]"#), "{json}");
        assert!(json.contains(r#""content":"q\"\n""#), "{json}");
        assert_eq!(Event::from_json(&json).unwrap(), e);
    }

    #[test]
    fn json_rejects_bad_shapes() {
        let good: serde_json::Value = serde_json::from_str(NAK_COMPLEX).unwrap();
        for field in ["id", "pubkey", "created_at", "kind", "tags", "content", "sig"] {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove(field);
            let err = Event::from_json(&v.to_string()).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        let bad_values = [
            ("kind", serde_json::json!(65536)),
            ("kind", serde_json::json!(-1)),
            ("kind", serde_json::json!("1")),
            ("created_at", serde_json::json!(-5)),
            ("created_at", serde_json::json!(1.5)),
            ("tags", serde_json::json!([["e", null]])),
            ("tags", serde_json::json!(["e"])),
            ("tags", serde_json::json!(null)),
            ("content", serde_json::json!(null)),
            ("id", serde_json::json!(5)),
        ];
        for (field, value) in bad_values {
            let mut v = good.clone();
            v[field] = value.clone();
            assert!(Event::from_json(&v.to_string()).is_err(), "{field} = {value}");
        }
        // Unknown fields are ignored (later NIPs may add some).
        let mut v = good.clone();
        v["extra"] = serde_json::json!({"x": 1});
        assert_eq!(Event::from_json(&v.to_string()).unwrap(), Event::from_json(NAK_COMPLEX).unwrap());
        assert!(Event::from_json("[]").is_err());
        assert!(Event::from_json("").is_err());
    }
}
