//! The redaction algorithm: which keys of an event survive, per room version's
//! [`RedactionRules`], as a redacted object and as the bytes signatures cover.

use crate::json::{self, Object, Value};
use crate::room_version::{RedactionRules, RoomVersion};

/// The event redacted by `version`'s algorithm.
///
/// Top-level keys outside the version's keep-list are removed (including `unsigned`
/// and a top-level `redacts`), and `content` is replaced by its kept keys.
#[must_use]
pub fn redact(event: &Object, version: &RoomVersion) -> Object {
    let entries = redacted_entries(event, version, |_| true)
        .into_iter()
        .map(|(key, item)| (key.to_owned(), item.to_value()))
        .collect();
    let mut redacted = Object::from_entries(entries);
    // Synapse keeps `unsigned.age_ts` and `unsigned.replaces_state`. Neither is signed
    // or hashed, so keeping them changes no signature, hash or event ID.
    if let Some(unsigned) = event.get("unsigned").and_then(Value::as_object) {
        let kept: Object = unsigned
            .iter()
            .filter(|(key, _)| matches!(*key, "age_ts" | "replaces_state"))
            .map(|(key, value)| (key.to_owned(), value.clone()))
            .collect();
        redacted.insert("unsigned", Value::Object(kept));
    }
    redacted
}

/// Appends the canonical bytes of the redacted event without `signatures` and
/// `unsigned`: the bytes that are signed and whose SHA-256 is the reference hash.
pub(crate) fn write_redacted_signing_bytes(
    event: &Object,
    version: &RoomVersion,
    out: &mut Vec<u8>,
) {
    let entries = redacted_entries(event, version, |key| key != "signatures");
    out.push(b'{');
    for (index, (key, item)) in entries.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        json::write_string(key, out);
        out.push(b':');
        item.write(out);
    }
    out.push(b'}');
}

/// One top-level entry of a redacted event, borrowed from the original.
enum Item<'a> {
    Value(&'a Value),
    Content(Vec<(&'a str, Kept<'a>)>),
}

/// One kept entry of redacted content.
enum Kept<'a> {
    Value(&'a Value),
    /// A `third_party_invite` reduced to its `signed` member (v11+).
    SignedOnly(Option<&'a Value>),
}

impl Item<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Value(value) => json::write_value(value, out),
            Self::Content(entries) => {
                out.push(b'{');
                for (index, (key, kept)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    json::write_string(key, out);
                    out.push(b':');
                    match kept {
                        Kept::Value(value) => json::write_value(value, out),
                        Kept::SignedOnly(None) => out.extend_from_slice(b"{}"),
                        Kept::SignedOnly(Some(signed)) => {
                            out.extend_from_slice(b"{\"signed\":");
                            json::write_value(signed, out);
                            out.push(b'}');
                        }
                    }
                }
                out.push(b'}');
            }
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Value(value) => (*value).clone(),
            Self::Content(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, kept)| {
                        let value = match kept {
                            Kept::Value(value) => (*value).clone(),
                            Kept::SignedOnly(signed) => {
                                let mut object = Object::new();
                                if let Some(signed) = signed {
                                    object.insert("signed", (*signed).clone());
                                }
                                Value::Object(object)
                            }
                        };
                        ((*key).to_owned(), value)
                    })
                    .collect(),
            ),
        }
    }
}

/// The redacted event's entries in key order; `include` can drop further top-level
/// keys (such as `signatures`).
fn redacted_entries<'a>(
    event: &'a Object,
    version: &RoomVersion,
    include: impl Fn(&str) -> bool,
) -> Vec<(&'a str, Item<'a>)> {
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let drops_room_id = version.room_id_from_create_event && event_type == "m.room.create";
    let mut entries = Vec::with_capacity(event.len() + 1);
    let mut content_written = false;
    for (key, value) in event {
        if !content_written && key >= "content" {
            entries.push((
                "content",
                Item::Content(kept_content(event_type, event, version)),
            ));
            content_written = true;
            if key == "content" {
                continue;
            }
        }
        let kept = keeps_top_level(key, &version.redaction) && !(drops_room_id && key == "room_id");
        if kept && include(key) {
            entries.push((key, Item::Value(value)));
        }
    }
    if !content_written {
        entries.push((
            "content",
            Item::Content(kept_content(event_type, event, version)),
        ));
    }
    entries
}

fn keeps_top_level(key: &str, rules: &RedactionRules) -> bool {
    matches!(
        key,
        "auth_events"
            | "depth"
            | "event_id"
            | "hashes"
            | "origin_server_ts"
            | "prev_events"
            | "room_id"
            | "sender"
            | "signatures"
            | "state_key"
            | "type"
    ) || (rules.keeps_origin_membership_prev_state
        && matches!(key, "membership" | "origin" | "prev_state"))
}

fn kept_content<'a>(
    event_type: &str,
    event: &'a Object,
    version: &RoomVersion,
) -> Vec<(&'a str, Kept<'a>)> {
    let Some(content) = event.get("content").and_then(Value::as_object) else {
        return Vec::new();
    };
    let rules = &version.redaction;
    content
        .iter()
        .filter_map(|(key, value)| {
            if event_type == "m.room.member"
                && key == "third_party_invite"
                && rules.keeps_third_party_invite_signed
            {
                return value
                    .as_object()
                    .map(|invite| (key, Kept::SignedOnly(invite.get("signed"))));
            }
            content_key_kept(event_type, key, rules).then_some((key, Kept::Value(value)))
        })
        .collect()
}

fn content_key_kept(event_type: &str, key: &str, rules: &RedactionRules) -> bool {
    match event_type {
        "m.room.member" => {
            key == "membership"
                || (rules.keeps_join_authorised_via_users_server
                    && key == "join_authorised_via_users_server")
        }
        "m.room.create" => rules.keeps_all_create_content || key == "creator",
        "m.room.join_rules" => {
            key == "join_rule" || (rules.keeps_join_rules_allow && key == "allow")
        }
        "m.room.power_levels" => {
            matches!(
                key,
                "ban"
                    | "events"
                    | "events_default"
                    | "kick"
                    | "redact"
                    | "state_default"
                    | "users"
                    | "users_default"
            ) || (rules.keeps_power_levels_invite && key == "invite")
        }
        "m.room.aliases" => rules.keeps_aliases && key == "aliases",
        "m.room.history_visibility" => key == "history_visibility",
        "m.room.redaction" => rules.keeps_redaction_redacts && key == "redacts",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::ParseOptions;

    fn redacted(version: &RoomVersion, event: &str) -> String {
        let event = json::parse(event.as_bytes(), &ParseOptions::lenient()).unwrap();
        json::to_string(&Value::Object(redact(event.as_object().unwrap(), version)))
    }

    #[test]
    fn top_level_keep_list_changes_in_v11() {
        let event = r#"{"type":"m.room.message","origin":"o","membership":"join","prev_state":[],"redacts":"$x","unsigned":{"age":1,"age_ts":2},"content":{"body":"hi"},"depth":1}"#;
        assert_eq!(
            redacted(&RoomVersion::V10, event),
            r#"{"content":{},"depth":1,"membership":"join","origin":"o","prev_state":[],"type":"m.room.message","unsigned":{"age_ts":2}}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, event),
            r#"{"content":{},"depth":1,"type":"m.room.message","unsigned":{"age_ts":2}}"#
        );
    }

    #[test]
    fn content_appears_even_when_absent() {
        assert_eq!(
            redacted(&RoomVersion::V1, r#"{"type":"x","sender":"@a:b"}"#),
            r#"{"content":{},"sender":"@a:b","type":"x"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V1, r#"{"type":"x","content":"junk"}"#),
            r#"{"content":{},"type":"x"}"#
        );
    }

    #[test]
    fn member_content_by_version() {
        let event = r#"{"type":"m.room.member","content":{"membership":"join","join_authorised_via_users_server":"@u:s","third_party_invite":{"display_name":"d","signed":{"mxid":"@a:b"}},"displayname":"D"}}"#;
        assert_eq!(
            redacted(&RoomVersion::V8, event),
            r#"{"content":{"membership":"join"},"type":"m.room.member"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V9, event),
            r#"{"content":{"join_authorised_via_users_server":"@u:s","membership":"join"},"type":"m.room.member"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, event),
            r#"{"content":{"join_authorised_via_users_server":"@u:s","membership":"join","third_party_invite":{"signed":{"mxid":"@a:b"}}},"type":"m.room.member"}"#
        );
        // Synapse keeps an empty object when `signed` is missing, and drops a non-object.
        let unsigned_invite = r#"{"type":"m.room.member","content":{"membership":"invite","third_party_invite":{"display_name":"d"}}}"#;
        assert_eq!(
            redacted(&RoomVersion::V11, unsigned_invite),
            r#"{"content":{"membership":"invite","third_party_invite":{}},"type":"m.room.member"}"#
        );
        let odd_invite = r#"{"type":"m.room.member","content":{"membership":"invite","third_party_invite":"x"}}"#;
        assert_eq!(
            redacted(&RoomVersion::V12, odd_invite),
            r#"{"content":{"membership":"invite"},"type":"m.room.member"}"#
        );
    }

    #[test]
    fn state_content_keep_lists() {
        let create = r#"{"type":"m.room.create","content":{"creator":"@a:b","room_version":"1","m.federate":false}}"#;
        assert_eq!(
            redacted(&RoomVersion::V10, create),
            r#"{"content":{"creator":"@a:b"},"type":"m.room.create"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, create),
            r#"{"content":{"creator":"@a:b","m.federate":false,"room_version":"1"},"type":"m.room.create"}"#
        );
        let join_rules =
            r#"{"type":"m.room.join_rules","content":{"join_rule":"restricted","allow":[],"x":1}}"#;
        assert_eq!(
            redacted(&RoomVersion::V7, join_rules),
            r#"{"content":{"join_rule":"restricted"},"type":"m.room.join_rules"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V8, join_rules),
            r#"{"content":{"allow":[],"join_rule":"restricted"},"type":"m.room.join_rules"}"#
        );
        let power = r#"{"type":"m.room.power_levels","content":{"ban":1,"events":{},"events_default":2,"invite":3,"kick":4,"notifications":{},"redact":5,"state_default":6,"users":{},"users_default":7}}"#;
        assert_eq!(
            redacted(&RoomVersion::V10, power),
            r#"{"content":{"ban":1,"events":{},"events_default":2,"kick":4,"redact":5,"state_default":6,"users":{},"users_default":7},"type":"m.room.power_levels"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, power),
            r#"{"content":{"ban":1,"events":{},"events_default":2,"invite":3,"kick":4,"redact":5,"state_default":6,"users":{},"users_default":7},"type":"m.room.power_levels"}"#
        );
        let aliases = r##"{"type":"m.room.aliases","content":{"aliases":["#a:b"]}}"##;
        assert_eq!(
            redacted(&RoomVersion::V5, aliases),
            r##"{"content":{"aliases":["#a:b"]},"type":"m.room.aliases"}"##
        );
        assert_eq!(
            redacted(&RoomVersion::V6, aliases),
            r#"{"content":{},"type":"m.room.aliases"}"#
        );
        let redaction =
            r#"{"type":"m.room.redaction","redacts":"$a","content":{"redacts":"$a","reason":"r"}}"#;
        assert_eq!(
            redacted(&RoomVersion::V10, redaction),
            r#"{"content":{},"type":"m.room.redaction"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, redaction),
            r#"{"content":{"redacts":"$a"},"type":"m.room.redaction"}"#
        );
        let visibility = r#"{"type":"m.room.history_visibility","content":{"history_visibility":"shared","x":1}}"#;
        assert_eq!(
            redacted(&RoomVersion::V1, visibility),
            r#"{"content":{"history_visibility":"shared"},"type":"m.room.history_visibility"}"#
        );
    }

    #[test]
    fn v12_create_loses_room_id() {
        let create = r#"{"type":"m.room.create","room_id":"!r:s","content":{"room_version":"12"}}"#;
        assert_eq!(
            redacted(&RoomVersion::V12, create),
            r#"{"content":{"room_version":"12"},"type":"m.room.create"}"#
        );
        assert_eq!(
            redacted(&RoomVersion::V11, create),
            r#"{"content":{"room_version":"12"},"room_id":"!r:s","type":"m.room.create"}"#
        );
    }

    #[test]
    fn signing_bytes_are_the_redacted_form_without_signatures() {
        let text = r#"{"type":"m.room.member","content":{"membership":"join","x":1},"signatures":{"s":{}},"unsigned":{"a":1},"origin":"o"}"#;
        let event = json::parse(text.as_bytes(), &ParseOptions::strict()).unwrap();
        let mut out = Vec::new();
        write_redacted_signing_bytes(event.as_object().unwrap(), &RoomVersion::V3, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"content":{"membership":"join"},"origin":"o","type":"m.room.member"}"#
        );
    }

    #[test]
    fn redaction_is_idempotent_in_every_version() {
        let event = r#"{"type":"m.room.member","content":{"membership":"join","third_party_invite":{"signed":{}}},"origin":"o","unsigned":{}}"#;
        for version in &RoomVersion::ALL {
            let once = redacted(version, event);
            assert_eq!(
                redacted(version, &once),
                once,
                "room version {}",
                version.id
            );
        }
    }
}
