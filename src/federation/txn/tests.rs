use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::federation::edu::Edu;
use crate::federation::error::{ErrorCode, MatrixError};
use crate::federation::outbound::Reply;
use crate::id::{EventId, RoomId, ServerName, UserId};
use crate::json::{self, Object, Value};
use crate::test_util::object;

fn server(name: &str) -> ServerName {
    ServerName::parse(name).unwrap()
}

fn pdu_text(n: usize) -> String {
    format!(r#"{{"room_id":"!r{n}:a.example","type":"m.room.message","n":{n}}}"#)
}

fn typing_text(user: &str) -> String {
    format!(
        r#"{{"edu_type":"m.typing","content":{{"room_id":"!r:a.example","user_id":"{user}","typing":true}}}}"#
    )
}

fn body(pdus: &[String], edus: &[String]) -> Vec<u8> {
    format!(
        r#"{{"origin":"a.example","origin_server_ts":1234,"pdus":[{}],"edus":[{}]}}"#,
        pdus.join(","),
        edus.join(",")
    )
    .into_bytes()
}

fn parse(body: &[u8]) -> Result<IncomingTransaction, TxnError> {
    parse_transaction("txn1", body, &server("a.example"))
}

#[test]
fn fifty_pdus_pass_and_fifty_one_do_not() {
    let pdus: Vec<String> = (0..=MAX_PDUS).map(pdu_text).collect();
    let txn = parse(&body(&pdus[..MAX_PDUS], &[])).unwrap();
    assert_eq!(txn.pdus.len(), MAX_PDUS);
    assert_eq!(txn.origin_server_ts, 1234);
    assert_eq!(txn.txn_id, "txn1");
    let error = parse(&body(&pdus, &[])).unwrap_err();
    assert_eq!(
        error,
        TxnError::TooMany {
            what: "pdus",
            count: 51,
            max: 50
        }
    );
    assert_eq!(error.status(), 400);
    assert_eq!(error.errcode(), ErrorCode::TooLarge);
}

#[test]
fn hundred_edus_pass_and_hundred_one_do_not() {
    let edus: Vec<String> = (0..=MAX_EDUS)
        .map(|n| typing_text(&format!("@u{n}:a.example")))
        .collect();
    let txn = parse(&body(&[], &edus[..MAX_EDUS])).unwrap();
    assert_eq!(txn.edus.len(), MAX_EDUS);
    let error = parse(&body(&[], &edus)).unwrap_err();
    assert!(matches!(
        error,
        TxnError::TooMany {
            what: "edus",
            count: 101,
            ..
        }
    ));
    assert_eq!(error.status(), 400);
}

#[test]
fn origin_must_match_the_authenticated_origin() {
    let error = parse_transaction("t", &body(&[], &[]), &server("b.example")).unwrap_err();
    assert_eq!(
        error,
        TxnError::OriginMismatch {
            claimed: "a.example".into(),
            authenticated: "b.example".into()
        }
    );
    assert_eq!(error.errcode(), ErrorCode::Forbidden);
    assert_eq!(error.status(), 403);
}

#[test]
fn body_shape_errors() {
    let origin = server("a.example");
    let cases: [(&[u8], TxnError); 5] = [
        (
            b"[]",
            TxnError::WrongType {
                field: "body",
                expected: "an object",
            },
        ),
        (
            br#"{"origin_server_ts":1,"pdus":[]}"#,
            TxnError::MissingField { field: "origin" },
        ),
        (
            br#"{"origin":"a.example","pdus":[]}"#,
            TxnError::MissingField {
                field: "origin_server_ts",
            },
        ),
        (
            br#"{"origin":"a.example","origin_server_ts":1}"#,
            TxnError::MissingField { field: "pdus" },
        ),
        (
            br#"{"origin":"a.example","origin_server_ts":1,"pdus":{}}"#,
            TxnError::WrongType {
                field: "pdus",
                expected: "an array",
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_transaction("t", body, &origin), Err(expected));
    }
    let not_json = parse_transaction("t", b"{", &origin).unwrap_err();
    assert!(matches!(not_json, TxnError::NotJson(_)));
    assert_eq!(not_json.errcode(), ErrorCode::NotJson);
    // `edus` is optional.
    let txn = parse_transaction(
        "t",
        br#"{"origin":"a.example","origin_server_ts":1,"pdus":[]}"#,
        &origin,
    )
    .unwrap();
    assert!(txn.edus.is_empty());
}

#[test]
fn body_size_is_bounded() {
    let big = vec![b' '; MAX_TRANSACTION_BYTES + 1];
    let error = parse(&big).unwrap_err();
    assert!(matches!(error, TxnError::BodyTooLarge { .. }));
    assert_eq!(error.status(), 413);
}

#[test]
fn transaction_ids_must_be_path_safe() {
    let origin = server("a.example");
    let good = body(&[], &[]);
    for bad in ["", "a\nb", "\u{7f}", &"x".repeat(MAX_TXN_ID_LEN + 1)] {
        let error = parse_transaction(bad, &good, &origin).unwrap_err();
        assert!(matches!(error, TxnError::InvalidTxnId { .. }), "{bad:?}");
        assert_eq!(error.status(), 400);
    }
    for ok in [
        "1700000000000",
        "m1.2_3-x",
        "with/slash",
        &"x".repeat(MAX_TXN_ID_LEN),
    ] {
        assert!(parse_transaction(ok, &good, &origin).is_ok(), "{ok:?}");
    }
}

#[test]
fn room_less_pdus_are_ignored() {
    let pdus = vec![
        pdu_text(1),
        r#"{"type":"m.room.create"}"#.to_owned(),
        r#"{"room_id":7}"#.to_owned(),
        r#"{"room_id":"not a room"}"#.to_owned(),
        r#""a string""#.to_owned(),
        pdu_text(2),
    ];
    let txn = parse(&body(&pdus, &[])).unwrap();
    assert_eq!(txn.ignored_pdus, 4);
    let rooms: Vec<&str> = txn.pdus.iter().map(|pdu| pdu.room_id.as_str()).collect();
    assert_eq!(rooms, ["!r1:a.example", "!r2:a.example"]);
    assert_eq!(txn.pdus[0].object.get("n").and_then(Value::as_i64), Some(1));
}

#[test]
fn unknown_room_pdus_get_no_entry() {
    // The caller answers only for PDUs of rooms it knows, as Synapse does.
    let txn = parse(&body(&[pdu_text(1), pdu_text(2)], &[])).unwrap();
    let known = RoomId::parse("!r2:a.example").unwrap();
    let mut response = TransactionResponse::new();
    for (n, pdu) in txn.pdus.iter().enumerate() {
        if pdu.room_id == known {
            response.ok(&EventId::parse(&format!("$e{n}:a.example")).unwrap());
        }
    }
    assert_eq!(
        json::to_string(&Value::Object(response.to_object())),
        r#"{"pdus":{"$e1:a.example":{}}}"#
    );
}

#[test]
fn edus_are_kept_or_dropped_one_by_one() {
    let edus = vec![
        typing_text("@u:a.example"),
        typing_text("@mallory:evil.example"),
        r#"{"edu_type":"org.example.custom","content":{"x":1}}"#.to_owned(),
        r#"{"edu_type":"m.typing","content":{}}"#.to_owned(),
        "7".to_owned(),
    ];
    let txn = parse(&body(&[], &edus)).unwrap();
    assert_eq!(txn.edus.len(), 2);
    assert!(matches!(txn.edus[0], Edu::Typing { .. }));
    assert!(
        matches!(&txn.edus[1], Edu::Unknown { edu_type, .. } if edu_type == "org.example.custom")
    );
    assert_eq!(txn.dropped_edus.len(), 3);
    assert!(matches!(
        txn.dropped_edus[0],
        crate::federation::edu::EduError::ForeignUser { .. }
    ));
}

#[test]
fn responses_are_deterministic_for_a_replayed_transaction() {
    let a = EventId::parse("$a:a.example").unwrap();
    let b = EventId::parse("$b:a.example").unwrap();
    let mut first = TransactionResponse::new();
    first.error(&b, "rejected");
    first.ok(&a);
    let mut replay = TransactionResponse::new();
    replay.ok(&a);
    replay.error(&b, "rejected");
    let first_bytes = json::to_vec(&Value::Object(first.to_object()));
    assert_eq!(
        first_bytes,
        json::to_vec(&Value::Object(replay.to_object()))
    );
    assert_eq!(
        String::from_utf8(first_bytes.clone()).unwrap(),
        r#"{"pdus":{"$a:a.example":{},"$b:a.example":{"error":"rejected"}}}"#
    );
    // Parsing the same transaction twice gives the same value.
    let body = body(&[pdu_text(1)], &[typing_text("@u:a.example")]);
    assert_eq!(parse(&body), parse(&body));
    // The sender reads the answer back.
    let read = TransactionResponse::from_slice(&first_bytes).unwrap();
    assert_eq!(read, first);
    assert_eq!(
        read.errors().collect::<Vec<_>>(),
        [("$b:a.example", "rejected")]
    );
}

#[test]
fn response_reading_is_lenient_and_bounded() {
    let read = TransactionResponse::from_slice(br#"{"pdus":{"$x":[],"$y":{"error":5}}}"#).unwrap();
    assert_eq!(read.errors().count(), 0);
    assert_eq!(read.pdus.len(), 2);
    assert_eq!(
        TransactionResponse::from_slice(b"{}").unwrap(),
        TransactionResponse::new()
    );
    let many: Vec<String> = (0..=MAX_RESPONSE_ENTRIES)
        .map(|n| format!(r#""$e{n}":{{}}"#))
        .collect();
    let text = format!(r#"{{"pdus":{{{}}}}}"#, many.join(","));
    assert!(matches!(
        TransactionResponse::from_slice(text.as_bytes()),
        Err(TxnError::TooMany { .. })
    ));
}

// ---- the outbound queue ----

const MIN: i64 = 10 * 60 * 1000;

fn queue() -> OutboundQueue {
    OutboundQueue::new(
        server("us.example"),
        server("peer.example"),
        RetryPolicy::synapse(),
    )
}

fn push(queue: &mut OutboundQueue, room: u8, n: u64) {
    let room_id = RoomId::parse(&format!("!r{room}:us.example")).unwrap();
    let mut pdu = Object::new();
    pdu.insert("room_id", Value::from(room_id.as_str()));
    pdu.insert("n", Value::from(n));
    queue.push_room_pdu(room_id, pdu);
}

fn sent_numbers(txn: &Transaction) -> Vec<u64> {
    let body = txn.request.body.as_ref().unwrap();
    body.get("pdus")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|pdu| pdu.get("n").and_then(Value::as_i64).unwrap() as u64)
        .collect()
}

fn send(queue: &mut OutboundQueue, now: i64) -> Transaction {
    match queue.poll(now) {
        QueueStep::Send(txn) => txn,
        other => panic!("expected a transaction, got {other:?}"),
    }
}

fn sent() -> Outcome {
    Outcome::Sent {
        pdu_errors: BTreeMap::new(),
    }
}

#[test]
fn one_transaction_in_flight() {
    let mut queue = queue();
    assert_eq!(queue.poll(0), QueueStep::Idle);
    for n in 0..60 {
        push(&mut queue, (n % 3) as u8, n);
    }
    let first = send(&mut queue, 10);
    assert_eq!(first.txn_id, "1");
    assert_eq!(first.request.uri, "/_matrix/federation/v1/send/1");
    assert_eq!(sent_numbers(&first), (0..50).collect::<Vec<_>>());
    let body = first.request.body.as_ref().unwrap();
    assert_eq!(
        body.get("origin").and_then(Value::as_str),
        Some("us.example")
    );
    assert_eq!(
        body.get("origin_server_ts").and_then(Value::as_i64),
        Some(10)
    );
    assert_eq!(first.request.destination.as_str(), "peer.example");
    // While it is out, nothing else goes.
    push(&mut queue, 0, 60);
    assert_eq!(queue.poll(11), QueueStep::Idle);
    assert_eq!(
        queue.on_result("2", sent(), 12),
        Err(QueueError::UnknownTransaction {
            txn_id: "2".into(),
            in_flight: Some("1".into())
        })
    );
    queue.on_result("1", sent(), 12).unwrap();
    let second = send(&mut queue, 13);
    assert_eq!(second.number, 2);
    assert_eq!(sent_numbers(&second), (50..61).collect::<Vec<_>>());
    queue.on_result("2", sent(), 14).unwrap();
    assert_eq!(queue.poll(15), QueueStep::Idle);
    assert_eq!(queue.pending_pdus(), 0);
}

#[test]
fn edus_go_at_most_a_hundred_at_a_time() {
    let mut queue = queue();
    let room = RoomId::parse("!r:us.example").unwrap();
    for n in 0..150 {
        let user = UserId::parse(&format!("@u{n}:us.example")).unwrap();
        queue.push_edu(Edu::typing(room.clone(), user, true));
    }
    let txn = send(&mut queue, 0);
    let body = txn.request.body.as_ref().unwrap();
    assert_eq!(
        body.get("edus").and_then(Value::as_array).unwrap().len(),
        100
    );
    assert_eq!(queue.pending_edus(), 150);
    queue.on_result(&txn.txn_id, sent(), 1).unwrap();
    assert_eq!(queue.pending_edus(), 50);
}

#[test]
fn backoff_grows_and_is_capped() {
    let mut queue = queue();
    push(&mut queue, 0, 0);
    let mut now = 0;
    let mut waits = Vec::new();
    for _ in 0..14 {
        let txn = send(&mut queue, now);
        assert_eq!(
            txn.txn_id, "1",
            "a failed transaction is retried under its ID"
        );
        queue.on_result(&txn.txn_id, Outcome::Failed, now).unwrap();
        let QueueStep::WaitUntil(at) = queue.poll(now) else {
            panic!("expected a wait")
        };
        waits.push(at - now);
        now = at;
        if queue.is_catching_up() {
            break;
        }
    }
    assert_eq!(waits[..3], [MIN, 2 * MIN, 4 * MIN]);
    let policy = RetryPolicy::synapse();
    let mut interval = 0;
    for _ in 0..20 {
        interval = policy.next_interval(interval);
    }
    assert_eq!(interval, 7 * 24 * 60 * 60 * 1000);
    assert_eq!(policy.next_interval(interval), interval);
}

#[test]
fn backoff_reaches_its_cap_through_the_queue() {
    let policy = RetryPolicy::synapse()
        .with_intervals(100, 2, 1_000)
        .with_catch_up(i64::MAX, 1_000);
    let mut queue = OutboundQueue::new(server("us.example"), server("peer.example"), policy);
    push(&mut queue, 0, 0);
    let mut now = 0;
    let mut waits = Vec::new();
    for _ in 0..7 {
        let txn = send(&mut queue, now);
        assert_eq!(txn.txn_id, "1");
        queue.on_result(&txn.txn_id, Outcome::Failed, now).unwrap();
        let QueueStep::WaitUntil(at) = queue.poll(now + 1) else {
            panic!("expected a wait")
        };
        waits.push(at - now);
        now = at;
    }
    assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
    assert!(!queue.is_catching_up());
    let txn = send(&mut queue, now);
    queue.on_result(&txn.txn_id, sent(), now).unwrap();
    assert_eq!(queue.retry_interval_ms(), 0);
}

#[test]
fn keyed_edus_replace_waiting_ones() {
    use crate::federation::edu::PresenceUpdate;

    let mut queue = queue();
    let alice = UserId::parse("@alice:us.example").unwrap();
    let bob = UserId::parse("@bob:us.example").unwrap();
    let room = RoomId::parse("!r:us.example").unwrap();
    queue.push_edu(Edu::typing(room.clone(), alice.clone(), true));
    queue.push_edu(Edu::typing(room.clone(), bob.clone(), true));
    queue.push_edu(Edu::typing(room.clone(), alice.clone(), false));
    queue.push_edu(Edu::presence(vec![
        PresenceUpdate::new(alice.clone(), "online"),
        PresenceUpdate::new(bob.clone(), "online"),
    ]));
    queue.push_edu(Edu::presence(vec![PresenceUpdate::new(
        alice.clone(),
        "offline",
    )]));
    assert_eq!(queue.pending_edus(), 4);
    let txn = send(&mut queue, 0);
    let edus = txn.request.body.as_ref().unwrap().get("edus").unwrap();
    let edus: Vec<Edu> = edus
        .as_array()
        .unwrap()
        .iter()
        .map(|edu| crate::federation::edu::parse_edu(edu.as_object().unwrap()).unwrap())
        .collect();
    assert_eq!(
        edus,
        [
            Edu::typing(room.clone(), bob.clone(), true),
            Edu::typing(room, alice.clone(), false),
            Edu::presence(vec![PresenceUpdate::new(bob, "online")]),
            Edu::presence(vec![PresenceUpdate::new(alice, "offline")]),
        ]
    );
}

#[test]
fn remote_up_clears_the_backoff() {
    let mut queue = queue();
    push(&mut queue, 0, 0);
    let txn = send(&mut queue, 0);
    queue.on_result(&txn.txn_id, Outcome::Failed, 0).unwrap();
    assert_eq!(queue.poll(1), QueueStep::WaitUntil(MIN));
    queue.on_remote_up(2);
    assert_eq!(queue.retry_interval_ms(), 0);
    let again = send(&mut queue, 3);
    assert_eq!(again.txn_id, txn.txn_id);
    assert_eq!(again.request, txn.request, "the retry is byte-identical");
}

#[test]
fn catch_up_keeps_the_latest_pdu_per_room() {
    let mut queue = queue();
    let user = UserId::parse("@u:us.example").unwrap();
    let room = RoomId::parse("!r1:us.example").unwrap();
    for n in 0..10 {
        push(&mut queue, (n % 3) as u8, n);
    }
    queue.push_edu(Edu::typing(room.clone(), user.clone(), true));
    queue.push_edu(Edu::receipt(
        room.clone(),
        "m.read",
        user.clone(),
        crate::federation::edu::UserReceipt::default(),
    ));
    let latest = crate::federation::edu::UserReceipt::new(
        vec![EventId::parse("$latest:us.example").unwrap()],
        Object::new(),
    );
    queue.push_edu(Edu::receipt(
        room.clone(),
        "m.read",
        user.clone(),
        latest.clone(),
    ));
    let txn = send(&mut queue, 0);
    let mut now = 0;
    queue.on_result(&txn.txn_id, Outcome::Failed, now).unwrap();
    while !queue.is_catching_up() {
        now = match queue.poll(now) {
            QueueStep::WaitUntil(at) => at,
            other => panic!("expected a wait, got {other:?}"),
        };
        let retry = send(&mut queue, now);
        queue
            .on_result(&retry.txn_id, Outcome::Failed, now)
            .unwrap();
    }
    assert!(now >= 60 * 60 * 1000);
    assert_eq!(queue.pending_pdus(), 3);
    assert_eq!(
        queue.pending_edus(),
        1,
        "typing dropped, older receipt dropped"
    );
    // A later PDU of a room replaces the queued one; a typing EDU is not queued.
    push(&mut queue, 1, 99);
    queue.push_edu(Edu::typing(room, user, false));
    assert_eq!(queue.pending_edus(), 1);
    queue.on_remote_up(now);
    let txn = send(&mut queue, now);
    assert_ne!(txn.txn_id, "1", "catch-up sends under a new ID");
    assert_eq!(sent_numbers(&txn), [8, 9, 99]);
    let edus = txn.request.body.as_ref().unwrap().get("edus").unwrap();
    let Some(Edu::Receipt(receipts)) = edus
        .as_array()
        .and_then(|edus| edus.first())
        .and_then(Value::as_object)
        .map(|edu| crate::federation::edu::parse_edu(edu).unwrap())
    else {
        panic!("no receipt sent")
    };
    assert_eq!(receipts.iter().next().unwrap().3, &latest);
    queue.on_result(&txn.txn_id, sent(), now).unwrap();
    assert!(!queue.is_catching_up());
}

#[test]
fn too_many_pending_pdus_start_catch_up() {
    let mut queue = OutboundQueue::new(
        server("us.example"),
        server("peer.example"),
        RetryPolicy::synapse().with_catch_up(60_000, 5),
    );
    for n in 0..6 {
        push(&mut queue, (n % 2) as u8, n);
    }
    assert!(queue.is_catching_up());
    assert_eq!(queue.pending_pdus(), 2);
}

#[test]
fn restore_after_a_crash_resends_the_same_transaction() {
    let mut queue = queue().with_next_txn_number(1_700_000_000_000);
    for n in 0..3 {
        push(&mut queue, 0, n);
    }
    queue.push_edu(Edu::presence(vec![
        crate::federation::edu::PresenceUpdate::new(
            UserId::parse("@u:us.example").unwrap(),
            "online",
        ),
    ]));
    let txn = send(&mut queue, 5);
    assert_eq!(txn.txn_id, "1700000000000");
    push(&mut queue, 1, 3);
    // The process dies with the transaction out; the snapshot survives.
    let stored = json::to_vec(&Value::Object(queue.snapshot()));
    let Value::Object(stored) = json::parse(&stored, &json::ParseOptions::strict()).unwrap() else {
        panic!("snapshot is not an object")
    };
    let mut restored = OutboundQueue::restore(
        server("us.example"),
        server("peer.example"),
        RetryPolicy::synapse(),
        &stored,
    )
    .unwrap();
    assert_eq!(restored.pending_pdus(), 4);
    let again = send(&mut restored, 1_000);
    assert_eq!(again.txn_id, txn.txn_id);
    assert_eq!(again.request, txn.request);
    restored.on_result(&again.txn_id, sent(), 1_001).unwrap();
    let next = send(&mut restored, 1_002);
    assert_eq!(next.number, 1_700_000_000_001);
    assert_eq!(sent_numbers(&next), [3]);
}

#[test]
fn bad_snapshots_are_refused() {
    let restore = |text: &str| {
        OutboundQueue::restore(
            server("us.example"),
            server("peer.example"),
            RetryPolicy::synapse(),
            &object(text),
        )
    };
    assert_eq!(
        restore("{}"),
        Err(QueueError::BadSnapshot {
            field: "next_txn_number"
        })
    );
    assert_eq!(
        restore(
            r#"{"next_txn_number":1,"retry_interval_ms":0,"catching_up":false,"pdus":[{"room_id":"x"}],"edus":[]}"#
        ),
        Err(QueueError::BadSnapshot { field: "pdus" })
    );
    let empty = restore(
        r#"{"next_txn_number":4,"retry_interval_ms":0,"catching_up":false,"pdus":[],"edus":[]}"#,
    )
    .unwrap();
    assert_eq!(empty.next_txn_number(), 4);
}

#[test]
fn outcome_from_reply() {
    assert_eq!(
        Outcome::from_reply(&Reply::response(
            200,
            r#"{"pdus":{"$a":{"error":"no"},"$b":{}}}"#
        )),
        Outcome::Sent {
            pdu_errors: BTreeMap::from([("$a".to_owned(), "no".to_owned())])
        }
    );
    assert_eq!(
        Outcome::from_reply(&Reply::response(500, "{}")),
        Outcome::Failed
    );
    assert_eq!(Outcome::from_reply(&Reply::Failed), Outcome::Failed);
    assert_eq!(
        Outcome::from_reply(&Reply::response(200, "not json")),
        Outcome::Failed
    );
}

#[derive(Debug, Clone)]
enum Action {
    Push(u8),
    Poll(u16),
    Succeed,
    Fail(u16),
    RemoteUp,
    Crash,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u8..4).prop_map(Action::Push),
        3 => (0u16..2000).prop_map(Action::Poll),
        2 => Just(Action::Succeed),
        2 => (0u16..2000).prop_map(Action::Fail),
        1 => Just(Action::RemoteUp),
        1 => Just(Action::Crash),
    ]
}

proptest! {
    /// No PDU is lost before it is acknowledged unless a later PDU of its room
    /// replaced it in catch-up, and transaction numbers strictly increase.
    #[test]
    fn queue_never_loses_unacknowledged_pdus(actions in prop::collection::vec(action(), 1..120)) {
        let policy = RetryPolicy::synapse()
            .with_intervals(100, 2, 10_000)
            .with_catch_up(1_000, 20);
        let mut queue = OutboundQueue::new(server("us.example"), server("peer.example"), policy);
        let mut now = 0i64;
        let mut next = 0u64;
        let mut pushed: Vec<(u8, u64)> = Vec::new();
        let mut acked = std::collections::BTreeSet::new();
        let mut out: Option<Transaction> = None;
        let mut numbers: Vec<u64> = Vec::new();
        for action in actions {
            match action {
                Action::Push(room) => {
                    push(&mut queue, room, next);
                    pushed.push((room, next));
                    next += 1;
                }
                Action::Poll(step) => {
                    now += i64::from(step);
                    if let QueueStep::Send(txn) = queue.poll(now) {
                        prop_assert!(out.is_none(), "two transactions in flight");
                        if numbers.last() != Some(&txn.number) {
                            prop_assert!(numbers.last().is_none_or(|last| *last < txn.number));
                            numbers.push(txn.number);
                        }
                        prop_assert!(sent_numbers(&txn).len() <= MAX_PDUS);
                        out = Some(txn);
                    }
                }
                Action::Succeed => {
                    if let Some(txn) = out.take() {
                        queue.on_result(&txn.txn_id, sent(), now).unwrap();
                        acked.extend(sent_numbers(&txn));
                    }
                }
                Action::Fail(step) => {
                    now += i64::from(step);
                    if let Some(txn) = out.take() {
                        queue.on_result(&txn.txn_id, Outcome::Failed, now).unwrap();
                    }
                }
                Action::RemoteUp => queue.on_remote_up(now),
                Action::Crash => {
                    let snapshot = queue.snapshot();
                    queue = OutboundQueue::restore(
                        server("us.example"),
                        server("peer.example"),
                        policy,
                        &snapshot,
                    )
                    .unwrap();
                    out = None;
                }
            }
        }
        // Whatever is still queued, in flight or not.
        let snapshot = queue.snapshot();
        let mut held = std::collections::BTreeSet::new();
        let in_flight = snapshot.get("in_flight").and_then(Value::as_object);
        for list in [snapshot.get("pdus"), in_flight.and_then(|txn| txn.get("pdus"))]
            .into_iter()
            .flatten()
        {
            for entry in list.as_array().unwrap() {
                held.insert(entry.get("pdu").and_then(|pdu| pdu.get("n")).and_then(Value::as_i64).unwrap() as u64);
            }
        }
        for (index, (room, n)) in pushed.iter().enumerate() {
            let replaced = pushed[index + 1..].iter().any(|(later, _)| later == room);
            prop_assert!(
                acked.contains(n) || held.contains(n) || replaced,
                "pdu {} of room {} was lost", n, room
            );
        }
    }
}

#[test]
fn a_pushed_pdu_arrives_as_itself() {
    use crate::dag::test_room::{TestRoom, user};
    use crate::event::Pdu;
    use crate::room_version::RoomVersion;

    let mut room = TestRoom::new(RoomVersion::V10);
    let alice = user("alice");
    room.add_create(&alice);
    room.add(
        "hello",
        "m.room.message",
        &alice,
        None,
        r#"{"body":"hi"}"#,
        &["create"],
        &["create"],
    );
    let hello = room.pdu("hello").clone();
    let mut queue = OutboundQueue::new(
        server("example.com"),
        server("peer.example"),
        RetryPolicy::synapse(),
    );
    queue.push_pdu(&hello);
    let txn = send(&mut queue, 7);
    let body = json::to_vec(&Value::Object(txn.request.body.clone().unwrap()));
    let incoming = parse_transaction(&txn.txn_id, &body, &server("example.com")).unwrap();
    assert_eq!(incoming.pdus.len(), 1);
    assert_eq!(&incoming.pdus[0].room_id, hello.room_id());
    let received = Pdu::from_object(incoming.pdus[0].object.clone(), &RoomVersion::V10).unwrap();
    assert_eq!(received.event_id(), hello.event_id());
    let mut response = TransactionResponse::new();
    response.ok(received.event_id());
    let answer = json::to_vec(&Value::Object(response.to_object()));
    let outcome = Outcome::from_reply(&Reply::response(200, answer));
    assert_eq!(outcome, sent());
    queue.on_result(&txn.txn_id, outcome, 8).unwrap();
    assert_eq!(queue.pending_pdus(), 0);
}

#[test]
fn remote_up_makes_a_waiting_transaction_due_now() {
    let mut queue = queue();
    push(&mut queue, 0, 0);
    let txn = send(&mut queue, 1_000);
    queue
        .on_result(&txn.txn_id, Outcome::Failed, 1_000)
        .unwrap();
    queue.on_remote_up(2_000);
    assert_eq!(queue.poll(1_500), QueueStep::WaitUntil(2_000));
    assert!(matches!(queue.poll(2_000), QueueStep::Send(_)));
}
