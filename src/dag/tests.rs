//! Tests of the graph walks, on hand-made rooms (room version 2 IDs are readable).

use std::collections::BTreeSet;

use super::test_room::{TestRoom, user};
use super::*;
use crate::auth::PowerLevel;
use crate::event::Pdu;
use crate::id::EventId;
use crate::room_version::RoomVersion;

fn names(room: &TestRoom, ids: impl IntoIterator<Item = EventId>) -> Vec<String> {
    ids.into_iter().map(|id| room.name(&id)).collect()
}

fn set(room: &TestRoom, list: &[&str]) -> BTreeSet<EventId> {
    room.ids(list).into_iter().collect()
}

/// create ← alice's join ← power levels ← join rules; bob's join; a topic by alice.
fn small_room() -> TestRoom {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add_create(&alice);
    room.add(
        "ima",
        "m.room.member",
        &alice,
        Some(&alice),
        r#"{"membership":"join"}"#,
        &["create"],
        &["create"],
    );
    room.add(
        "ipower",
        "m.room.power_levels",
        &alice,
        Some(""),
        r#"{"users":{"@alice:example.com":100}}"#,
        &["create", "ima"],
        &["ima"],
    );
    room.add(
        "ijr",
        "m.room.join_rules",
        &alice,
        Some(""),
        r#"{"join_rule":"public"}"#,
        &["create", "ima", "ipower"],
        &["ipower"],
    );
    let bob = user("bob");
    room.add(
        "imb",
        "m.room.member",
        &bob,
        Some(&bob),
        r#"{"membership":"join"}"#,
        &["create", "ijr", "ipower"],
        &["ijr"],
    );
    room.add(
        "topic",
        "m.room.topic",
        &alice,
        Some(""),
        r#"{"topic":"t"}"#,
        &["create", "ima", "ipower"],
        &["imb"],
    );
    room
}

#[test]
fn auth_chain_is_the_transitive_closure_without_the_event() {
    let room = small_room();
    let chain = auth_chain(&room.events, &room.id("imb")).unwrap();
    assert_eq!(chain, set(&room, &["create", "ima", "ipower", "ijr"]));
    let chain = auth_chain(&room.events, &room.id("create")).unwrap();
    assert!(chain.is_empty());
}

#[test]
fn auth_chain_of_events_is_the_union() {
    let room = small_room();
    let ids = room.ids(&["topic", "ima"]);
    let chain = auth_chain_of_events(&room.events, &ids).unwrap();
    // `ima` is in `topic`'s chain, so it appears; `topic` is in nobody's.
    assert_eq!(chain, set(&room, &["create", "ima", "ipower"]));
}

#[test]
fn auth_difference_counts_each_sets_own_events() {
    let room = small_room();
    // Set one holds `ipower` itself; set two reaches it through `ijr`'s chain. Synapse
    // counts both as reaching it, so it is not in the difference (the spec's wording,
    // chains without the events themselves, would put it there).
    let one = room.ids(&["create", "ima", "ipower"]);
    let two = room.ids(&["create", "ima", "ijr"]);
    let difference = auth_difference(&room.events, [&one, &two]).unwrap();
    assert_eq!(difference, set(&room, &["ijr"]));
    // Identical sets: no difference.
    assert!(
        auth_difference(&room.events, [&one, &one])
            .unwrap()
            .is_empty()
    );
    // One set: nothing is reached by some sets but not all.
    assert!(auth_difference(&room.events, [&two]).unwrap().is_empty());
}

#[test]
fn auth_difference_with_many_sets() {
    let room = small_room();
    let mut sets: Vec<Vec<EventId>> = (0..70).map(|_| room.ids(&["ima"])).collect();
    sets.push(room.ids(&["imb"]));
    let difference = auth_difference(&room.events, &sets).unwrap();
    assert_eq!(difference, set(&room, &["imb", "ipower", "ijr"]));
}

#[test]
fn conflicted_subgraph_holds_the_paths_between_conflicted_events() {
    let room = small_room();
    // ijr → ipower → ima: with ijr and ima conflicted, ipower lies between them; create
    // lies below both and is not between two conflicted events.
    let conflicted = room.ids(&["ijr", "ima"]);
    let subgraph = conflicted_subgraph(&room.events, &conflicted).unwrap();
    assert_eq!(subgraph, set(&room, &["ijr", "ipower", "ima"]));
    let conflicted = room.ids(&["topic", "imb"]);
    let subgraph = conflicted_subgraph(&room.events, &conflicted).unwrap();
    assert_eq!(subgraph, set(&room, &["topic", "imb"]));
}

#[test]
fn room_version_12_counts_the_implicit_create_event() {
    let mut room = TestRoom::new(RoomVersion::V12);
    let alice = user("alice");
    room.add_create(&alice);
    room.add(
        "ima",
        "m.room.member",
        &alice,
        Some(&alice),
        r#"{"membership":"join"}"#,
        &[],
        &["create"],
    );
    room.add(
        "ipower",
        "m.room.power_levels",
        &alice,
        Some(""),
        r#"{}"#,
        &["ima"],
        &["ima"],
    );
    let chain = auth_chain(&room.events, &room.id("ipower")).unwrap();
    assert_eq!(chain, set(&room, &["create", "ima"]));
}

#[test]
fn reverse_topological_power_order_puts_auth_events_first_then_power() {
    let room = small_room();
    let ids = room.ids(&["topic", "imb", "ijr", "ipower", "ima", "create"]);
    let level = |pdu: &Pdu| {
        if pdu.sender().as_str() == "@alice:example.com" {
            PowerLevel::Finite(100)
        } else {
            PowerLevel::Finite(0)
        }
    };
    let order = reverse_topological_power_order(&room.events, &ids, level).unwrap();
    assert_eq!(
        names(&room, order),
        ["create", "ima", "ipower", "ijr", "topic", "imb"]
    );
    // Without edges between them, the higher power goes first, then the older event.
    let ids = room.ids(&["imb", "topic"]);
    let order = reverse_topological_power_order(&room.events, &ids, level).unwrap();
    assert_eq!(names(&room, order), ["topic", "imb"]);
    let order =
        reverse_topological_power_order(&room.events, &ids, |_| PowerLevel::Finite(0)).unwrap();
    assert_eq!(names(&room, order), ["imb", "topic"]);
    let order = reverse_topological_power_order(&room.events, &ids, |pdu| {
        if pdu.sender().as_str() == "@bob:example.com" {
            PowerLevel::Infinite
        } else {
            PowerLevel::Finite(100)
        }
    })
    .unwrap();
    assert_eq!(names(&room, order), ["imb", "topic"]);
}

#[test]
fn mainline_order_sorts_by_position_then_time() {
    let mut room = small_room();
    let alice = user("alice");
    room.add(
        "p2",
        "m.room.power_levels",
        &alice,
        Some(""),
        r#"{"users":{"@alice:example.com":100}}"#,
        &["create", "ima", "ipower"],
        &["topic"],
    );
    room.add(
        "t_old",
        "m.room.topic",
        &alice,
        Some(""),
        r#"{}"#,
        &["create", "ima", "ipower"],
        &["p2"],
    );
    room.add(
        "t_new",
        "m.room.topic",
        &alice,
        Some(""),
        r#"{}"#,
        &["create", "ima", "p2"],
        &["t_old"],
    );
    room.add(
        "t_none",
        "m.room.topic",
        &alice,
        Some(""),
        r#"{}"#,
        &["create", "ima"],
        &["t_new"],
    );
    let ids = room.ids(&["t_new", "t_none", "t_old"]);
    let order = mainline_order(&room.events, Some(&room.id("p2")), &ids).unwrap();
    assert_eq!(names(&room, order), ["t_none", "t_old", "t_new"]);
    // No power levels: every position is 0, so time decides.
    let order = mainline_order(&room.events, None, &ids).unwrap();
    assert_eq!(names(&room, order), ["t_old", "t_new", "t_none"]);
}

#[test]
fn topological_order_of_prev_events_breaks_ties_by_id() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add("a", "m.room.message", &alice, None, "{}", &[], &[]);
    room.add("c", "m.room.message", &alice, None, "{}", &[], &["a"]);
    room.add("b", "m.room.message", &alice, None, "{}", &[], &["a"]);
    room.add("d", "m.room.message", &alice, None, "{}", &[], &["b", "c"]);
    let ids = room.ids(&["d", "c", "b", "a"]);
    let order = topological_order(&room.events, &ids).unwrap();
    assert_eq!(names(&room, order), ["a", "b", "c", "d"]);
    let extremities = forward_extremities(&room.events, &room.ids(&["a", "b", "c"])).unwrap();
    assert_eq!(extremities, set(&room, &["b", "c"]));
    let extremities = forward_extremities(&room.events, &ids).unwrap();
    assert_eq!(extremities, set(&room, &["d"]));
}

#[test]
fn missing_events_are_reported_not_errors() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add(
        "a",
        "m.room.message",
        &alice,
        None,
        "{}",
        &["gone1"],
        &["gap1"],
    );
    room.add(
        "b",
        "m.room.message",
        &alice,
        None,
        "{}",
        &["a", "gone2"],
        &["a", "gap2"],
    );
    let missing = missing_prev_events(&room.events, &room.ids(&["b"])).unwrap();
    assert_eq!(missing, set(&room, &["gap2"]));
    let missing = missing_auth_events(&room.events, &room.ids(&["b"])).unwrap();
    assert_eq!(missing, set(&room, &["gone1", "gone2"]));
}

#[test]
fn dangling_reference_is_a_typed_error_naming_the_referrer() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add("a", "m.room.message", &alice, None, "{}", &["gone"], &[]);
    let error = auth_chain(&room.events, &room.id("a")).unwrap_err();
    assert_eq!(
        error,
        DagError::MissingEvent {
            event_id: room.id("gone"),
            referenced_by: Some(room.id("a")),
        }
    );
    let error = forward_extremities(&room.events, &room.ids(&["nope"])).unwrap_err();
    assert!(matches!(
        error,
        DagError::MissingEvent {
            referenced_by: None,
            ..
        }
    ));
}

#[test]
fn cycles_and_self_references_are_typed_errors() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add("a", "m.room.message", &alice, None, "{}", &["b"], &["b"]);
    room.add("b", "m.room.message", &alice, None, "{}", &["a"], &["a"]);
    room.add("c", "m.room.message", &alice, None, "{}", &["a"], &["a"]);
    room.add(
        "self",
        "m.room.message",
        &alice,
        None,
        "{}",
        &["self"],
        &["self"],
    );
    let cycle = DagError::Cycle {
        event_id: room.id("a"),
        field: "auth_events",
    };
    assert_eq!(auth_chain(&room.events, &room.id("c")).unwrap_err(), cycle);
    assert_eq!(
        auth_difference(&room.events, [&room.ids(&["c"])]).unwrap_err(),
        cycle
    );
    assert_eq!(
        conflicted_subgraph(&room.events, &room.ids(&["c"])).unwrap_err(),
        cycle
    );
    let ids = room.ids(&["a", "b", "c"]);
    assert!(matches!(
        reverse_topological_power_order(&room.events, &ids, |_| PowerLevel::Finite(0)),
        Err(DagError::Cycle {
            field: "auth_events",
            ..
        })
    ));
    assert!(matches!(
        topological_order(&room.events, &ids),
        Err(DagError::Cycle {
            field: "prev_events",
            ..
        })
    ));
    assert_eq!(
        auth_chain(&room.events, &room.id("self")).unwrap_err(),
        DagError::SelfReference {
            event_id: room.id("self"),
            field: "auth_events"
        }
    );
}

#[test]
fn repeated_references_and_events_are_typed_errors() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add("a", "m.room.message", &alice, None, "{}", &[], &[]);
    room.add(
        "b",
        "m.room.message",
        &alice,
        None,
        "{}",
        &["a", "a"],
        &["a"],
    );
    assert_eq!(
        auth_chain(&room.events, &room.id("b")).unwrap_err(),
        DagError::DuplicateReference {
            event_id: room.id("b"),
            reference: room.id("a"),
            field: "auth_events"
        }
    );
    assert_eq!(
        topological_order(&room.events, &room.ids(&["a", "a"])).unwrap_err(),
        DagError::DuplicateEvent {
            event_id: room.id("a")
        }
    );
}

#[test]
fn a_source_answering_with_another_event_is_an_error() {
    let room = small_room();
    let other = room.pdu("create");
    let source = from_fn(|_| Some(other));
    assert_eq!(
        auth_chain(&source, &room.id("ima")).unwrap_err(),
        DagError::WrongEvent {
            requested: room.id("ima"),
            returned: room.id("create")
        }
    );
}

#[test]
fn long_chains_and_huge_fan_out_are_walked_without_recursion() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    room.add("e0", "m.room.message", &alice, None, "{}", &[], &[]);
    for index in 1..3000 {
        let (name, previous) = (format!("e{index}"), format!("e{}", index - 1));
        room.add(
            &name,
            "m.room.message",
            &alice,
            None,
            "{}",
            &[&previous],
            &[&previous],
        );
    }
    let chain = auth_chain(&room.events, &room.id("e2999")).unwrap();
    assert_eq!(chain.len(), 2999);
    let fan: Vec<String> = (0..1800).map(|index| format!("e{index}")).collect();
    let fan: Vec<&str> = fan.iter().map(String::as_str).collect();
    room.add(
        "fan",
        "m.room.message",
        &alice,
        None,
        "{}",
        &fan,
        &["e1799"],
    );
    let chain = auth_chain(&room.events, &room.id("fan")).unwrap();
    assert_eq!(chain.len(), 1800);
    let extremities = forward_extremities(&room.events, &room.ids(&fan)).unwrap();
    assert_eq!(extremities, set(&room, &["e1799"]));
}

#[test]
fn a_long_cycle_fails_fast() {
    let mut room = TestRoom::new(RoomVersion::V2);
    let alice = user("alice");
    for index in 0..2000 {
        let (name, next) = (format!("e{index}"), format!("e{}", (index + 1) % 2000));
        room.add(
            &name,
            "m.room.message",
            &alice,
            None,
            "{}",
            &[&next],
            &[&next],
        );
    }
    assert!(matches!(
        auth_chain(&room.events, &room.id("e0")),
        Err(DagError::Cycle { .. })
    ));
}

#[test]
fn chain_difference_is_union_minus_intersection() {
    use std::collections::{BTreeSet, HashSet};
    let id = |n: u32| -> EventId { format!("$e{n}:x.org").parse().unwrap() };
    // Every pattern of membership in three chains, for seven IDs (1..=7 as bit masks).
    let chains: Vec<HashSet<EventId>> = (0..3)
        .map(|chain| (1..8).filter(|n| n & (1 << chain) != 0).map(id).collect())
        .collect();
    let found: BTreeSet<EventId> = chain_difference(&chains).into_iter().collect();
    let expected: BTreeSet<EventId> = (1..7).map(id).collect();
    assert_eq!(found, expected);
    assert_eq!(chain_difference(&chains).len(), 6, "each ID once");
    assert!(chain_difference(&chains[..1]).is_empty());
    assert!(chain_difference::<HashSet<EventId>>(&[]).is_empty());
}
