//! Cross-type tests: the shared spec vectors, trait impls and property tests.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

/// `shared/spec-vectors/identifiers.json`, whose `source` is "Appendices > Identifier
/// Grammar (Server Name, Room IDs, Event IDs), Room Versions > Room version grammar,
/// room version pages v3/v4, PDU v12 schema example, MSC4291 text". Embedded so the
/// crate builds without the shared folder.
mod vectors {
    pub(super) const VALID_SERVER_NAMES: [&str; 6] = [
        "matrix.org",
        "matrix.org:8888",
        "1.2.3.4",
        "1.2.3.4:1234",
        "[1234:5678::abcd]",
        "[1234:5678::abcd]:5678",
    ];
    pub(super) const EVENT_ID_V1_V2: &str = "$a4ecee13e2accdadf56c1025:example.com";
    pub(super) const EVENT_IDS_V3: [&str; 2] = [
        "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk",
        "$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o",
    ];
    pub(super) const EVENT_ID_V4_PLUS: &str = "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg";
    pub(super) const ROOM_ID_V1_TO_V11: &str = "!jEsUZKDJdhlrceRyVU:example.org";
    pub(super) const ROOM_ID_V12: &str = "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ";
    pub(super) const CREATE_EVENT_ID: &str = "$31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM";
    pub(super) const ROOM_ID_FROM_CREATE: &str = "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM";
    pub(super) const USER_LOWER: &str = "@user:matrix.org";
    pub(super) const USER_UPPER: &str = "@user:MATRIX.ORG";
}

#[test]
fn vector_server_names() {
    for text in vectors::VALID_SERVER_NAMES {
        assert_eq!(ServerName::parse(text).unwrap().as_str(), text);
        let user = UserId::parse_strict(&format!("@u:{text}")).unwrap();
        assert_eq!(user.server_name(), text);
    }
}

#[test]
fn vector_event_ids() {
    let legacy = EventId::parse(vectors::EVENT_ID_V1_V2).unwrap();
    assert_eq!(legacy.server_name(), Some("example.com"));
    assert!(legacy.matches_format(EventIdFormat::Legacy));
    for text in vectors::EVENT_IDS_V3 {
        assert!(EventId::parse_for_format(text, EventIdFormat::Base64Standard).is_ok());
    }
    // The first v3 example uses '/', so it is not URL-safe; the second has neither.
    assert!(
        EventId::parse_for_format(vectors::EVENT_IDS_V3[0], EventIdFormat::Base64UrlSafe).is_err()
    );
    let v4 =
        EventId::parse_for_format(vectors::EVENT_ID_V4_PLUS, EventIdFormat::Base64UrlSafe).unwrap();
    assert!(!v4.matches_format(EventIdFormat::Base64Standard));
    assert!(!v4.matches_format(EventIdFormat::Legacy));
}

#[test]
fn vector_room_ids() {
    let old = RoomId::parse(vectors::ROOM_ID_V1_TO_V11).unwrap();
    assert_eq!(old.server_name(), Some("example.org"));
    let new = RoomId::parse(vectors::ROOM_ID_V12).unwrap();
    assert!(new.is_hash_based());
    let create = EventId::parse(vectors::CREATE_EVENT_ID).unwrap();
    let derived = RoomId::from_create_event_id(&create).unwrap();
    assert_eq!(derived, vectors::ROOM_ID_FROM_CREATE);
    assert_eq!(derived.create_event_id(), Some(create));
}

#[test]
fn vector_user_case_sensitivity() {
    let lower = UserId::parse(vectors::USER_LOWER).unwrap();
    let upper = UserId::parse(vectors::USER_UPPER).unwrap();
    assert_ne!(lower, upper);
    assert_ne!(lower.server_name(), upper.server_name());
}

#[test]
fn conversions_and_traits() {
    let text = "@alice:example.org";
    let from_str: UserId = text.parse().unwrap();
    let from_ref = UserId::try_from(text).unwrap();
    let from_owned = UserId::try_from(text.to_owned()).unwrap();
    assert_eq!(from_str, from_ref);
    assert_eq!(from_ref, from_owned);
    assert_eq!(from_str.to_string(), text);
    assert_eq!(AsRef::<str>::as_ref(&from_str), text);
    assert_eq!(String::from(from_str.clone()), text);
    assert_eq!(from_str, text);
    assert!(UserId::try_from("alice".to_owned()).is_err());

    let set: BTreeSet<UserId> = ["@b:x", "@a:x"]
        .into_iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(set.contains("@a:x"));
    assert_eq!(set.first().map(UserId::as_str), Some("@a:x"));
}

#[test]
fn serde_as_strings() {
    let room = RoomId::parse(vectors::ROOM_ID_V12).unwrap();
    let json = serde_json::to_string(&room).unwrap();
    assert_eq!(json, format!("\"{}\"", vectors::ROOM_ID_V12));
    assert_eq!(serde_json::from_str::<RoomId>(&json).unwrap(), room);
    let error = serde_json::from_str::<UserId>("\"@nocolon\"").unwrap_err();
    assert!(error.to_string().contains("missing ':'"), "{error}");
    assert!(serde_json::from_str::<KeyId>("1").is_err());
    let key: KeyId = serde_json::from_str("\"ed25519:1\"").unwrap();
    assert_eq!(serde_json::to_string(&key).unwrap(), "\"ed25519:1\"");
}

#[test]
fn error_messages_are_lowercase_without_full_stop() {
    let errors = [
        IdError::Empty,
        IdError::EmptyLocalpart,
        IdError::InvalidCharacter {
            character: 'x',
            offset: 1,
        },
        IdError::InvalidHashLength {
            expected: 43,
            len: 3,
        },
        IdError::InvalidPort {
            port: "x".to_owned(),
            offset: 2,
        },
        IdError::InvalidServerName {
            offset: 0,
            reason: "empty hostname",
        },
        IdError::MissingColon,
        IdError::MissingSigil {
            expected: '@',
            found: '!',
        },
        IdError::TooLong { len: 256, max: 255 },
    ];
    for error in errors {
        let message = error.to_string();
        assert!(
            message.starts_with(|c: char| !c.is_uppercase()),
            "{message}"
        );
        assert!(!message.ends_with('.'), "{message}");
    }
}

#[test]
fn first_colon_split_is_shared() {
    type Parser = fn(&str) -> Result<(), IdError>;
    let parsers: [(char, Parser); 4] = [
        ('@', |text| UserId::parse(text).map(drop)),
        ('!', |text| RoomId::parse(text).map(drop)),
        ('#', |text| RoomAliasId::parse(text).map(drop)),
        ('$', |text| EventId::parse(text).map(drop)),
    ];
    for (sigil, parse) in parsers {
        assert_eq!(parse(&format!("{sigil}a:b:1")), Ok(()), "{sigil}");
        let expected = IdError::InvalidPort {
            port: "c".to_owned(),
            offset: 5,
        };
        assert_eq!(parse(&format!("{sigil}a:b:c")), Err(expected), "{sigil}");
    }
}

// ----- property tests -----

fn dns_name() -> impl Strategy<Value = String> {
    // Starts with a letter, so it never has the shape of an IPv4 literal.
    "[a-zA-Z][a-zA-Z0-9.-]{0,40}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        dns_name(),
        any::<[u8; 4]>().prop_map(|octets| Ipv4Addr::from(octets).to_string()),
        any::<u128>().prop_map(|bits| format!("[{}]", Ipv6Addr::from(bits))),
    ]
}

fn server_name() -> impl Strategy<Value = String> {
    (host(), proptest::option::of(any::<u16>())).prop_map(|(host, port)| match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

fn historical_localpart() -> impl Strategy<Value = String> {
    "[^:\u{0}]{0,40}"
}

fn url_safe_hash() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{43}"
}

fn standard_hash() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{43}"
}

proptest! {
    #[test]
    fn server_names_round_trip(text in server_name()) {
        let name = ServerName::parse(&text).unwrap();
        prop_assert_eq!(name.to_string().parse::<ServerName>().unwrap(), name.clone());
        let rebuilt = match name.port() {
            Some(port) => format!("{}:{port}", name.host()),
            None => name.host().to_owned(),
        };
        prop_assert_eq!(rebuilt, text);
    }

    #[test]
    fn user_ids_round_trip(localpart in historical_localpart(), server in server_name()) {
        let text = format!("@{localpart}:{server}");
        let id = UserId::parse(&text).unwrap();
        prop_assert_eq!(id.to_string().parse::<UserId>().unwrap(), id.clone());
        prop_assert_eq!(id.localpart(), localpart.as_str());
        prop_assert_eq!(id.server_name(), server.as_str());
        prop_assert_eq!(UserId::parse_strict(&text).is_ok(), !id.is_historical());
    }

    #[test]
    fn strict_user_ids_round_trip(localpart in "[a-z0-9._=/+-]{1,40}", server in server_name()) {
        let id = UserId::parse_strict(&format!("@{localpart}:{server}")).unwrap();
        prop_assert!(!id.is_historical());
        prop_assert!(id.is_compliant());
        prop_assert_eq!(UserId::parse_strict(id.as_str()).unwrap(), id);
    }

    #[test]
    fn room_ids_and_aliases_round_trip(
        localpart in historical_localpart(),
        server in server_name(),
        hash in url_safe_hash(),
    ) {
        let old = RoomId::parse(&format!("!{localpart}:{server}")).unwrap();
        prop_assert_eq!(old.opaque_id(), localpart.as_str());
        prop_assert_eq!(old.to_string().parse::<RoomId>().unwrap(), old);
        let alias = RoomAliasId::parse(&format!("#{localpart}:{server}")).unwrap();
        prop_assert_eq!(alias.localpart(), localpart.as_str());
        prop_assert_eq!(alias.to_string().parse::<RoomAliasId>().unwrap(), alias);
        let new = RoomId::parse(&format!("!{hash}")).unwrap();
        prop_assert_eq!(new.to_string().parse::<RoomId>().unwrap(), new.clone());
        let create = new.create_event_id().unwrap();
        prop_assert!(create.matches_format(EventIdFormat::Base64UrlSafe));
        prop_assert_eq!(RoomId::from_create_event_id(&create).unwrap(), new);
    }

    #[test]
    fn event_ids_round_trip(
        localpart in historical_localpart(),
        server in server_name(),
        standard in standard_hash(),
        url_safe in url_safe_hash(),
    ) {
        let cases = [
            (format!("${localpart}:{server}"), EventIdFormat::Legacy),
            (format!("${standard}"), EventIdFormat::Base64Standard),
            (format!("${url_safe}"), EventIdFormat::Base64UrlSafe),
        ];
        for (text, format) in cases {
            let id = EventId::parse_for_format(&text, format).unwrap();
            prop_assert!(id.matches_format(format));
            prop_assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        }
    }

    #[test]
    fn key_ids_round_trip(algorithm in "[^:]{1,20}", version in ".{0,20}") {
        let id = KeyId::parse(&format!("{algorithm}:{version}")).unwrap();
        prop_assert_eq!(id.algorithm(), algorithm.as_str());
        prop_assert_eq!(id.version(), version.as_str());
        prop_assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
    }

    #[test]
    fn arbitrary_text_never_panics(body in ".{0,300}", sigil in "[@!$#\\[]?") {
        let text = format!("{sigil}{body}");
        exercise(&text);
        // Also with a plausible server name, to reach the deeper checks.
        exercise(&format!("{text}:{body}"));
    }

    #[test]
    fn near_miss_server_names_never_panic(text in "[\\[\\]0-9a-fA-F:.%a-z-]{0,60}") {
        if let Ok(name) = ServerName::parse(&text) {
            let _ = (name.host(), name.port());
        }
        let _ = UserId::parse(&format!("@a:{text}"));
    }
}

/// Runs every parser and every accessor of whatever parses.
fn exercise(text: &str) {
    if let Ok(id) = UserId::parse(text) {
        let _ = (
            id.localpart(),
            id.server_name(),
            id.is_historical(),
            id.is_compliant(),
        );
    }
    let _ = UserId::parse_strict(text);
    let _ = UserId::parse_with_limit(text, LengthLimit::CodePoints);
    if let Ok(id) = RoomId::parse_with_limit(text, LengthLimit::CodePoints) {
        let _ = (id.opaque_id(), id.server_name(), id.create_event_id());
    }
    if let Ok(id) = EventId::parse_with_limit(text, LengthLimit::CodePoints) {
        let _ = (
            id.opaque_id(),
            id.server_name(),
            RoomId::from_create_event_id(&id),
        );
        for format in [
            EventIdFormat::Legacy,
            EventIdFormat::Base64Standard,
            EventIdFormat::Base64UrlSafe,
        ] {
            let _ = (
                id.matches_format(format),
                EventId::parse_for_format(text, format),
            );
        }
    }
    if let Ok(id) = RoomAliasId::parse(text) {
        let _ = (id.localpart(), id.server_name());
    }
    if let Ok(id) = ServerName::parse(text) {
        let _ = (id.host(), id.port());
    }
    if let Ok(id) = KeyId::parse(text) {
        let _ = (
            id.algorithm(),
            id.version(),
            id.is_ed25519(),
            id.has_valid_server_key_version(),
        );
    }
    let _ = (validate_namespaced_id(text), validate_opaque_id(text));
}
