//! Tests of the application-service module: set-wide validation, exclusivity, the
//! interest rules (unit tests, and a property test against an independent model of
//! Synapse's rules), masquerading and the requests.

use std::cell::Cell;

use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::*;
use crate::crypto::SigningKey;
use crate::event::{ClientEvent, EventBuilder, Pdu};
use crate::id::{RoomAliasId, RoomId, ServerName, UserId};
use crate::json::{self, Object, ParseOptions, Value};
use crate::room_version::RoomVersion;

const SERVER: &str = "example.org";

fn server() -> ServerName {
    ServerName::parse(SERVER).unwrap()
}

fn registration_json(id: &str, namespaces: Json) -> Json {
    json!({
        "id": id,
        "url": format!("http://127.0.0.1:9000/{id}/"),
        "as_token": format!("as-{id}"),
        "hs_token": format!("hs-{id}"),
        "sender_localpart": format!("_{id}_bot"),
        "namespaces": namespaces,
    })
}

fn registration(id: &str, namespaces: Json) -> Registration {
    Registration::from_json(&registration_json(id, namespaces)).unwrap()
}

fn load(registrations: Vec<Registration>) -> Registrations {
    Registrations::new(registrations, &server()).unwrap()
}

fn users(regex: &str, exclusive: bool) -> Json {
    json!({"users": [{"exclusive": exclusive, "regex": regex}]})
}

fn ids<'a>(services: impl IntoIterator<Item = &'a ApplicationService>) -> Vec<&'a str> {
    services.into_iter().map(ApplicationService::id).collect()
}

fn key() -> SigningKey {
    SigningKey::from_seed("ed25519:1", [9; 32])
}

fn event(sender: &str, event_type: &str, state_key: Option<&str>, room_id: &str) -> Pdu {
    let mut builder = EventBuilder::new(&RoomVersion::V11, sender, event_type)
        .room_id(room_id)
        .content(Object::new())
        .depth(3)
        .origin_server_ts(1_000);
    if let Some(state_key) = state_key {
        builder = builder.state_key(state_key);
    }
    let origin = sender.split_once(':').map_or(SERVER, |(_, server)| server);
    builder.build(origin, &key()).unwrap()
}

fn message(sender: &str, room_id: &str) -> Pdu {
    event(sender, "m.room.message", None, room_id)
}

const NO_ALIASES: &[&str] = &[];
const NO_MEMBERS: &[&str] = &[];

fn empty_room() -> RoomSnapshot<'static, &'static str, &'static str> {
    RoomSnapshot::empty()
}

fn room_id(text: &str) -> RoomId {
    RoomId::parse(text).unwrap()
}

// ---- Registrations::new -------------------------------------------------------------

#[test]
fn ids_must_be_unique() {
    let mut second = registration_json("irc", json!({}));
    second["as_token"] = json!("other-as");
    second["hs_token"] = json!("other-hs");
    let second = Registration::from_json(&second).unwrap();
    assert_eq!(
        Registrations::new(vec![registration("irc", json!({})), second], &server()).unwrap_err(),
        RegistrationError::DuplicateId {
            id: "irc".to_owned()
        }
    );
}

#[test]
fn as_tokens_must_differ_from_every_as_and_hs_token() {
    let with_tokens = |id: &str, as_token: &str, hs_token: &str| {
        let mut value = registration_json(id, json!({}));
        value["as_token"] = json!(as_token);
        value["hs_token"] = json!(hs_token);
        Registration::from_json(&value).unwrap()
    };
    let load = |list| Registrations::new(list, &server());
    assert_eq!(
        load(vec![
            with_tokens("a", "t1", "h1"),
            with_tokens("b", "t1", "h2")
        ])
        .unwrap_err(),
        RegistrationError::DuplicateAsToken {
            first: "a".to_owned(),
            second: "b".to_owned()
        }
    );
    assert_eq!(
        load(vec![with_tokens("a", "same", "same")]).unwrap_err(),
        RegistrationError::AsTokenIsHsToken {
            as_token_of: "a".to_owned(),
            hs_token_of: "a".to_owned()
        }
    );
    assert_eq!(
        load(vec![
            with_tokens("a", "t1", "h1"),
            with_tokens("b", "h1", "h2")
        ])
        .unwrap_err(),
        RegistrationError::AsTokenIsHsToken {
            as_token_of: "b".to_owned(),
            hs_token_of: "a".to_owned()
        }
    );
    assert_eq!(
        load(vec![
            with_tokens("a", "t1", "h1"),
            with_tokens("b", "t2", "t1")
        ])
        .unwrap_err(),
        RegistrationError::AsTokenIsHsToken {
            as_token_of: "a".to_owned(),
            hs_token_of: "b".to_owned()
        }
    );
    // Two services may share an hs_token: only the service sees it.
    assert!(
        load(vec![
            with_tokens("a", "t1", "h"),
            with_tokens("b", "t2", "h")
        ])
        .is_ok()
    );
}

#[test]
fn the_sender_must_be_a_valid_user_id_on_this_server() {
    let with_localpart = |localpart: &str| {
        let mut value = registration_json("irc", json!({}));
        value["sender_localpart"] = json!(localpart);
        Registrations::new(vec![Registration::from_json(&value).unwrap()], &server())
    };
    let services = with_localpart("Bot~1/x").unwrap();
    assert_eq!(
        services.iter().next().unwrap().sender().as_str(),
        "@Bot~1/x:example.org"
    );
    for bad in ["", "bot:x", "bot bot", "bött", "bot%40"] {
        assert!(
            matches!(
                with_localpart(bad),
                Err(RegistrationError::InvalidSenderLocalpart { ref localpart, .. })
                    if localpart == bad
            ),
            "{bad:?}"
        );
    }
    let long = "a".repeat(300);
    assert!(matches!(
        with_localpart(&long),
        Err(RegistrationError::InvalidSenderLocalpart { reason, .. }) if reason.contains("exceeds")
    ));
}

/// Registrations that Synapse's `_load_appservice` (the installed Synapse, run on each
/// case) accepts or refuses, with ours. The one difference kept: Synapse also
/// type-checks keys of extensions this crate does not read (`org.matrix.msc3202`,
/// `io.element.msc4190`, `io.element.msc4502.*`); they are ignored here.
#[test]
fn accepts_and_refuses_what_synapse_does() {
    let base = registration_json("irc", json!({}));
    let with = |key: &str, value: Option<Json>| {
        let mut value_json = base.clone();
        match value {
            Some(value) => value_json[key] = value,
            None => {
                value_json.as_object_mut().map(|object| object.remove(key));
            }
        }
        value_json
    };
    let ns = |namespaces: Json| with("namespaces", Some(namespaces));
    let cases: Vec<(&str, Json, bool)> = vec![
        ("minimal", base.clone(), true),
        ("url missing", with("url", None), false),
        ("url null", with("url", Some(Json::Null)), true),
        ("url number", with("url", Some(json!(1))), false),
        ("namespaces missing", with("namespaces", None), false),
        ("namespaces a list", ns(json!([])), false),
        ("users not a list", ns(json!({"users": {}})), false),
        ("users null", ns(json!({"users": null})), false),
        ("entry not an object", ns(json!({"users": ["x"]})), false),
        (
            "regex missing",
            ns(json!({"users": [{"exclusive": true}]})),
            false,
        ),
        (
            "exclusive a string",
            ns(json!({"users": [{"exclusive": "yes", "regex": "@a"}]})),
            false,
        ),
        (
            "regex bad",
            ns(json!({"users": [{"exclusive": true, "regex": "(@a"}]})),
            false,
        ),
        (
            "protocols a string",
            with("protocols", Some(json!("irc"))),
            false,
        ),
        (
            "protocols false",
            with("protocols", Some(json!(false))),
            true,
        ),
        (
            "protocols mixed",
            with("protocols", Some(json!(["irc", 1]))),
            false,
        ),
        (
            "rate_limited a string",
            with("rate_limited", Some(json!("false"))),
            true,
        ),
        ("id with a pipe", with("id", Some(json!("a|b"))), false),
        ("id a number", with("id", Some(json!(5))), false),
        (
            "sender with a space",
            with("sender_localpart", Some(json!("a b"))),
            false,
        ),
        (
            "sender with a colon",
            with("sender_localpart", Some(json!("a:b"))),
            false,
        ),
        (
            "sender upper, tilde, slash",
            with("sender_localpart", Some(json!("Bot~1/x"))),
            true,
        ),
        ("unknown keys", with("extra", Some(json!(1))), true),
    ];
    for (name, value, synapse_accepts) in cases {
        let ours = Registration::from_json(&value)
            .and_then(|registration| Registrations::new(vec![registration], &server()));
        assert_eq!(ours.is_ok(), synapse_accepts, "{name}: {ours:?}");
    }
    // Synapse refuses a non-boolean `org.matrix.msc3202`; this crate does not read it.
    assert!(Registration::from_json(&with("org.matrix.msc3202", Some(json!("yes")))).is_ok());
}

// ---- tokens -------------------------------------------------------------------------

#[test]
fn by_as_token_finds_only_the_exact_as_token() {
    let services = load(vec![
        registration("a", json!({})),
        registration("b", json!({})),
    ]);
    assert_eq!(
        services.by_as_token("as-b").map(ApplicationService::id),
        Some("b")
    );
    assert_eq!(
        services.by_as_token("as-a").map(ApplicationService::id),
        Some("a")
    );
    for wrong in ["hs-a", "as-", "as-bb", ""] {
        assert!(services.by_as_token(wrong).is_none(), "{wrong}");
    }
    let a = services.get("a").unwrap();
    assert!(a.verify_hs_token("hs-a"));
    assert!(!a.verify_hs_token("as-a"));
    assert_eq!(
        services
            .by_sender("@_b_bot:example.org")
            .map(ApplicationService::id),
        Some("b")
    );
}

#[test]
fn rate_limits_spare_the_sender_and_services_that_opt_out() {
    let mut free = registration_json("free", json!({}));
    free["rate_limited"] = json!(false);
    let services = load(vec![
        registration("limited", users("@_l_", true)),
        Registration::from_json(&free).unwrap(),
    ]);
    let limited = services.get("limited").unwrap();
    assert!(limited.is_rate_limited("@_l_1:example.org"));
    assert!(!limited.is_rate_limited("@_limited_bot:example.org"));
    assert!(
        !services
            .get("free")
            .unwrap()
            .is_rate_limited("@_free_1:example.org")
    );
}

// ---- exclusivity --------------------------------------------------------------------

#[test]
fn exclusive_users_follow_the_first_matching_namespace_and_the_sender() {
    let services = load(vec![
        registration("soft", users("@_soft_.*", false)),
        registration(
            "irc",
            json!({"users": [
                {"exclusive": false, "regex": "@_irc_guest"},
                {"exclusive": true, "regex": "@_irc_.*"},
            ]}),
        ),
    ]);
    let owner = |user: &str| {
        services
            .exclusive_user_owner(user)
            .map(ApplicationService::id)
    };
    assert_eq!(owner("@_irc_alice:example.org"), Some("irc"));
    // The first namespace that matches is not exclusive, so the claim is not either.
    assert_eq!(owner("@_irc_guest7:example.org"), None);
    assert_eq!(owner("@_soft_x:example.org"), None);
    // A service's sender is always exclusive, with or without a namespace for it.
    assert_eq!(owner("@_soft_bot:example.org"), Some("soft"));
    assert_eq!(owner("@alice:example.org"), None);
    // Anchored at the start only: a longer ID still matches.
    assert_eq!(owner("@_irc_alice:elsewhere.org"), Some("irc"));
    assert_eq!(owner("@x_irc_alice:example.org"), None);
}

#[test]
fn exclusive_user_owners_lists_every_holder_for_appservice_registration() {
    let services = load(vec![
        registration("a", users("@_shared_.*", true)),
        registration("b", users("@_shared_.*", true)),
        registration("c", users("@_c_.*", true)),
    ]);
    assert_eq!(
        ids(services.exclusive_user_owners("@_shared_x:example.org")),
        ["a", "b"]
    );
    assert_eq!(
        ids(services.exclusive_user_owners("@_c_x:example.org")),
        ["c"]
    );
}

#[test]
fn exclusive_aliases_and_who_may_modify_them() {
    let services = load(vec![
        registration(
            "soft",
            json!({"aliases": [{"exclusive": false, "regex": "#_soft_.*"}]}),
        ),
        registration(
            "irc",
            json!({"aliases": [{"exclusive": true, "regex": "#_irc_.*"}]}),
        ),
        registration(
            "late",
            json!({"aliases": [{"exclusive": true, "regex": "#_irc_late"}]}),
        ),
    ]);
    let alias = |text: &str| RoomAliasId::parse(text).unwrap();
    assert_eq!(
        services
            .exclusive_alias_owner("#_irc_chan:example.org")
            .map(ApplicationService::id),
        Some("irc")
    );
    assert!(
        services
            .exclusive_alias_owner("#_soft_chan:example.org")
            .is_none()
    );
    assert!(
        services
            .exclusive_alias_owner("#chan:example.org")
            .is_none()
    );

    let chan = alias("#_irc_chan:example.org");
    assert!(!services.may_modify_alias(&chan, "@alice:example.org"));
    assert!(services.may_modify_alias(&chan, "@_irc_bot:example.org"));
    assert!(services.may_modify_alias(&alias("#_soft_x:example.org"), "@alice:example.org"));
    assert!(services.may_modify_alias(&alias("#free:example.org"), "@alice:example.org"));
    // Synapse stops at the first exclusive holder: the later service's own sender is
    // refused an alias an earlier service holds.
    assert!(!services.may_modify_alias(&alias("#_irc_late:example.org"), "@_late_bot:example.org"));
}

#[test]
fn query_targets_need_a_url_and_a_namespace() {
    let mut silent = registration_json(
        "silent",
        json!({
            "users": [{"exclusive": true, "regex": "@_q_"}],
            "aliases": [{"exclusive": false, "regex": "#_q_"}],
        }),
    );
    silent["url"] = Json::Null;
    let services = load(vec![
        Registration::from_json(&silent).unwrap(),
        registration(
            "q",
            json!({
                "users": [{"exclusive": false, "regex": "@_q_"}],
                "aliases": [{"exclusive": false, "regex": "#_q_"}],
            }),
        ),
    ]);
    assert_eq!(ids(services.user_query_targets("@_q_1:example.org")), ["q"]);
    assert_eq!(
        ids(services.alias_query_targets("#_q_1:example.org")),
        ["q"]
    );
    assert!(
        services
            .alias_query_targets("#other:example.org")
            .next()
            .is_none()
    );
}

// ---- interest in room events --------------------------------------------------------

fn interest_services() -> Registrations {
    load(vec![
        registration("users", users("@_irc_.*", true)),
        registration(
            "rooms",
            json!({"rooms": [{"exclusive": false, "regex": "!bridged"}]}),
        ),
        registration(
            "aliases",
            json!({"aliases": [{"exclusive": true, "regex": "#_portal_"}]}),
        ),
    ])
}

#[test]
fn a_sender_in_the_namespace_or_the_services_own_sender_is_interesting() {
    let services = interest_services();
    let room = empty_room();
    let from_puppet = message("@_irc_bob:example.org", "!r:example.org");
    assert_eq!(
        ids(services.interested_in_event(&from_puppet, &room)),
        ["users"]
    );
    let from_bot = message("@_aliases_bot:example.org", "!r:example.org");
    assert_eq!(
        ids(services.interested_in_event(&from_bot, &room)),
        ["aliases"]
    );
    let from_alice = message("@alice:example.org", "!r:example.org");
    assert!(services.interested_in_event(&from_alice, &room).is_empty());
}

#[test]
fn only_a_member_events_state_key_counts_as_a_user() {
    let services = interest_services();
    let room = empty_room();
    let invite = event(
        "@alice:example.org",
        "m.room.member",
        Some("@_irc_bob:example.org"),
        "!r:example.org",
    );
    assert_eq!(ids(services.interested_in_event(&invite, &room)), ["users"]);
    let custom = event(
        "@alice:example.org",
        "m.custom.state",
        Some("@_irc_bob:example.org"),
        "!r:example.org",
    );
    assert!(services.interested_in_event(&custom, &room).is_empty());
}

#[test]
fn the_room_id_its_aliases_and_its_joined_local_members_count() {
    let services = interest_services();
    let in_bridged = message("@alice:example.org", "!bridged_1:example.org");
    assert_eq!(
        ids(services.interested_in_event(&in_bridged, &empty_room())),
        ["rooms"]
    );

    let elsewhere = message("@alice:example.org", "!r:example.org");
    let aliased = RoomSnapshot::new(
        &["#lobby:example.org", "#_portal_x:example.org"],
        NO_MEMBERS,
    );
    assert_eq!(
        ids(services.interested_in_event(&elsewhere, &aliased)),
        ["aliases"]
    );

    let with_puppet = RoomSnapshot::new(
        NO_ALIASES,
        &["@alice:example.org", "@_irc_carol:example.org"],
    );
    assert_eq!(
        ids(services.interested_in_event(&elsewhere, &with_puppet)),
        ["users"]
    );

    let with_bot = RoomSnapshot::new(NO_ALIASES, &["@_rooms_bot:example.org"]);
    assert_eq!(
        ids(services.interested_in_event(&elsewhere, &with_bot)),
        ["rooms"]
    );

    let everything = RoomSnapshot::new(&["#_portal_x:example.org"], &["@_irc_carol:example.org"]);
    assert_eq!(
        ids(services.interested_in_event(&in_bridged, &everything)),
        ["users", "rooms", "aliases"]
    );
    assert_eq!(
        ids(services.interested_in_room(&room_id("!r:example.org"), &everything)),
        ["users", "aliases"]
    );
    let one = services.get("aliases").unwrap();
    assert!(one.is_interested_in_event(&elsewhere, &everything));
    assert!(!one.is_interested_in_event(&elsewhere, &with_puppet));
}

/// Room facts that count how often they are read.
struct Counting<'a> {
    aliases: &'a [&'a str],
    members: &'a [&'a str],
    alias_reads: Cell<usize>,
    member_reads: Cell<usize>,
}

impl RoomFacts for Counting<'_> {
    fn aliases(&self) -> impl Iterator<Item = &str> {
        self.alias_reads.set(self.alias_reads.get() + 1);
        self.aliases.iter().copied()
    }

    fn joined_local_members(&self) -> impl Iterator<Item = &str> {
        self.member_reads.set(self.member_reads.get() + 1);
        self.members.iter().copied()
    }
}

#[test]
fn room_facts_are_read_once_and_only_when_needed() {
    let services = load(vec![
        registration("a", users("@_a_.*", true)),
        registration("b", users("@_b_.*", true)),
    ]);
    let room = Counting {
        aliases: &["#x:example.org"],
        members: &["@_a_1:example.org", "@_b_1:example.org"],
        alias_reads: Cell::new(0),
        member_reads: Cell::new(0),
    };
    // No service has alias namespaces: the aliases are never read.
    let open = message("@alice:example.org", "!r:example.org");
    assert_eq!(ids(services.interested_in_event(&open, &room)), ["a", "b"]);
    assert_eq!((room.alias_reads.get(), room.member_reads.get()), (0, 1));

    let services = load(vec![registration(
        "a",
        json!({
            "users": [{"exclusive": true, "regex": "@_a_"}],
            "aliases": [{"exclusive": true, "regex": "#_a_"}],
        }),
    )]);
    let decided = message("@_a_bot:example.org", "!r:example.org");
    assert_eq!(ids(services.interested_in_event(&decided, &room)), ["a"]);
    assert_eq!((room.alias_reads.get(), room.member_reads.get()), (0, 1));
}

// ---- ephemeral events ---------------------------------------------------------------

fn ephemeral_services() -> Registrations {
    let flagged = |id: &str, flag: &str| {
        let mut value = registration_json(id, users(&format!("@_{id}_"), true));
        if !flag.is_empty() {
            value[flag] = json!(true);
        }
        Registration::from_json(&value).unwrap()
    };
    load(vec![
        flagged("stable", "receive_ephemeral"),
        flagged("unstable", "de.sorunome.msc2409.push_ephemeral"),
        flagged("none", ""),
    ])
}

#[test]
fn typing_and_receipts_go_to_services_that_asked_and_are_in_the_room() {
    let services = ephemeral_services();
    let room = RoomSnapshot::new(
        NO_ALIASES,
        &[
            "@_stable_1:example.org",
            "@_unstable_1:example.org",
            "@_none_1:example.org",
        ],
    );
    let id = room_id("!r:example.org");
    assert_eq!(
        ids(services.ephemeral_in_room(&id, &room)),
        ["stable", "unstable"]
    );
    let only_none = RoomSnapshot::new(NO_ALIASES, &["@_none_1:example.org"]);
    assert!(services.ephemeral_in_room(&id, &only_none).is_empty());
}

#[test]
fn presence_goes_to_services_interested_in_the_user_or_one_of_their_rooms() {
    let services = ephemeral_services();
    let alice = UserId::parse("@alice:example.org").unwrap();
    let puppet = UserId::parse("@_stable_1:example.org").unwrap();
    let shared = room_id("!shared:example.org");
    let with_unstable = RoomSnapshot::new(
        NO_ALIASES,
        &[
            "@alice:example.org",
            "@_unstable_2:example.org",
            "@_none_2:example.org",
        ],
    );
    assert_eq!(
        ids(services
            .ephemeral_for_presence(&puppet, &[] as &[(&RoomId, RoomSnapshot<'_, &str, &str>)])),
        ["stable"]
    );
    assert_eq!(
        ids(services.ephemeral_for_presence(&alice, &[(&shared, with_unstable)])),
        ["unstable"]
    );
    assert!(
        services
            .ephemeral_for_presence(&alice, &[(&shared, empty_room())])
            .is_empty()
    );
}

#[test]
fn private_receipts_are_kept_only_for_interesting_users() {
    let services = load(vec![registration("irc", users("@_irc_", true))]);
    let service = services.get("irc").unwrap();
    let content = crate::test_util::object(
        r#"{
            "$e1": {"m.read": {"@alice:example.org": {"ts": 1}},
                    "m.read.private": {"@alice:example.org": {"ts": 2},
                                       "@_irc_b:example.org": {"ts": 3}}},
            "$e2": {"m.read.private": {"@alice:example.org": {"ts": 4}}}
        }"#,
    );
    let filtered = service.receipt_content(&content).unwrap();
    assert_eq!(
        json::to_string(&Value::Object(filtered)),
        concat!(
            r#"{"$e1":{"m.read":{"@alice:example.org":{"ts":1}},"#,
            r#""m.read.private":{"@_irc_b:example.org":{"ts":3}}}}"#
        )
    );
    let only_hidden = crate::test_util::object(
        r#"{"$e2": {"m.read.private": {"@alice:example.org": {"ts": 4}}}}"#,
    );
    assert_eq!(service.receipt_content(&only_hidden), None);
}

#[test]
fn ephemeral_events_have_synapses_shapes() {
    let room = room_id("!r:example.org");
    let typing = typing_event(&room, &[UserId::parse("@a:example.org").unwrap()]);
    assert_eq!(
        json::to_string(&Value::Object(typing)),
        concat!(
            r#"{"content":{"user_ids":["@a:example.org"]},"#,
            r#""room_id":"!r:example.org","type":"m.typing"}"#
        )
    );
    let receipt = receipt_event(&room, crate::test_util::object(r#"{"$e":{"m.read":{}}}"#));
    assert_eq!(receipt["type"].as_str(), Some("m.receipt"));
    assert_eq!(
        receipt["content"]["$e"]["m.read"]
            .as_object()
            .map(Object::len),
        Some(0)
    );
    let mut content = Object::new();
    content.insert("presence", Value::from("online"));
    let presence = presence_event(&UserId::parse("@a:example.org").unwrap(), content);
    assert_eq!(
        json::to_string(&Value::Object(presence)),
        r#"{"content":{"presence":"online"},"sender":"@a:example.org","type":"m.presence"}"#
    );
}

// ---- masquerading -------------------------------------------------------------------

fn masquerade_service() -> Registrations {
    load(vec![registration(
        "irc",
        json!({"users": [
            {"exclusive": false, "regex": "@_irc_"},
            {"exclusive": true, "regex": "@_any_.*"},
        ]}),
    )])
}

#[test]
fn the_sender_needs_no_lookup_and_is_the_default() {
    let services = masquerade_service();
    let service = services.get("irc").unwrap();
    for user_id in [None, Some("@_irc_bot:example.org")] {
        let check = service.masquerade(user_id, None).unwrap();
        assert_eq!(check.user_id().as_str(), "@_irc_bot:example.org");
        assert!(!check.needs_registered_user());
        let acting = check.finish(false, false).unwrap();
        assert_eq!(acting.user_id.as_str(), "@_irc_bot:example.org");
        assert_eq!(acting.device_id, None);
    }
}

#[test]
fn a_namespace_user_must_be_registered_and_local() {
    let services = masquerade_service();
    let service = services.get("irc").unwrap();
    assert!(service.may_masquerade("@_irc_alice:example.org"));
    assert!(!service.may_masquerade("@alice:example.org"));
    let check = service
        .masquerade(Some("@_irc_alice:example.org"), None)
        .unwrap();
    assert!(check.needs_registered_user());
    assert_eq!(
        check.clone().finish(false, true).unwrap_err(),
        MasqueradeError::NotRegistered {
            user_id: "@_irc_alice:example.org".to_owned()
        }
    );
    assert_eq!(
        check.finish(true, false).unwrap().user_id.as_str(),
        "@_irc_alice:example.org"
    );

    let refused = service
        .masquerade(Some("@alice:example.org"), None)
        .unwrap_err();
    assert_eq!(
        refused,
        MasqueradeError::NotInNamespace {
            user_id: "@alice:example.org".to_owned()
        }
    );
    assert_eq!((refused.errcode(), refused.status()), ("M_FORBIDDEN", 403));
    assert_eq!(
        service
            .masquerade(Some("@_irc_alice:other.org"), None)
            .unwrap_err(),
        MasqueradeError::NotRegistered {
            user_id: "@_irc_alice:other.org".to_owned()
        }
    );
    assert!(matches!(
        service.masquerade(Some("@_any_"), None),
        Err(MasqueradeError::InvalidUserId { .. })
    ));
}

#[test]
fn a_device_must_exist_for_the_effective_user() {
    let services = masquerade_service();
    let service = services.get("irc").unwrap();
    let check = service
        .masquerade(Some("@_irc_alice:example.org"), Some("PHONE"))
        .unwrap();
    assert_eq!(check.device_id(), Some("PHONE"));
    let error = check.clone().finish(true, false).unwrap_err();
    assert_eq!(
        error,
        MasqueradeError::UnknownDevice {
            user_id: "@_irc_alice:example.org".to_owned(),
            device_id: "PHONE".to_owned()
        }
    );
    assert_eq!((error.errcode(), error.status()), ("M_UNKNOWN_DEVICE", 400));
    assert_eq!(
        check.finish(true, true).unwrap().device_id.as_deref(),
        Some("PHONE")
    );
    // The user is checked before the device.
    let unregistered = service
        .masquerade(Some("@_irc_x:example.org"), Some("D"))
        .unwrap();
    assert!(matches!(
        unregistered.finish(false, false),
        Err(MasqueradeError::NotRegistered { .. })
    ));
    // Without user_id the device is the sender's.
    let own = service
        .masquerade(None, Some("BOT"))
        .unwrap()
        .finish(false, true)
        .unwrap();
    assert_eq!(
        (own.user_id.as_str(), own.device_id.as_deref()),
        ("@_irc_bot:example.org", Some("BOT"))
    );
}

// ---- requests -----------------------------------------------------------------------

fn body_of(request: &AsRequest) -> Object {
    let bytes = request.body_bytes().unwrap();
    match json::parse(&bytes, &ParseOptions::strict()).unwrap() {
        Value::Object(object) => object,
        other => panic!("{other:?}"),
    }
}

#[test]
fn transaction_bodies_carry_the_ephemeral_keys_the_service_asked_for() {
    let make = |flags: &[&str]| {
        let mut value = registration_json("irc", json!({}));
        for flag in flags {
            value[*flag] = json!(true);
        }
        Registration::from_json(&value).unwrap()
    };
    let pdu = message("@alice:example.org", "!r:example.org");
    let mut typing = Object::new();
    typing.insert("type", Value::from("m.typing"));
    let keys = |registration: &Registration| {
        let request = Transaction::new(registration, 7)
            .event(&ClientEvent::new(&pdu).now(1_200))
            .ephemeral(typing.clone())
            .to_request();
        assert_eq!(request.method, Method::Put);
        assert_eq!(request.path, "/_matrix/app/v1/transactions/7");
        assert_eq!(
            request.url.as_deref(),
            Some("http://127.0.0.1:9000/irc/_matrix/app/v1/transactions/7")
        );
        assert_eq!(request.authorization, "Bearer hs-irc");
        let body = body_of(&request);
        assert_eq!(body["events"][0]["unsigned"]["age"].as_i64(), Some(200));
        assert_eq!(
            body["events"][0]["room_id"].as_str(),
            Some("!r:example.org")
        );
        for key in ["ephemeral", "de.sorunome.msc2409.ephemeral"] {
            if let Some(list) = body.get(key) {
                assert_eq!(list[0]["type"].as_str(), Some("m.typing"));
            }
        }
        body.keys().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(keys(&make(&[])), ["events"]);
    assert_eq!(
        keys(&make(&["receive_ephemeral"])),
        ["de.sorunome.msc2409.to_device", "ephemeral", "events"]
    );
    assert_eq!(
        keys(&make(&["de.sorunome.msc2409.push_ephemeral"])),
        [
            "de.sorunome.msc2409.ephemeral",
            "de.sorunome.msc2409.to_device",
            "events"
        ]
    );
    assert_eq!(
        keys(&make(&[
            "receive_ephemeral",
            "de.sorunome.msc2409.push_ephemeral"
        ])),
        [
            "de.sorunome.msc2409.ephemeral",
            "de.sorunome.msc2409.to_device",
            "ephemeral",
            "events"
        ]
    );
    let plain = make(&[]);
    let transaction = Transaction::new(&plain, 1);
    assert!(transaction.is_empty());
    assert_eq!((transaction.len(), transaction.txn_id()), (0, 1));
}

#[test]
fn queries_encode_their_argument_as_one_segment() {
    let registration = registration("irc", json!({}));
    let user = UserId::parse("@_irc_a/b:example.org").unwrap();
    let request = user_query(&registration, &user);
    assert_eq!(request.method, Method::Get);
    assert_eq!(
        request.path,
        "/_matrix/app/v1/users/%40_irc_a%2Fb%3Aexample.org"
    );
    assert_eq!(request.body, None);
    assert_eq!(request.authorization, "Bearer hs-irc");
    let alias = RoomAliasId::parse("#_irc_#chan:example.org").unwrap();
    assert_eq!(
        alias_query(&registration, &alias).path,
        "/_matrix/app/v1/rooms/%23_irc_%23chan%3Aexample.org"
    );
}

#[test]
fn ping_sends_the_transaction_id_or_null() {
    let mut value = registration_json("irc", json!({}));
    value["url"] = Json::Null;
    let silent = Registration::from_json(&value).unwrap();
    let request = ping(&silent, None);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/_matrix/app/v1/ping")
    );
    assert_eq!(request.url, None);
    assert_eq!(
        json::to_string(&Value::Object(body_of(&request))),
        r#"{"transaction_id":null}"#
    );
    let request = ping(&registration("irc", json!({})), Some("t1"));
    assert_eq!(
        json::to_string(&Value::Object(body_of(&request))),
        r#"{"transaction_id":"t1"}"#
    );
}

#[test]
fn transaction_ids_increase_from_the_stored_one() {
    let mut counter = TransactionCounter::new();
    assert_eq!(counter.last(), 0);
    assert_eq!((counter.next_id(), counter.next_id()), (Some(1), Some(2)));
    let mut resumed = TransactionCounter::resume(counter.last());
    assert_eq!(resumed.next_id(), Some(3));
    let mut full = TransactionCounter::resume(u64::MAX - 1);
    assert_eq!(full.next_id(), Some(u64::MAX));
    assert_eq!(full.next_id(), None);
    assert_eq!(full.last(), u64::MAX);
}

// ---- property: delivered to exactly the registrations whose namespaces match --------

/// A namespace in the model: a literal prefix, or with `$` the whole text.
#[derive(Debug, Clone)]
struct ModelNamespace {
    literal: String,
    whole: bool,
}

impl ModelNamespace {
    fn regex(&self) -> String {
        let escaped = regex::escape(&self.literal);
        if self.whole {
            format!("{escaped}$")
        } else {
            escaped
        }
    }

    /// `re.match` semantics, modelled without a regex engine.
    fn matches(&self, text: &str) -> bool {
        if self.whole {
            text == self.literal
        } else {
            text.starts_with(&self.literal)
        }
    }
}

#[derive(Debug, Clone)]
struct ModelService {
    sender_localpart: String,
    users: Vec<ModelNamespace>,
    aliases: Vec<ModelNamespace>,
    rooms: Vec<ModelNamespace>,
}

impl ModelService {
    fn user(&self, user_id: &str) -> bool {
        user_id == format!("@{}:{SERVER}", self.sender_localpart)
            || self.users.iter().any(|n| n.matches(user_id))
    }
}

const LOCALPARTS: [&str; 6] = ["a", "ab", "b", "_x", "_xy", "bot"];
const SERVERS: [&str; 2] = [SERVER, "other.org"];

fn user_id_strategy() -> impl Strategy<Value = String> {
    (
        prop::sample::select(LOCALPARTS.to_vec()),
        prop::sample::select(SERVERS.to_vec()),
    )
        .prop_map(|(localpart, server)| format!("@{localpart}:{server}"))
}

fn namespace_strategy(sigil: char, texts: Vec<String>) -> impl Strategy<Value = ModelNamespace> {
    (prop::sample::select(texts), any::<bool>(), 0usize..4).prop_map(move |(text, whole, cut)| {
        if whole {
            ModelNamespace {
                literal: text,
                whole,
            }
        } else {
            // A prefix of the text, at least the sigil.
            let keep = text.len().saturating_sub(cut).max(1);
            let literal: String = text.chars().take(keep).collect();
            debug_assert!(literal.starts_with(sigil));
            ModelNamespace { literal, whole }
        }
    })
}

fn all_users() -> Vec<String> {
    LOCALPARTS
        .iter()
        .flat_map(|l| SERVERS.iter().map(move |s| format!("@{l}:{s}")))
        .collect()
}

const ROOMS: [&str; 3] = ["!r1:example.org", "!r2:example.org", "!q:other.org"];
const ALIASES: [&str; 3] = ["#chan:example.org", "#c:example.org", "#x:other.org"];

fn service_strategy() -> impl Strategy<Value = ModelService> {
    let rooms: Vec<String> = ROOMS.iter().map(|s| (*s).to_owned()).collect();
    let aliases: Vec<String> = ALIASES.iter().map(|s| (*s).to_owned()).collect();
    (
        prop::sample::select(LOCALPARTS.to_vec()),
        prop::collection::vec(namespace_strategy('@', all_users()), 0..3),
        prop::collection::vec(namespace_strategy('#', aliases), 0..2),
        prop::collection::vec(namespace_strategy('!', rooms), 0..2),
    )
        .prop_map(|(sender, users, aliases, rooms)| ModelService {
            sender_localpart: format!("{sender}_as"),
            users,
            aliases,
            rooms,
        })
}

#[derive(Debug, Clone)]
struct ModelEvent {
    sender: String,
    member_target: Option<String>,
    room_id: String,
    aliases: Vec<String>,
    members: Vec<String>,
}

fn event_strategy() -> impl Strategy<Value = ModelEvent> {
    (
        user_id_strategy(),
        prop::option::of(user_id_strategy()),
        prop::sample::select(ROOMS.to_vec()),
        prop::sample::subsequence(ALIASES.to_vec(), 0..=3),
        prop::collection::vec(
            prop_oneof![
                user_id_strategy(),
                prop::sample::select(LOCALPARTS.to_vec()).prop_map(|l| format!("@{l}_as:{SERVER}"))
            ],
            0..4,
        ),
    )
        .prop_map(
            |(sender, member_target, room_id, aliases, members)| ModelEvent {
                sender,
                member_target,
                room_id: room_id.to_owned(),
                aliases: aliases.into_iter().map(str::to_owned).collect(),
                members,
            },
        )
}

fn namespaces_json(list: &[ModelNamespace]) -> Json {
    Json::Array(
        list.iter()
            .map(|n| json!({"exclusive": n.whole, "regex": n.regex()}))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_event_reaches_exactly_the_services_whose_namespaces_match(
        models in prop::collection::vec(service_strategy(), 1..5),
        model_event in event_strategy(),
    ) {
        let registrations: Vec<Registration> = models
            .iter()
            .enumerate()
            .map(|(index, model)| {
                let mut value = registration_json(&format!("s{index}"), json!({
                    "users": namespaces_json(&model.users),
                    "aliases": namespaces_json(&model.aliases),
                    "rooms": namespaces_json(&model.rooms),
                }));
                value["sender_localpart"] = json!(format!("{}{index}", model.sender_localpart));
                Registration::from_json(&value).unwrap()
            })
            .collect();
        let models: Vec<ModelService> = models
            .into_iter()
            .enumerate()
            .map(|(index, mut model)| {
                model.sender_localpart = format!("{}{index}", model.sender_localpart);
                model
            })
            .collect();
        let services = Registrations::new(registrations, &server()).unwrap();
        let pdu = match &model_event.member_target {
            Some(target) => {
                event(&model_event.sender, "m.room.member", Some(target), &model_event.room_id)
            }
            None => message(&model_event.sender, &model_event.room_id),
        };
        let room = RoomSnapshot::new(&model_event.aliases, &model_event.members);

        let expected: Vec<String> = models
            .iter()
            .enumerate()
            .filter(|(_, model)| {
                model.user(&model_event.sender)
                    || model_event.member_target.as_deref().is_some_and(|t| model.user(t))
                    || model.rooms.iter().any(|n| n.matches(&model_event.room_id))
                    || model_event
                        .aliases
                        .iter()
                        .any(|a| model.aliases.iter().any(|n| n.matches(a)))
                    || model_event.members.iter().any(|m| model.user(m))
            })
            .map(|(index, _)| format!("s{index}"))
            .collect();
        let actual: Vec<String> = services
            .interested_in_event(&pdu, &room)
            .into_iter()
            .map(|s| s.id().to_owned())
            .collect();
        prop_assert_eq!(&actual, &expected);
        let separate = services.clone().without_combined();
        let one_by_one: Vec<String> = separate
            .interested_in_event(&pdu, &room)
            .into_iter()
            .map(|s| s.id().to_owned())
            .collect();
        prop_assert_eq!(&one_by_one, &expected);
        for service in &services {
            prop_assert_eq!(
                service.is_interested_in_event(&pdu, &room),
                expected.iter().any(|id| id == service.id())
            );
        }

        // Exclusivity: the first matching user namespace decides, or the sender.
        for user in all_users() {
            let owner = services.exclusive_user_owner(&user).map(|s| s.id().to_owned());
            let modelled = models
                .iter()
                .enumerate()
                .find(|(_, model)| {
                    user == format!("@{}:{SERVER}", model.sender_localpart)
                        || model.users.iter().find(|n| n.matches(&user)).is_some_and(|n| n.whole)
                })
                .map(|(index, _)| format!("s{index}"));
            prop_assert_eq!(owner, modelled, "{}", user);
        }
    }
}
