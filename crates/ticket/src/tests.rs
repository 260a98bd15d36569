use super::*;
use proptest::prelude::*;

const KEY: [u8; 32] = [0x42; 32];
const OTHER_KEY: [u8; 32] = [0x43; 32];
const NOW: i64 = 1_700_000_000;
const ORIGIN: &str = "https://shop.example:8443";

fn claims() -> Claims {
    Claims::new(
        "user:alice",
        vec!["front-door".to_owned(), "garage".to_owned()],
        ORIGIN,
        NOW,
        [0xab; 16],
    )
}

fn ticket() -> String {
    sign("k1", &KEY, &claims()).expect("valid claims sign")
}

/// Signs arbitrary payload bytes, bypassing [`sign`]'s checks: what a buggy
/// or foreign signer holding the key could produce.
fn sign_raw(kid: &str, key: &[u8; 32], payload: &[u8]) -> String {
    let mut t = format!("st1.{kid}.");
    URL_SAFE_NO_PAD.encode_string(payload, &mut t);
    let tag = mac(key, t.as_bytes()).finalize().into_bytes();
    t.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut t);
    t
}

fn sign_json(value: &serde_json::Value) -> String {
    sign_raw("k1", &KEY, &serde_json::to_vec(value).expect("json"))
}

fn parts(t: &str) -> Vec<&str> {
    t.split('.').collect()
}

#[test]
fn hmac_matches_rfc_4231_case_1() {
    // 20-byte key 0x0b..., zero-padded to 32 bytes: HMAC pads it the same way.
    let mut key = [0u8; 32];
    key[..20].fill(0x0b);
    let tag = mac(&key, b"Hi There").finalize().into_bytes();
    assert_eq!(
        hex(tag.as_slice()),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

#[test]
fn round_trip() {
    let c = claims().with_role(TicketRole::Operate);
    let t = sign("k1", &KEY, &c).unwrap();
    assert!(t.starts_with("st1.k1."));
    assert_eq!(parts(&t).len(), 4);
    assert_eq!(kid_of(&t), Ok("k1"));
    assert_eq!(verify(&t, &KEY, NOW, Some(ORIGIN)), Ok(c.clone()));
    assert_eq!(
        verify_with(&t, NOW, Some(ORIGIN), |kid| (kid == "k1").then_some(KEY)),
        Ok(c)
    );
}

#[test]
fn claims_new_defaults() {
    let c = claims();
    assert_eq!(c.role, TicketRole::View);
    assert_eq!(c.exp - c.iat, DEFAULT_TTL_SECS);
    assert_eq!(c.jti, "ab".repeat(16));
    assert_eq!(c.clone().with_ttl(60).exp, NOW + 60);
}

#[test]
fn claims_json_shape() {
    let v = serde_json::to_value(claims().with_role(TicketRole::Operate)).unwrap();
    assert_eq!(v["role"], "operate");
    assert_eq!(v["aud"], ORIGIN);
    // `role` defaults to view.
    let c: Claims = serde_json::from_value(serde_json::json!({
        "sub": "key:2", "cameras": ["*"], "aud": "*", "iat": 1, "exp": 2, "jti": "00"
    }))
    .unwrap();
    assert_eq!(c.role, TicketRole::View);
}

#[test]
fn allows_camera() {
    let c = claims();
    assert!(c.allows_camera("front-door"));
    assert!(c.allows_camera("garage"));
    assert!(!c.allows_camera("back-yard"));
    assert!(!c.allows_camera("*"));
    let all = Claims {
        cameras: vec!["*".to_owned()],
        ..claims()
    };
    assert!(all.allows_camera("back-yard"));
    let none = Claims {
        cameras: vec![],
        ..claims()
    };
    assert!(!none.allows_camera("garage"));
}

#[test]
fn expired() {
    let t = ticket();
    let exp = claims().exp;
    assert!(verify(&t, &KEY, exp - 1, None).is_ok());
    let err = verify(&t, &KEY, exp, None).unwrap_err();
    assert_eq!(err, TicketError::Expired);
    assert!(err.is_expired());
    assert!(err.to_string().contains("fetch a fresh one"));
    assert!(!TicketError::BadSignature.is_expired());
}

#[test]
fn not_yet_valid() {
    let t = ticket();
    assert!(verify(&t, &KEY, NOW - CLOCK_SKEW_SECS, None).is_ok());
    assert_eq!(
        verify(&t, &KEY, NOW - CLOCK_SKEW_SECS - 1, None),
        Err(TicketError::NotYetValid)
    );
}

#[test]
fn lifetime_too_long_refused_by_both_sides() {
    let long = claims().with_ttl(MAX_TTL_SECS + 1);
    assert!(matches!(
        sign("k1", &KEY, &long),
        Err(TicketError::Invalid(_))
    ));
    assert!(sign("k1", &KEY, &claims().with_ttl(MAX_TTL_SECS)).is_ok());
    // A foreign signer holding the key does it anyway.
    let t = sign_json(&serde_json::to_value(&long).unwrap());
    assert_eq!(verify(&t, &KEY, NOW, None), Err(TicketError::Lifetime));
}

#[test]
fn lifetime_not_positive_refused_by_both_sides() {
    for ttl in [0, -1] {
        let c = claims().with_ttl(ttl);
        assert!(matches!(sign("k1", &KEY, &c), Err(TicketError::Invalid(_))));
        let t = sign_json(&serde_json::to_value(&c).unwrap());
        // Reported as a lifetime problem, not as "expired, fetch a fresh one".
        assert_eq!(verify(&t, &KEY, NOW, None), Err(TicketError::Lifetime));
    }
}

#[test]
fn extreme_times_do_not_overflow() {
    for (iat, exp) in [
        (i64::MIN, i64::MAX),
        (i64::MAX, i64::MIN),
        (i64::MAX - 1, i64::MAX),
    ] {
        let c = Claims {
            iat,
            exp,
            ..claims()
        };
        let t = sign_json(&serde_json::to_value(&c).unwrap());
        for now in [i64::MIN, 0, i64::MAX] {
            assert!(verify(&t, &KEY, now, None).is_err(), "{iat} {exp} {now}");
        }
    }
    let c = Claims::new("user:a", vec!["*".into()], "*", i64::MAX, [0; 16]);
    assert_eq!(c.exp, i64::MAX);
    assert!(matches!(sign("k1", &KEY, &c), Err(TicketError::Invalid(_))));
}

#[test]
fn audience() {
    let t = ticket();
    assert!(verify(&t, &KEY, NOW, Some(ORIGIN)).is_ok());
    assert!(verify(&t, &KEY, NOW, Some("HTTPS://Shop.Example:8443")).is_ok());
    for other in [
        "https://evil.example",
        "https://shop.example",
        "http://shop.example:8443",
        "https://shop.example:8443/",
        "null",
        "",
    ] {
        let err = verify(&t, &KEY, NOW, Some(other)).unwrap_err();
        assert_eq!(
            err,
            TicketError::WrongAudience {
                expected: ORIGIN.to_owned()
            }
        );
        assert!(err.to_string().contains(ORIGIN));
    }
}

#[test]
fn any_audience() {
    let c = Claims {
        aud: "*".to_owned(),
        ..claims()
    };
    let t = sign("k1", &KEY, &c).unwrap();
    assert!(verify(&t, &KEY, NOW, Some("https://anywhere.example")).is_ok());
    assert!(verify(&t, &KEY, NOW, Some("null")).is_ok());
    assert!(verify(&t, &KEY, NOW, None).is_ok());
}

#[test]
fn no_origin_skips_audience() {
    assert!(verify(&ticket(), &KEY, NOW, None).is_ok());
}

#[test]
fn tampered_payload() {
    let t = ticket();
    let p = parts(&t);
    let mut json = URL_SAFE_NO_PAD.decode(p[2]).unwrap();
    // "user:alice" -> "user:blice"
    let at = json
        .windows(5)
        .position(|w| w == b"alice")
        .expect("sub in payload");
    json[at] ^= 0x03;
    let forged = format!(
        "{}.{}.{}.{}",
        p[0],
        p[1],
        URL_SAFE_NO_PAD.encode(&json),
        p[3]
    );
    assert_eq!(
        verify(&forged, &KEY, NOW, None),
        Err(TicketError::BadSignature)
    );

    // Claims rewritten wholesale (wildcard cameras, operate), old signature kept.
    let greedy = Claims {
        cameras: vec!["*".to_owned()],
        role: TicketRole::Operate,
        ..claims()
    };
    let json = serde_json::to_vec(&greedy).unwrap();
    let forged = format!(
        "{}.{}.{}.{}",
        p[0],
        p[1],
        URL_SAFE_NO_PAD.encode(json),
        p[3]
    );
    assert_eq!(
        verify(&forged, &KEY, NOW, None),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn tampered_signature() {
    let t = ticket();
    let p = parts(&t);
    let mut tag = URL_SAFE_NO_PAD.decode(p[3]).unwrap();
    tag[0] ^= 1;
    let forged = format!(
        "{}.{}.{}.{}",
        p[0],
        p[1],
        p[2],
        URL_SAFE_NO_PAD.encode(&tag)
    );
    assert_eq!(
        verify(&forged, &KEY, NOW, None),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn non_canonical_signature_text_refused() {
    // The last of 43 characters carries 4 bits of tag and 2 zero bits; setting
    // a zero bit keeps the tag but changes the text. It must not pass.
    let t = ticket();
    let last = *t.as_bytes().last().unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|&c| c == last).unwrap();
    let sibling = char::from(alphabet[idx ^ 1]);
    let mut forged = t[..t.len() - 1].to_owned();
    forged.push(sibling);
    assert!(verify(&forged, &KEY, NOW, None).is_err());
}

#[test]
fn wrong_key() {
    assert_eq!(
        verify(&ticket(), &OTHER_KEY, NOW, None),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn kid_is_signed() {
    let t = ticket();
    let forged = t.replacen("st1.k1.", "st1.k2.", 1);
    assert_eq!(
        verify(&forged, &KEY, NOW, None),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn unknown_kid_via_verify_with() {
    let t = ticket();
    let err = verify_with(&t, NOW, None, |kid| (kid == "k2").then_some(KEY)).unwrap_err();
    assert_eq!(
        err,
        TicketError::UnknownKey {
            kid: "k1".to_owned()
        }
    );
    assert!(err.to_string().contains("`k1`"));
}

#[test]
fn verify_with_picks_key_by_kid() {
    let old = sign("old", &OTHER_KEY, &claims()).unwrap();
    let new = sign("new", &KEY, &claims()).unwrap();
    let lookup = |kid: &str| match kid {
        "old" => Some(OTHER_KEY),
        "new" => Some(KEY),
        _ => None,
    };
    assert!(verify_with(&old, NOW, None, lookup).is_ok());
    assert!(verify_with(&new, NOW, None, lookup).is_ok());
}

#[test]
fn too_long() {
    let t = ticket();
    let long = format!("{t}{}", "A".repeat(MAX_TICKET_LEN));
    assert_eq!(verify(&long, &KEY, NOW, None), Err(TicketError::TooLong));
    assert_eq!(kid_of(&long), Err(TicketError::TooLong));
    // Length comes first, even for garbage.
    let garbage = "\u{0}".repeat(MAX_TICKET_LEN + 1);
    assert_eq!(kid_of(&garbage), Err(TicketError::TooLong));
    assert_eq!(
        verify_with(&garbage, NOW, None, |_| panic!(
            "no lookup for a refused ticket"
        )),
        Err(TicketError::TooLong)
    );
}

#[test]
fn sign_refuses_oversized_ticket() {
    let c = Claims {
        cameras: (0..200).map(|i| format!("camera-number-{i:04}")).collect(),
        ..claims()
    };
    let err = sign("k1", &KEY, &c).unwrap_err();
    assert!(matches!(err, TicketError::Invalid(ref m) if m.contains("4096")));
}

#[test]
fn garbage_is_malformed() {
    for g in [
        "",
        ".",
        "...",
        "st1",
        "st1.",
        "st1...",
        "st2.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "ST1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1..e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1.k1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1.k1.e30.",
        "st1.k1.e30.AAAA",
        "st1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1.k 1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1.kid-that-is-much-too-long-for-the-format.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer st1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "st1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        "\u{1F600}",
        "st1.k\u{e9}.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let err = verify(g, &KEY, NOW, None).unwrap_err();
        assert!(matches!(err, TicketError::Malformed(_)), "{g:?}: {err:?}");
        assert!(kid_of(g).is_err(), "{g:?}");
    }
}

#[test]
fn extra_dot_segments() {
    let t = ticket();
    let p = parts(&t);
    for forged in [
        format!("{t}.AAAA"),
        format!("{t}."),
        format!(".{t}"),
        format!("{}.{}.{}.{}.{}", p[0], p[1], p[2], p[2], p[3]),
        format!("{}.{}.{}.{}", p[0], p[1], p[2], p[3]).replacen('.', "..", 1),
    ] {
        let err = verify(&forged, &KEY, NOW, None).unwrap_err();
        assert!(
            matches!(err, TicketError::Malformed(_)),
            "{forged}: {err:?}"
        );
    }
}

#[test]
fn non_base64() {
    let t = ticket();
    let p = parts(&t);
    // Standard base64 characters, padding, and stray bytes.
    for payload in ["e30=", "e3+0", "e3/0", "e3 0", "e3%30"] {
        let forged = format!("{}.{}.{payload}.{}", p[0], p[1], p[3]);
        assert!(matches!(
            verify(&forged, &KEY, NOW, None),
            Err(TicketError::Malformed(_))
        ));
    }
    let mut sig = p[3].to_owned();
    sig.replace_range(0..1, "+");
    let forged = format!("{}.{}.{}.{sig}", p[0], p[1], p[2]);
    assert!(matches!(
        verify(&forged, &KEY, NOW, None),
        Err(TicketError::Malformed(_))
    ));
}

#[test]
fn signed_non_json() {
    let t = sign_raw("k1", &KEY, b"not json at all");
    assert!(matches!(
        verify(&t, &KEY, NOW, None),
        Err(TicketError::BadClaims(_))
    ));
    // The same bytes with the wrong key: the signature is checked first.
    let t = sign_raw("k1", &OTHER_KEY, b"not json at all");
    assert_eq!(verify(&t, &KEY, NOW, None), Err(TicketError::BadSignature));
}

#[test]
fn signed_payload_with_impossible_base64_length() {
    // 5 characters cannot be base64 of anything; only a signer could send it.
    let mut t = "st1.k1.e30e3".to_owned();
    let tag = mac(&KEY, t.as_bytes()).finalize().into_bytes();
    t.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut t);
    assert!(matches!(
        verify(&t, &KEY, NOW, None),
        Err(TicketError::BadClaims(_))
    ));
}

#[test]
fn signed_json_with_unknown_field() {
    let mut v = serde_json::to_value(claims()).unwrap();
    v["admin"] = serde_json::Value::Bool(true);
    let err = verify(&sign_json(&v), &KEY, NOW, None).unwrap_err();
    assert!(
        matches!(err, TicketError::BadClaims(ref m) if m.contains("admin")),
        "{err:?}"
    );
}

#[test]
fn signed_json_missing_or_mistyped_fields() {
    let mut v = serde_json::to_value(claims()).unwrap();
    v.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        verify(&sign_json(&v), &KEY, NOW, None),
        Err(TicketError::BadClaims(_))
    ));
    let mut v = serde_json::to_value(claims()).unwrap();
    v["role"] = serde_json::Value::from("admin");
    assert!(matches!(
        verify(&sign_json(&v), &KEY, NOW, None),
        Err(TicketError::BadClaims(_))
    ));
}

#[test]
fn signed_but_unusable_claims_refused() {
    for bad in [
        Claims {
            cameras: vec![],
            ..claims()
        },
        Claims {
            cameras: vec!["*".into(), "garage".into()],
            ..claims()
        },
        Claims {
            sub: String::new(),
            ..claims()
        },
        Claims {
            aud: "https://shop.example/".into(),
            ..claims()
        },
    ] {
        let t = sign_json(&serde_json::to_value(&bad).unwrap());
        assert!(matches!(
            verify(&t, &KEY, NOW, None),
            Err(TicketError::BadClaims(_))
        ));
        assert!(matches!(
            sign("k1", &KEY, &bad),
            Err(TicketError::Invalid(_))
        ));
    }
}

#[test]
fn sign_refusals() {
    let c = claims();
    for kid in ["", "k.1", "k 1", "ké", &"k".repeat(33)] {
        assert!(
            matches!(sign(kid, &KEY, &c), Err(TicketError::Invalid(_))),
            "{kid:?}"
        );
    }
    assert!(sign(&"k".repeat(32), &KEY, &c).is_ok());
    assert!(sign("Key_2024-01", &KEY, &c).is_ok());

    let refused = |c: Claims| matches!(sign("k1", &KEY, &c), Err(TicketError::Invalid(_)));
    assert!(refused(Claims {
        cameras: vec![],
        ..claims()
    }));
    assert!(refused(Claims {
        cameras: vec![String::new()],
        ..claims()
    }));
    assert!(refused(Claims {
        sub: "user:a\nforged log line".into(),
        ..claims()
    }));
    assert!(refused(Claims {
        jti: "not-hex".into(),
        ..claims()
    }));
    for aud in [
        "",
        "null",
        "shop.example",
        "https://",
        "https://shop.example/",
        "https://shop.example/app",
        "https://user@shop.example",
        "://shop.example",
    ] {
        assert!(
            refused(Claims {
                aud: aud.into(),
                ..claims()
            }),
            "{aud:?}"
        );
    }
    for aud in [
        "*",
        "http://localhost:8080",
        "https://[::1]:8443",
        "chrome-extension://abc",
    ] {
        assert!(
            !refused(Claims {
                aud: aud.into(),
                ..claims()
            }),
            "{aud:?}"
        );
    }
}

#[test]
fn errors_do_not_leak_the_ticket_or_key() {
    let t = ticket();
    let p = parts(&t);
    let forged = format!("{}.{}.{}.{}", p[0], p[1], p[2], "A".repeat(43));
    let mut errors = vec![
        verify(&forged, &KEY, NOW, None).unwrap_err(),
        verify(&t, &KEY, NOW + 10_000, None).unwrap_err(),
        verify(&t, &KEY, NOW, Some("https://evil.example")).unwrap_err(),
        verify_with(&t, NOW, None, |_| None).unwrap_err(),
        verify(&format!("{t}.x"), &KEY, NOW, None).unwrap_err(),
    ];
    errors.push(sign("k1", &KEY, &claims().with_ttl(0)).unwrap_err());
    for e in errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(p[2]), "{text}");
            assert!(!text.contains(p[3]), "{text}");
            assert!(!text.contains(&URL_SAFE_NO_PAD.encode(KEY)), "{text}");
        }
    }
}

fn arb_claims() -> impl Strategy<Value = Claims> {
    (
        "(user|device|share|key):[a-z0-9]{1,12}",
        prop_oneof![Just(TicketRole::View), Just(TicketRole::Operate)],
        prop_oneof![
            Just(vec!["*".to_owned()]),
            prop::collection::vec("[a-zA-Z0-9_.-]{1,20}", 1..5),
        ],
        prop_oneof![
            Just("*".to_owned()),
            "https://[a-z]{1,10}\\.example(:[0-9]{2,5})?",
        ],
        -1_000_000_000i64..4_000_000_000,
        1..=MAX_TTL_SECS,
        any::<[u8; 16]>(),
    )
        .prop_map(|(sub, role, cameras, aud, iat, ttl, nonce)| {
            Claims::new(sub, cameras, aud, iat, nonce)
                .with_role(role)
                .with_ttl(ttl)
        })
}

proptest! {
    #[test]
    fn verify_never_panics_on_arbitrary_strings(s in ".{0,200}", now in any::<i64>()) {
        let _ = verify(&s, &KEY, now, Some(ORIGIN));
        let _ = verify_with(&s, now, None, |_| Some(KEY));
        let _ = kid_of(&s);
    }

    #[test]
    fn verify_never_panics_on_ticket_shaped_strings(
        s in "st1\\.[A-Za-z0-9_-]{0,34}\\.[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{40,46}",
        now in any::<i64>(),
    ) {
        let _ = verify(&s, &KEY, now, Some(ORIGIN));
        let _ = verify_with(&s, now, None, |_| Some(KEY));
    }

    #[test]
    fn signed_claims_round_trip(c in arb_claims()) {
        let t = sign("k1", &KEY, &c).unwrap();
        prop_assert_eq!(verify(&t, &KEY, c.iat, None), Ok(c));
    }

    #[test]
    fn any_single_character_change_is_refused(
        c in arb_claims(),
        pos in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            prop::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".to_vec()
            ).prop_map(char::from),
            any::<char>(),
        ],
    ) {
        let t = sign("k1", &KEY, &c).unwrap();
        prop_assert!(verify(&t, &KEY, c.iat, None).is_ok());
        // Tickets are ASCII, so byte and character positions agree.
        let i = pos.index(t.len());
        prop_assume!(t.as_bytes()[i] != u8::try_from(u32::from(replacement)).unwrap_or(0));
        let mut changed = String::with_capacity(t.len() + 4);
        changed.push_str(&t[..i]);
        changed.push(replacement);
        changed.push_str(&t[i + 1..]);
        prop_assert!(verify(&changed, &KEY, c.iat, None).is_err(), "{} accepted", changed);
        prop_assert!(verify_with(&changed, c.iat, None, |_| Some(KEY)).is_err());
    }
}

#[test]
fn largest_signable_ticket_verifies() {
    let mut cameras = vec![];
    let mut last_ok = None;
    for i in 0.. {
        cameras.push(format!("c{i:03}"));
        let c = Claims {
            cameras: cameras.clone(),
            ..claims()
        };
        match sign("k1", &KEY, &c) {
            Ok(t) => last_ok = Some((t, c)),
            Err(_) => break,
        }
    }
    let (t, c) = last_ok.expect("some camera list fits");
    assert!(t.len() > MAX_TICKET_LEN - 16 && t.len() <= MAX_TICKET_LEN);
    assert_eq!(verify(&t, &KEY, NOW, None), Ok(c));
}
