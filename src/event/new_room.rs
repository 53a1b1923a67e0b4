//! What a new room's first events say about its creators, which differs by room
//! version: where the create event names the creator, whether co-creators are listed
//! in it (room version 12's `additional_creators`) or given power 100 in the
//! power-levels event instead (before 12, where creators have no power of their own).

use crate::json::{Object, Value};
use crate::room_version::RoomVersion;

/// The creator of a new room and those who share its power (Synapse's
/// `trusted_private_chat` preset makes every invitee one).
///
/// ```
/// use matrix_serverlib::event::RoomCreators;
/// use matrix_serverlib::json::Value;
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let co = ["@bob:b.example".to_owned()];
/// let v10 = RoomCreators::new(&RoomVersion::V10, "@alice:a.example", &co);
/// let content = v10.create_content(Default::default());
/// assert_eq!(content.get("creator").and_then(Value::as_str), Some("@alice:a.example"));
/// assert_eq!(v10.power_levels_users().len(), 2);
///
/// let v12 = RoomCreators::new(&RoomVersion::V12, "@alice:a.example", &co);
/// let content = v12.create_content(Default::default());
/// assert!(content.get("creator").is_none());
/// assert_eq!(content["additional_creators"][0].as_str(), Some("@bob:b.example"));
/// // Creators have infinite power in room version 12 and are not listed.
/// assert!(v12.power_levels_users().is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RoomCreators<'a> {
    version: RoomVersion,
    creator: &'a str,
    co_creators: &'a [String],
}

impl<'a> RoomCreators<'a> {
    /// `creator` makes a room of `version`, sharing its power with `co_creators`.
    #[must_use]
    pub fn new(version: &RoomVersion, creator: &'a str, co_creators: &'a [String]) -> Self {
        Self {
            version: *version,
            creator,
            co_creators,
        }
    }

    /// The create event's content: `base` (the client's `creation_content`) with
    /// `room_version`, the `creator` in room versions 1 to 10 (from 11 the sender is
    /// the creator), and, in room version 12, the co-creators as
    /// `additional_creators`.
    #[must_use]
    pub fn create_content(&self, mut base: Object) -> Object {
        base.insert("room_version", Value::from(self.version.id));
        if self.version.auth.creator_in_content {
            base.insert("creator", Value::from(self.creator));
        }
        if self.version.auth.creators_infinite_power && !self.co_creators.is_empty() {
            let listed = self
                .co_creators
                .iter()
                .map(|user| Value::from(user.as_str()))
                .collect();
            base.insert("additional_creators", Value::Array(listed));
        }
        base
    }

    /// The `users` of the room's first power-levels content: the creator and
    /// co-creators at 100 before room version 12; nobody from 12, whose creators have
    /// infinite power and must not be listed.
    #[must_use]
    pub fn power_levels_users(&self) -> Object {
        let mut users = Object::new();
        if !self.version.auth.creators_infinite_power {
            users.insert(self.creator, Value::from(100));
            for user in self.co_creators {
                users.insert(user.as_str(), Value::from(100));
            }
        }
        users
    }
}
