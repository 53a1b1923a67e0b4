use proptest::prelude::*;

use super::*;

const SIG: &str = "c2lnbmF0dXJl";

fn parse(value: &str) -> Result<XMatrix, XMatrixError> {
    XMatrix::parse(value.as_bytes(), Duplicates::Refuse)
}

fn expect(origin: &str, destination: Option<&str>, key_id: &str, signature: &str) -> XMatrix {
    XMatrix::new(origin, destination.map(str::to_owned), key_id, signature).unwrap()
}

#[test]
fn accepted_variants() {
    let plain = Some(expect("a.example", Some("b.example"), "ed25519:1", SIG));
    let cases: &[(&str, Option<XMatrix>)] = &[
        (
            r#"X-Matrix origin="a.example",key="ed25519:1",sig="c2lnbmF0dXJl",destination="b.example""#,
            plain.clone(),
        ),
        // Spaces and tabs around commas, several spaces after the scheme.
        (
            "X-Matrix origin=\"a.example\", key=\"ed25519:1\" ,\tsig=\"c2lnbmF0dXJl\"\t,  destination=\"b.example\"",
            plain.clone(),
        ),
        (
            r#"X-Matrix    origin="a.example",key="ed25519:1",sig="c2lnbmF0dXJl",destination="b.example""#,
            plain.clone(),
        ),
        // Names in any case and any order.
        (
            r#"X-Matrix SIG="c2lnbmF0dXJl",Destination="b.example",ORIGIN="a.example",kEy="ed25519:1""#,
            plain.clone(),
        ),
        // Unquoted values, with `:` in them.
        (
            "X-Matrix origin=a.example,key=ed25519:1,sig=c2lnbmF0dXJl,destination=b.example",
            plain.clone(),
        ),
        // Backslash escapes inside quotes.
        (
            r#"X-Matrix origin="a\.ex\ample",key="ed25519\:1",sig="c2lnbmF0dXJl",destination="\b.example""#,
            plain.clone(),
        ),
        // Unknown parameters are ignored.
        (
            r#"X-Matrix origin="a.example",key="ed25519:1",extra="x",sig="c2lnbmF0dXJl",destination="b.example",v=2"#,
            plain,
        ),
        // No destination.
        (
            r#"X-Matrix origin="a.example",key="ed25519:1",sig="c2lnbmF0dXJl""#,
            Some(expect("a.example", None, "ed25519:1", SIG)),
        ),
        // `=` inside a value, an empty quoted value, a lone quote, an escaped quote.
        (
            r#"X-Matrix origin="a.example",key="k=1",sig="",destination="\"""#,
            Some(expect("a.example", Some("\""), "k=1", "")),
        ),
        (
            r#"X-Matrix origin="a.example",key=",sig=""#,
            Some(expect("a.example", None, "", "")),
        ),
        (
            r#"X-Matrix origin="a.example",key=",sig=x"#,
            Some(expect("a.example", None, "", "x")),
        ),
        // The last character of a quoted value is dropped, whatever it is.
        (
            r#"X-Matrix origin="a.example",key="ed25519:1x,sig="s"#,
            Some(expect("a.example", None, "ed25519:1", "")),
        ),
        // A backslash before a newline is kept.
        (
            "X-Matrix origin=a.example,key=\"a\\\nb\",sig=s",
            Some(expect("a.example", None, "a\\\nb", "s")),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(parse(header).ok(), *expected, "{header}");
    }
}

#[test]
fn rejected_variants() {
    use XMatrixError as E;
    let missing = |name| E::MissingParameter { name };
    let cases: &[(&str, XMatrixError)] = &[
        (
            r#"x-matrix origin="a.example",key="k",sig="s""#,
            E::NotXMatrix,
        ),
        ("Bearer token", E::NotXMatrix),
        (
            r#"Matrix origin="a.example",key="k",sig="s""#,
            E::NotXMatrix,
        ),
        (
            "X-Matrix\torigin=\"a.example\",key=\"k\",sig=\"s\"",
            E::NoSpaceAfterScheme,
        ),
        (
            r#"X-Matrixorigin="a.example",key="k",sig="s""#,
            E::NoSpaceAfterScheme,
        ),
        ("X-Matrix", E::NoSpaceAfterScheme),
        (
            "X-Matrix ",
            E::NoEquals {
                parameter: String::new(),
            },
        ),
        (
            r#"X-Matrix origin="a.example",key="k",sig="s","#,
            E::NoEquals {
                parameter: String::new(),
            },
        ),
        (
            r#"X-Matrix origin="a.example",,key="k",sig="s""#,
            E::NoEquals {
                parameter: String::new(),
            },
        ),
        // Commas split even inside quotes.
        (
            r#"X-Matrix origin="a.example",key="k,1",sig="s""#,
            E::NoEquals {
                parameter: "1\"".into(),
            },
        ),
        // Nothing may surround `=`: `origin ` is another name.
        (
            r#"X-Matrix origin ="a.example",key="k",sig="s""#,
            missing("origin"),
        ),
        (r#"X-Matrix key="k",sig="s""#, missing("origin")),
        (r#"X-Matrix origin="a.example",sig="s""#, missing("key")),
        (r#"X-Matrix origin="a.example",key="k""#, missing("sig")),
        // A tab before the first name belongs to it.
        ("X-Matrix \torigin=a.example,key=k,sig=s", missing("origin")),
        (
            r#"X-Matrix origin= "a.example",key="k",sig="s""#,
            E::InvalidOrigin {
                origin: " \"a.example\"".into(),
            },
        ),
        (
            r#"X-Matrix origin="-a.example/x",key="k",sig="s""#,
            E::InvalidOrigin {
                origin: "-a.example/x".into(),
            },
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(parse(header).as_ref(), Err(expected), "{header}");
    }
}

#[test]
fn duplicates_refused_by_default_or_last_wins() {
    let header = r#"X-Matrix origin="a.example",key="k1",sig="s",key="k2""#;
    assert_eq!(
        parse(header),
        Err(XMatrixError::DuplicateParameter { name: "key".into() })
    );
    assert!(header.parse::<XMatrix>().is_err());
    let last = XMatrix::parse(header.as_bytes(), Duplicates::LastWins).unwrap();
    assert_eq!(last.key_id(), "k2");
    // Names compare case-insensitively, unknown ones included.
    let header = r#"X-Matrix origin="a.example",key="k",sig="s",x=1,X=2"#;
    assert_eq!(
        parse(header),
        Err(XMatrixError::DuplicateParameter { name: "x".into() })
    );
    assert!(XMatrix::parse(header.as_bytes(), Duplicates::LastWins).is_ok());
    assert_eq!(Duplicates::default(), Duplicates::Refuse);
}

#[test]
fn bounds_and_encoding() {
    let long = format!(
        "X-Matrix origin=a.example,key=k,sig={}",
        "A".repeat(MAX_HEADER_LEN)
    );
    assert_eq!(
        parse(&long),
        Err(XMatrixError::TooLong {
            len: long.len(),
            max: MAX_HEADER_LEN
        })
    );
    let just_fits = "X-Matrix origin=a.example,key=k,sig=".to_owned();
    let just_fits = format!(
        "{just_fits}{}",
        "A".repeat(MAX_HEADER_LEN - just_fits.len())
    );
    assert!(parse(&just_fits).is_ok());
    assert_eq!(
        XMatrix::parse(
            b"X-Matrix origin=a.example,key=\xff,sig=s",
            Duplicates::Refuse
        ),
        Err(XMatrixError::NotUtf8)
    );
    assert!(XMatrix::is_x_matrix(b"X-Matrix\xff"));
    assert!(!XMatrix::is_x_matrix(b"x-matrix origin=a"));
}

#[test]
fn origins() {
    for valid in [
        "a.example",
        "-a.example",
        "localhost",
        "1.2.3.4",
        "1.2.3.4:8080",
        "a.example:0",
        "a.example:99999",
        "a.example:+443",
        "a.example:-1",
        "a.example:8_448",
        "a.example: 443 ",
        "a.example:0443",
        "[::1]",
        "[::1]:8448",
        "[2001:db8::1]:8448",
        "[::ffff:1.2.3.4]",
    ] {
        assert!(is_valid_origin(valid), "{valid}");
    }
    for invalid in [
        "",
        "a..example",
        ".a.example",
        "a.example.",
        "a_b.example",
        "a.example/x",
        "é.example",
        "a.example:",
        "a.example:12a",
        "a.example:1__2",
        "a.example:_1",
        "a.example:1_",
        "a.example:+",
        "a.example:+ 1",
        "a:b:c",
        "::1",
        "[::1",
        "[]",
        "[]:80",
        "[1.2.3.4]",
        "[::1]:",
        "[::g]",
        "a.example]",
    ] {
        assert!(!is_valid_origin(invalid), "{invalid}");
    }
}

#[test]
fn formatting() {
    let header = expect("a.example:8448", Some("b.example"), "ed25519:a_b", SIG);
    assert_eq!(
        header.to_header_value().unwrap(),
        r#"X-Matrix origin="a.example:8448",key="ed25519:a_b",sig="c2lnbmF0dXJl",destination="b.example""#
    );
    let header = expect("a.example", None, "ed25519:1", SIG);
    assert_eq!(
        header.to_header_value().unwrap(),
        r#"X-Matrix origin="a.example",key="ed25519:1",sig="c2lnbmF0dXJl""#
    );
    for unsafe_value in ["a\"b", "a\\b", "a,b", "a\tb", "a\nb", "é"] {
        let header = expect("a.example", None, unsafe_value, SIG);
        assert_eq!(
            header.to_header_value(),
            Err(XMatrixError::UnsafeValue {
                name: "key",
                value: unsafe_value.into()
            })
        );
        let header = expect("a.example", Some(unsafe_value), "k", SIG);
        assert!(matches!(
            header.to_header_value(),
            Err(XMatrixError::UnsafeValue {
                name: "destination",
                ..
            })
        ));
    }
    assert_eq!(
        XMatrix::new("a b", None, "k", "s"),
        Err(XMatrixError::InvalidOrigin {
            origin: "a b".into()
        })
    );
}

fn origin_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,3}(:[0-9]{1,5})?",
        "\\[(::1|2001:db8::[0-9a-f]{1,4})\\](:[0-9]{1,5})?",
    ]
}

fn safe_value() -> impl Strategy<Value = String> {
    "[ !#-+\\--\\[\\]-~]{0,24}"
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(
        origin in origin_strategy(),
        destination in proptest::option::of(safe_value()),
        key_id in safe_value(),
        signature in safe_value(),
    ) {
        let header = XMatrix::new(origin, destination, key_id, signature).unwrap();
        let text = header.to_header_value().unwrap();
        prop_assert_eq!(parse(&text), Ok(header.clone()));
        prop_assert_eq!(XMatrix::parse(text.as_bytes(), Duplicates::LastWins), Ok(header));
    }

    #[test]
    fn whatever_parses_formats_or_is_refused(text in "X-Matrix[ \t]{0,2}[ -~\t]{0,80}") {
        if let Ok(header) = XMatrix::parse(text.as_bytes(), Duplicates::LastWins) {
            match header.to_header_value() {
                Ok(formatted) => prop_assert_eq!(parse(&formatted), Ok(header)),
                Err(error) => {
                    let is_unsafe = matches!(error, XMatrixError::UnsafeValue { .. });
                    prop_assert!(is_unsafe);
                }
            }
        }
    }
}
