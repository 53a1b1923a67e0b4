use super::*;
use crate::test_util::object;

fn user(text: &str) -> UserId {
    UserId::parse(text).unwrap()
}

fn room(text: &str) -> RoomId {
    RoomId::parse(text).unwrap()
}

fn round_trips(edu: &Edu) {
    assert_eq!(&parse_edu(&edu.to_object()).unwrap(), edu);
}

#[test]
fn typing_parses_and_round_trips() {
    let edu = parse_edu(&object(
        r#"{"edu_type":"m.typing","content":{"room_id":"!r:a.example","user_id":"@u:a.example","typing":true}}"#,
    ))
    .unwrap();
    assert_eq!(
        edu,
        Edu::typing(room("!r:a.example"), user("@u:a.example"), true)
    );
    assert_eq!(edu.edu_type(), TYPING);
    round_trips(&edu);
}

#[test]
fn typing_field_errors() {
    let missing = parse_edu(&object(
        r#"{"edu_type":"m.typing","content":{"room_id":"!r:a.example","user_id":"@u:a.example"}}"#,
    ));
    assert_eq!(missing, Err(EduError::MissingField { field: "typing" }));
    let wrong = parse_edu(&object(
        r#"{"edu_type":"m.typing","content":{"room_id":"!r:a.example","user_id":"@u:a.example","typing":"yes"}}"#,
    ));
    assert!(matches!(
        wrong,
        Err(EduError::WrongType {
            field: "content.typing",
            ..
        })
    ));
    let bad_user = parse_edu(&object(
        r#"{"edu_type":"m.typing","content":{"room_id":"!r:a.example","user_id":"nobody","typing":true}}"#,
    ));
    assert!(matches!(
        bad_user,
        Err(EduError::InvalidId {
            field: "content.user_id",
            ..
        })
    ));
}

#[test]
fn edu_shape_errors() {
    assert_eq!(
        parse_edu(&object(r#"{"content":{}}"#)),
        Err(EduError::MissingField { field: "edu_type" })
    );
    assert!(matches!(
        parse_edu(&object(r#"{"edu_type":"m.typing","content":[]}"#)),
        Err(EduError::WrongType {
            field: "content",
            ..
        })
    ));
    assert!(matches!(
        parse_edu(&object(r#"{"edu_type":7,"content":{}}"#)),
        Err(EduError::WrongType {
            field: "edu_type",
            ..
        })
    ));
}

#[test]
fn unknown_edu_is_kept() {
    let edu = parse_edu(&object(
        r#"{"edu_type":"org.example.custom","content":{"anything":[1,2]}}"#,
    ))
    .unwrap();
    match &edu {
        Edu::Unknown { edu_type, content } => {
            assert_eq!(edu_type, "org.example.custom");
            assert!(content.contains_key("anything"));
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    assert!(check_edu_origin(&edu, "a.example").is_ok());
    round_trips(&edu);
}

#[test]
fn receipt_parses_and_round_trips() {
    let edu = parse_edu(&object(
        r#"{"edu_type":"m.receipt","content":{"!r:a.example":{"m.read":{
            "@u:a.example":{"event_ids":["$e:a.example"],"data":{"ts":5,"thread_id":"main"}},
            "@v:a.example":{"event_ids":["$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}}}}"#,
    ))
    .unwrap();
    let Edu::Receipt(receipts) = &edu else {
        panic!("not a receipt: {edu:?}");
    };
    assert_eq!(receipts.len(), 2);
    let (room_id, kind, user_id, receipt) = receipts.iter().next().unwrap();
    assert_eq!(room_id.as_str(), "!r:a.example");
    assert_eq!(kind, "m.read");
    assert_eq!(user_id.as_str(), "@u:a.example");
    assert_eq!(receipt.thread_id(), Some("main"));
    round_trips(&edu);
}

#[test]
fn receipt_limits() {
    let ids: Vec<String> = (0..=MAX_RECEIPT_EVENT_IDS)
        .map(|n| format!("\"$e{n}\""))
        .collect();
    let text = format!(
        r#"{{"edu_type":"m.receipt","content":{{"!r:a.example":{{"m.read":{{"@u:a.example":{{"event_ids":[{}],"data":{{}}}}}}}}}}}}"#,
        ids.join(",")
    );
    assert!(matches!(
        parse_edu(&object(&text)),
        Err(EduError::TooMany {
            what: "event_ids",
            ..
        })
    ));
    let users: Vec<String> = (0..=MAX_RECEIPTS)
        .map(|n| format!(r#""@u{n}:a.example":{{"event_ids":[],"data":{{}}}}"#))
        .collect();
    let text = format!(
        r#"{{"edu_type":"m.receipt","content":{{"!r:a.example":{{"m.read":{{{}}}}}}}}}"#,
        users.join(",")
    );
    assert!(matches!(
        parse_edu(&object(&text)),
        Err(EduError::TooMany {
            what: "content",
            count,
            ..
        }) if count == MAX_RECEIPTS + 1
    ));
}

#[test]
fn presence_parses_and_round_trips() {
    let edu = parse_edu(&object(
        r#"{"edu_type":"m.presence","content":{"push":[
            {"user_id":"@u:a.example","presence":"online","last_active_ago":10,"currently_active":true,"status_msg":"hi"},
            {"user_id":"@v:a.example","presence":"offline"}]}}"#,
    ))
    .unwrap();
    let expected = Edu::presence(vec![
        PresenceUpdate::new(user("@u:a.example"), "online")
            .with_last_active_ago(10)
            .with_currently_active(true)
            .with_status_msg("hi"),
        PresenceUpdate::new(user("@v:a.example"), "offline"),
    ]);
    assert_eq!(edu, expected);
    round_trips(&edu);
    let too_many: Vec<String> = (0..=MAX_PRESENCE_UPDATES)
        .map(|n| format!(r#"{{"user_id":"@u{n}:a.example","presence":"online"}}"#))
        .collect();
    let text = format!(
        r#"{{"edu_type":"m.presence","content":{{"push":[{}]}}}}"#,
        too_many.join(",")
    );
    assert!(matches!(
        parse_edu(&object(&text)),
        Err(EduError::TooMany { .. })
    ));
}

#[test]
fn device_list_to_device_and_signing_keys_parse() {
    let device = parse_edu(&object(
        r#"{"edu_type":"m.device_list_update","content":{"user_id":"@u:a.example","device_id":"D","stream_id":3,"prev_id":[2]}}"#,
    ))
    .unwrap();
    assert!(matches!(&device, Edu::DeviceListUpdate(update) if update.stream_id == 3));
    round_trips(&device);
    let to_device = parse_edu(&object(
        r#"{"edu_type":"m.direct_to_device","content":{"sender":"@u:a.example","type":"m.room_key_request","message_id":"m1","messages":{"@x:b.example":{"DEV":{"k":1}}}}}"#,
    ))
    .unwrap();
    assert!(matches!(&to_device, Edu::DirectToDevice(message) if message.message_id == "m1"));
    round_trips(&to_device);
    let bad_messages = parse_edu(&object(
        r#"{"edu_type":"m.direct_to_device","content":{"sender":"@u:a.example","type":"t","message_id":"m1","messages":{"@x:b.example":{"DEV":1}}}}"#,
    ));
    assert!(matches!(bad_messages, Err(EduError::WrongType { .. })));
    let keys = parse_edu(&object(
        r#"{"edu_type":"m.signing_key_update","content":{"user_id":"@u:a.example","master_key":{}}}"#,
    ))
    .unwrap();
    assert!(
        matches!(&keys, Edu::SigningKeyUpdate(update) if update.user_id.as_str() == "@u:a.example")
    );
    round_trips(&keys);
}

#[test]
fn origin_checks_cover_every_user() {
    let cases = [
        r#"{"edu_type":"m.typing","content":{"room_id":"!r:a.example","user_id":"@u:evil.example","typing":true}}"#,
        r#"{"edu_type":"m.receipt","content":{"!r:a.example":{"m.read":{"@u:a.example":{"event_ids":[]},"@m:evil.example":{"event_ids":[]}}}}}"#,
        r#"{"edu_type":"m.presence","content":{"push":[{"user_id":"@u:a.example","presence":"online"},{"user_id":"@m:evil.example","presence":"online"}]}}"#,
        r#"{"edu_type":"m.device_list_update","content":{"user_id":"@u:evil.example","device_id":"D","stream_id":1}}"#,
        r#"{"edu_type":"m.direct_to_device","content":{"sender":"@u:evil.example","type":"t","message_id":"m","messages":{}}}"#,
        r#"{"edu_type":"m.signing_key_update","content":{"user_id":"@u:evil.example"}}"#,
    ];
    for case in cases {
        let edu = parse_edu(&object(case)).unwrap();
        let error = check_edu_origin(&edu, "a.example").unwrap_err();
        assert!(
            matches!(&error, EduError::ForeignUser { user_id, origin, .. }
                if user_id.ends_with(":evil.example") && origin == "a.example"),
            "{case}: {error:?}"
        );
        assert_eq!(error.errcode(), ErrorCode::Forbidden);
        assert!(
            check_edu_origin(&edu, "evil.example").is_err() || edu.users().len() == 1,
            "{case}"
        );
    }
    // To-device recipients are ours, not the origin's: only the sender is checked.
    let to_device = parse_edu(&object(
        r#"{"edu_type":"m.direct_to_device","content":{"sender":"@u:a.example","type":"t","message_id":"m","messages":{"@x:us.example":{"*":{}}}}}"#,
    ))
    .unwrap();
    assert!(check_edu_origin(&to_device, "a.example").is_ok());
}

#[test]
fn origin_check_compares_the_whole_server_name() {
    let edu = Edu::typing(room("!r:a.example"), user("@u:a.example:8448"), false);
    assert!(check_edu_origin(&edu, "a.example").is_err());
    assert!(check_edu_origin(&edu, "a.example:8448").is_ok());
}

#[test]
fn receipts_retain_drops_empty_rooms() {
    let mut receipts = Receipts::new();
    receipts.insert(
        room("!r:a.example"),
        "m.read",
        user("@u:a.example"),
        UserReceipt::default(),
    );
    receipts.insert(
        room("!s:a.example"),
        "m.read",
        user("@v:a.example"),
        UserReceipt::default(),
    );
    receipts.retain(|_, _, user_id, _| user_id.localpart() == "u");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts.rooms.len(), 1);
    receipts.retain(|_, _, _, _| false);
    assert!(receipts.is_empty());
}
