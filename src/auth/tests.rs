//! Unit tests of the authorization rules: one or more per rule and per room-version
//! switch, each naming the rule it covers, and property tests.

use proptest::prelude::*;

use super::*;
use crate::crypto::{SigningKey, sign_json};
use crate::event::{Pdu, StateKey};
use crate::json::{self, Object, Value};
use crate::room_version::RoomVersion;
use crate::test_util::object;

const ALICE: &str = "@alice:a.example";
const BOB: &str = "@bob:a.example";
const CAROL: &str = "@carol:b.example";
const DAVE: &str = "@dave:c.example";

/// A room under construction: its create event and the other state events.
struct Room {
    version: RoomVersion,
    room_id: String,
    create: Object,
    state: Vec<Object>,
}

impl Room {
    /// A room created by Alice, with nothing else in it.
    fn bare(version: RoomVersion) -> Self {
        Self::with_create_content(version, "{}")
    }

    /// A room created by Alice with `extra` merged into the create content.
    fn with_create_content(version: RoomVersion, extra: &str) -> Self {
        let mut content = object(extra);
        content.insert("room_version", Value::from(version.id));
        if version.auth.creator_in_content && !content.contains_key("creator") {
            content.insert("creator", Value::from(ALICE));
        }
        let mut create = object(
            r#"{"type":"m.room.create","state_key":"","sender":"@alice:a.example",
                "prev_events":[],"auth_events":[],"depth":1,"origin_server_ts":1,
                "hashes":{"sha256":"x"},"signatures":{}}"#,
        );
        create.insert("content", Value::Object(content));
        let room_id = if version.room_id_from_create_event {
            crate::crypto::room_id_from_create_event(&create, &version)
                .unwrap()
                .as_str()
                .to_owned()
        } else {
            create.insert("room_id", Value::from("!r:a.example"));
            "!r:a.example".to_owned()
        };
        if version.event_id_in_pdu() {
            create.insert("event_id", Value::from("$create:a.example"));
        }
        Self {
            version,
            room_id,
            create,
            state: Vec::new(),
        }
    }

    /// A room where Alice (100) and Bob (50) are joined, Carol (0) is invited, and
    /// the join rule is `rule`.
    fn standard(version: RoomVersion, rule: &str) -> Self {
        let mut room = Self::bare(version);
        let users = if version.auth.creators_infinite_power {
            r#"{"@bob:a.example":50}"#
        } else {
            r#"{"@alice:a.example":100,"@bob:a.example":50}"#
        };
        room.add(room.power_levels(&format!(r#"{{"users":{users}}}"#)));
        room.add(room.member(ALICE, ALICE, "join"));
        room.add(room.member(BOB, BOB, "join"));
        room.add(room.member(ALICE, CAROL, "invite"));
        room.add(room.join_rules(rule));
        room
    }

    fn add(&mut self, event: Object) -> &mut Self {
        self.state.push(event);
        self
    }

    fn event(
        &self,
        event_type: &str,
        sender: &str,
        state_key: Option<&str>,
        content: &str,
    ) -> Object {
        let mut event = object(
            r#"{"prev_events":[],"auth_events":[],"depth":5,"origin_server_ts":2,
                "hashes":{"sha256":"x"},"signatures":{}}"#,
        );
        event.insert("type", Value::from(event_type));
        event.insert("sender", Value::from(sender));
        event.insert("room_id", Value::from(self.room_id.as_str()));
        event.insert("content", Value::Object(object(content)));
        if let Some(state_key) = state_key {
            event.insert("state_key", Value::from(state_key));
        }
        if self.version.event_id_in_pdu() {
            event.insert("event_id", Value::from("$event:a.example"));
        }
        event
    }

    fn member(&self, sender: &str, target: &str, membership: &str) -> Object {
        let content = format!(r#"{{"membership":"{membership}"}}"#);
        self.event("m.room.member", sender, Some(target), &content)
    }

    fn power_levels(&self, content: &str) -> Object {
        self.event("m.room.power_levels", ALICE, Some(""), content)
    }

    fn join_rules(&self, rule: &str) -> Object {
        let content = format!(r#"{{"join_rule":"{rule}"}}"#);
        self.event("m.room.join_rules", ALICE, Some(""), &content)
    }

    /// `event` as a PDU of the room's version.
    fn pdu(&self, event: &Object) -> Pdu {
        pdu(event, &self.version)
    }

    /// The create event and the state, as PDUs.
    fn state_pdus(&self) -> Vec<Pdu> {
        std::iter::once(&self.create)
            .chain(&self.state)
            .map(|event| self.pdu(event))
            .collect()
    }

    fn check(&self, event: &Object) -> Result<(), Rejection> {
        let pdus = self.state_pdus();
        let state: AuthEvents<'_> = pdus.iter().collect();
        check(&self.pdu(event), &state)
    }

    fn reason(&self, event: &Object) -> &'static str {
        match self.check(event) {
            Ok(()) => "allowed",
            Err(rejection) => rejection.reason(),
        }
    }
}

/// `event` as a PDU of `version` (the test events carry no real hashes or signatures,
/// which the rules do not read).
fn pdu(event: &Object, version: &RoomVersion) -> Pdu {
    Pdu::from_object_lenient(event.clone(), version).unwrap()
}

/// A `prev_events` entry naming `id` in `version`'s format; `id` must be a valid event
/// ID of the version.
fn reference(id: &str, version: &RoomVersion) -> Value {
    if version.event_id_in_pdu() {
        Value::Array(vec![Value::from(id), Value::Object(Object::new())])
    } else {
        Value::from(id)
    }
}

/// An event ID of `version`'s format that names no event of the tests.
fn other_event_id(version: &RoomVersion) -> String {
    if version.event_id_in_pdu() {
        "$other:a.example".to_owned()
    } else {
        let hash = crate::crypto::sha256(b"other");
        crate::id::EventId::from_reference_hash(&hash, version.event_id_format)
            .as_str()
            .to_owned()
    }
}

trait VersionExt {
    fn event_id_in_pdu(&self) -> bool;
}

impl VersionExt for RoomVersion {
    fn event_id_in_pdu(&self) -> bool {
        self.event_format == crate::room_version::EventFormat::EventIdInPdu
    }
}

// ---- Power levels (§7) ----

/// Legacy string levels are read as Synapse's Python `int()` reads them: the spec's
/// grammar, plus `_` between digits and decimal digits of any script.
#[test]
fn legacy_string_levels_follow_python_int() {
    let rules = RoomVersion::V9.power_levels;
    let cases = [
        (" +0100 ", 100),
        ("-5", -5),
        ("007", 7),
        ("1_000", 1000),
        ("3_0", 30),
        ("\u{663}\u{660}", 30),
        ("\u{ff11}\u{ff12}", 12),
        ("\u{1c}42\u{3000}", 42),
    ];
    for (text, level) in cases {
        assert_eq!(
            parse_level(&Value::from(text), &rules),
            Some(level),
            "{text:?}"
        );
    }
    for text in [
        "", "+", "1.5", "_1", "1_", "1__0", "0x10", "+-1", "ten", "\u{b2}",
    ] {
        assert_eq!(parse_level(&Value::from(text), &rules), None, "{text:?}");
    }
    // v10+: integer_only, strings are not levels.
    assert_eq!(
        parse_level(&Value::from("50"), &RoomVersion::V10.power_levels),
        None
    );
}

/// The spec's examples (`shared/spec-vectors/legacy-power-levels.json`, source: "Room
/// versions (v1 page) > Deprecated event content schemas").
#[test]
fn spec_legacy_power_level_examples() {
    let rules = RoomVersion::V1.power_levels;
    for (text, level) in [
        ("100", 100),
        ("000100", 100),
        ("+100", 100),
        ("-100", -100),
        (" 100 ", 100),
        (" 00100 ", 100),
        (" +100 ", 100),
        (" -100 ", -100),
    ] {
        assert_eq!(
            parse_level(&Value::from(text), &rules),
            Some(level),
            "{text:?}"
        );
    }
    let room = Room::bare(RoomVersion::V9);
    let stringy = object(
        r#"{"content":{"ban":"50","events":{"m.room.power_levels":"100"},"events_default":"0",
            "state_default":"50","users":{"@example:localhost":"100"},"users_default":"0"}}"#,
    );
    let levels = PowerLevels::new(&room.version, &room.create, Some(&stringy));
    assert_eq!(levels.user_level("@example:localhost").unwrap(), 100);
    assert_eq!(
        levels.required_level("m.room.power_levels", true).unwrap(),
        100
    );
    assert_eq!(levels.named_level(NamedLevel::Ban).unwrap(), 50);
    let room = Room::bare(RoomVersion::V5);
    let floaty = object(r#"{"content":{"users":{"@alice:localhost":50,"@bob:localhost":50.57}}}"#);
    let levels = PowerLevels::new(&room.version, &room.create, Some(&floaty));
    assert_eq!(
        levels.user_level("@alice:localhost").unwrap(),
        levels.user_level("@bob:localhost").unwrap()
    );
}

/// Floats truncate as Python's `int()` does, in every version before 10 (in v6–9 they
/// cannot arrive: strict canonical JSON refuses them).
#[test]
fn legacy_float_levels_truncate_before_v10() {
    let float = json::parse(b"[50.57, -7.9, 5.114698E4]", &json::ParseOptions::lenient()).unwrap();
    let floats = float.as_array().unwrap();
    let v5 = RoomVersion::V5.power_levels;
    let got: Vec<_> = floats.iter().map(|value| parse_level(value, &v5)).collect();
    assert_eq!(got, [Some(50), Some(-7), Some(51146)]);
    assert_eq!(
        parse_level(&floats[0], &RoomVersion::V9.power_levels),
        Some(50)
    );
    assert_eq!(
        parse_level(&floats[0], &RoomVersion::V10.power_levels),
        None
    );
}

#[test]
fn booleans_count_as_python_ints_before_v10() {
    assert_eq!(
        parse_level(&Value::Bool(true), &RoomVersion::V9.power_levels),
        Some(1)
    );
    assert_eq!(
        parse_level(&Value::Bool(true), &RoomVersion::V10.power_levels),
        None
    );
}

#[test]
fn big_integers_saturate() {
    let big = json::parse(
        b"[99999999999999999999, -99999999999999999999]",
        &json::ParseOptions::lenient(),
    )
    .unwrap();
    let big = big.as_array().unwrap();
    let rules = RoomVersion::V1.power_levels;
    assert_eq!(parse_level(&big[0], &rules), Some(i64::MAX));
    assert_eq!(parse_level(&big[1], &rules), Some(i64::MIN));
}

#[test]
fn creators_are_infinite_in_v12_only() {
    let room = Room::with_create_content(
        RoomVersion::V12,
        r#"{"additional_creators":["@bob:a.example"]}"#,
    );
    let huge = room.power_levels(r#"{"users":{"@carol:b.example":9007199254740991}}"#);
    let levels = PowerLevels::new(&room.version, &room.create, Some(&huge));
    assert_eq!(levels.user_level(ALICE).unwrap(), PowerLevel::Infinite);
    assert_eq!(levels.user_level(BOB).unwrap(), PowerLevel::Infinite);
    assert!(levels.user_level(CAROL).unwrap() < PowerLevel::Infinite);
    assert!(PowerLevel::Infinite > i64::MAX);

    let room = Room::with_create_content(
        RoomVersion::V11,
        r#"{"additional_creators":["@bob:a.example"]}"#,
    );
    let levels = PowerLevels::new(&room.version, &room.create, None);
    assert_eq!(levels.user_level(ALICE).unwrap(), PowerLevel::Finite(100));
    assert_eq!(levels.user_level(BOB).unwrap(), PowerLevel::Finite(0));
}

#[test]
fn without_power_levels_the_creator_gets_100() {
    // v1–10: `content.creator` (here Bob, although Alice sent the create event).
    let room = Room::with_create_content(RoomVersion::V10, r#"{"creator":"@bob:a.example"}"#);
    let levels = PowerLevels::new(&room.version, &room.create, None);
    assert_eq!(levels.user_level(BOB).unwrap(), 100);
    assert_eq!(levels.user_level(ALICE).unwrap(), 0);
    // v11: the create event's sender.
    let room = Room::with_create_content(RoomVersion::V11, r#"{"creator":"@bob:a.example"}"#);
    let levels = PowerLevels::new(&room.version, &room.create, None);
    assert_eq!(levels.user_level(ALICE).unwrap(), 100);
    assert_eq!(levels.user_level(BOB).unwrap(), 0);
}

#[test]
fn defaults_and_required_levels() {
    let room = Room::bare(RoomVersion::V11);
    let levels = PowerLevels::new(&room.version, &room.create, None);
    assert_eq!(levels.required_level("m.room.topic", true).unwrap(), 50);
    assert_eq!(levels.required_level("m.room.message", false).unwrap(), 0);
    assert_eq!(levels.named_level(NamedLevel::Invite).unwrap(), 0);
    assert_eq!(levels.named_level(NamedLevel::Kick).unwrap(), 50);
    assert_eq!(levels.notification_level("room").unwrap(), Some(50));

    let content = room.power_levels(
        r#"{"events":{"m.room.topic":10},"state_default":70,"events_default":5,
            "users_default":3,"notifications":{"room":20}}"#,
    );
    let levels = PowerLevels::new(&room.version, &room.create, Some(&content));
    assert_eq!(levels.required_level("m.room.topic", true).unwrap(), 10);
    assert_eq!(levels.required_level("m.room.name", true).unwrap(), 70);
    assert_eq!(levels.required_level("m.room.message", false).unwrap(), 5);
    assert_eq!(levels.user_level(DAVE).unwrap(), 3);
    assert_eq!(levels.notification_level("room").unwrap(), Some(20));
}

#[test]
fn unreadable_levels_are_errors_not_panics() {
    let room = Room::bare(RoomVersion::V10);
    let content = room.power_levels(r#"{"users":[1],"kick":"50"}"#);
    let levels = PowerLevels::new(&room.version, &room.create, Some(&content));
    assert!(matches!(
        levels.user_level(BOB),
        Err(PowerLevelsError::NotAnObject { .. })
    ));
    assert!(matches!(
        levels.named_level(NamedLevel::Kick),
        Err(PowerLevelsError::NotAnInteger { .. })
    ));
}

// ---- auth_types (§9) ----

fn types(version: &RoomVersion, event: &Object) -> Vec<(String, String)> {
    auth_types(event, version)
        .unwrap()
        .iter()
        .map(|key| (key.event_type().to_owned(), key.state_key().to_owned()))
        .collect()
}

#[test]
fn auth_types_for_messages_and_members() {
    let room = Room::bare(RoomVersion::V6);
    let message = room.event("m.room.message", BOB, None, "{}");
    let expected = [
        ("m.room.create", ""),
        ("m.room.member", BOB),
        ("m.room.power_levels", ""),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(t, k)| (t.to_string(), k.to_string()))
        .collect();
    assert_eq!(types(&room.version, &message), expected);

    // Knocks select the join rules in every version, as Synapse does.
    let knock = room.member(DAVE, DAVE, "knock");
    assert!(types(&room.version, &knock).contains(&("m.room.join_rules".into(), String::new())));
    // Leaves and bans do not.
    let kick = room.member(BOB, DAVE, "leave");
    let kick_types = types(&room.version, &kick);
    assert!(!kick_types.iter().any(|(t, _)| t == "m.room.join_rules"));
    assert!(kick_types.contains(&("m.room.member".into(), DAVE.into())));
    // A create event needs nothing.
    assert!(types(&room.version, &room.create).is_empty());
}

#[test]
fn auth_types_third_party_invite_and_authoriser() {
    let room = Room::bare(RoomVersion::V8);
    let invite = room.event(
        "m.room.member",
        BOB,
        Some(DAVE),
        r#"{"membership":"invite","third_party_invite":{"signed":{"token":"tok"}}}"#,
    );
    assert!(
        types(&room.version, &invite).contains(&("m.room.third_party_invite".into(), "tok".into()))
    );
    // Rule F.3.4's authoriser: v8+ only.
    let content = r#"{"membership":"join","join_authorised_via_users_server":"@bob:a.example"}"#;
    let join = room.event("m.room.member", DAVE, Some(DAVE), content);
    assert!(types(&RoomVersion::V8, &join).contains(&("m.room.member".into(), BOB.into())));
    assert!(!types(&RoomVersion::V7, &join).contains(&("m.room.member".into(), BOB.into())));
}

#[test]
fn auth_types_include_the_create_event_in_v12() {
    let room = Room::bare(RoomVersion::V12);
    let message = room.event("m.room.message", BOB, None, "{}");
    assert!(types(&room.version, &message).contains(&("m.room.create".into(), String::new())));
}

#[test]
fn auth_types_need_type_and_sender() {
    let event = object(r#"{"type":"m.room.message"}"#);
    assert_eq!(
        auth_types(&event, &RoomVersion::V11),
        Err(Rejection::MalformedEvent { field: "sender" })
    );
}

// ---- Rule A: create events ----

#[test]
fn rule_a1_create_with_prev_events_is_rejected() {
    for version in RoomVersion::ALL {
        let room = Room::bare(version);
        let mut create = room.create.clone();
        let prev = reference(&other_event_id(&version), &version);
        create.insert("prev_events", Value::Array(vec![prev]));
        assert_eq!(
            room.reason(&create),
            "create_has_prev_events",
            "v{}",
            version.id
        );
        assert_eq!(room.reason(&room.create), "allowed", "v{}", version.id);
    }
}

#[test]
fn rule_a2_room_id_server_or_absence() {
    let room = Room::bare(RoomVersion::V11);
    let mut create = room.create.clone();
    create.insert("room_id", Value::from("!r:elsewhere.example"));
    assert_eq!(room.reason(&create), "create_room_id_server_mismatch");
    // v12: any room_id is rejected, by the PDU parser already (the conformance tool
    // answers `create_has_room_id` for it).
    let room = Room::bare(RoomVersion::V12);
    let mut create = room.create.clone();
    create.insert("room_id", Value::from("!r:a.example"));
    assert!(matches!(
        Pdu::from_object_lenient(create, &room.version),
        Err(crate::event::PduError::ForbiddenField {
            field: "room_id",
            ..
        })
    ));
}

#[test]
fn rule_a3_unsupported_room_version() {
    for bad in [r#""13""#, r#""1.1""#, "5", "null"] {
        let room = Room::bare(RoomVersion::V11);
        let mut create = room.create.clone();
        let mut content = create.get("content").unwrap().as_object().unwrap().clone();
        content.insert(
            "room_version",
            json::parse(bad.as_bytes(), &json::ParseOptions::strict()).unwrap(),
        );
        create.insert("content", Value::Object(content));
        assert_eq!(
            room.reason(&create),
            "create_unsupported_room_version",
            "{bad}"
        );
    }
    // Absent means version 1, which is supported.
    let room = Room::bare(RoomVersion::V11);
    let mut create = room.create.clone();
    create.insert("content", Value::Object(Object::new()));
    assert_eq!(room.reason(&create), "allowed");
}

#[test]
fn rule_a4_creator_required_through_v10() {
    for version in RoomVersion::ALL {
        let room = Room::bare(version);
        let mut create = room.create.clone();
        create.insert("content", Value::Object(object(r#"{"room_version":"1"}"#)));
        let expected = if version.auth.creator_in_content {
            "create_missing_creator"
        } else {
            "allowed"
        };
        assert_eq!(room.reason(&create), expected, "v{}", version.id);
    }
}

#[test]
fn rule_a5_additional_creators_in_v12() {
    for (extra, expected) in [
        (
            r#"{"additional_creators":"@bob:a.example"}"#,
            "create_invalid_additional_creators",
        ),
        (
            r#"{"additional_creators":[1]}"#,
            "create_invalid_additional_creators",
        ),
        (
            r#"{"additional_creators":["bob"]}"#,
            "create_invalid_additional_creators",
        ),
        (r#"{"additional_creators":["@bob:a.example"]}"#, "allowed"),
    ] {
        let room = Room::with_create_content(RoomVersion::V12, extra);
        assert_eq!(room.reason(&room.create), expected, "{extra}");
        // v11 does not read the field.
        let room = Room::with_create_content(RoomVersion::V11, extra);
        assert_eq!(room.reason(&room.create), "allowed", "{extra}");
    }
}

// ---- Missing create event, rule B ----

#[test]
fn missing_create_event_is_rejected() {
    let room = Room::standard(RoomVersion::V11, "public");
    let message = room.event("m.room.message", BOB, None, "{}");
    let pdus: Vec<Pdu> = room.state.iter().map(|event| room.pdu(event)).collect();
    let state: AuthEvents<'_> = pdus.iter().collect();
    assert_eq!(
        check(&room.pdu(&message), &state),
        Err(Rejection::MissingCreateEvent)
    );
}

#[test]
fn rule_b_v12_room_id_names_the_create_event() {
    let room = Room::standard(RoomVersion::V12, "public");
    let message = room.event("m.room.message", BOB, None, "{}");
    let create_pdu = room.pdu(&room.create);
    let create = Some(&create_pdu);
    assert_eq!(check_room_create_event(&room.pdu(&message), create), Ok(()));
    let mut elsewhere = message.clone();
    let other = other_event_id(&room.version);
    elsewhere.insert("room_id", Value::from(other.replacen('$', "!", 1)));
    let reason = check_room_create_event(&room.pdu(&elsewhere), create).map_err(|r| r.reason());
    assert_eq!(reason, Err("room_id_not_create_event"));
    assert_eq!(
        check_room_create_event(&room.pdu(&message), None),
        Err(Rejection::MissingCreateEvent)
    );
    // The state-dependent rules do not read the room ID, as in Synapse.
    assert_eq!(room.reason(&elsewhere), "allowed");
    // Other versions pass.
    let v11 = Room::standard(RoomVersion::V11, "public");
    let v11_message = v11.event("m.room.message", BOB, None, "{}");
    assert_eq!(
        check_room_create_event(&v11.pdu(&v11_message), None),
        Ok(())
    );
}

// ---- Rule C: the auth_events listing ----

#[test]
fn rule_c_listing() {
    let room = Room::standard(RoomVersion::V11, "public");
    let message = room.pdu(&room.event("m.room.message", BOB, None, "{}"));
    let pdus = room.state_pdus();
    let (create, pl, bob) = (&pdus[0], &pdus[1], &pdus[3]);
    assert_eq!(check_auth_events(&message, &[create, pl, bob]), Ok(()));
    // Rule C.1: duplicates.
    let result = check_auth_events(&message, &[create, bob, bob]);
    assert_eq!(result.unwrap_err().reason(), "duplicate_auth_event");
    // Rule C.2: entries the selection does not pick (the join rules, for a message).
    let rules = &pdus[5];
    let result = check_auth_events(&message, &[create, rules]);
    assert_eq!(result.unwrap_err().reason(), "unexpected_auth_event");
    // Rule C.4 (v1–11): the create event must be listed.
    let result = check_auth_events(&message, &[pl, bob]);
    assert_eq!(result, Err(Rejection::CreateEventNotListed));
    // Every listed event is in the same room.
    let mut other_room = room.state[2].clone();
    other_room.insert("room_id", Value::from("!other:a.example"));
    let other_room = room.pdu(&other_room);
    let result = check_auth_events(&message, &[create, &other_room]);
    assert_eq!(result.unwrap_err().reason(), "auth_event_wrong_room");
}

#[test]
fn rule_c_v12_must_not_list_the_create_event() {
    let room = Room::standard(RoomVersion::V12, "public");
    let message = room.pdu(&room.event("m.room.message", BOB, None, "{}"));
    let pdus = room.state_pdus();
    let (create, pl, bob) = (&pdus[0], &pdus[1], &pdus[3]);
    assert_eq!(check_auth_events(&message, &[pl, bob]), Ok(()));
    let result = check_auth_events(&message, &[create, pl]);
    assert_eq!(result.unwrap_err().reason(), "unexpected_auth_event");
}

// ---- Rule D: m.federate ----

#[test]
fn rule_d_unfederated_rooms_refuse_remote_senders_and_targets() {
    for federate in ["false", r#""false""#, "0", "null"] {
        let extra = format!(r#"{{"m.federate":{federate}}}"#);
        let mut room = Room::with_create_content(RoomVersion::V11, &extra);
        room.add(room.member(ALICE, ALICE, "join"));
        room.add(room.member(CAROL, CAROL, "join"));
        room.add(room.join_rules("public"));
        let remote = room.event("m.room.message", CAROL, None, "{}");
        assert_eq!(room.reason(&remote), "room_not_federated", "{federate}");
        let local = room.event("m.room.message", ALICE, None, "{}");
        assert_eq!(room.reason(&local), "allowed", "{federate}");
        // Synapse also checks member events' targets.
        let invite = room.member(ALICE, DAVE, "invite");
        assert_eq!(room.reason(&invite), "room_not_federated", "{federate}");
    }
    let mut room = Room::with_create_content(RoomVersion::V11, r#"{"m.federate":true}"#);
    room.add(room.member(CAROL, CAROL, "join"));
    let remote = room.event("m.room.message", CAROL, None, "{}");
    assert_eq!(room.reason(&remote), "allowed");
}

// ---- Rule E: m.room.aliases (v1–5) ----

#[test]
fn rule_e_aliases_state_key_is_the_sender_server() {
    for version in RoomVersion::ALL {
        let room = Room::bare(version);
        // Dave is not even in the room: rule E skips every later rule.
        let ok = room.event(
            "m.room.aliases",
            DAVE,
            Some("c.example"),
            r#"{"aliases":[]}"#,
        );
        let wrong = room.event(
            "m.room.aliases",
            DAVE,
            Some("a.example"),
            r#"{"aliases":[]}"#,
        );
        let empty = room.event("m.room.aliases", DAVE, Some(""), r#"{"aliases":[]}"#);
        if version.auth.aliases_rule {
            assert_eq!(room.reason(&ok), "allowed");
            assert_eq!(room.reason(&wrong), "aliases_state_key_mismatch");
            assert_eq!(room.reason(&empty), "aliases_missing_state_key");
        } else {
            assert_eq!(room.reason(&ok), "sender_not_joined", "v{}", version.id);
        }
    }
}

// ---- Rule F: membership ----

#[test]
fn rule_f1_member_needs_state_key_and_membership() {
    let room = Room::standard(RoomVersion::V11, "public");
    let no_membership = room.event("m.room.member", DAVE, Some(DAVE), "{}");
    assert_eq!(room.reason(&no_membership), "member_malformed");
    let no_state_key = room.event("m.room.member", DAVE, None, r#"{"membership":"join"}"#);
    assert_eq!(room.reason(&no_state_key), "member_malformed");
}

#[test]
fn rule_f31_creator_first_join() {
    for version in RoomVersion::ALL {
        let room = Room::bare(version);
        let create_id = crate::crypto::event_id(&room.create, &version).unwrap();
        let mut join = room.member(ALICE, ALICE, "join");
        let prev = reference(create_id.as_str(), &version);
        join.insert("prev_events", Value::Array(vec![prev]));
        assert_eq!(room.reason(&join), "allowed", "v{}", version.id);
        // Anything else in prev_events: the ordinary rules (no join rules: invite).
        let other = reference(&other_event_id(&version), &version);
        join.insert("prev_events", Value::Array(vec![other]));
        assert_eq!(room.reason(&join), "join_not_invited", "v{}", version.id);
    }
}

#[test]
fn rule_f31_creator_is_content_creator_through_v10() {
    // Bob is `content.creator` but Alice sent the create event.
    for version in [RoomVersion::V10, RoomVersion::V11] {
        let room = Room::with_create_content(version, r#"{"creator":"@bob:a.example"}"#);
        let create_id = crate::crypto::event_id(&room.create, &version).unwrap();
        let mut join = room.member(BOB, BOB, "join");
        join.insert(
            "prev_events",
            Value::Array(vec![Value::from(create_id.as_str())]),
        );
        let expected = if version.auth.creator_in_content {
            "allowed"
        } else {
            "join_not_invited"
        };
        assert_eq!(room.reason(&join), expected, "v{}", version.id);
    }
}

#[test]
fn rule_f32_joins_are_by_oneself_and_not_when_banned() {
    let mut room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(
        room.reason(&room.member(BOB, DAVE, "join")),
        "join_other_user"
    );
    room.add(room.member(ALICE, DAVE, "ban"));
    assert_eq!(room.reason(&room.member(DAVE, DAVE, "join")), "join_banned");
}

#[test]
fn rule_f33_invite_and_knock_rooms_need_an_invite() {
    for version in RoomVersion::ALL {
        let room = Room::standard(version, "invite");
        assert_eq!(room.reason(&room.member(CAROL, CAROL, "join")), "allowed");
        assert_eq!(
            room.reason(&room.member(DAVE, DAVE, "join")),
            "join_not_invited"
        );
        // v7+: knock rooms too; before, `knock` is an unknown rule.
        let room = Room::standard(version, "knock");
        let expected = if version.auth.knock {
            "allowed"
        } else {
            "join_rule_forbids"
        };
        assert_eq!(
            room.reason(&room.member(CAROL, CAROL, "join")),
            expected,
            "v{}",
            version.id
        );
    }
}

#[test]
fn rule_f34_restricted_joins() {
    let with_authoriser = |authoriser: &str| {
        format!(r#"{{"membership":"join","join_authorised_via_users_server":"{authoriser}"}}"#)
    };
    for version in RoomVersion::ALL {
        for rule in ["restricted", "knock_restricted"] {
            let room = Room::standard(version, rule);
            let supported = if rule == "restricted" {
                version.auth.restricted_join_rule
            } else {
                version.auth.knock_restricted_join_rule
            };
            let authorised = room.event("m.room.member", DAVE, Some(DAVE), &with_authoriser(BOB));
            if !supported {
                assert_eq!(
                    room.reason(&authorised),
                    "join_rule_forbids",
                    "v{} {rule}",
                    version.id
                );
                continue;
            }
            assert_eq!(
                room.reason(&authorised),
                "allowed",
                "v{} {rule}",
                version.id
            );
            // Invited users need no authoriser.
            assert_eq!(room.reason(&room.member(CAROL, CAROL, "join")), "allowed");
            let unauthorised = room.member(DAVE, DAVE, "join");
            assert_eq!(room.reason(&unauthorised), "join_missing_authoriser");
            let not_joined = room.event("m.room.member", DAVE, Some(DAVE), &with_authoriser(CAROL));
            assert_eq!(room.reason(&not_joined), "join_authoriser_not_joined");
        }
    }
    // The authoriser must reach the invite level.
    let mut room = Room::standard(RoomVersion::V10, "restricted");
    room.add(
        room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":50},"invite":60}"#),
    );
    let join = room.event("m.room.member", DAVE, Some(DAVE), &with_authoriser(BOB));
    assert_eq!(room.reason(&join), "join_authoriser_insufficient_power");
    let join = room.event("m.room.member", DAVE, Some(DAVE), &with_authoriser(ALICE));
    assert_eq!(room.reason(&join), "allowed");
}

#[test]
fn rule_f35_f36_public_private_and_missing_join_rules() {
    let room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(room.reason(&room.member(DAVE, DAVE, "join")), "allowed");
    let room = Room::standard(RoomVersion::V11, "private");
    assert_eq!(
        room.reason(&room.member(CAROL, CAROL, "join")),
        "join_rule_forbids"
    );
    // Synapse reads a missing join-rules event as `invite` (the spec: reject).
    let mut room = Room::standard(RoomVersion::V11, "public");
    room.state
        .retain(|event| event.get("type") != Some(&Value::from("m.room.join_rules")));
    assert_eq!(room.reason(&room.member(CAROL, CAROL, "join")), "allowed");
    assert_eq!(
        room.reason(&room.member(DAVE, DAVE, "join")),
        "join_not_invited"
    );
}

/// An `m.room.third_party_invite` by Bob for `token` with `key`'s public key, and the
/// invite content for Dave signed by `signer`.
fn third_party_invite(
    room: &Room,
    key: &SigningKey,
    url_safe: bool,
    signer: &SigningKey,
) -> (Object, Object) {
    let public_key = if url_safe {
        crate::base64::encode_url_safe(key.public_key().to_bytes())
    } else {
        key.public_key().to_base64()
    };
    let content = format!(
        r#"{{"display_name":"d...@example.org","public_keys":[{{"public_key":"{public_key}"}}]}}"#
    );
    let invite_event = room.event("m.room.third_party_invite", BOB, Some("tok"), &content);
    let mut signed = object(r#"{"mxid":"@dave:c.example","token":"tok"}"#);
    sign_json(&mut signed, "id.example", signer).unwrap();
    let mut third_party = Object::new();
    third_party.insert("display_name", Value::from("d...@example.org"));
    third_party.insert("signed", Value::Object(signed));
    let mut member_content = Object::new();
    member_content.insert("membership", Value::from("invite"));
    member_content.insert("third_party_invite", Value::Object(third_party));
    let mut member = room.member(BOB, DAVE, "invite");
    member.insert("content", Value::Object(member_content));
    (invite_event, member)
}

#[test]
fn rule_f41_third_party_invites() {
    let key = SigningKey::from_seed("ed25519:0", [3; 32]);
    let other = SigningKey::from_seed("ed25519:0", [4; 32]);
    for url_safe in [false, true] {
        let mut room = Room::standard(RoomVersion::V11, "invite");
        let (invite_event, member) = third_party_invite(&room, &key, url_safe, &key);
        // No m.room.third_party_invite in the state yet.
        assert_eq!(room.reason(&member), "third_party_invite_invalid");
        room.add(invite_event);
        assert_eq!(room.reason(&member), "allowed", "url_safe {url_safe}");
    }
    let mut room = Room::standard(RoomVersion::V11, "invite");
    let (invite_event, member) = third_party_invite(&room, &key, false, &other);
    room.add(invite_event);
    assert_eq!(
        room.check(&member),
        Err(Rejection::ThirdPartyInviteInvalid {
            problem: ThirdPartyInviteProblem::NoValidSignature
        })
    );
    // Sent by someone other than the m.room.third_party_invite's sender.
    let (_, mut by_alice) = third_party_invite(&room, &key, false, &key);
    by_alice.insert("sender", Value::from(ALICE));
    assert!(matches!(
        room.check(&by_alice),
        Err(Rejection::ThirdPartyInviteInvalid {
            problem: ThirdPartyInviteProblem::SenderMismatch { .. }
        })
    ));
    // The signed mxid must be the target.
    let (_, mut for_carol) = third_party_invite(&room, &key, false, &key);
    for_carol.insert("state_key", Value::from(CAROL));
    assert!(matches!(
        room.check(&for_carol),
        Err(Rejection::ThirdPartyInviteInvalid {
            problem: ThirdPartyInviteProblem::MxidMismatch { .. }
        })
    ));
    // A banned target cannot be invited.
    room.add(room.member(ALICE, DAVE, "ban"));
    let (_, member) = third_party_invite(&room, &key, false, &key);
    assert_eq!(room.reason(&member), "third_party_invite_target_banned");
}

#[test]
fn rule_f42_invites() {
    let mut room = Room::standard(RoomVersion::V11, "invite");
    assert_eq!(room.reason(&room.member(BOB, DAVE, "invite")), "allowed");
    assert_eq!(
        room.reason(&room.member(CAROL, DAVE, "invite")),
        "inviter_not_joined"
    );
    assert_eq!(
        room.reason(&room.member(ALICE, BOB, "invite")),
        "invite_target_joined"
    );
    room.add(
        room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":50},"invite":51}"#),
    );
    assert_eq!(
        room.reason(&room.member(BOB, DAVE, "invite")),
        "invite_insufficient_power"
    );
    room.add(room.member(ALICE, DAVE, "ban"));
    assert_eq!(
        room.reason(&room.member(ALICE, DAVE, "invite")),
        "invite_target_banned"
    );
}

#[test]
fn rule_f5_leaves_kicks_and_unbans() {
    for version in RoomVersion::ALL {
        let mut room = Room::standard(version, "knock");
        // Rule F.5.1: leaving oneself from invite or join; from knock in v7+.
        assert_eq!(room.reason(&room.member(CAROL, CAROL, "leave")), "allowed");
        assert_eq!(room.reason(&room.member(BOB, BOB, "leave")), "allowed");
        assert_eq!(
            room.reason(&room.member(DAVE, DAVE, "leave")),
            "leave_not_member"
        );
        room.add(room.member(DAVE, DAVE, "knock"));
        let expected = if version.auth.knock {
            "allowed"
        } else {
            "leave_not_member"
        };
        assert_eq!(
            room.reason(&room.member(DAVE, DAVE, "leave")),
            expected,
            "v{}",
            version.id
        );
        // Rule F.5.2: kickers must be joined.
        assert_eq!(
            room.reason(&room.member(CAROL, BOB, "leave")),
            "kicker_not_joined"
        );
        // Rule F.5.4: kick level and more power than the target.
        assert_eq!(room.reason(&room.member(BOB, CAROL, "leave")), "allowed");
        assert_eq!(
            room.reason(&room.member(BOB, ALICE, "leave")),
            "kick_insufficient_power"
        );
    }
    // Rule F.5.3: unbanning needs the ban level (and then the kick rule).
    let mut room = Room::standard(RoomVersion::V11, "public");
    room.add(
        room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":50},"ban":60}"#),
    );
    room.add(room.member(ALICE, DAVE, "ban"));
    assert_eq!(
        room.reason(&room.member(BOB, DAVE, "leave")),
        "unban_insufficient_power"
    );
    assert_eq!(room.reason(&room.member(ALICE, DAVE, "leave")), "allowed");
}

#[test]
fn rule_f5_v12_creators_cannot_be_kicked_or_banned() {
    let room = Room::standard(RoomVersion::V12, "public");
    assert_eq!(
        room.reason(&room.member(BOB, ALICE, "leave")),
        "kick_insufficient_power"
    );
    assert_eq!(
        room.reason(&room.member(BOB, ALICE, "ban")),
        "ban_insufficient_power"
    );
    assert_eq!(room.reason(&room.member(ALICE, BOB, "ban")), "allowed");
}

#[test]
fn rule_f6_bans() {
    let room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(room.reason(&room.member(BOB, DAVE, "ban")), "allowed");
    assert_eq!(
        room.reason(&room.member(CAROL, DAVE, "ban")),
        "banner_not_joined"
    );
    assert_eq!(
        room.reason(&room.member(BOB, ALICE, "ban")),
        "ban_insufficient_power"
    );
    // Equal levels are not enough.
    let mut room = Room::standard(RoomVersion::V11, "public");
    room.add(room.power_levels(
        r#"{"users":{"@alice:a.example":100,"@bob:a.example":50,"@dave:c.example":50}}"#,
    ));
    assert_eq!(
        room.reason(&room.member(BOB, DAVE, "ban")),
        "ban_insufficient_power"
    );
}

#[test]
fn rule_f7_knocks() {
    for version in RoomVersion::ALL {
        let room = Room::standard(version, "knock");
        let knock = room.member(DAVE, DAVE, "knock");
        if !version.auth.knock {
            // Rule F.8: `knock` is not a membership before v7.
            assert_eq!(room.reason(&knock), "unknown_membership", "v{}", version.id);
            continue;
        }
        assert_eq!(room.reason(&knock), "allowed");
        assert_eq!(
            room.reason(&room.member(BOB, DAVE, "knock")),
            "knock_other_user"
        );
        assert_eq!(
            room.reason(&room.member(CAROL, CAROL, "knock")),
            "knock_already_member"
        );
        assert_eq!(
            room.reason(&room.member(BOB, BOB, "knock")),
            "knock_already_member"
        );
        let room = Room::standard(version, "public");
        assert_eq!(
            room.reason(&room.member(DAVE, DAVE, "knock")),
            "knock_join_rule"
        );
        let room = Room::standard(version, "knock_restricted");
        let expected = if version.auth.knock_restricted_join_rule {
            "allowed"
        } else {
            "knock_join_rule"
        };
        assert_eq!(
            room.reason(&room.member(DAVE, DAVE, "knock")),
            expected,
            "v{}",
            version.id
        );
    }
}

#[test]
fn rule_f8_unknown_membership() {
    let room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(
        room.reason(&room.member(BOB, BOB, "JOIN")),
        "unknown_membership"
    );
}

// ---- Rules G to J ----

#[test]
fn rule_g_sender_must_be_joined() {
    let room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(
        room.reason(&room.event("m.room.message", CAROL, None, "{}")),
        "sender_not_joined"
    );
    assert_eq!(
        room.reason(&room.event("m.room.message", DAVE, None, "{}")),
        "sender_not_joined"
    );
}

#[test]
fn rule_h_third_party_invite_events_need_the_invite_level() {
    let mut room = Room::standard(RoomVersion::V11, "public");
    let event = room.event("m.room.third_party_invite", BOB, Some("tok"), "{}");
    assert_eq!(room.reason(&event), "allowed");
    room.add(room.power_levels(
        r#"{"users":{"@alice:a.example":100,"@bob:a.example":50},"invite":75,"events":{"m.room.third_party_invite":0}}"#,
    ));
    assert_eq!(room.reason(&event), "third_party_invite_insufficient_power");
}

#[test]
fn rule_i_required_power_level() {
    let mut room = Room::standard(RoomVersion::V11, "public");
    room.add(room.member(DAVE, DAVE, "join"));
    // state_default 50, events_default 0.
    assert_eq!(
        room.reason(&room.event("m.room.topic", DAVE, Some(""), "{}")),
        "insufficient_power"
    );
    assert_eq!(
        room.reason(&room.event("m.room.topic", BOB, Some(""), "{}")),
        "allowed"
    );
    assert_eq!(
        room.reason(&room.event("m.room.message", DAVE, None, "{}")),
        "allowed"
    );
    room.add(
        room.power_levels(r#"{"users":{"@alice:a.example":100},"events":{"m.room.message":10}}"#),
    );
    assert_eq!(
        room.reason(&room.event("m.room.message", DAVE, None, "{}")),
        "insufficient_power"
    );
}

#[test]
fn rule_i_legacy_string_levels_in_state() {
    // v1–9 read `"75"` as 75; v10+ cannot read it.
    for version in [RoomVersion::V9, RoomVersion::V10] {
        let mut room = Room::standard(version, "public");
        room.add(room.power_levels(
            r#"{"users":{"@alice:a.example":100,"@bob:a.example":"75"},"state_default":" 70 "}"#,
        ));
        let topic = room.event("m.room.topic", BOB, Some(""), "{}");
        let expected = if version.power_levels.string_values {
            "allowed"
        } else {
            "invalid_power_levels"
        };
        assert_eq!(room.reason(&topic), expected, "v{}", version.id);
    }
}

#[test]
fn rule_j_user_state_keys() {
    let room = Room::standard(RoomVersion::V11, "public");
    assert_eq!(
        room.reason(&room.event("org.example", BOB, Some(BOB), "{}")),
        "allowed"
    );
    assert_eq!(
        room.reason(&room.event("org.example", BOB, Some(ALICE), "{}")),
        "state_key_not_sender"
    );
}

// ---- Rule K: power levels ----

#[test]
fn rule_k1_integer_only_from_v10() {
    for version in RoomVersion::ALL {
        let room = Room::standard(version, "public");
        for content in [
            r#"{"ban":"50"}"#,
            r#"{"events":{"m.room.name":"50"}}"#,
            r#"{"notifications":[]}"#,
        ] {
            let event = room.power_levels(content);
            let reason = room.reason(&event);
            if version.power_levels.integer_only {
                assert_eq!(
                    reason, "power_levels_not_integer",
                    "v{} {content}",
                    version.id
                );
            } else {
                assert_ne!(
                    reason, "power_levels_not_integer",
                    "v{} {content}",
                    version.id
                );
            }
        }
    }
}

#[test]
fn rule_k2_users_keys_and_values() {
    let mut room = Room::bare(RoomVersion::V9);
    room.add(room.member(ALICE, ALICE, "join"));
    for (users, expected) in [
        (r#"{"not-a-user":10}"#, "power_levels_invalid_user_id"),
        (r#"{"@nocolon":10}"#, "power_levels_invalid_user_id"),
        (
            r#"{"@bob:a.example":"ten"}"#,
            "power_levels_invalid_user_level",
        ),
        (
            r#"{"@bob:a.example":null}"#,
            "power_levels_invalid_user_level",
        ),
        (r#"{"@bob:a.example":"10"}"#, "allowed"),
        // Synapse's check: `@` and a `:` (not the full grammar).
        (r#"{"@b c:a.example":10}"#, "allowed"),
    ] {
        let event = room.power_levels(&format!(r#"{{"users":{users}}}"#));
        assert_eq!(room.reason(&event), expected, "{users}");
    }
    let event = room.power_levels(r#"{"users":[]}"#);
    assert_eq!(room.reason(&event), "power_levels_users_not_object");
}

#[test]
fn rule_k3_v12_creators_not_in_users() {
    let mut room = Room::with_create_content(
        RoomVersion::V12,
        r#"{"additional_creators":["@bob:a.example"]}"#,
    );
    room.add(room.member(ALICE, ALICE, "join"));
    for (users, expected) in [
        (
            r#"{"@alice:a.example":100}"#,
            "power_levels_creator_in_users",
        ),
        (r#"{"@bob:a.example":100}"#, "power_levels_creator_in_users"),
        (r#"{"@carol:b.example":100}"#, "allowed"),
    ] {
        let event = room.power_levels(&format!(r#"{{"users":{users}}}"#));
        assert_eq!(room.reason(&event), expected, "{users}");
    }
    // v11 allows the creator in users.
    let mut room = Room::bare(RoomVersion::V11);
    room.add(room.member(ALICE, ALICE, "join"));
    let event = room.power_levels(r#"{"users":{"@alice:a.example":100}}"#);
    assert_eq!(room.reason(&event), "allowed");
}

#[test]
fn rule_k4_first_power_levels_need_only_rules_i_and_k1_to_k3() {
    let mut room = Room::bare(RoomVersion::V11);
    room.add(room.member(ALICE, ALICE, "join"));
    let event =
        room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":1000},"ban":9000}"#);
    assert_eq!(room.reason(&event), "allowed");
}

#[test]
fn rule_k5_named_levels() {
    let room = Room::standard(RoomVersion::V11, "public");
    let users = r#""users":{"@alice:a.example":100,"@bob:a.example":50}"#;
    let bob_sets = |extra: &str| {
        let mut event = room.power_levels(&format!("{{{users}{extra}}}"));
        event.insert("sender", Value::from(BOB));
        event
    };
    let mut room2 = Room::standard(RoomVersion::V11, "public");
    room2.add(room.power_levels(&format!(
        r#"{{{users},"events":{{"m.room.power_levels":0}}}}"#
    )));
    assert_eq!(
        room2.reason(&bob_sets(
            r#","events":{"m.room.power_levels":0},"kick":50"#
        )),
        "allowed"
    );
    assert_eq!(
        room2.reason(&bob_sets(
            r#","events":{"m.room.power_levels":0},"kick":51"#
        )),
        "power_levels_named_above_sender"
    );
    // Removing a level above one's own is a change too.
    room2.add(room.power_levels(&format!(
        r#"{{{users},"events":{{"m.room.power_levels":0}},"redact":80}}"#
    )));
    assert_eq!(
        room2.reason(&bob_sets(r#","events":{"m.room.power_levels":0}"#)),
        "power_levels_named_above_sender"
    );
}

#[test]
fn rule_k6_events_and_notifications() {
    for version in [RoomVersion::V5, RoomVersion::V6] {
        let users = r#""users":{"@alice:a.example":100,"@bob:a.example":50}"#;
        let mut room = Room::standard(version, "public");
        room.add(room.power_levels(&format!(
            r#"{{{users},"events":{{"m.room.power_levels":0}}}}"#
        )));
        let mut event = room.power_levels(&format!(
            r#"{{{users},"events":{{"m.room.power_levels":0,"m.room.name":60}}}}"#
        ));
        event.insert("sender", Value::from(BOB));
        assert_eq!(room.reason(&event), "power_levels_event_above_sender");
        // notifications: checked from v6.
        let mut event = room.power_levels(&format!(
            r#"{{{users},"events":{{"m.room.power_levels":0}},"notifications":{{"room":60}}}}"#
        ));
        event.insert("sender", Value::from(BOB));
        let expected = if version.power_levels.notifications_checked {
            "power_levels_event_above_sender"
        } else {
            "allowed"
        };
        assert_eq!(room.reason(&event), expected, "v{}", version.id);
    }
}

#[test]
fn rule_k7_users() {
    let room = Room::standard(RoomVersion::V11, "public");
    let set_users = |sender: &str, users: &str| {
        let mut event = room.power_levels(&format!(r#"{{"users":{users}}}"#));
        event.insert("sender", Value::from(sender));
        event
    };
    // Alice (100) may raise Bob to her own level and demote herself.
    assert_eq!(
        room.reason(&set_users(
            ALICE,
            r#"{"@alice:a.example":100,"@bob:a.example":100}"#
        )),
        "allowed"
    );
    assert_eq!(
        room.reason(&set_users(
            ALICE,
            r#"{"@alice:a.example":10,"@bob:a.example":50}"#
        )),
        "allowed"
    );
    // Not above her own level.
    assert_eq!(
        room.reason(&set_users(
            ALICE,
            r#"{"@alice:a.example":100,"@bob:a.example":101}"#
        )),
        "power_levels_user_above_sender"
    );
    // Not someone at her own level.
    let mut room = Room::standard(RoomVersion::V11, "public");
    room.add(room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":100}}"#));
    let mut demote = room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":0}}"#);
    demote.insert("sender", Value::from(ALICE));
    assert_eq!(room.reason(&demote), "power_levels_user_above_sender");
    // Legacy strings compare by value: "100" to 100 is no change.
    let mut room = Room::standard(RoomVersion::V9, "public");
    room.add(room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":"100"}}"#));
    let same = room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":100}}"#);
    assert_eq!(room.reason(&same), "allowed");
}

#[test]
fn rule_k7_v12_creators_change_anything() {
    let mut room = Room::standard(RoomVersion::V12, "public");
    room.add(room.power_levels(r#"{"users":{"@bob:a.example":9007199254740991}}"#));
    let demote = room.power_levels(r#"{"users":{"@bob:a.example":0}}"#);
    assert_eq!(room.reason(&demote), "allowed");
}

// ---- Rule L: redactions (v1–2) ----

#[test]
fn rule_l_redactions_in_v1_and_v2() {
    for version in RoomVersion::ALL {
        let mut room = Room::standard(version, "public");
        room.add(room.member(DAVE, DAVE, "join"));
        let mut redaction = room.event("m.room.redaction", DAVE, None, "{}");
        if version.event_id_in_pdu() {
            redaction.insert("event_id", Value::from("$r:c.example"));
        }
        redaction.insert("redacts", Value::from("$target:a.example"));
        let expected = if version.auth.redaction_rule {
            "redaction_insufficient_power"
        } else {
            "allowed"
        };
        assert_eq!(room.reason(&redaction), expected, "v{}", version.id);
        // Same server as the redacted event.
        redaction.insert("redacts", Value::from("$target:c.example"));
        assert_eq!(room.reason(&redaction), "allowed", "v{}", version.id);
        // Enough power.
        let mut by_bob = redaction.clone();
        by_bob.insert("sender", Value::from(BOB));
        by_bob.insert("redacts", Value::from("$target:c.example"));
        assert_eq!(room.reason(&by_bob), "allowed", "v{}", version.id);
    }
}

// ---- Rejections ----

#[test]
fn rejections_have_words_and_readable_messages() {
    let room = Room::standard(RoomVersion::V11, "public");
    let rejection = room
        .check(&room.event("m.room.topic", DAVE, Some(""), "{}"))
        .unwrap_err();
    assert_eq!(rejection.reason(), "sender_not_joined");
    let text = rejection.to_string();
    assert!(text.contains(DAVE) && !text.ends_with('.'), "{text}");
    let power = Rejection::InsufficientPower {
        event_type: "m.room.topic".into(),
        level: PowerLevel::Finite(0),
        needed: 50,
    };
    assert_eq!(
        power.to_string(),
        "sender has power level 0, below the level 50 needed to send m.room.topic"
    );
}

#[test]
fn auth_events_later_entries_win() {
    let room = Room::bare(RoomVersion::V11);
    let join = room.member(BOB, BOB, "join");
    let leave = room.member(BOB, BOB, "leave");
    let pdus: Vec<Pdu> = [&room.create, &join, &leave]
        .into_iter()
        .map(|event| room.pdu(event))
        .collect();
    let state: AuthEvents<'_> = pdus.iter().collect();
    assert_eq!(state.len(), 2);
    assert_eq!(state.membership_of(BOB), Some("leave"));
    let message = room.pdu(&room.event("m.room.message", BOB, None, "{}"));
    assert!(
        state
            .iter()
            .any(|(key, _)| key == StateKey::new("m.room.member", BOB))
    );
    assert_eq!(
        check(&message, &state).unwrap_err().reason(),
        "sender_not_joined"
    );
}

// ---- Property tests ----

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e20f64..1.0e20)
            .prop_map(|float| Value::Number(json::Number::from_f64(float).unwrap())),
        prop_oneof![
            Just("join"),
            Just("invite"),
            Just("leave"),
            Just("ban"),
            Just("knock"),
            Just("public"),
            Just("restricted"),
            Just("knock_restricted"),
            Just(" 50 "),
            Just("@bob:a.example"),
            Just("@dave:c.example"),
            Just("12"),
            Just("tok"),
        ]
        .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("membership".to_owned()),
            Just("users".to_owned()),
            Just("events".to_owned()),
            Just("ban".to_owned()),
            Just("kick".to_owned()),
            Just("invite".to_owned()),
            Just("users_default".to_owned()),
            Just("notifications".to_owned()),
            Just("join_rule".to_owned()),
            Just("third_party_invite".to_owned()),
            Just("signed".to_owned()),
            Just("join_authorised_via_users_server".to_owned()),
            Just("@bob:a.example".to_owned()),
            Just("@alice:a.example".to_owned()),
            Just("m.federate".to_owned()),
            Just("additional_creators".to_owned()),
            Just("public_keys".to_owned()),
            Just("public_key".to_owned()),
            "\\PC{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|entries| Value::Object(Object::from_entries(entries))),
        ]
    })
}

fn arb_event_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("m.room.create"),
        Just("m.room.member"),
        Just("m.room.power_levels"),
        Just("m.room.join_rules"),
        Just("m.room.third_party_invite"),
        Just("m.room.aliases"),
        Just("m.room.redaction"),
        Just("m.room.message"),
        Just("m.room.topic"),
    ]
}

/// Events that are allowed in [`Room::standard`] rooms, one per kind of rule.
fn allowed_events(room: &Room) -> Vec<Object> {
    let mut power_levels = room.power_levels(r#"{"users":{"@bob:a.example":40}}"#);
    if !room.version.auth.creators_infinite_power {
        power_levels =
            room.power_levels(r#"{"users":{"@alice:a.example":100,"@bob:a.example":40}}"#);
    }
    vec![
        room.event("m.room.message", BOB, None, r#"{"body":"hi"}"#),
        room.event("m.room.topic", BOB, Some(""), r#"{"topic":"t"}"#),
        room.member(DAVE, DAVE, "join"),
        room.member(CAROL, CAROL, "join"),
        room.member(BOB, DAVE, "invite"),
        room.member(BOB, CAROL, "leave"),
        room.member(BOB, DAVE, "ban"),
        room.member(BOB, BOB, "leave"),
        power_levels,
    ]
}

/// A state event the rules never read for the events of [`allowed_events`].
fn unrelated_event(room: &Room, kind: u8, key: &str, content: Value) -> Object {
    let mut event = match kind % 3 {
        0 => room.event("m.room.topic.extra", ALICE, Some(key), "{}"),
        1 => room.event("org.example.custom", BOB, Some(key), "{}"),
        _ => room.event(
            "m.room.member",
            ALICE,
            Some(&format!("@zz{key}:z.example")),
            "{}",
        ),
    };
    // A PDU's content is an object: other values are wrapped in one.
    let content = match content {
        Value::Object(content) => content,
        other => Object::from_entries(vec![("value".to_owned(), other)]),
    };
    event.insert("content", Value::Object(content));
    event
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Adding state the rules do not read never changes an allowed event's outcome.
    #[test]
    fn unrelated_state_keeps_allowed_events_allowed(
        version in 0usize..12,
        extra in prop::collection::vec((any::<u8>(), "[a-z0-9]{0,6}", arb_value()), 0..6),
    ) {
        let version = RoomVersion::ALL[version];
        let room = Room::standard(version, "public");
        let extra: Vec<Object> = extra
            .into_iter()
            .map(|(kind, key, content)| unrelated_event(&room, kind, &key, content))
            .collect();
        for event in allowed_events(&room) {
            prop_assert_eq!(room.check(&event), Ok(()), "v{} before", version.id);
            let pdus: Vec<Pdu> = room
                .state_pdus()
                .into_iter()
                .chain(extra.iter().map(|event| room.pdu(event)))
                .collect();
            let state: AuthEvents<'_> = pdus.iter().collect();
            prop_assert_eq!(check(&room.pdu(&event), &state), Ok(()), "v{} after", version.id);
        }
    }

    /// No content, in the event or in the state, makes the rules panic.
    #[test]
    fn arbitrary_content_never_panics(
        version in 0usize..12,
        event_type in arb_event_type(),
        content in arb_value(),
        state_contents in prop::collection::vec((arb_event_type(), arb_value()), 0..6),
        state_key in prop::option::of(prop_oneof![Just(""), Just("@bob:a.example"), Just("@dave:c.example"), Just("tok")]),
    ) {
        let version = RoomVersion::ALL[version];
        let room = Room::standard(version, "public");
        let mut event = room.event(event_type, DAVE, state_key, "{}");
        event.insert("content", content);
        let state_events: Vec<Object> = state_contents
            .into_iter()
            .map(|(event_type, content)| {
                let key = if event_type == "m.room.member" { BOB } else { "" };
                let mut state_event = room.event(event_type, ALICE, Some(key), "{}");
                state_event.insert("content", content);
                state_event
            })
            .collect();
        // Content that is not an object is no PDU; the rest is judged.
        let state_pdus: Vec<Pdu> = state_events
            .iter()
            .filter_map(|event| Pdu::from_object_lenient(event.clone(), &room.version).ok())
            .collect();
        let pdus: Vec<Pdu> = room.state_pdus().into_iter().chain(state_pdus.iter().cloned()).collect();
        let state: AuthEvents<'_> = pdus.iter().collect();
        let _ = auth_types(&event, &room.version);
        if let Ok(event) = Pdu::from_object_lenient(event, &room.version) {
            let _ = check(&event, &state);
            let listed: Vec<&Pdu> = state_pdus.iter().collect();
            let _ = check_auth_events(&event, &listed);
            let _ = auth_types_pdu(&event);
        }
    }
}

#[test]
fn member_entries_replace_and_spill_into_a_tree() {
    let room = Room::bare(RoomVersion::V11);
    let member = |user: &str, membership: &str| room.pdu(&room.member(user, user, membership));
    let users: Vec<String> = (0..7).map(|index| format!("@u{index}:x.org")).collect();
    let joins: Vec<Pdu> = users.iter().map(|user| member(user, "join")).collect();
    let leave = member(&users[1], "leave");
    for count in [1, 3, 4, 5, 7] {
        let mut state = AuthEvents::new();
        for event in &joins[..count] {
            assert!(state.insert_pdu(event));
        }
        // A later event at a key replaces the earlier one, in place or in the tree.
        state.insert_pdu(&leave);
        assert_eq!(state.len(), count.max(2), "{count} members");
        for (index, user) in users.iter().enumerate() {
            let expected = match index {
                1 => Some("leave"),
                _ if index < count => Some("join"),
                _ => None,
            };
            let found = state
                .get("m.room.member", user)
                .and_then(|event| event.content().get("membership"))
                .and_then(Value::as_str);
            assert_eq!(found, expected, "{user} of {count}");
            assert_eq!(state.membership_of(user), expected, "{user} of {count}");
        }
    }
}
