//! The application-service API end to end through the public API, with a
//! registration shaped as mautrix bridges generate theirs: load, portal-room alias
//! query, masquerading puppets, a transaction carrying their events, and the bridge's
//! token on the way back.

use matrix_serverlib::appservice::{
    MasqueradeError, Registration, Registrations, RoomSnapshot, Transaction, TransactionCounter,
    alias_query,
};
use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::event::{ClientEvent, EventBuilder};
use matrix_serverlib::id::{RoomAliasId, ServerName};
use matrix_serverlib::json::{self, Object, ParseOptions, Value};
use matrix_serverlib::room_version::RoomVersion;

/// A mautrix-style registration (its YAML, as JSON), unknown keys included.
const REGISTRATION: &str = r#"{
    "id": "telegram",
    "url": "http://localhost:29317",
    "as_token": "wfVdbRuHB2BM3rZ6",
    "hs_token": "9vSJ7ZgN9xquuD3c",
    "sender_localpart": "telegrambot",
    "rate_limited": false,
    "namespaces": {
        "users": [
            {"regex": "^@telegrambot:example\\.org$", "exclusive": true},
            {"regex": "^@telegram_.*:example\\.org$", "exclusive": true}
        ],
        "aliases": [{"regex": "^#telegram_.*:example\\.org$", "exclusive": true}]
    },
    "de.sorunome.msc2409.push_ephemeral": true,
    "receive_ephemeral": true,
    "org.matrix.msc3202": false
}"#;

#[test]
fn a_bridge_from_registration_to_transaction() {
    let registration: Registration = serde_json::from_str(REGISTRATION).unwrap();
    assert!(!registration.rate_limited() && registration.receive_ephemeral());
    let server = ServerName::parse("example.org").unwrap();
    let services = Registrations::new(vec![registration], &server).unwrap();

    // A user joins #telegram_chat: nobody has it yet, so the bridge is asked.
    let alias = RoomAliasId::parse("#telegram_chat:example.org").unwrap();
    assert!(!services.may_modify_alias(&alias, "@alice:example.org"));
    let target = services.alias_query_targets(alias.as_str()).next().unwrap();
    let query = alias_query(target.registration(), &alias);
    assert_eq!(
        query.url.as_deref(),
        Some("http://localhost:29317/_matrix/app/v1/rooms/%23telegram_chat%3Aexample.org")
    );
    assert_eq!(query.authorization, "Bearer 9vSJ7ZgN9xquuD3c");

    // The bridge comes back with its token and acts as a puppet.
    let bridge = services.by_as_token("wfVdbRuHB2BM3rZ6").unwrap();
    let puppet = bridge
        .masquerade(Some("@telegram_42:example.org"), None)
        .unwrap()
        .finish(true, false)
        .unwrap();
    assert_eq!(puppet.user_id.as_str(), "@telegram_42:example.org");
    assert!(matches!(
        bridge.masquerade(Some("@alice:example.org"), None),
        Err(MasqueradeError::NotInNamespace { .. })
    ));
    assert!(
        services
            .exclusive_user_owner("@telegram_7:example.org")
            .is_some()
    );

    // Alice speaks in the portal room, where the puppet is joined.
    let key = SigningKey::from_seed("ed25519:1", [4; 32]);
    let mut content = Object::new();
    content.insert("body", Value::from("hello"));
    let message = EventBuilder::new(&RoomVersion::V11, "@alice:example.org", "m.room.message")
        .room_id("!portal:example.org")
        .content(content)
        .depth(4)
        .origin_server_ts(10)
        .build("example.org", &key)
        .unwrap();
    let aliases = [alias.as_str()];
    let room = RoomSnapshot::new(
        &aliases,
        &["@alice:example.org", "@telegram_42:example.org"],
    );
    let interested = services.interested_in_event(&message, &room);
    assert_eq!(interested.len(), 1);

    let mut counter = TransactionCounter::resume(9);
    let request = Transaction::new(interested[0].registration(), counter.next_id().unwrap())
        .event(&ClientEvent::new(&message).now(15))
        .to_request();
    assert_eq!(request.path, "/_matrix/app/v1/transactions/10");
    let body = match json::parse(&request.body_bytes().unwrap(), &ParseOptions::strict()).unwrap() {
        Value::Object(body) => body,
        other => panic!("{other:?}"),
    };
    assert_eq!(body["events"][0]["content"]["body"].as_str(), Some("hello"));
    assert_eq!(body["events"][0]["unsigned"]["age"].as_i64(), Some(5));
    // Both ephemeral flags are on: both keys are written.
    assert!(body.contains_key("ephemeral") && body.contains_key("de.sorunome.msc2409.ephemeral"));
    assert_eq!(counter.last(), 10);
}
