//! Read-only views of the content of the state events the authorization rules read.
//!
//! Each view borrows the event's content and reads fields on demand, answering `None`
//! where a field is absent or of the wrong type: what a wrong type *means* is for the
//! authorization rules of the room version to decide.

use crate::json::{Object, Value};

fn string<'a>(content: &'a Object, key: &str) -> Option<&'a str> {
    content.get(key).and_then(Value::as_str)
}

/// `m.room.create` content.
#[derive(Debug, Clone, Copy)]
pub struct CreateContent<'a>(&'a Object);

impl<'a> CreateContent<'a> {
    /// A view of `content`.
    #[must_use]
    pub fn new(content: &'a Object) -> Self {
        Self(content)
    }

    /// `creator` (meaningful in room versions 1 to 10).
    #[must_use]
    pub fn creator(&self) -> Option<&'a str> {
        string(self.0, "creator")
    }

    /// `room_version`; absent means `"1"`.
    #[must_use]
    pub fn room_version(&self) -> &'a str {
        string(self.0, "room_version").unwrap_or("1")
    }

    /// `m.federate`: only `false` stops other servers (Synapse treats any value other
    /// than `true` as false when it is present; see the auth module).
    #[must_use]
    pub fn federate(&self) -> Option<&'a Value> {
        self.0.get("m.federate")
    }

    /// `additional_creators` (room version 12), if it is a list.
    #[must_use]
    pub fn additional_creators(&self) -> Option<&'a [Value]> {
        self.0.get("additional_creators").and_then(Value::as_array)
    }
}

/// `m.room.member` content.
#[derive(Debug, Clone, Copy)]
pub struct MemberContent<'a>(&'a Object);

impl<'a> MemberContent<'a> {
    /// A view of `content`.
    #[must_use]
    pub fn new(content: &'a Object) -> Self {
        Self(content)
    }

    /// `membership`.
    #[must_use]
    pub fn membership(&self) -> Option<&'a str> {
        string(self.0, "membership")
    }

    /// `join_authorised_via_users_server` (room versions 8+).
    #[must_use]
    pub fn join_authorised_via_users_server(&self) -> Option<&'a Value> {
        self.0.get("join_authorised_via_users_server")
    }

    /// `third_party_invite`, if it is an object.
    #[must_use]
    pub fn third_party_invite(&self) -> Option<&'a Object> {
        self.0.get("third_party_invite").and_then(Value::as_object)
    }

    /// `third_party_invite.signed`, if it is an object.
    #[must_use]
    pub fn third_party_invite_signed(&self) -> Option<&'a Object> {
        self.third_party_invite()
            .and_then(|invite| invite.get("signed"))
            .and_then(Value::as_object)
    }
}

/// `m.room.join_rules` content.
#[derive(Debug, Clone, Copy)]
pub struct JoinRulesContent<'a>(&'a Object);

impl<'a> JoinRulesContent<'a> {
    /// A view of `content`.
    #[must_use]
    pub fn new(content: &'a Object) -> Self {
        Self(content)
    }

    /// `join_rule`.
    #[must_use]
    pub fn join_rule(&self) -> Option<&'a str> {
        string(self.0, "join_rule")
    }

    /// `allow` (room versions 8+), if it is a list.
    #[must_use]
    pub fn allow(&self) -> Option<&'a [Value]> {
        self.0.get("allow").and_then(Value::as_array)
    }
}

/// `m.room.third_party_invite` content.
#[derive(Debug, Clone, Copy)]
pub struct ThirdPartyInviteContent<'a>(&'a Object);

impl<'a> ThirdPartyInviteContent<'a> {
    /// A view of `content`.
    #[must_use]
    pub fn new(content: &'a Object) -> Self {
        Self(content)
    }

    /// `display_name`.
    #[must_use]
    pub fn display_name(&self) -> Option<&'a str> {
        string(self.0, "display_name")
    }

    /// Every public key the invite names: `public_key`, then each
    /// `public_keys[].public_key`, as base64 text (either alphabet).
    #[must_use]
    pub fn public_keys(&self) -> Vec<&'a str> {
        let listed = self
            .0
            .get("public_keys")
            .and_then(Value::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(|entry| entry.get("public_key").and_then(Value::as_str));
        string(self.0, "public_key")
            .into_iter()
            .chain(listed)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::object;

    #[test]
    fn views_read_fields_and_tolerate_wrong_types() {
        let create =
            object(r#"{"creator":"@a:b","additional_creators":["@c:d"],"m.federate":false}"#);
        let view = CreateContent::new(&create);
        assert_eq!(view.creator(), Some("@a:b"));
        assert_eq!(view.room_version(), "1");
        assert_eq!(view.additional_creators().map(<[Value]>::len), Some(1));
        assert_eq!(view.federate(), Some(&Value::Bool(false)));
        let member = object(r#"{"membership":5,"third_party_invite":{"signed":{"token":"t"}}}"#);
        let view = MemberContent::new(&member);
        assert_eq!(view.membership(), None);
        assert!(view.third_party_invite_signed().is_some());
        let rules = object(r#"{"join_rule":"restricted","allow":[{"type":"m.room_membership"}]}"#);
        assert_eq!(
            JoinRulesContent::new(&rules).join_rule(),
            Some("restricted")
        );
        let invite = object(r#"{"public_key":"a","public_keys":[{"public_key":"b"},{"x":1}]}"#);
        assert_eq!(
            ThirdPartyInviteContent::new(&invite).public_keys(),
            ["a", "b"]
        );
    }
}
