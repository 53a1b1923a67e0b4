//! Unit and property tests of the canonical JSON parser and encoder.

use proptest::prelude::*;

use super::number::MAX_SAFE_INTEGER;
use super::*;

fn canonical(input: &str, options: &ParseOptions) -> Result<String, CanonicalJsonError> {
    parse(input.as_bytes(), options).map(|value| to_string(&value))
}

fn strict(input: &str) -> Result<String, CanonicalJsonError> {
    canonical(input, &ParseOptions::strict())
}

fn lenient(input: &str) -> Result<String, CanonicalJsonError> {
    canonical(input, &ParseOptions::lenient())
}

#[test]
fn keys_sort_by_code_point_and_whitespace_goes() {
    assert_eq!(
        strict("{ \"b\" : 1 ,\n\t\"a\":[ ] }").unwrap(),
        r#"{"a":[],"b":1}"#
    );
    assert_eq!(strict(r#"{"本":2,"日":1}"#).unwrap(), r#"{"日":1,"本":2}"#);
    // U+FFFF sorts before U+1F600 in code-point order (and in UTF-8 byte order), unlike
    // UTF-16 order.
    assert_eq!(strict(r#"{"😀":1,"￿":2}"#).unwrap(), r#"{"￿":2,"😀":1}"#);
    assert_eq!(
        strict(r#"{"a":1,"A":2,"_":3,"":4}"#).unwrap(),
        r#"{"":4,"A":2,"_":3,"a":1}"#
    );
}

#[test]
fn strings_use_minimal_escapes() {
    assert_eq!(strict(r#""\/""#).unwrap(), r#""/""#);
    assert_eq!(strict(r#""\u65E5\u00e9""#).unwrap(), "\"日é\"");
    assert_eq!(strict(r#""\ud83d\ude00""#).unwrap(), "\"😀\"");
    assert_eq!(
        strict(r#""\b\f\n\r\t\"\\""#).unwrap(),
        r#""\b\f\n\r\t\"\\""#
    );
    assert_eq!(
        strict(r#""\u0000\u0001\u001f\u007f\u2028""#).unwrap(),
        "\"\\u0000\\u0001\\u001f\u{7f}\u{2028}\""
    );
    assert_eq!(strict(r#""\u000B""#).unwrap(), r#""\u000b""#);
}

#[test]
fn every_control_character_is_escaped_with_the_short_form_where_there_is_one() {
    for code in 0u32..0x20 {
        let ch = char::from_u32(code).unwrap();
        let value = Value::String(ch.to_string());
        let expected = match code {
            0x08 => "\"\\b\"".to_owned(),
            0x09 => "\"\\t\"".to_owned(),
            0x0a => "\"\\n\"".to_owned(),
            0x0c => "\"\\f\"".to_owned(),
            0x0d => "\"\\r\"".to_owned(),
            _ => format!("\"\\u{code:04x}\""),
        };
        assert_eq!(to_string(&value), expected);
    }
}

#[test]
fn integers_in_strict_mode() {
    assert_eq!(strict("9007199254740991").unwrap(), "9007199254740991");
    assert_eq!(strict("-9007199254740991").unwrap(), "-9007199254740991");
    assert_eq!(strict("-0").unwrap(), "0");
    assert!(matches!(
        strict("9007199254740992"),
        Err(CanonicalJsonError::IntegerOutOfRange { offset: 0 })
    ));
    assert!(matches!(
        strict("[-9007199254740992]"),
        Err(CanonicalJsonError::IntegerOutOfRange { offset: 1 })
    ));
    assert!(matches!(
        strict("99999999999999999999999"),
        Err(CanonicalJsonError::IntegerOutOfRange { .. })
    ));
}

#[test]
fn integers_longer_than_python_converts_are_refused() {
    let longest = "9".repeat(4300);
    assert_eq!(lenient(&longest).unwrap(), longest);
    let negative = format!("-{longest}");
    assert_eq!(lenient(&negative).unwrap(), negative);
    assert!(matches!(
        lenient(&"1".repeat(4301)),
        Err(CanonicalJsonError::IntegerTooLong {
            offset: 0,
            digits: 4301,
            max_digits: 4300
        })
    ));
}

#[test]
fn floats_are_rejected_in_strict_mode() {
    for input in ["1.0", "1E2", "1e10", "-0.0", "[0.5]", "{\"a\":1e-3}"] {
        let error = strict(input).unwrap_err();
        assert!(
            matches!(error, CanonicalJsonError::FloatNotAllowed { .. }),
            "{input}: {error}"
        );
        assert!(!error.is_invalid_json());
    }
}

#[test]
fn lenient_mode_writes_what_synapse_signs() {
    assert_eq!(lenient("[1.0]").unwrap(), "[1.0]");
    assert_eq!(
        lenient(r#"{"a":1.5,"b":[0.25,100.0]}"#).unwrap(),
        r#"{"a":1.5,"b":[0.25,100.0]}"#
    );
    assert_eq!(lenient("1E2").unwrap(), "100.0");
    assert_eq!(lenient("1e10").unwrap(), "10000000000.0");
    assert_eq!(lenient("1e16").unwrap(), "1e+16");
    assert_eq!(lenient("0.00001").unwrap(), "1e-05");
    assert_eq!(lenient("-0.0").unwrap(), "-0.0");
    assert_eq!(lenient("-0").unwrap(), "0");
    assert_eq!(lenient("9007199254740992").unwrap(), "9007199254740992");
    assert_eq!(
        lenient("-123456789012345678901234567890").unwrap(),
        "-123456789012345678901234567890"
    );
    assert!(matches!(
        lenient("1e400"),
        Err(CanonicalJsonError::FloatOutOfRange { .. })
    ));
}

/// The spec's example `{"a": -0, "b": 1e10}` → `{"a":0,"b":10000000000}` normalises an
/// integral float to an integer; Synapse (and so the network) does not. Both readings
/// are pinned here.
#[test]
fn spec_example_versus_synapse_reading_of_1e10() {
    let input = "{\n    \"a\": -0,\n    \"b\": 1e10\n}";
    let spec = ParseOptions::strict().with_spec_number_normalization(true);
    assert_eq!(
        canonical(input, &spec).unwrap(),
        r#"{"a":0,"b":10000000000}"#
    );
    let spec_lenient = ParseOptions::lenient().with_spec_number_normalization(true);
    assert_eq!(
        canonical(input, &spec_lenient).unwrap(),
        r#"{"a":0,"b":10000000000}"#
    );
    assert!(matches!(
        strict(input),
        Err(CanonicalJsonError::FloatNotAllowed { offset: 24 })
    ));
    assert_eq!(lenient(input).unwrap(), r#"{"a":0,"b":10000000000.0}"#);
    // Non-integral floats stay floats even with the spec's reading.
    assert!(canonical("1.5", &spec).is_err());
}

#[test]
fn duplicate_keys_keep_the_later_value() {
    assert_eq!(
        strict(r#"{"a":1,"b":2,"a":3}"#).unwrap(),
        r#"{"a":3,"b":2}"#
    );
    assert_eq!(
        strict(r#"{"a":{"x":1},"a":null}"#).unwrap(),
        r#"{"a":null}"#
    );
}

#[test]
fn invalid_json_is_a_syntax_error_with_its_offset() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("{\"a\":", 5),
        ("{\"a\":1", 6),
        ("[1,]", 3),
        ("{\"a\" 1}", 5),
        ("01", 1),
        ("[1] x", 4),
        ("NaN", 0),
        ("{\"a\":Infinity}", 5),
        ("-Infinity", 1),
        ("tru", 0),
        ("\"abc", 4),
        ("1.", 2),
        ("1e", 2),
        ("-", 1),
        ("{'a':1}", 1),
        ("\u{feff}{}", 0),
    ];
    for &(input, offset) in cases {
        let error = strict(input).unwrap_err();
        assert!(error.is_invalid_json(), "{input:?}: {error}");
        assert_eq!(error.offset(), offset, "{input:?}: {error}");
    }
}

#[test]
fn bad_strings_are_typed_errors() {
    assert!(matches!(
        strict("\"a\u{1}b\""),
        Err(CanonicalJsonError::ControlCharacter { offset: 2 })
    ));
    assert!(matches!(
        strict(r#""\x""#),
        Err(CanonicalJsonError::InvalidEscape { offset: 1 })
    ));
    assert!(matches!(
        strict(r#""\u12G4""#),
        Err(CanonicalJsonError::InvalidEscape { offset: 1 })
    ));
    assert!(matches!(
        strict(r#""\ud800""#),
        Err(CanonicalJsonError::LoneSurrogate { offset: 1 })
    ));
    assert!(matches!(
        strict(r#""\udc00""#),
        Err(CanonicalJsonError::LoneSurrogate { offset: 1 })
    ));
    assert!(matches!(
        strict(r#""\ud800\u0041""#),
        Err(CanonicalJsonError::LoneSurrogate { .. })
    ));
    assert!(matches!(
        parse(b"\"\xff\"", &ParseOptions::strict()),
        Err(CanonicalJsonError::InvalidUtf8 { offset: 1 })
    ));
}

#[test]
fn depth_and_size_are_bounded() {
    let deep = "[".repeat(100_000);
    assert!(matches!(
        strict(&deep),
        Err(CanonicalJsonError::TooDeep {
            max_depth: DEFAULT_MAX_DEPTH,
            ..
        })
    ));
    let nested = format!(
        "{}{}",
        "[".repeat(DEFAULT_MAX_DEPTH),
        "]".repeat(DEFAULT_MAX_DEPTH)
    );
    assert!(strict(&nested).is_ok());
    let over = format!(
        "{}{}",
        "[".repeat(DEFAULT_MAX_DEPTH + 1),
        "]".repeat(DEFAULT_MAX_DEPTH + 1)
    );
    assert!(
        matches!(strict(&over), Err(CanonicalJsonError::TooDeep { offset, .. }) if offset == DEFAULT_MAX_DEPTH)
    );
    let objects = "{\"a\":".repeat(20);
    let shallow = ParseOptions::strict().with_max_depth(10);
    assert!(matches!(
        canonical(&objects, &shallow),
        Err(CanonicalJsonError::TooDeep {
            offset: 50,
            max_depth: 10
        })
    ));
    let small = ParseOptions::strict().with_max_len(8);
    assert!(matches!(
        canonical("\"123456789\"", &small),
        Err(CanonicalJsonError::TooLarge {
            len: 11,
            max_len: 8
        })
    ));
}

#[test]
fn a_hundred_megabyte_string_is_refused_before_it_is_read() {
    let mut huge = Vec::with_capacity(100 * 1024 * 1024 + 2);
    huge.push(b'"');
    huge.resize(100 * 1024 * 1024 + 1, b'a');
    huge.push(b'"');
    assert!(matches!(
        parse(&huge, &ParseOptions::strict()),
        Err(CanonicalJsonError::TooLarge { .. })
    ));
}

#[test]
fn strictness_of_built_values() {
    let lenient_value = parse(b"[[1.5]]", &ParseOptions::lenient()).unwrap();
    assert!(!lenient_value.is_strict_canonical());
    let strict_value = parse(
        b"[[1, {\"a\": -9007199254740991}]]",
        &ParseOptions::strict(),
    )
    .unwrap();
    assert!(strict_value.is_strict_canonical());
}

#[test]
fn serde_json_round_trip() {
    let value = parse(
        br#"{"a":[1,-2,"x",null,true,{"b":1.5}]}"#,
        &ParseOptions::lenient(),
    )
    .unwrap();
    let via_serde = serde_json::Value::from(&value);
    assert_eq!(Value::from(via_serde.clone()), value);
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        serde_json::to_string(&via_serde).unwrap()
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8)
                .prop_map(|entries| Value::Object(Object::from_entries(entries))),
        ]
    })
}

/// Writes `value` as JSON text with its object keys in the given order and arbitrary
/// whitespace and escapes, so that parsing must undo all of it.
fn write_noncanonical(value: &Value, reverse: bool, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push_str("[ ");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(" ,\n");
                }
                write_noncanonical(item, reverse, out);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push_str("{\t");
            let mut entries: Vec<_> = object.iter().collect();
            if reverse {
                entries.reverse();
            }
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push_str(" : ");
                write_noncanonical(item, reverse, out);
            }
            out.push('}');
        }
        Value::String(text) => {
            // Escape every non-ASCII character, as other encoders do.
            out.push('"');
            for unit in text.encode_utf16() {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            out.push('"');
        }
        other => out.push_str(&to_string(other)),
    }
}

proptest! {
    #[test]
    fn parse_encode_parse_is_identity(value in arb_value()) {
        let bytes = to_vec(&value);
        let reparsed = parse(&bytes, &ParseOptions::strict()).unwrap();
        prop_assert_eq!(&reparsed, &value);
    }

    #[test]
    fn encoding_is_idempotent(value in arb_value()) {
        let once = to_vec(&value);
        let twice = to_vec(&parse(&once, &ParseOptions::strict()).unwrap());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn key_order_and_escapes_never_change_the_output(value in arb_value()) {
        let mut forward = String::new();
        write_noncanonical(&value, false, &mut forward);
        let mut backward = String::new();
        write_noncanonical(&value, true, &mut backward);
        let a = to_vec(&parse(forward.as_bytes(), &ParseOptions::strict()).unwrap());
        let b = to_vec(&parse(backward.as_bytes(), &ParseOptions::strict()).unwrap());
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a, to_vec(&value));
    }

    #[test]
    fn agrees_with_serde_json_on_valid_documents(value in arb_value()) {
        let text = serde_json::to_string(&serde_json::Value::from(&value)).unwrap();
        let ours = parse(text.as_bytes(), &ParseOptions::strict()).unwrap();
        prop_assert_eq!(ours, value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse(&bytes, &ParseOptions::lenient());
        let _ = parse(&bytes, &ParseOptions::strict());
    }

    #[test]
    fn lenient_floats_reparse_to_the_same_value(value in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        let text = to_string(&Value::Number(Number::from_f64(value).unwrap()));
        let reparsed = parse(text.as_bytes(), &ParseOptions::lenient()).unwrap();
        prop_assert_eq!(reparsed.as_number().map(Number::as_f64).map(f64::to_bits), Some(value.to_bits()));
    }
}
