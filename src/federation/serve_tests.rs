use super::*;
use crate::dag::test_room::{TestRoom, user};
use crate::room_version::RoomVersion;

/// create ← A ← B ← {C1 ← C2 ← C3, D1 ← D2} ← M ← L: a fork and a merge.
fn forked_room() -> TestRoom {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    let msg = |room: &mut TestRoom, name: &str, prev: &[&str]| {
        room.add(
            name,
            "m.room.message",
            &user("alice"),
            None,
            r#"{"body": "hi"}"#,
            &["create"],
            prev,
        );
    };
    msg(&mut room, "A", &["create"]);
    msg(&mut room, "B", &["A"]);
    msg(&mut room, "C1", &["B"]);
    msg(&mut room, "C2", &["C1"]);
    msg(&mut room, "C3", &["C2"]);
    msg(&mut room, "D1", &["B"]);
    msg(&mut room, "D2", &["D1"]);
    msg(&mut room, "M", &["C3", "D2"]);
    msg(&mut room, "L", &["M"]);
    room
}

fn names(room: &TestRoom, ids: &[EventId]) -> Vec<String> {
    ids.iter().map(|id| room.name(id)).collect()
}

/// Every event strictly between a returned event and `latest` (a descendant of it
/// that is an ancestor of `latest`) is returned, unless it is in `earliest` or
/// `latest`: no gaps inside the answer. Returns how many events the walk could reach.
fn assert_complete(
    room: &TestRoom,
    answer: &[EventId],
    earliest: &[EventId],
    latest: &[EventId],
) -> usize {
    let events = &room.events;
    // Ancestors of latest (exclusive), not passing earliest.
    let mut reachable = BTreeSet::new();
    let mut stack: Vec<&EventId> = latest.iter().filter(|id| !earliest.contains(id)).collect();
    while let Some(id) = stack.pop() {
        for prev in events[id].prev_events() {
            if !earliest.contains(prev) && !latest.contains(prev) && reachable.insert(prev) {
                stack.push(prev);
            }
        }
    }
    for id in answer {
        for child in reachable
            .iter()
            .filter(|c| events[**c].prev_events().contains(id))
        {
            assert!(answer.contains(child), "{} is missing", room.name(child));
        }
    }
    reachable.len()
}

#[test]
fn missing_events_returns_the_newest_within_limit() {
    let room = forked_room();
    let earliest = room.ids(&["A"]);
    let latest = room.ids(&["L"]);
    let answer = missing_events_selection(&earliest, &latest, 3, 0, &room.events);
    assert_eq!(names(&room, &answer), ["C2", "C3", "M"]);
    assert_complete(&room, &answer, &earliest, &latest);
    for limit in 1..=8 {
        let answer = missing_events_selection(&earliest, &latest, limit, 0, &room.events);
        assert_eq!(answer.len(), limit.min(7));
        assert_complete(&room, &answer, &earliest, &latest);
        assert!(!answer.contains(&room.id("L")) && !answer.contains(&room.id("A")));
    }
}

#[test]
fn missing_events_whole_gap_is_topologically_ordered() {
    let room = forked_room();
    let answer =
        missing_events_selection(&room.ids(&["A"]), &room.ids(&["L"]), 20, 0, &room.events);
    assert_eq!(
        names(&room, &answer),
        ["B", "C1", "D1", "C2", "D2", "C3", "M"]
    );
    // Several earliest events fence off both branches.
    let answer = missing_events_selection(
        &room.ids(&["C2", "D1"]),
        &room.ids(&["L"]),
        20,
        0,
        &room.events,
    );
    assert_eq!(names(&room, &answer), ["D2", "C3", "M"]);
}

#[test]
fn missing_events_min_depth_and_unknown_events() {
    let room = forked_room();
    // Depths: A 2, B 3, C1/D1 4, C2/D2 5, C3 6, M 7, L 8.
    let answer =
        missing_events_selection(&room.ids(&["A"]), &room.ids(&["L"]), 20, 5, &room.events);
    assert_eq!(names(&room, &answer), ["C2", "D2", "C3", "M"]);
    // Without D2, the walk does not pass through it.
    let mut events = room.events.clone();
    events.remove(&room.id("D2"));
    let answer = missing_events_selection(&room.ids(&["A"]), &room.ids(&["L"]), 20, 0, &events);
    assert_eq!(names(&room, &answer), ["B", "C1", "C2", "C3", "M"]);
    // An unknown latest event yields nothing.
    let unknown: EventId = "$nope:example.com".parse().unwrap();
    assert!(missing_events_selection(&[], &[unknown], 20, 0, &room.events).is_empty());
}

#[test]
fn missing_events_limit_is_capped_at_twenty() {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    let mut prev = "create".to_owned();
    for index in 0..30 {
        let name = format!("e{index:02}");
        room.add(
            &name,
            "m.room.message",
            &user("alice"),
            None,
            "{}",
            &["create"],
            &[prev.as_str()],
        );
        prev = name;
    }
    let answer = missing_events_selection(&[], &room.ids(&["e29"]), 1000, 0, &room.events);
    assert_eq!(answer.len(), MAX_MISSING_EVENTS_LIMIT);
    assert_eq!(room.name(&answer[0]), "e09");
    assert_eq!(room.name(&answer[19]), "e28");
}

#[test]
fn backfill_walks_back_from_the_given_events() {
    let room = forked_room();
    let answer = backfill_selection(&room.ids(&["L"]), 4, &room.events);
    assert_eq!(names(&room, &answer), ["L", "M", "C3", "C2"]);
    let answer = backfill_selection(&room.ids(&["C3", "D2"]), 100, &room.events);
    assert_eq!(
        names(&room, &answer),
        ["C3", "C2", "D2", "C1", "D1", "B", "A", "create"]
    );
    assert!(backfill_selection(&room.ids(&["L"]), 0, &room.events).is_empty());
}

#[test]
fn backfill_skips_an_unknown_event_in_the_middle() {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    for (name, prev) in [
        ("A", &["create"][..]),
        ("B", &["A"]),
        ("X", &["A"]),
        ("D", &["B", "X"]),
    ] {
        room.add(
            name,
            "m.room.message",
            &user("alice"),
            None,
            "{}",
            &["create"],
            prev,
        );
    }
    let mut events = room.events.clone();
    events.remove(&room.id("X"));
    let from = [
        room.id("D"),
        room.id("X"),
        "$unknown:example.com".parse().unwrap(),
    ];
    let answer = backfill_selection(&from, 10, &events);
    assert_eq!(names(&room, &answer), ["D", "B", "A", "create"]);
}

#[test]
fn backfill_limit_is_capped() {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    let mut prev = "create".to_owned();
    for index in 0..120 {
        let name = format!("e{index}");
        room.add(
            &name,
            "m.room.message",
            &user("alice"),
            None,
            "{}",
            &["create"],
            &[prev.as_str()],
        );
        prev = name;
    }
    let answer = backfill_selection(&room.ids(&["e119"]), usize::MAX, &room.events);
    assert_eq!(answer.len(), MAX_BACKFILL_LIMIT);
}

#[test]
fn visibility_per_setting() {
    use Visibility::{Redacted, Visible};
    let cases: [(&str, &[&str], Visibility); 14] = [
        ("world_readable", &[], Visible),
        ("shared", &[], Visible),
        ("shared", &["leave"], Visible),
        ("something_new", &[], Visible),
        ("invited", &[], Redacted),
        ("invited", &["invite"], Visible),
        ("invited", &["join"], Visible),
        ("invited", &["leave", "ban"], Redacted),
        ("invited", &["knock"], Redacted),
        ("joined", &["invite"], Redacted),
        ("joined", &["join"], Visible),
        ("joined", &["leave", "join"], Visible),
        ("joined", &[], Redacted),
        ("joined", &["ban"], Redacted),
    ];
    for (setting, memberships, expected) in cases {
        assert_eq!(
            visibility_for_server(setting, memberships.iter().copied(), false),
            expected,
            "{setting} {memberships:?}"
        );
    }
    assert_eq!(visibility_for_server("world_readable", [], true), Redacted);
    assert_eq!(visibility_for_server("joined", ["join"], true), Redacted);
}

#[test]
fn visibility_from_state_events() {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    let member = |room: &mut TestRoom, name: &str, user: &str, membership: &str| {
        let content = format!(r#"{{"membership": "{membership}"}}"#);
        room.add(
            name,
            "m.room.member",
            user,
            Some(user),
            &content,
            &["create"],
            &["create"],
        );
    };
    member(&mut room, "bob", "@bob:other.org", "invite");
    member(&mut room, "carol", "@carol:other.org", "leave");
    member(&mut room, "mallory", "@mallory:other.org.evil", "join");
    member(&mut room, "dave", "@dave:third.org", "join");
    room.add(
        "hv",
        "m.room.history_visibility",
        &user("alice"),
        Some(""),
        r#"{"history_visibility": "invited"}"#,
        &["create"],
        &["create"],
    );
    room.add(
        "hv_bad",
        "m.room.history_visibility",
        &user("alice"),
        Some(""),
        r#"{"history_visibility": 7}"#,
        &["create"],
        &["create"],
    );
    let other: ServerName = "other.org".parse().unwrap();
    let third: ServerName = "third.org".parse().unwrap();
    let state: Vec<&Pdu> = room.events.values().collect();
    let memberships: Vec<&str> = server_memberships(state.iter().copied(), &other).collect();
    assert_eq!(memberships.len(), 2);
    assert!(memberships.contains(&"invite") && memberships.contains(&"leave"));
    assert_eq!(history_visibility(Some(room.pdu("hv"))), "invited");
    assert_eq!(history_visibility(Some(room.pdu("hv_bad"))), "shared");
    assert_eq!(history_visibility(None), "shared");
    assert_eq!(
        visibility_for_server("invited", memberships.iter().copied(), false),
        Visibility::Visible
    );
    assert_eq!(
        visibility_for_server("joined", memberships.iter().copied(), false),
        Visibility::Redacted
    );
    assert!(!server_in_room(state.iter().copied(), &other));
    assert!(server_in_room(state.iter().copied(), &third));
    // The redacted form drops the content.
    let redacted = Visibility::Redacted.apply(room.pdu("hv"));
    assert!(
        redacted.content().get("history_visibility").is_some(),
        "kept by redaction"
    );
    let message = room.add(
        "msg",
        "m.room.message",
        &user("alice"),
        None,
        r#"{"body": "secret"}"#,
        &["create"],
        &["create"],
    );
    let message = &room.events[&message];
    assert!(Visibility::Redacted.apply(message).content().is_empty());
    assert_eq!(&Visibility::Visible.apply(message), message);
}

fn id_list(body: &Object, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|value| match value {
            Value::String(id) => id.clone(),
            Value::Object(pdu) => pdu
                .get("event_id")
                .and_then(Value::as_str)
                .unwrap()
                .to_owned(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn bodies_are_deterministic() {
    let room = forked_room();
    let pdu = |name| room.pdu(name);
    let state = [pdu("M"), pdu("A"), pdu("create"), pdu("A")];
    let chain = [pdu("create")];
    let body = state_ids_body(&state, &chain);
    let keys: Vec<&str> = body.keys().collect();
    assert_eq!(keys, ["auth_chain_ids", "pdu_ids"]);
    assert_eq!(
        id_list(&body, "pdu_ids"),
        ["$create:example.com", "$A:example.com", "$M:example.com"]
    );
    assert_eq!(id_list(&body, "auth_chain_ids"), ["$create:example.com"]);
    let body = state_body(&state, &chain);
    assert_eq!(
        id_list(&body, "pdus"),
        ["$create:example.com", "$A:example.com", "$M:example.com"]
    );
    assert_eq!(id_list(&body, "auth_chain"), ["$create:example.com"]);
    let body = event_auth_body(&[pdu("B"), pdu("create")]);
    assert_eq!(
        id_list(&body, "auth_chain"),
        ["$create:example.com", "$B:example.com"]
    );
    let origin: ServerName = "example.com".parse().unwrap();
    let body = transaction_body(&origin, 42, &[pdu("L"), pdu("M")]);
    assert_eq!(
        body.get("origin").and_then(Value::as_str),
        Some("example.com")
    );
    assert_eq!(
        body.get("origin_server_ts").and_then(Value::as_i64),
        Some(42)
    );
    assert_eq!(id_list(&body, "pdus"), ["$L:example.com", "$M:example.com"]);
    assert_eq!(
        body.get("pdus").and_then(Value::as_array).unwrap()[0],
        Value::Object(pdu("L").as_object().clone())
    );
    let body = missing_events_body(&[pdu("C2"), pdu("C3")]);
    assert_eq!(
        id_list(&body, "events"),
        ["$C2:example.com", "$C3:example.com"]
    );
}

fn room_with_members(acl: Option<&str>) -> TestRoom {
    let mut room = TestRoom::new(RoomVersion::V1);
    room.add_create(&user("alice"));
    for (name, who, membership) in [
        ("bob", "@bob:other.org", "join"),
        ("carol", "@carol:gone.org", "leave"),
        ("eve", "@eve:evil.org", "join"),
    ] {
        let content = format!(r#"{{"membership": "{membership}"}}"#);
        room.add(
            name,
            "m.room.member",
            who,
            Some(who),
            &content,
            &["create"],
            &["create"],
        );
    }
    if let Some(acl) = acl {
        room.add(
            "acl",
            "m.room.server_acl",
            &user("alice"),
            Some(""),
            acl,
            &["create"],
            &["create"],
        );
    }
    room
}

#[test]
fn check_server_applies_acl_then_membership() {
    let server = |name: &str| -> ServerName { name.parse().unwrap() };
    let room = room_with_members(None);
    let state: Vec<&Pdu> = room.events.values().collect();
    assert_eq!(
        check_server(state.iter().copied(), &server("other.org")),
        Ok(())
    );
    assert_eq!(
        check_server(state.iter().copied(), &server("evil.org")),
        Ok(())
    );
    let error = check_server(state.iter().copied(), &server("gone.org")).unwrap_err();
    assert_eq!(
        error,
        ServeError::NotInRoom {
            server: server("gone.org")
        }
    );
    assert_eq!(error.errcode(), ErrorCode::Forbidden);
    assert_eq!(error.status(), 403);
    let room = room_with_members(Some(r#"{"allow": ["*"], "deny": ["evil.org"]}"#));
    let state: Vec<&Pdu> = room.events.values().collect();
    assert_eq!(
        check_server(state.iter().copied(), &server("other.org")),
        Ok(())
    );
    assert_eq!(
        check_server(state.iter().copied(), &server("evil.org:8448")),
        Err(ServeError::DeniedByAcl {
            server: server("evil.org:8448")
        })
    );
}

#[test]
fn visibility_at_reads_the_state() {
    let mut room = room_with_members(None);
    let other: ServerName = "other.org".parse().unwrap();
    let gone: ServerName = "gone.org".parse().unwrap();
    let state: Vec<&Pdu> = room.events.values().collect();
    // No history visibility event: shared.
    assert_eq!(
        visibility_at(state.iter().copied(), &gone, false),
        Visibility::Visible
    );
    room.add(
        "hv",
        "m.room.history_visibility",
        &user("alice"),
        Some(""),
        r#"{"history_visibility": "joined"}"#,
        &["create"],
        &["create"],
    );
    let state: Vec<&Pdu> = room.events.values().collect();
    assert_eq!(
        visibility_at(state.iter().copied(), &other, false),
        Visibility::Visible
    );
    assert_eq!(
        visibility_at(state.iter().copied(), &gone, false),
        Visibility::Redacted
    );
    assert_eq!(
        visibility_at(state.iter().copied(), &other, true),
        Visibility::Redacted
    );
}

mod laws {
    use proptest::prelude::*;

    use super::*;

    /// A random room: event `i` follows one to three earlier events.
    fn random_room(parents: &[(usize, usize, usize)]) -> TestRoom {
        let mut room = TestRoom::new(RoomVersion::V1);
        room.add_create(&user("alice"));
        let mut names = vec!["create".to_owned()];
        for (index, &(a, b, count)) in parents.iter().enumerate() {
            let mut prev: Vec<String> = [a, b]
                .iter()
                .take(count)
                .map(|&pick| names[pick % names.len()].clone())
                .collect();
            prev.sort();
            prev.dedup();
            let prev: Vec<&str> = prev.iter().map(String::as_str).collect();
            let name = format!("e{index}");
            room.add(
                &name,
                "m.room.message",
                &user("alice"),
                None,
                "{}",
                &["create"],
                &prev,
            );
            names.push(name);
        }
        room
    }

    proptest! {
        #[test]
        fn missing_events_are_the_latest_complete_and_ordered(
            parents in proptest::collection::vec((0usize..64, 0usize..64, 1usize..=2), 1..40),
            limit in 1usize..25,
            earliest_pick in 0usize..64,
        ) {
            let room = random_room(&parents);
            let last = format!("e{}", parents.len() - 1);
            let latest = room.ids(&[last.as_str()]);
            let earliest = room.ids(&[format!("e{}", earliest_pick % parents.len()).as_str()]);
            let answer = missing_events_selection(&earliest, &latest, limit, 0, &room.events);
            let reachable = assert_complete(&room, &answer, &earliest, &latest);
            prop_assert_eq!(answer.len(), limit.min(MAX_MISSING_EVENTS_LIMIT).min(reachable));
            // Oldest first: no event before one of its prev_events in the answer.
            for (position, id) in answer.iter().enumerate() {
                for prev in room.events[id].prev_events() {
                    if let Some(at) = answer.iter().position(|other| other == prev) {
                        prop_assert!(at < position);
                    }
                }
            }
            // Backfill never exceeds its limit and starts with the given event.
            let back = backfill_selection(&latest, limit, &room.events);
            prop_assert_eq!(back.first(), latest.first());
            prop_assert!(back.len() <= limit);
        }
    }
}
