use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::crypto::{PublicKeys, SigningKey};
use crate::event::StateKey;
use crate::event::{EventBuilder, Pdu, ReceiveError};
use crate::federation::outbound::{Method, OutboundRequest, Reply};
use crate::id::{EventId, RoomId, ServerName};
use crate::json::{self, Object, Value};
use crate::room_version::RoomVersion;
use crate::test_util::object;

const ALICE: &str = "@alice:a.example";
const BOB: &str = "@bob:b.example";

fn signing_key(server: &str) -> SigningKey {
    let seed = if server == "a.example" { 1 } else { 2 };
    SigningKey::from_seed("ed25519:k", [seed; 32])
}

fn all_keys() -> PublicKeys {
    let mut keys = PublicKeys::new();
    for server in ["a.example", "b.example"] {
        keys.insert(server, "ed25519:k", signing_key(server).public_key());
    }
    keys
}

/// A room of `version` with named, really signed events: create, Alice's join, power
/// levels (Bob may set the topic), public join rules, Bob's join.
struct Fixture {
    version: RoomVersion,
    room_id: RoomId,
    events: BTreeMap<&'static str, Pdu>,
}

impl Fixture {
    fn new(version: RoomVersion) -> Self {
        let mut create_content = object(&format!(r#"{{"room_version":"{}"}}"#, version.id));
        if !version.room_id_from_create_event {
            create_content.insert("creator", Value::from(ALICE));
        }
        let mut create = EventBuilder::new(&version, ALICE, "m.room.create")
            .state_key("")
            .content(create_content)
            .depth(1)
            .origin_server_ts(1);
        if !version.room_id_from_create_event {
            create = create.room_id("!r:a.example");
        }
        let create = create
            .build("a.example", &signing_key("a.example"))
            .unwrap();
        let mut fixture = Self {
            version,
            room_id: create.room_id().clone(),
            events: BTreeMap::new(),
        };
        fixture.events.insert("create", create);
        let users = if version.room_id_from_create_event {
            "{}".to_owned()
        } else {
            format!(r#"{{"{ALICE}":100}}"#)
        };
        let power = format!(r#"{{"users":{users},"events":{{"m.room.topic":0}}}}"#);
        fixture.state(
            "alice_join",
            ALICE,
            "m.room.member",
            ALICE,
            JOIN,
            &["create"],
            &["create"],
        );
        let auth = ["create", "alice_join"];
        fixture.state(
            "power",
            ALICE,
            "m.room.power_levels",
            "",
            &power,
            &["alice_join"],
            &auth,
        );
        let auth = ["create", "alice_join", "power"];
        let rules = r#"{"join_rule":"public"}"#;
        fixture.state(
            "rules",
            ALICE,
            "m.room.join_rules",
            "",
            rules,
            &["power"],
            &auth,
        );
        let auth = ["create", "power", "rules"];
        fixture.state(
            "bob_join",
            BOB,
            "m.room.member",
            BOB,
            JOIN,
            &["rules"],
            &auth,
        );
        fixture
    }

    fn id(&self, name: &str) -> EventId {
        self.events[name].event_id().clone()
    }

    /// Builds and names an event; depth is one more than the deepest prev.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        name: &'static str,
        sender: &str,
        kind: &str,
        state_key: Option<&str>,
        content: &str,
        prevs: &[&str],
        auth: &[&str],
    ) -> Pdu {
        let server = ServerName::parse(sender.split(':').nth(1).unwrap()).unwrap();
        let depth = prevs
            .iter()
            .map(|p| self.events[p].depth())
            .max()
            .unwrap_or(0)
            + 1;
        let mut builder = EventBuilder::new(&self.version, sender, kind)
            .room_id(self.room_id.as_str())
            .content(object(content))
            .depth(depth)
            .origin_server_ts(depth * 1000);
        if let Some(state_key) = state_key {
            builder = builder.state_key(state_key);
        }
        for prev in prevs {
            builder = builder.prev_event(self.events[prev].event_id().as_str());
        }
        for name in auth {
            if *name == "create" && self.version.room_id_from_create_event {
                continue;
            }
            builder = builder.auth_event(self.events[name].event_id().as_str());
        }
        let pdu = builder
            .build(server.as_str(), &signing_key(server.as_str()))
            .unwrap();
        self.events.insert(name, pdu.clone());
        pdu
    }

    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        name: &'static str,
        sender: &str,
        kind: &str,
        state_key: &str,
        content: &str,
        prevs: &[&str],
        auth: &[&str],
    ) -> Pdu {
        self.build(name, sender, kind, Some(state_key), content, prevs, auth)
    }

    fn message(&mut self, name: &'static str, sender: &str, prevs: &[&str]) -> Pdu {
        let member = if sender == ALICE {
            "alice_join"
        } else {
            "bob_join"
        };
        let content = format!(r#"{{"body":"{name}","msgtype":"m.text"}}"#);
        let auth = ["create", "power", member];
        self.build(name, sender, "m.room.message", None, &content, prevs, &auth)
    }

    /// A room holding `names` as timeline events, in order (each after its one prev).
    fn room(&self, names: &[&str]) -> MemoryRoom {
        let mut room = MemoryRoom::new(self.version);
        for name in names {
            let pdu = self.events[name].clone();
            let before = match pdu.prev_events() {
                [prev] => Arc::new(room.state_after(prev).unwrap().clone()),
                _ => Arc::new(BTreeMap::new()),
            };
            room.insert_timeline(pdu, Status::Timeline, before);
        }
        room
    }

    fn ingest(&self, mode: Mode) -> Ingest {
        let origin = ServerName::parse("b.example").unwrap();
        Ingest::new(&self.version, &self.room_id, &origin, mode)
    }
}

const JOIN: &str = r#"{"membership":"join"}"#;
const BASE: [&str; 5] = ["create", "alice_join", "power", "rules", "bob_join"];

/// Runs `ingest` to the end, providing every key and answering each request with
/// `answer`; panics if it does not finish within a few dozen steps.
fn drive(
    ingest: &mut Ingest,
    room: &dyn RoomView,
    mut answer: impl FnMut(&OutboundRequest) -> Reply,
) -> Vec<Outcome> {
    for _ in 0..50 {
        match ingest.poll(room) {
            IngestStep::NeedKeys(_) => ingest.provide_keys(&all_keys()),
            IngestStep::Fetch(requests) => {
                for request in requests {
                    let reply = answer(&request);
                    ingest.provide_reply(request.id, reply);
                }
            }
            IngestStep::Waiting(ids) => panic!("waiting on {ids:?} with every reply given"),
            IngestStep::Done(outcomes) => return outcomes,
        }
    }
    panic!("the pipeline did not finish");
}

fn no_requests(request: &OutboundRequest) -> Reply {
    panic!("unexpected request {request:?}")
}

fn verdict_of<'a>(outcomes: &'a [Outcome], id: &EventId) -> &'a Verdict {
    &outcomes
        .iter()
        .find(|outcome| outcome.event_id.as_ref() == Some(id))
        .unwrap_or_else(|| panic!("no outcome for {id}"))
        .verdict
}

fn body(pdus_field: &str, pdus: &[&Pdu]) -> Reply {
    let values: Vec<Value> = pdus
        .iter()
        .map(|pdu| Value::Object(pdu.as_object().clone()))
        .collect();
    let mut body = Object::new();
    body.insert(pdus_field, Value::Array(values));
    Reply::response(200, json::to_vec(&Value::Object(body)))
}

/// The spec's soft-failure example: A; B bans Bob; C, by Bob on a fork from A, sets the
/// topic; D merges B and C. C is soft-failed, not rejected, and D is accepted.
fn soft_fail_example(version: RoomVersion) -> (Fixture, MemoryRoom) {
    let mut fx = Fixture::new(version);
    fx.message("a", ALICE, &["bob_join"]);
    let ban = r#"{"membership":"ban"}"#;
    let auth = ["create", "power", "alice_join", "bob_join"];
    fx.state("b", ALICE, "m.room.member", BOB, ban, &["a"], &auth);
    let topic = r#"{"topic":"evading the ban"}"#;
    let auth = ["create", "power", "bob_join"];
    fx.state("c", BOB, "m.room.topic", "", topic, &["a"], &auth);
    fx.message("d", ALICE, &["b", "c"]);
    let mut names = BASE.to_vec();
    names.extend(["a", "b"]);
    let room = fx.room(&names);
    (fx, room)
}

#[test]
fn spec_soft_failure_example_in_v10_v11_and_v12() {
    for version in [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12] {
        let (fx, room) = soft_fail_example(version);
        let mut ingest = fx.ingest(Mode::Pushed);
        ingest.add(&fx.events["c"].to_canonical_bytes());
        ingest.add(&fx.events["d"].to_canonical_bytes());
        let outcomes = drive(&mut ingest, &room, no_requests);
        assert_eq!(outcomes.len(), 2, "{}", version.id);
        assert!(
            matches!(
                verdict_of(&outcomes, &fx.id("c")),
                Verdict::SoftFailed { state_before: StateBefore::AfterPrev(prev), .. }
                    if *prev == fx.id("a")
            ),
            "v{}: {:?}",
            version.id,
            outcomes
        );
        let Verdict::Accepted {
            state_before: StateBefore::Resolved(state),
            redacted: false,
        } = verdict_of(&outcomes, &fx.id("d"))
        else {
            panic!("v{}: d not accepted: {outcomes:?}", version.id);
        };
        // The resolved state before D keeps the ban and drops the evading topic.
        let bob = StateKey::new("m.room.member", BOB);
        assert_eq!(state.get(&bob), Some(&fx.id("b")));
        assert_eq!(state.get(&StateKey::new("m.room.topic", "")), None);
        // Persistable order: C before D.
        assert_eq!(outcomes[0].event_id, Some(fx.id("c")));
    }
}

#[test]
fn soft_failure_is_skipped_for_backfill_and_partial_state() {
    let (fx, mut room) = soft_fail_example(RoomVersion::V11);
    let mut ingest = fx.ingest(Mode::Backfilled);
    ingest.add(&fx.events["c"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert!(matches!(outcomes[0].verdict, Verdict::Accepted { .. }));
    room.set_partial_state(true);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["c"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert!(matches!(outcomes[0].verdict, Verdict::Accepted { .. }));
}

#[test]
fn an_event_on_the_extremities_is_not_checked_against_current_state() {
    let (fx, room) = soft_fail_example(RoomVersion::V11);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["d"].to_canonical_bytes());
    ingest.add(&fx.events["c"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    // Order of adding does not matter: C still comes first.
    assert_eq!(outcomes[0].event_id, Some(fx.id("c")));
    assert_eq!(outcomes[0].added, Some(1));
}

fn gap() -> (Fixture, MemoryRoom) {
    let mut fx = Fixture::new(RoomVersion::V11);
    fx.message("x1", BOB, &["bob_join"]);
    fx.message("x2", BOB, &["x1"]);
    let room = fx.room(&BASE);
    (fx, room)
}

#[test]
fn a_pushed_gap_asks_get_missing_events_and_is_unresolved_without_an_answer() {
    let (fx, room) = gap();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["x2"].to_canonical_bytes());
    assert!(matches!(ingest.poll(&room), IngestStep::NeedKeys(needs) if needs.len() == 1));
    ingest.provide_keys(&all_keys());
    let IngestStep::Fetch(requests) = ingest.poll(&room) else {
        panic!("expected a fetch");
    };
    let [request] = requests.as_slice() else {
        panic!("expected one request: {requests:?}");
    };
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.destination.as_str(), "b.example");
    assert_eq!(
        request.uri,
        crate::federation::path::get_missing_events(&fx.room_id)
    );
    let body = request.body.as_ref().unwrap();
    let ids = |field: &str| -> Vec<&str> {
        let array = body.get(field).and_then(Value::as_array).unwrap();
        array.iter().filter_map(Value::as_str).collect()
    };
    assert_eq!(ids("earliest_events"), [fx.id("bob_join").as_str()]);
    assert_eq!(ids("latest_events"), [fx.id("x2").as_str()]);
    assert_eq!(body.get("limit").and_then(Value::as_i64), Some(10));
    assert_eq!(body.get("min_depth").and_then(Value::as_i64), Some(1));
    assert!(matches!(ingest.poll(&room), IngestStep::Waiting(ids) if ids == [request.id]));
    ingest.provide_reply(request.id, body_reply_events(&[]));
    let IngestStep::Done(outcomes) = ingest.poll(&room) else {
        panic!("expected the end");
    };
    let verdict = &outcomes[0].verdict;
    assert_eq!(
        verdict,
        &Verdict::Unresolved {
            missing_prevs: vec![fx.id("x1")]
        }
    );
    assert_eq!(verdict.send_error(), Some(NOT_DIVULGING));
    assert_eq!(ingest.poll(&room), IngestStep::Done(Vec::new()));
}

fn body_reply_events(pdus: &[&Pdu]) -> Reply {
    body("events", pdus)
}

#[test]
fn a_pushed_gap_filled_by_get_missing_events_is_accepted_in_order() {
    let (fx, room) = gap();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["x2"].to_canonical_bytes());
    let x1 = fx.events["x1"].clone();
    let outcomes = drive(&mut ingest, &room, |_| body_reply_events(&[&x1]));
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].event_id, Some(fx.id("x1")));
    assert_eq!(outcomes[0].added, None);
    assert_eq!(outcomes[1].added, Some(0));
    for outcome in &outcomes {
        assert!(
            matches!(outcome.verdict, Verdict::Accepted { .. }),
            "{outcome:?}"
        );
    }
}

/// A room whose oldest timeline event is deeper than every event of the tests.
struct Deep(MemoryRoom);

impl RoomView for Deep {
    fn event(&self, event_id: &EventId) -> Option<Known<'_>> {
        self.0.event(event_id)
    }
    fn state_after(&self, event_id: &EventId) -> Option<&BTreeMap<StateKey, EventId>> {
        self.0.state_after(event_id)
    }
    fn forward_extremities(&self) -> &[EventId] {
        self.0.forward_extremities()
    }
    fn current_state(&self) -> &BTreeMap<StateKey, EventId> {
        self.0.current_state()
    }
    fn min_depth(&self) -> Option<i64> {
        Some(100)
    }
    fn is_partial_state(&self) -> bool {
        false
    }
}

#[test]
fn a_pushed_gap_at_or_below_min_depth_is_unresolved_without_asking() {
    let (fx, room) = gap();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["x2"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &Deep(room), no_requests);
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Unresolved {
            missing_prevs: vec![fx.id("x1")]
        }
    );
}

fn missing_auth() -> (Fixture, MemoryRoom) {
    let mut fx = Fixture::new(RoomVersion::V11);
    let power = format!(r#"{{"users":{{"{ALICE}":100}},"events":{{"m.room.topic":0}}}}"#);
    let auth = ["create", "alice_join", "power"];
    fx.state(
        "power2",
        ALICE,
        "m.room.power_levels",
        "",
        &power,
        &["bob_join"],
        &auth,
    );
    let content = r#"{"body":"hi","msgtype":"m.text"}"#;
    let auth = ["create", "power2", "alice_join"];
    fx.build(
        "m",
        ALICE,
        "m.room.message",
        None,
        content,
        &["bob_join"],
        &auth,
    );
    let room = fx.room(&BASE);
    (fx, room)
}

#[test]
fn missing_auth_events_are_asked_and_stay_missing_auth_when_not_given() {
    let (fx, room) = missing_auth();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["m"].to_canonical_bytes());
    let mut asked = Vec::new();
    let outcomes = drive(&mut ingest, &room, |request| {
        asked.push(request.uri.clone());
        Reply::Failed
    });
    assert_eq!(
        asked,
        [crate::federation::path::event_auth(
            &fx.room_id,
            &fx.id("m")
        )]
    );
    assert_eq!(
        outcomes[0].verdict,
        Verdict::MissingAuth {
            missing: vec![fx.id("power2")]
        }
    );
}

#[test]
fn auth_events_from_event_auth_become_outliers_first() {
    let (fx, room) = missing_auth();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["m"].to_canonical_bytes());
    let chain = [&fx.events["create"], &fx.events["power2"]];
    let outcomes = drive(&mut ingest, &room, |_| body("auth_chain", &chain));
    // The create event is known: only power2 is new.
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0].event_id, Some(fx.id("power2")));
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Outlier {
            rejection: None,
            redacted: false
        }
    );
    assert!(matches!(outcomes[1].verdict, Verdict::Accepted { .. }));
}

#[test]
fn a_rejected_auth_event_taints() {
    let (fx, mut room) = missing_auth();
    room.insert_outlier(fx.events["power2"].clone(), Status::Rejected);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["m"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Rejected {
            reason: RejectReason::AuthEventRejected {
                event_id: fx.id("power2")
            },
            at: Check::AuthEvents,
            state_before: None,
            redacted: false,
        }
    );
}

#[test]
fn an_event_rejected_by_its_auth_events_taints_its_dependants_in_the_batch() {
    let mut fx = Fixture::new(RoomVersion::V11);
    // Bob may not change the power levels.
    let power = r#"{"users":{"@bob:b.example":100}}"#;
    let auth = ["create", "power", "bob_join"];
    fx.state(
        "grab",
        BOB,
        "m.room.power_levels",
        "",
        power,
        &["bob_join"],
        &auth,
    );
    let content = r#"{"body":"hi","msgtype":"m.text"}"#;
    let auth = ["create", "grab", "bob_join"];
    fx.build("m", BOB, "m.room.message", None, content, &["grab"], &auth);
    let room = fx.room(&BASE);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["m"].to_canonical_bytes());
    ingest.add(&fx.events["grab"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert!(matches!(
        verdict_of(&outcomes, &fx.id("grab")),
        Verdict::Rejected {
            reason: RejectReason::Rule(_),
            at: Check::AuthEvents,
            ..
        }
    ));
    assert!(matches!(
        verdict_of(&outcomes, &fx.id("m")),
        Verdict::Rejected {
            reason: RejectReason::AuthEventRejected { event_id },
            ..
        } if *event_id == fx.id("grab")
    ));
}

/// Replaces `"depth":N` to break the signature while the event still parses.
fn forged(pdu: &Pdu) -> Vec<u8> {
    let text = String::from_utf8(pdu.to_canonical_bytes()).unwrap();
    let depth = format!("\"origin_server_ts\":{}", pdu.origin_server_ts());
    let forged = text.replace(&depth, "\"origin_server_ts\":1");
    assert_ne!(forged, text);
    forged.into_bytes()
}

#[test]
fn a_bad_signature_is_dropped_without_sinking_a_backfilled_batch() {
    let mut fx = Fixture::new(RoomVersion::V11);
    fx.message("x1", BOB, &["bob_join"]);
    fx.message("x2", BOB, &["x1"]);
    fx.message("x3", ALICE, &["x1"]);
    let room = fx.room(&BASE);
    let mut ingest = fx.ingest(Mode::Backfilled);
    ingest.add(&fx.events["x1"].to_canonical_bytes());
    ingest.add(&forged(&fx.events["x2"]));
    ingest.add(b"not json");
    ingest.add(&fx.events["x3"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert_eq!(outcomes.len(), 4);
    let by_index = |index: usize| {
        &outcomes
            .iter()
            .find(|o| o.added == Some(index))
            .unwrap()
            .verdict
    };
    assert!(matches!(
        by_index(1),
        Verdict::Dropped(DropReason::Received(ReceiveError::Signatures(_)))
    ));
    assert!(matches!(
        by_index(2),
        Verdict::Dropped(DropReason::Received(ReceiveError::Malformed(_)))
    ));
    assert!(matches!(by_index(0), Verdict::Accepted { .. }));
    assert!(matches!(by_index(3), Verdict::Accepted { .. }));
}

#[test]
fn a_content_hash_mismatch_is_redacted_and_accepted() {
    let (fx, room) = gap();
    let text = String::from_utf8(fx.events["x1"].to_canonical_bytes()).unwrap();
    let altered = text.replace("\"body\":\"x1\"", "\"body\":\"altered\"");
    assert_ne!(altered, text);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(altered.as_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert!(matches!(
        outcomes[0].verdict,
        Verdict::Accepted { redacted: true, .. }
    ));
    assert!(outcomes[0].pdu.as_ref().unwrap().content().is_empty());
}

#[test]
fn more_than_twenty_prev_events_or_ten_auth_events_are_dropped() {
    let fx = Fixture::new(RoomVersion::V11);
    let room = fx.room(&BASE);
    let fake = |i: usize| format!("${i:0>43}");
    let mut many_prevs = EventBuilder::new(&fx.version, BOB, "m.room.message")
        .room_id(fx.room_id.as_str())
        .depth(9);
    for i in 0..21 {
        many_prevs = many_prevs.prev_event(&fake(i));
    }
    let many_prevs = many_prevs
        .build("b.example", &signing_key("b.example"))
        .unwrap();
    let mut many_auth = EventBuilder::new(&fx.version, BOB, "m.room.message")
        .room_id(fx.room_id.as_str())
        .prev_event(fx.id("bob_join").as_str())
        .depth(9);
    for i in 0..11 {
        many_auth = many_auth.auth_event(&fake(i));
    }
    let many_auth = many_auth
        .build("b.example", &signing_key("b.example"))
        .unwrap();
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&many_prevs.to_canonical_bytes());
    ingest.add(&many_auth.to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Dropped(DropReason::TooManyPrevEvents { count: 21 })
    );
    assert_eq!(
        outcomes[1].verdict,
        Verdict::Dropped(DropReason::TooManyAuthEvents { count: 11 })
    );
}

#[test]
fn known_events_are_skipped_and_other_rooms_dropped() {
    let (fx, room) = gap();
    let other = Fixture::new(RoomVersion::V12);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["bob_join"].to_canonical_bytes());
    ingest.add(&other.events["bob_join"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert_eq!(outcomes[0].verdict, Verdict::Skipped(Status::Timeline));
    assert!(matches!(
        outcomes[1].verdict,
        Verdict::Dropped(DropReason::WrongRoom { .. }) | Verdict::Dropped(DropReason::Received(_))
    ));
}

#[test]
fn a_pulled_event_with_a_missing_prev_gets_its_state_from_state_ids() {
    let (fx, room) = gap();
    let mut ingest = fx.ingest(Mode::Pulled);
    ingest.add(&fx.events["x2"].to_canonical_bytes());
    let state_ids: Vec<&str> = BASE
        .iter()
        .map(|name| fx.events[name].event_id().as_str())
        .collect();
    let x1 = fx.events["x1"].clone();
    let mut uris = Vec::new();
    let outcomes = drive(&mut ingest, &room, |request| {
        uris.push(request.uri.clone());
        if request.uri.contains("/state_ids/") {
            let ids = |ids: &[&str]| Value::Array(ids.iter().map(|id| Value::from(*id)).collect());
            let mut body = Object::new();
            body.insert("pdu_ids", ids(&state_ids));
            body.insert("auth_chain_ids", ids(&state_ids));
            Reply::response(200, json::to_vec(&Value::Object(body)))
        } else {
            body("pdus", &[&x1])
        }
    });
    assert_eq!(
        uris,
        [
            crate::federation::path::state_ids(&fx.room_id, &fx.id("x1")),
            crate::federation::path::event(&fx.id("x1")),
        ]
    );
    assert_eq!(outcomes[0].event_id, Some(fx.id("x1")));
    assert!(matches!(
        outcomes[0].verdict,
        Verdict::Outlier {
            rejection: None,
            ..
        }
    ));
    let Verdict::Accepted {
        state_before: StateBefore::Resolved(state),
        ..
    } = &outcomes[1].verdict
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(state.len(), BASE.len());
}

#[test]
fn outliers_mode_checks_auth_events_only() {
    let (fx, _) = soft_fail_example(RoomVersion::V12);
    let room = MemoryRoom::new(fx.version);
    let mut ingest = fx.ingest(Mode::Outliers);
    for name in ["c", "create", "power", "alice_join", "bob_join", "rules"] {
        ingest.add(&fx.events[name].to_canonical_bytes());
    }
    let outcomes = drive(&mut ingest, &room, no_requests);
    assert_eq!(outcomes.len(), 6);
    assert_eq!(outcomes[0].event_id, Some(fx.id("create")));
    for outcome in &outcomes {
        assert!(
            matches!(
                outcome.verdict,
                Verdict::Outlier {
                    rejection: None,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
}

fn verdicts(outcomes: &[Outcome]) -> BTreeMap<EventId, Verdict> {
    outcomes
        .iter()
        .map(|o| (o.event_id.clone().unwrap(), o.verdict.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn verdicts_do_not_depend_on_arrival_order(order in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle()) {
        let (mut fx, room) = soft_fail_example(RoomVersion::V11);
        fx.message("e", ALICE, &["d"]);
        fx.message("f", BOB, &["c"]);
        let grab = r#"{"users":{"@bob:b.example":100}}"#;
        let auth = ["create", "power", "bob_join"];
        fx.state("g", BOB, "m.room.power_levels", "", grab, &["a"], &auth);
        fx.message("h", ALICE, &["e"]);
        let names = ["c", "d", "e", "f", "g", "h"];
        let run = |order: &[usize]| {
            let mut ingest = fx.ingest(Mode::Pushed);
            for &index in order {
                ingest.add(&fx.events[names[index]].to_canonical_bytes());
            }
            drive(&mut ingest, &room, no_requests)
        };
        let sorted = run(&[0, 1, 2, 3, 4, 5]);
        let shuffled = run(&order);
        prop_assert_eq!(verdicts(&sorted), verdicts(&shuffled));
        let ids: Vec<_> = sorted.iter().map(|o| o.event_id.clone()).collect();
        let shuffled_ids: Vec<_> = shuffled.iter().map(|o| o.event_id.clone()).collect();
        prop_assert_eq!(ids, shuffled_ids);
        let f_soft_failed = matches!(verdicts(&sorted)[&fx.id("f")], Verdict::SoftFailed { .. });
        prop_assert!(f_soft_failed);
    }
}

#[test]
fn fetches_stay_within_the_bounds() {
    let (fx, room) = gap();
    let mut ingest = fx.ingest(Mode::Pulled);
    ingest.add(&fx.events["x2"].to_canonical_bytes());
    // A peer naming hundreds of state events nobody has, and never serving them.
    let fake: Vec<Value> = (0..500)
        .map(|i| Value::from(format!("${i:0>43}")))
        .collect();
    let mut requests = 0;
    let outcomes = drive(&mut ingest, &room, |request| {
        requests += 1;
        if request.uri.contains("/state_ids/") {
            let mut body = Object::new();
            body.insert("pdu_ids", Value::Array(fake.clone()));
            body.insert("auth_chain_ids", Value::Array(Vec::new()));
            Reply::response(200, json::to_vec(&Value::Object(body)))
        } else {
            Reply::response(404, b"{}".to_vec())
        }
    });
    assert!(requests <= MAX_REQUESTS, "{requests} requests");
    assert!(matches!(
        &outcomes[0].verdict,
        Verdict::MissingState { missing } if missing.len() == 500 + 1
    ));
}

#[test]
fn a_bad_reply_is_a_failed_fetch() {
    let (fx, room) = gap();
    let x1 = fx.events["x1"].clone();
    let replies = [
        Reply::response(500, body_bytes(&x1)),
        Reply::response(200, b"[1,2,3]".to_vec()),
        Reply::response(200, b"{\"events\":".to_vec()),
        Reply::response(200, forged_events_body(&x1)),
    ];
    for reply in replies {
        let mut ingest = fx.ingest(Mode::Pushed);
        ingest.add(&fx.events["x2"].to_canonical_bytes());
        let outcomes = drive(&mut ingest, &room, |_| reply.clone());
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        assert!(matches!(outcomes[0].verdict, Verdict::Unresolved { .. }));
    }
}

fn body_bytes(pdu: &Pdu) -> Vec<u8> {
    let Reply::Response { body, .. } = body_reply_events(&[pdu]) else {
        unreachable!()
    };
    body
}

/// A `/get_missing_events` answer whose event does not verify.
fn forged_events_body(pdu: &Pdu) -> Vec<u8> {
    let forged = forged(pdu);
    let mut body = b"{\"events\":[".to_vec();
    body.extend(forged);
    body.extend(b"]}");
    body
}

#[test]
fn a_v12_event_without_its_create_event_is_missing_auth() {
    let (fx, _) = soft_fail_example(RoomVersion::V12);
    let mut room = MemoryRoom::new(fx.version);
    let rest = ["alice_join", "power", "rules", "bob_join"];
    for name in rest {
        room.insert_outlier(fx.events[name].clone(), Status::Outlier);
    }
    let mut ingest = fx.ingest(Mode::Outliers);
    ingest.add(&fx.events["a"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, |_| Reply::Failed);
    assert_eq!(
        outcomes[0].verdict,
        Verdict::MissingAuth {
            missing: vec![fx.id("create")]
        }
    );
}

#[test]
fn applied_outcomes_move_the_extremities_past_accepted_events_only() {
    let (fx, mut room) = soft_fail_example(RoomVersion::V11);
    let mut ingest = fx.ingest(Mode::Pushed);
    ingest.add(&fx.events["c"].to_canonical_bytes());
    ingest.add(&fx.events["d"].to_canonical_bytes());
    let outcomes = drive(&mut ingest, &room, no_requests);
    room.apply(outcomes);
    assert_eq!(room.forward_extremities(), [fx.id("d")]);
    assert_eq!(
        room.event(&fx.id("c")).map(|known| known.status),
        Some(Status::SoftFailed)
    );
    let topic = StateKey::new("m.room.topic", "");
    assert_eq!(room.current_state().get(&topic), None);
    assert!(room.state_after(&fx.id("c")).unwrap().contains_key(&topic));
}

#[test]
fn an_event_pulled_by_get_missing_events_can_soft_fail() {
    for version in [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12] {
        let (fx, room) = soft_fail_example(version);
        let mut ingest = fx.ingest(Mode::Pushed);
        ingest.add(&fx.events["d"].to_canonical_bytes());
        let c = fx.events["c"].clone();
        let outcomes = drive(&mut ingest, &room, |request| {
            assert_eq!(request.method, Method::Post);
            body_reply_events(&[&c])
        });
        assert_eq!(outcomes.len(), 2, "v{}: {outcomes:?}", version.id);
        assert_eq!(outcomes[0].event_id, Some(fx.id("c")));
        assert_eq!(outcomes[0].added, None);
        assert!(matches!(outcomes[0].verdict, Verdict::SoftFailed { .. }));
        assert!(matches!(outcomes[1].verdict, Verdict::Accepted { .. }));
    }
}
