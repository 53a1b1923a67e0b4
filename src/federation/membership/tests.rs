//! Tests of the membership handshakes: a resident built from this module's own
//! resident-side functions answers a joining handshake, and crafted answers exercise
//! each check of the joining side.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::crypto::{PublicKeys, SigningKey};
use crate::event::StateKey;
use crate::event::{EventBuilder, Pdu};
use crate::federation::error::{ErrorCode, MatrixError};
use crate::federation::outbound::{OutboundRequest, Reply};
use crate::id::{EventId, RoomId, ServerName, UserId};
use crate::json::{self, Object, Value};
use crate::room_version::{EventFormat, RoomVersion};
use crate::test_util::object;

const ALICE: &str = "@alice:a.example";
const CAROL: &str = "@carol:c.example";
const BOB: &str = "@bob:b.example";

fn key(server: &str) -> SigningKey {
    let seed = match server {
        "a.example" => 1,
        "b.example" => 2,
        "c.example" => 3,
        _ => 4,
    };
    SigningKey::from_seed("ed25519:k", [seed; 32])
}

fn keys() -> PublicKeys {
    let mut keys = PublicKeys::new();
    for server in ["a.example", "b.example", "c.example", "d.example"] {
        keys.insert(server, "ed25519:k", key(server).public_key());
    }
    keys
}

fn server(name: &str) -> ServerName {
    ServerName::parse(name).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// A room being built: its events, state and extremity.
struct Room {
    version: RoomVersion,
    room_id: String,
    events: Vec<Pdu>,
    state: BTreeMap<StateKey, Pdu>,
    last: Option<Pdu>,
    counter: u32,
}

impl Room {
    /// Create, Alice's join, power levels (Alice 100), join rules `rule`, and Carol's
    /// join.
    fn new(version: RoomVersion, rule: &str) -> Self {
        let mut room = Self {
            version,
            room_id: "!room:a.example".to_owned(),
            events: Vec::new(),
            state: BTreeMap::new(),
            last: None,
            counter: 0,
        };
        let mut create = format!(r#"{{"room_version":"{}""#, version.id);
        if version.auth.creator_in_content {
            create.push_str(&format!(r#","creator":"{ALICE}""#));
        }
        create.push('}');
        room.send(ALICE, "m.room.create", Some(""), &create);
        if version.room_id_from_create_event {
            room.room_id = room.events[0].room_id().as_str().to_owned();
        }
        room.send(
            ALICE,
            "m.room.member",
            Some(ALICE),
            r#"{"membership":"join"}"#,
        );
        let levels = if version.auth.creators_infinite_power {
            r#"{"users":{},"invite":0}"#.to_owned()
        } else {
            format!(r#"{{"users":{{"{ALICE}":100}},"invite":0}}"#)
        };
        room.send(ALICE, "m.room.power_levels", Some(""), &levels);
        let rules = if rule == "restricted" {
            r#"{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!other:a.example"}]}"#.to_owned()
        } else {
            format!(r#"{{"join_rule":"{rule}"}}"#)
        };
        room.send(ALICE, "m.room.join_rules", Some(""), &rules);
        if rule == "public" {
            room.send(
                CAROL,
                "m.room.member",
                Some(CAROL),
                r#"{"membership":"join"}"#,
            );
        }
        room
    }

    /// Builds an event over the current state and appends it to the room.
    fn send(&mut self, sender: &str, kind: &str, state_key: Option<&str>, content: &str) -> Pdu {
        let pdu = self.build(sender, kind, state_key, content, None);
        self.append(pdu.clone());
        pdu
    }

    fn append(&mut self, pdu: Pdu) {
        if let Some(key) = pdu.state_key() {
            self.state
                .insert(StateKey::new(pdu.event_type(), key), pdu.clone());
        }
        self.last = Some(pdu.clone());
        self.events.push(pdu);
    }

    /// Builds an event over the current state (or with the `auth` given).
    fn build(
        &mut self,
        sender: &str,
        kind: &str,
        state_key: Option<&str>,
        content: &str,
        auth: Option<Vec<EventId>>,
    ) -> Pdu {
        let version = self.version;
        let server = sender.split_once(':').unwrap().1;
        let mut builder = EventBuilder::new(&version, sender, kind)
            .content(object(content))
            .depth(self.events.len() as i64 + 1)
            .origin_server_ts(1_000 + self.events.len() as i64);
        if let Some(state_key) = state_key {
            builder = builder.state_key(state_key);
        }
        if !(version.room_id_from_create_event && kind == "m.room.create") {
            builder = builder.room_id(&self.room_id);
        }
        if version.event_format == EventFormat::EventIdInPdu {
            self.counter += 1;
            builder = builder.event_id(&format!("$e{}:{server}", self.counter));
        }
        if let Some(last) = &self.last {
            builder = builder.prev_event(last.event_id().as_str());
        }
        let auth = auth.unwrap_or_else(|| self.auth_for(sender, kind, state_key, content));
        for id in auth {
            builder = builder.auth_event(id.as_str());
        }
        builder.build(server, &key(server)).unwrap()
    }

    fn auth_for(
        &self,
        sender: &str,
        kind: &str,
        state_key: Option<&str>,
        content: &str,
    ) -> Vec<EventId> {
        if kind == "m.room.create" {
            return Vec::new();
        }
        let mut event = object(content);
        let content = Value::Object(event.clone());
        event = Object::new();
        event.insert("type", Value::from(kind));
        event.insert("sender", Value::from(sender));
        event.insert("content", content);
        if let Some(state_key) = state_key {
            event.insert("state_key", Value::from(state_key));
        }
        crate::auth::auth_types(&event, &self.version)
            .unwrap()
            .iter()
            .filter(|key| !(self.version.room_id_from_create_event && key.is("m.room.create", "")))
            .filter_map(|key| self.state.get(key))
            .map(|pdu| pdu.event_id().clone())
            .collect()
    }

    fn room_id(&self) -> RoomId {
        RoomId::parse(&self.room_id).unwrap()
    }

    fn create(&self) -> &Pdu {
        &self.events[0]
    }
}

/// Answers make_join and send_join for `room` as a resident at a.example would.
fn resident(room: &Room, request: &OutboundRequest, partial: bool) -> Reply {
    let version = room.version;
    let room_id = room.room_id();
    if request.uri.contains("/make_join/") {
        let bob = user(BOB);
        let origin = server("b.example");
        let versions = crate::federation::path::parse_query(
            request.uri.split_once('?').map_or("", |(_, query)| query),
        )
        .unwrap();
        let versions: Vec<String> = crate::federation::path::values(&versions, "ver")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let last = room.last.as_ref().unwrap();
        let extremities = [last];
        let params = TemplateParams::new(
            &version,
            &room_id,
            &bob,
            &origin,
            &room.state,
            &extremities,
            5_000,
        )
        .with_remote_versions(&versions);
        return match make_join_template(&params) {
            Ok(answer) => Reply::response(200, json::to_vec(&Value::Object(answer))),
            Err(error) => Reply::response(
                error.status(),
                format!(r#"{{"errcode":"{}"}}"#, error.errcode()),
            ),
        };
    }
    let body = json::to_vec(&Value::Object(request.body.clone().unwrap()));
    let join = Pdu::from_bytes(&body, &version).unwrap();
    let event_id = join.event_id().clone();
    let origin = server("b.example");
    let ours = server("a.example");
    let check = SendMembership::new(
        Membership::Join,
        &version,
        &room_id,
        &event_id,
        &origin,
        &ours,
    );
    let join = check_send_membership(&check, &body, &keys()).unwrap();
    let countersigned = join
        .content()
        .contains_key("join_authorised_via_users_server")
        .then(|| countersign(&join, &ours, &key("a.example")).unwrap());
    let state: Vec<&Pdu> = room.state.values().collect();
    let chain: Vec<&Pdu> = room.events.iter().filter(|pdu| pdu.is_state()).collect();
    let servers = [server("a.example"), server("c.example")];
    let mut answer = SendJoinAnswer::new(&state, &chain);
    if let Some(event) = &countersigned {
        answer = answer.with_event(event);
    }
    if partial {
        answer = answer.with_servers_in_room(&servers);
    }
    Reply::response(
        200,
        json::to_vec(&Value::Object(send_join_response(&answer))),
    )
}

fn params(room: &Room, candidates: &[&str]) -> HandshakeParams {
    HandshakeParams::new(
        user(BOB),
        room.room_id(),
        candidates.iter().map(|name| server(name)).collect(),
        server("b.example"),
        key("b.example"),
        7_000,
    )
}

/// Drives a join: `answer` replies to each request. Bounded.
fn drive(
    mut join: JoinHandshake,
    mut answer: impl FnMut(&OutboundRequest) -> Reply,
) -> Result<JoinedRoom, HandshakeError> {
    for _ in 0..50 {
        match join.poll() {
            Step::Send(request) => {
                let reply = answer(&request);
                join.provide_reply(request.id, reply);
            }
            Step::NeedKeys(needs) => {
                assert!(!needs.is_empty());
                join.provide_keys(&keys());
            }
            Step::Done(room) => return Ok(*room),
            Step::Failed(error) => return Err(error),
            Step::Waiting => panic!("waiting with nothing outstanding"),
        }
    }
    panic!("the handshake did not end");
}

/// A send_join answer for `room`, edited by `edit`, served after a real template.
fn join_with_edited_answer(
    room: &Room,
    partial: bool,
    edit: impl Fn(&mut Object),
) -> Result<JoinedRoom, HandshakeError> {
    let join = JoinHandshake::new(params(room, &["a.example"]).with_partial_state(partial));
    drive(join, |request| {
        let reply = resident(room, request, partial);
        if request.uri.contains("/make_join/") {
            return reply;
        }
        let Reply::Response { body, .. } = reply else {
            panic!()
        };
        let mut answer = object(std::str::from_utf8(&body).unwrap());
        edit(&mut answer);
        Reply::response(200, json::to_vec(&Value::Object(answer)))
    })
}

fn single_error(result: Result<JoinedRoom, HandshakeError>) -> AttemptError {
    let error = result.unwrap_err();
    assert_eq!(error.attempts().len(), 1, "{error:?}");
    error.attempts()[0].1.clone()
}

fn list_mut<'a>(answer: &'a mut Object, field: &str) -> &'a mut Vec<Value> {
    match answer.get_mut(field) {
        Some(Value::Array(items)) => items,
        _ => panic!("no {field}"),
    }
}

fn event_type(value: &Value) -> &str {
    value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[test]
fn joins_in_v1_v10_v11_v12() {
    for version in [
        RoomVersion::V1,
        RoomVersion::V10,
        RoomVersion::V11,
        RoomVersion::V12,
    ] {
        let room = Room::new(version, "public");
        let join = JoinHandshake::new(params(&room, &["a.example"]));
        let joined = drive(join, |request| resident(&room, request, false)).unwrap();
        assert_eq!(joined.version, version);
        assert_eq!(joined.resident, server("a.example"));
        assert!(joined.dropped.is_empty() && joined.rejected.is_empty());
        let bob = joined
            .state
            .get(&StateKey::new("m.room.member", BOB))
            .unwrap();
        assert_eq!(bob.event_id(), joined.join_event.event_id());
        assert_eq!(
            bob.prev_events(),
            [room.last.as_ref().unwrap().event_id().clone()]
        );
        let create = joined
            .state
            .get(&StateKey::new("m.room.create", ""))
            .unwrap();
        assert_eq!(create.event_id(), room.create().event_id());
        assert_eq!(joined.state.len(), room.state.len() + 1);
        if version.event_format == EventFormat::EventIdInPdu {
            // v1 references are `[id, {sha256}]` pairs and the event ID is ours.
            let refs = joined.join_event.as_object().get("auth_events").unwrap();
            assert!(refs.as_array().unwrap()[0].as_array().is_some());
            assert!(
                joined
                    .join_event
                    .event_id()
                    .as_str()
                    .ends_with(":b.example")
            );
        }
        let listed_create = joined.join_event.auth_events().contains(create.event_id());
        assert_eq!(listed_create, !version.room_id_from_create_event);
    }
}

#[test]
fn fails_over_from_a_404_to_the_next_server() {
    let room = Room::new(RoomVersion::V11, "public");
    let join = JoinHandshake::new(params(&room, &["d.example", "a.example"]));
    let mut seen = Vec::new();
    let joined = drive(join, |request| {
        seen.push(request.destination.as_str().to_owned());
        if request.destination.as_str() == "d.example" {
            return Reply::response(404, r#"{"errcode":"M_NOT_FOUND"}"#);
        }
        resident(&room, request, false)
    })
    .unwrap();
    assert_eq!(joined.resident, server("a.example"));
    assert_eq!(seen, ["d.example", "a.example", "a.example"]);
}

#[test]
fn a_ban_ends_the_handshake_without_trying_further() {
    let room = Room::new(RoomVersion::V11, "public");
    let join = JoinHandshake::new(params(&room, &["a.example", "d.example"]));
    let error = drive(join, |_| {
        Reply::response(403, r#"{"errcode":"M_FORBIDDEN"}"#)
    })
    .unwrap_err();
    assert_eq!(error.attempts().len(), 1);
    let transport = drive(
        JoinHandshake::new(params(&room, &["a.example", "d.example"])),
        |_| Reply::Failed,
    )
    .unwrap_err();
    assert_eq!(transport.attempts().len(), 2);
    assert!(matches!(
        drive(JoinHandshake::new(params(&room, &[])), |_| Reply::Failed),
        Err(HandshakeError::NoCandidates)
    ));
}

#[test]
fn bad_templates_move_to_the_next_server() {
    let room = Room::new(RoomVersion::V11, "public");
    type Edit = fn(&mut Object);
    let edits: [(&str, Edit); 5] = [
        ("sender", |event| {
            event.insert("sender", Value::from(CAROL));
        }),
        ("room_id", |event| {
            event.insert("room_id", Value::from("!other:a.example"));
        }),
        ("type", |event| {
            event.insert("type", Value::from("m.room.message"));
        }),
        ("state_key", |event| {
            event.insert("state_key", Value::from(CAROL));
        }),
        ("membership", |event| {
            event.insert(
                "content",
                Value::Object(object(r#"{"membership":"leave"}"#)),
            );
        }),
    ];
    for (field, edit) in edits {
        let join = JoinHandshake::new(params(&room, &["d.example", "a.example"]));
        let joined = drive(join, |request| {
            let reply = resident(&room, request, false);
            if request.destination.as_str() != "d.example" {
                return reply;
            }
            let Reply::Response { body, .. } = reply else {
                panic!()
            };
            let mut answer = object(std::str::from_utf8(&body).unwrap());
            edit(answer.get_mut("event").unwrap().as_object_mut().unwrap());
            Reply::response(200, json::to_vec(&Value::Object(answer)))
        })
        .unwrap();
        assert_eq!(joined.resident, server("a.example"), "{field}");
    }
}

#[test]
fn a_missing_room_version_means_version_1_only() {
    let room = Room::new(RoomVersion::V11, "public");
    let strip = |request: &OutboundRequest| {
        let Reply::Response { body, .. } = resident(&room, request, false) else {
            panic!()
        };
        let mut answer = object(std::str::from_utf8(&body).unwrap());
        if request.uri.contains("/make_join/") {
            answer.remove("room_version");
        }
        Reply::response(200, json::to_vec(&Value::Object(answer)))
    };
    let error = drive(JoinHandshake::new(params(&room, &["a.example"])), strip).unwrap_err();
    // Taken as version 1, whose event format the v11 template does not fit (it has
    // no event ID) or whose create event disagrees: never as 11.
    assert!(!error.attempts().is_empty());
    let v11_only = params(&room, &["a.example"]).with_supported_versions(vec![RoomVersion::V11]);
    let error = drive(JoinHandshake::new(v11_only), strip).unwrap_err();
    assert_eq!(
        error.attempts()[0].1,
        AttemptError::UnsupportedRoomVersion {
            room_version: "1".to_owned()
        }
    );
}

#[test]
fn no_create_event_in_state_fails() {
    let room = Room::new(RoomVersion::V11, "public");
    let result = join_with_edited_answer(&room, false, |answer| {
        list_mut(answer, "state").retain(|event| event_type(event) != "m.room.create");
    });
    assert_eq!(single_error(result), AttemptError::MissingCreate);
}

#[test]
fn a_foreign_create_in_the_auth_chain_fails() {
    let room = Room::new(RoomVersion::V11, "public");
    let mut other = Room::new(RoomVersion::V11, "public");
    other.room_id = room.room_id.clone();
    other.events.clear();
    other.last = None;
    let foreign = other.build(
        CAROL,
        "m.room.create",
        Some(""),
        r#"{"room_version":"11","creator":"@carol:c.example"}"#,
        None,
    );
    let result = join_with_edited_answer(&room, false, |answer| {
        list_mut(answer, "auth_chain").push(Value::Object(foreign.as_object().clone()));
    });
    assert!(matches!(
        single_error(result),
        AttemptError::ForeignCreate { .. }
    ));
}

#[test]
fn a_create_of_another_version_fails() {
    let room = Room::new(RoomVersion::V10, "public");
    let only_11 = params(&room, &["a.example"]);
    let join = JoinHandshake::new(only_11);
    let result = drive(join, |request| {
        let Reply::Response { body, .. } = resident(&room, request, false) else {
            panic!()
        };
        let mut answer = object(std::str::from_utf8(&body).unwrap());
        if request.uri.contains("/make_join/") {
            answer.insert("room_version", Value::from("9"));
        }
        Reply::response(200, json::to_vec(&Value::Object(answer)))
    });
    assert!(matches!(
        single_error(result),
        AttemptError::CreateVersionMismatch { .. }
    ));
}

#[test]
fn a_badly_signed_member_is_dropped_and_the_join_succeeds() {
    for version in [RoomVersion::V10, RoomVersion::V12] {
        let room = Room::new(version, "public");
        // A signature that is valid base64 but made by another key over other bytes
        // (the event ID, which signatures do not cover, stays the same).
        let foreign = room.create().as_object().get("signatures").unwrap();
        let foreign = foreign
            .get("a.example")
            .unwrap()
            .get("ed25519:k")
            .unwrap()
            .clone();
        let joined = join_with_edited_answer(&room, false, |answer| {
            for list in ["state", "auth_chain"] {
                for event in list_mut(answer, list) {
                    if event.get("state_key").and_then(Value::as_str) == Some(CAROL) {
                        let event = event.as_object_mut().unwrap();
                        let mut by_carol = Object::new();
                        by_carol.insert("ed25519:k", foreign.clone());
                        let mut signatures = Object::new();
                        signatures.insert("c.example", Value::Object(by_carol));
                        event.insert("signatures", Value::Object(signatures));
                    }
                }
            }
        })
        .unwrap();
        let carol = room
            .state
            .get(&StateKey::new("m.room.member", CAROL))
            .unwrap();
        assert!(joined.dropped.iter().any(|dropped| {
            dropped.event_id.as_ref() == Some(carol.event_id())
                && matches!(dropped.reason, DropReason::Signatures(_))
        }));
        assert!(
            !joined
                .state
                .contains_key(&StateKey::new("m.room.member", CAROL))
        );
        assert!(
            joined
                .state
                .contains_key(&StateKey::new("m.room.member", BOB))
        );
    }
}

#[test]
fn an_auth_event_rejected_by_the_rules_taints_its_dependants() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let carol_join = room
        .state
        .get(&StateKey::new("m.room.member", CAROL))
        .unwrap()
        .clone();
    let create = room.create().event_id().clone();
    let levels = room
        .state
        .get(&StateKey::new("m.room.power_levels", ""))
        .unwrap()
        .clone();
    // Carol (level 0) tries to raise herself: rejected by the power-levels rules.
    let bad_levels = room.build(
        CAROL,
        "m.room.power_levels",
        Some(""),
        r#"{"users":{"@carol:c.example":100}}"#,
        Some(vec![
            create.clone(),
            levels.event_id().clone(),
            carol_join.event_id().clone(),
        ]),
    );
    let topic = room.build(
        CAROL,
        "m.room.topic",
        Some(""),
        r#"{"topic":"mine"}"#,
        Some(vec![
            create,
            bad_levels.event_id().clone(),
            carol_join.event_id().clone(),
        ]),
    );
    let joined = join_with_edited_answer(&room, false, |answer| {
        list_mut(answer, "auth_chain").push(Value::Object(bad_levels.as_object().clone()));
        list_mut(answer, "state").push(Value::Object(topic.as_object().clone()));
    })
    .unwrap();
    let reasons: BTreeMap<&EventId, &RejectReason> = joined
        .rejected
        .iter()
        .map(|(id, reason)| (id, reason))
        .collect();
    assert!(matches!(
        reasons.get(bad_levels.event_id()),
        Some(RejectReason::Rules(_))
    ));
    assert_eq!(
        reasons.get(topic.event_id()),
        Some(&&RejectReason::AuthEventRejected {
            event_id: bad_levels.event_id().clone()
        })
    );
    assert!(
        !joined
            .state
            .contains_key(&StateKey::new("m.room.topic", ""))
    );
    assert_eq!(
        joined
            .state
            .get(&StateKey::new("m.room.power_levels", ""))
            .unwrap()
            .event_id(),
        levels.event_id()
    );
}

#[test]
fn a_duplicate_state_key_fails() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let second = room.build(
        ALICE,
        "m.room.join_rules",
        Some(""),
        r#"{"join_rule":"public"}"#,
        None,
    );
    let result = join_with_edited_answer(&room, false, |answer| {
        list_mut(answer, "state").push(Value::Object(second.as_object().clone()));
    });
    assert!(matches!(
        single_error(result),
        AttemptError::DuplicateState { .. }
    ));
}

#[test]
fn non_state_events_are_dropped() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let message = room.build(ALICE, "m.room.message", None, r#"{"body":"hi"}"#, None);
    let joined = join_with_edited_answer(&room, false, |answer| {
        list_mut(answer, "auth_chain").push(Value::Object(message.as_object().clone()));
    })
    .unwrap();
    assert_eq!(joined.dropped.len(), 1);
    assert_eq!(joined.dropped[0].reason, DropReason::NotState);
}

#[test]
fn members_omitted_needs_servers_and_a_request() {
    let room = Room::new(RoomVersion::V11, "public");
    let result = join_with_edited_answer(&room, true, |answer| {
        answer.remove("servers_in_room");
    });
    assert!(matches!(
        single_error(result),
        AttemptError::MembersOmitted { .. }
    ));
    let result = join_with_edited_answer(&room, false, |answer| {
        answer.insert("members_omitted", Value::Bool(true));
        answer.insert(
            "servers_in_room",
            Value::Array(vec![Value::from("a.example")]),
        );
    });
    assert!(matches!(
        single_error(result),
        AttemptError::MembersOmitted { .. }
    ));
    let joined = join_with_edited_answer(&room, true, |_| {}).unwrap();
    assert_eq!(
        joined.partial,
        Some(vec![server("a.example"), server("c.example")])
    );
}

#[test]
fn a_partial_answer_authorizes_the_join_with_the_auth_chain() {
    let room = Room::new(RoomVersion::V11, "public");
    let ids: BTreeMap<StateKey, EventId> = room
        .state
        .iter()
        .map(|(key, pdu)| (key.clone(), pdu.event_id().clone()))
        .collect();
    let selected = partial_state_selection(&ids, &user(BOB), &[]);
    // Heroes are needed: the room has no name; with none given only non-members.
    assert_eq!(selected.len(), room.state.len() - 2);
    let with_hero = partial_state_selection(&ids, &user(BOB), &[user(CAROL)]);
    assert_eq!(with_hero.len(), room.state.len() - 1);
    let joined = join_with_edited_answer(&room, true, |answer| {
        list_mut(answer, "state").retain(|event| event_type(event) != "m.room.member");
    })
    .unwrap();
    assert!(joined.partial.is_some());
    assert!(
        joined
            .state
            .contains_key(&StateKey::new("m.room.member", BOB))
    );
}

#[test]
fn a_returned_event_must_be_ours() {
    let room = Room::new(RoomVersion::V11, "public");
    let other = room
        .state
        .get(&StateKey::new("m.room.member", CAROL))
        .unwrap()
        .clone();
    let result = join_with_edited_answer(&room, false, |answer| {
        answer.insert("event", Value::Object(other.as_object().clone()));
    });
    assert!(matches!(
        single_error(result),
        AttemptError::EventMismatch { .. }
    ));
}

#[test]
fn restricted_joins_are_countersigned() {
    let mut room = Room::new(RoomVersion::V10, "restricted");
    let alice = user(ALICE);
    let bob = user(BOB);
    let origin = server("b.example");
    let room_id = room.room_id();
    let last = room.last.clone().unwrap();
    let extremities = [&last];
    let versions = vec!["10".to_owned()];
    let base = TemplateParams::new(
        &room.version,
        &room_id,
        &bob,
        &origin,
        &room.state,
        &extremities,
        1,
    )
    .with_remote_versions(&versions);
    assert_eq!(
        make_join_template(&base).unwrap_err(),
        MembershipError::UnableToGrantJoin
    );
    assert_eq!(
        MembershipError::UnableToGrantJoin.errcode(),
        ErrorCode::UnableToGrantJoin
    );
    let template = make_join_template(&base.with_authorising_user(&alice)).unwrap();
    let content = template.get("event").unwrap().get("content").unwrap();
    assert_eq!(
        content
            .get("join_authorised_via_users_server")
            .and_then(Value::as_str),
        Some(ALICE)
    );
    // Alice's membership is among the auth events.
    let alice_join = room
        .state
        .get(&StateKey::new("m.room.member", ALICE))
        .unwrap();
    let auth = template.get("event").unwrap().get("auth_events").unwrap();
    assert!(
        auth.as_array()
            .unwrap()
            .contains(&Value::from(alice_join.event_id().as_str()))
    );
    room.last = Some(last);
    let join = JoinHandshake::new(params(&room, &["a.example"]));
    let joined = drive(join, |request| {
        if request.uri.contains("/make_join/") {
            return Reply::response(200, json::to_vec(&Value::Object(template.clone())));
        }
        resident(&room, request, false)
    })
    .unwrap();
    let signatures = joined.join_event.as_object().get("signatures").unwrap();
    assert!(signatures.get("a.example").is_some() && signatures.get("b.example").is_some());
}

#[test]
fn templates_are_refused_with_the_spec_codes() {
    let room = Room::new(RoomVersion::V11, "invite");
    let bob = user(BOB);
    let room_id = room.room_id();
    let last = room.last.clone().unwrap();
    let extremities = [&last];
    let origin = server("b.example");
    let base = TemplateParams::new(
        &room.version,
        &room_id,
        &bob,
        &origin,
        &room.state,
        &extremities,
        1,
    );
    let error = make_join_template(&base).unwrap_err();
    assert_eq!(error.errcode(), ErrorCode::IncompatibleRoomVersion);
    let versions = vec!["11".to_owned()];
    let listed = base.with_remote_versions(&versions);
    assert!(matches!(
        make_join_template(&listed).unwrap_err(),
        MembershipError::NotAuthorized(_)
    ));
    let other_origin = server("c.example");
    let mut wrong = listed;
    wrong.origin = &other_origin;
    assert_eq!(make_join_template(&wrong).unwrap_err().status(), 403);
    assert!(matches!(
        make_knock_template(&base).unwrap_err(),
        MembershipError::MissingParam { name: "ver" }
    ));
    assert!(matches!(
        make_leave_template(&listed).unwrap_err(),
        MembershipError::NotAuthorized(_)
    ));
    let knock_room = Room::new(RoomVersion::V11, "knock");
    let knock_last = knock_room.last.clone().unwrap();
    let knock_extremities = [&knock_last];
    let knock_id = knock_room.room_id();
    let knock = TemplateParams::new(
        &knock_room.version,
        &knock_id,
        &bob,
        &origin,
        &knock_room.state,
        &knock_extremities,
        1,
    )
    .with_remote_versions(&versions);
    let template = make_knock_template(&knock).unwrap();
    assert_eq!(
        template
            .get("event")
            .unwrap()
            .get("content")
            .unwrap()
            .get("membership"),
        Some(&Value::from("knock"))
    );
    let v6 = Room::new(RoomVersion::V6, "invite");
    let v6_last = v6.last.clone().unwrap();
    let v6_extremities = [&v6_last];
    let v6_id = v6.room_id();
    let v6_versions = vec!["6".to_owned()];
    let v6_params = TemplateParams::new(
        &v6.version,
        &v6_id,
        &bob,
        &origin,
        &v6.state,
        &v6_extremities,
        1,
    )
    .with_remote_versions(&v6_versions);
    assert!(matches!(
        make_knock_template(&v6_params).unwrap_err(),
        MembershipError::KnockNotSupported { .. }
    ));
}

#[test]
fn send_join_bodies_are_checked_against_the_path() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let join = room.build(
        BOB,
        "m.room.member",
        Some(BOB),
        r#"{"membership":"join"}"#,
        None,
    );
    let body = join.to_canonical_bytes();
    let room_id = room.room_id();
    let (origin, ours) = (server("b.example"), server("a.example"));
    let event_id = join.event_id().clone();
    let for_carol = room.build(
        BOB,
        "m.room.member",
        Some(CAROL),
        r#"{"membership":"join"}"#,
        None,
    );
    let version = room.version;
    let check =
        |membership, room_id: &RoomId, event_id: &EventId, origin: &ServerName, body: &[u8]| {
            let request =
                SendMembership::new(membership, &version, room_id, event_id, origin, &ours);
            check_send_membership(&request, body, &keys())
        };
    assert!(check(Membership::Join, &room_id, &event_id, &origin, &body).is_ok());
    let other_room = RoomId::parse("!other:a.example").unwrap();
    let code = |result: Result<Pdu, MembershipError>| result.unwrap_err().errcode();
    assert_eq!(
        code(check(
            Membership::Join,
            &other_room,
            &event_id,
            &origin,
            &body
        )),
        ErrorCode::InvalidParam
    );
    let other_event = EventId::parse(&format!("${}", "A".repeat(43))).unwrap();
    assert_eq!(
        code(check(
            Membership::Join,
            &room_id,
            &other_event,
            &origin,
            &body
        )),
        ErrorCode::InvalidParam
    );
    assert_eq!(
        code(check(
            Membership::Leave,
            &room_id,
            &event_id,
            &origin,
            &body
        )),
        ErrorCode::BadJson
    );
    let carol_server = server("c.example");
    assert_eq!(
        code(check(
            Membership::Join,
            &room_id,
            &event_id,
            &carol_server,
            &body
        )),
        ErrorCode::Forbidden
    );
    let forged = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"depth\":6", "\"depth\":9");
    assert_ne!(forged.as_bytes(), body.as_slice());
    assert!(
        check(
            Membership::Join,
            &room_id,
            &event_id,
            &origin,
            forged.as_bytes()
        )
        .is_err()
    );
    assert_eq!(
        code(check(Membership::Join, &room_id, &event_id, &origin, b"{")),
        ErrorCode::NotJson
    );
    let carol_id = for_carol.event_id().clone();
    let result = check(
        Membership::Join,
        &room_id,
        &carol_id,
        &origin,
        &for_carol.to_canonical_bytes(),
    );
    assert!(matches!(
        result,
        Err(MembershipError::Mismatch {
            field: "state_key",
            ..
        })
    ));
}

#[test]
fn send_join_response_shape() {
    let room = Room::new(RoomVersion::V11, "public");
    let state: Vec<&Pdu> = room.state.values().collect();
    let ids: BTreeSet<EventId> = state.iter().map(|pdu| pdu.event_id().clone()).collect();
    let events: BTreeMap<EventId, Pdu> = room
        .events
        .iter()
        .map(|pdu| (pdu.event_id().clone(), pdu.clone()))
        .collect();
    let join = room.events.last().unwrap();
    let chain = send_join_auth_chain(&events, &ids, join, false).unwrap();
    assert!(chain.contains(room.create().event_id()));
    let partial = send_join_auth_chain(&events, &ids, join, true).unwrap();
    assert!(partial.iter().all(|id| !ids.contains(id)));
    let body = send_join_response(&SendJoinAnswer::new(&state, &[]));
    assert_eq!(body.get("members_omitted"), Some(&Value::Bool(false)));
    assert!(body.get("servers_in_room").is_none());
    assert_eq!(
        body.get("state").unwrap().as_array().unwrap().len(),
        state.len()
    );
}

/// An invite from Carol (c.example) to Dave at d.example.
fn invite(room: &mut Room) -> Pdu {
    room.send(
        CAROL,
        "m.room.member",
        Some("@dave:d.example"),
        r#"{"membership":"invite"}"#,
    )
}

#[test]
fn incoming_invites_in_both_state_forms() {
    for version in [RoomVersion::V11, RoomVersion::V12] {
        let mut room = Room::new(version, "public");
        let pdu = invite(&mut room);
        let room_id = room.room_id();
        let (origin, ours) = (server("c.example"), server("d.example"));
        let request = InviteRequest::new(InviteApi::V2, &room_id, pdu.event_id(), &origin, &ours);
        let state: Vec<&Pdu> = room
            .state
            .values()
            .filter(|pdu| pdu.event_type() != "m.room.member")
            .collect();
        let full = invite_v2_body(&pdu, &state);
        let incoming =
            check_incoming_invite(&request, &json::to_vec(&Value::Object(full)), &keys()).unwrap();
        assert_eq!(incoming.room_state().len(), state.len());
        assert!(incoming.unverified_room_state(&keys()).is_empty());
        assert!(matches!(incoming.room_state()[0], InviteStateEvent::Pdu(_)));
        // Legacy stripped form.
        let mut stripped = invite_v2_body(&pdu, &[]);
        let entries = state
            .iter()
            .map(|pdu| {
                let mut entry = Object::new();
                for field in ["type", "state_key", "sender", "content"] {
                    entry.insert(field, pdu.as_object().get(field).unwrap().clone());
                }
                Value::Object(entry)
            })
            .collect();
        stripped.insert("invite_room_state", Value::Array(entries));
        let result =
            check_incoming_invite(&request, &json::to_vec(&Value::Object(stripped)), &keys());
        if version.room_id_from_create_event {
            // v12 needs the create event as a PDU.
            assert!(matches!(
                result,
                Err(MembershipError::InvalidRoomStateEvent { .. })
            ));
        } else {
            let incoming = result.unwrap();
            assert!(matches!(
                incoming.room_state()[0],
                InviteStateEvent::Stripped { .. }
            ));
        }
        // Our countersignature, and the inviter's check of it.
        let answer = invite_response(&incoming, &ours, &key("d.example")).unwrap();
        let signed = check_invite_response(&json::to_vec(&answer), &pdu, &ours, &keys()).unwrap();
        assert_eq!(signed.event_id(), pdu.event_id());
        let unsigned = check_invite_response(
            &json::to_vec(&Value::Object(invite_v2_body(&pdu, &[]))),
            &pdu,
            &ours,
            &keys(),
        );
        assert!(unsigned.is_err());
    }
}

#[test]
fn v12_invite_state_must_be_of_this_room() {
    let mut room = Room::new(RoomVersion::V12, "public");
    let mut other = Room::new(RoomVersion::V12, "invite");
    other.events.clear();
    other.last = None;
    let content = r#"{"room_version":"12"}"#;
    let foreign = other.build(CAROL, "m.room.create", Some(""), content, None);
    assert_ne!(foreign.room_id(), room.create().room_id());
    let pdu = invite(&mut room);
    let room_id = room.room_id();
    let (origin, ours) = (server("c.example"), server("d.example"));
    let request = InviteRequest::new(InviteApi::V2, &room_id, pdu.event_id(), &origin, &ours);
    let body = invite_v2_body(&pdu, &[&foreign]);
    let result = check_incoming_invite(&request, &json::to_vec(&Value::Object(body)), &keys());
    assert!(matches!(
        result,
        Err(MembershipError::InvalidRoomStateEvent { .. })
    ));
}

#[test]
fn incoming_invites_are_checked() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let pdu = invite(&mut room);
    let room_id = room.room_id();
    let ours = server("d.example");
    let body = json::to_vec(&Value::Object(invite_v2_body(&pdu, &[room.create()])));
    let wrong_origin = server("a.example");
    let request = InviteRequest::new(
        InviteApi::V2,
        &room_id,
        pdu.event_id(),
        &wrong_origin,
        &ours,
    );
    assert_eq!(
        check_incoming_invite(&request, &body, &keys())
            .unwrap_err()
            .status(),
        403
    );
    let origin = server("c.example");
    let not_ours = server("e.example");
    let request = InviteRequest::new(InviteApi::V2, &room_id, pdu.event_id(), &origin, &not_ours);
    assert!(matches!(
        check_incoming_invite(&request, &body, &keys()),
        Err(MembershipError::NotLocalUser { .. })
    ));
    let request = InviteRequest::new(InviteApi::V2, &room_id, pdu.event_id(), &origin, &ours);
    let mut unknown = invite_v2_body(&pdu, &[]);
    unknown.insert("room_version", Value::from("99"));
    let result = check_incoming_invite(&request, &json::to_vec(&Value::Object(unknown)), &keys());
    assert_eq!(
        result.unwrap_err().errcode(),
        ErrorCode::UnsupportedRoomVersion
    );
    assert!(matches!(
        check_incoming_invite(&request, &body, &PublicKeys::new()),
        Err(MembershipError::BadSignature { .. })
    ));
    // v1 API: the body is the event itself.
    let mut v1_room = Room::new(RoomVersion::V1, "public");
    let v1_invite = invite(&mut v1_room);
    let v1_id = v1_room.room_id();
    let v1 = InviteRequest::new(InviteApi::V1, &v1_id, v1_invite.event_id(), &origin, &ours);
    let incoming = check_incoming_invite(&v1, &v1_invite.to_canonical_bytes(), &keys()).unwrap();
    let answer = invite_response(&incoming, &ours, &key("d.example")).unwrap();
    assert_eq!(answer.as_array().map(<[Value]>::len), Some(2));
}

/// Drives a leave or knock handshake against `answer`.
fn drive_steps<T: std::fmt::Debug>(
    mut poll: impl FnMut() -> Step<T>,
    mut reply: impl FnMut(OutboundRequest),
) -> Result<T, HandshakeError> {
    for _ in 0..20 {
        match poll() {
            Step::Send(request) => reply(request),
            Step::Done(done) => return Ok(*done),
            Step::Failed(error) => return Err(error),
            other => panic!("unexpected step {other:?}"),
        }
    }
    panic!("the handshake did not end");
}

#[test]
fn leave_and_knock_handshakes() {
    let mut room = Room::new(RoomVersion::V11, "knock");
    room.send(BOB, "m.room.member", Some(BOB), r#"{"membership":"knock"}"#);
    let last = room.last.clone().unwrap();
    let room_id = room.room_id();
    let (bob, origin) = (user(BOB), server("b.example"));
    let template = {
        let extremities = [&last];
        let params = TemplateParams::new(
            &room.version,
            &room_id,
            &bob,
            &origin,
            &room.state,
            &extremities,
            1,
        );
        make_leave_template(&params).unwrap()
    };
    let leave = std::cell::RefCell::new(LeaveHandshake::new(params(&room, &["a.example"])));
    let left = drive_steps(
        || leave.borrow_mut().poll(),
        |request| {
            let reply = if request.uri.contains("/make_leave/") {
                Reply::response(200, json::to_vec(&Value::Object(template.clone())))
            } else {
                Reply::response(200, "{}")
            };
            leave.borrow_mut().provide_reply(request.id, reply);
        },
    )
    .unwrap();
    assert_eq!(left.leave_event.membership(), Some("leave"));

    let knock_room = Room::new(RoomVersion::V11, "knock");
    let knock_last = knock_room.last.clone().unwrap();
    let knock_id = knock_room.room_id();
    let versions = vec!["11".to_owned()];
    let template = {
        let extremities = [&knock_last];
        let params = TemplateParams::new(
            &knock_room.version,
            &knock_id,
            &bob,
            &origin,
            &knock_room.state,
            &extremities,
            1,
        )
        .with_remote_versions(&versions);
        make_knock_template(&params).unwrap()
    };
    let state_answer = |with_create: bool| {
        let state: Vec<Value> = knock_room
            .state
            .values()
            .filter(|pdu| with_create || pdu.event_type() != "m.room.create")
            .map(|pdu| Value::Object(pdu.as_object().clone()))
            .collect();
        let mut answer = Object::new();
        answer.insert("knock_room_state", Value::Array(state));
        json::to_vec(&Value::Object(answer))
    };
    for with_create in [true, false] {
        let knock =
            std::cell::RefCell::new(KnockHandshake::new(params(&knock_room, &["a.example"])));
        let result = drive_steps(
            || knock.borrow_mut().poll(),
            |request| {
                let reply = if request.uri.contains("/make_knock/") {
                    Reply::response(200, json::to_vec(&Value::Object(template.clone())))
                } else {
                    Reply::response(200, state_answer(with_create))
                };
                knock.borrow_mut().provide_reply(request.id, reply);
            },
        );
        assert_eq!(result.is_ok(), with_create);
        if let Ok(knocked) = result {
            assert_eq!(knocked.knock_event.membership(), Some("knock"));
            assert_eq!(knocked.knock_room_state.len(), knock_room.state.len());
        }
    }
}

#[test]
fn key_needs_name_every_signer() {
    let room = Room::new(RoomVersion::V11, "public");
    let mut join = JoinHandshake::new(params(&room, &["a.example"]));
    let mut needs = None;
    for _ in 0..10 {
        match join.poll() {
            Step::Send(request) => {
                let reply = resident(&room, &request, false);
                join.provide_reply(request.id, reply);
            }
            Step::NeedKeys(found) => {
                needs = Some(found);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let needs = needs.unwrap();
    let servers: Vec<&str> = needs.iter().map(|need| need.server.as_str()).collect();
    assert_eq!(servers, ["a.example", "c.example"]);
    assert!(needs.iter().all(|need| need.key_ids.contains("ed25519:k")));
    assert!(matches!(join.poll(), Step::NeedKeys(_)));
}

#[test]
fn a_partial_state_resident_refuses_send_join() {
    let mut room = Room::new(RoomVersion::V11, "public");
    let join = room.build(
        BOB,
        "m.room.member",
        Some(BOB),
        r#"{"membership":"join"}"#,
        None,
    );
    let room_id = room.room_id();
    let (origin, ours) = (server("b.example"), server("a.example"));
    let request = SendMembership::new(
        Membership::Join,
        &room.version,
        &room_id,
        join.event_id(),
        &origin,
        &ours,
    )
    .with_partial_state(true);
    let error = check_send_membership(&request, &join.to_canonical_bytes(), &keys()).unwrap_err();
    assert_eq!(error, MembershipError::PartialState);
    assert_eq!(error.status(), 404);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Law: the joined room does not depend on the order of the answer's lists.
    #[test]
    fn validation_ignores_list_order(seed in 0u64..1_000, version in 0usize..3) {
        let version = [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12][version];
        let room = Room::new(version, "public");
        let baseline = join_with_edited_answer(&room, false, |_| {}).unwrap();
        let shuffled = join_with_edited_answer(&room, false, |answer| {
            for list in ["state", "auth_chain"] {
                let items = list_mut(answer, list);
                let len = items.len();
                for index in 0..len {
                    let other = (seed as usize).wrapping_mul(31).wrapping_add(index * 7) % len;
                    items.swap(index, other);
                }
            }
        })
        .unwrap();
        let ids = |room: &JoinedRoom| -> BTreeMap<StateKey, EventId> {
            room.state.iter().map(|(key, pdu)| (key.clone(), pdu.event_id().clone())).collect()
        };
        let (base_ids, shuffled_ids) = (ids(&baseline), ids(&shuffled));
        proptest::prop_assert_eq!(base_ids, shuffled_ids);
        proptest::prop_assert!(shuffled.dropped.is_empty() && shuffled.rejected.is_empty());
    }
}

#[test]
fn the_auth_chain_comes_in_auth_order() {
    let room = Room::new(RoomVersion::V11, "public");
    let joined = join_with_edited_answer(&room, true, |answer| {
        list_mut(answer, "state").retain(|event| event_type(event) != "m.room.member");
        list_mut(answer, "auth_chain").reverse();
    })
    .unwrap();
    let mut seen = BTreeSet::new();
    for pdu in &joined.auth_chain {
        for auth in pdu.auth_events() {
            assert!(
                seen.contains(auth) || joined.state.values().any(|s| s.event_id() == auth),
                "{} before its auth event {auth}",
                pdu.event_id()
            );
        }
        seen.insert(pdu.event_id().clone());
    }
    assert_eq!(joined.auth_chain.len(), 2);
}

#[test]
fn knocks_are_refused_where_the_version_has_none() {
    let mut room = Room::new(RoomVersion::V6, "invite");
    let knock = room.build(
        BOB,
        "m.room.member",
        Some(BOB),
        r#"{"membership":"join"}"#,
        None,
    );
    let room_id = room.room_id();
    let (origin, ours) = (server("b.example"), server("a.example"));
    let request = SendMembership::new(
        Membership::Knock,
        &room.version,
        &room_id,
        knock.event_id(),
        &origin,
        &ours,
    );
    let error = check_send_membership(&request, &knock.to_canonical_bytes(), &keys()).unwrap_err();
    assert_eq!(error.errcode(), ErrorCode::Forbidden);
}
