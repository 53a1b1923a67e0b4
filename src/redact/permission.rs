//! Whether a redaction may strip its target: the power-level and same-sender checks
//! that the authorization rules leave to the server from room version 3, and the
//! refusals Synapse adds for redactions its own users send.

use crate::auth::{NamedLevel, PowerLevel, PowerLevels, PowerLevelsError};
use crate::event::Pdu;

/// Who is asking whether a redaction applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedactionSource {
    /// One of our own users is sending the redaction: it needs the redact level or
    /// must redact the user's own event, and may not strip a create or server-ACL
    /// event.
    LocalClient,
    /// The redaction arrived over federation (or is being served): its origin server
    /// vouches for its sender, so a sender of the target's server may redact it too.
    Received,
}

/// Why a redaction may strip its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedactionGrounds {
    /// The redaction's sender has at least the room's `redact` level.
    RedactPower,
    /// The redaction's sender sent the target.
    OwnEvent,
    /// The redaction's sender is on the target sender's server (room versions 3+,
    /// [`RedactionSource::Received`] only), or, in room versions 1 and 2, the two
    /// event IDs name the same server (rule L).
    SameServer,
}

/// Why a redaction may not strip its target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedactionRefusal {
    /// The first event is not an `m.room.redaction`.
    #[error("event of type {event_type} is not a redaction")]
    NotARedaction {
        /// Its type.
        event_type: String,
    },
    /// The redaction names another event in `redacts`, or none.
    #[error("the redaction redacts {redacts:?}, not {target}")]
    OtherTarget {
        /// What the redaction's `redacts` names (content from room version 11).
        redacts: Option<String>,
        /// The event asked about.
        target: String,
    },
    /// The target is in another room.
    #[error("the target is in room {target_room}, the redaction in {redaction_room}")]
    DifferentRoom {
        /// The redaction's room.
        redaction_room: String,
        /// The target's room.
        target_room: String,
    },
    /// A local user may not redact the room's create event (as Synapse refuses).
    #[error("redacting the create event is not permitted")]
    CreateEvent,
    /// A local user may not redact a server-ACL event (as Synapse refuses: the
    /// redacted ACL would allow or deny servers nobody chose).
    #[error("redacting a server ACL event is not permitted")]
    ServerAcl,
    /// The sender has less than the redact level and the target is not theirs (nor,
    /// for a received redaction, from their server).
    #[error("power level {level} is below the redact level {needed}")]
    InsufficientPower {
        /// The sender's level.
        level: PowerLevel,
        /// The redact level.
        needed: i64,
    },
    /// The power levels do not read as levels.
    #[error("power levels: {0}")]
    PowerLevels(#[from] PowerLevelsError),
}

/// Whether `redaction` may strip `target`, where `levels` is the power in the room as
/// of the redaction (the state before it).
///
/// The checks, in order: `redaction` is an `m.room.redaction` naming `target` (in
/// `content.redacts` from room version 11, top-level before), in the same room; for
/// [`RedactionSource::LocalClient`] the target is neither the create event nor a
/// server-ACL event; then the grounds: the sender's level reaches `redact`
/// ([`RedactionGrounds::RedactPower`]), the sender sent the target
/// ([`RedactionGrounds::OwnEvent`]), or, for [`RedactionSource::Received`], the
/// sender's server is the target sender's ([`RedactionGrounds::SameServer`]; in room
/// versions 1 and 2, where rule L already decided, the servers of the two event IDs).
///
/// This is what Synapse does: a redaction its own client sends is refused with 403
/// unless the sender has the redact level or the target is theirs
/// (`handlers/message.py`), and a received redaction without the level is applied only
/// when the two senders' servers match (`events_worker.py`, `recheck_redaction`). The
/// spec says the same in fewer words (client-server API, "Redactions"; room versions
/// 3+, "Handling redactions").
///
/// # Errors
///
/// A [`RedactionRefusal`] naming the first check that failed.
///
/// ```
/// use matrix_serverlib::auth::PowerLevels;
/// use matrix_serverlib::crypto::SigningKey;
/// use matrix_serverlib::event::EventBuilder;
/// use matrix_serverlib::json::{Object, Value};
/// use matrix_serverlib::redact::{RedactionGrounds, RedactionSource, may_redact};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let key = SigningKey::from_seed("ed25519:1", [7; 32]);
/// let version = RoomVersion::V11;
/// let create = EventBuilder::new(&version, "@alice:a.example", "m.room.create")
///     .room_id("!room:a.example")
///     .state_key("")
///     .content(Object::new())
///     .depth(1)
///     .origin_server_ts(1)
///     .build("a.example", &key)?;
/// let message = EventBuilder::new(&version, "@bob:a.example", "m.room.message")
///     .room_id("!room:a.example")
///     .content(Object::new())
///     .depth(2)
///     .origin_server_ts(2)
///     .build("a.example", &key)?;
/// let mut content = Object::new();
/// content.insert("redacts", Value::from(message.event_id().as_str()));
/// let redaction = EventBuilder::new(&version, "@alice:a.example", "m.room.redaction")
///     .room_id("!room:a.example")
///     .content(content)
///     .depth(3)
///     .origin_server_ts(3)
///     .build("a.example", &key)?;
///
/// // Without a power-levels event the creator has 100, above the default redact 50.
/// let levels = PowerLevels::new(&version, create.as_object(), None);
/// let grounds = may_redact(&redaction, &message, &levels, RedactionSource::LocalClient)?;
/// assert_eq!(grounds, RedactionGrounds::RedactPower);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn may_redact(
    redaction: &Pdu,
    target: &Pdu,
    levels: &PowerLevels<'_>,
    source: RedactionSource,
) -> Result<RedactionGrounds, RedactionRefusal> {
    if redaction.event_type() != "m.room.redaction" {
        return Err(RedactionRefusal::NotARedaction {
            event_type: redaction.event_type().to_owned(),
        });
    }
    let redacts = redaction.redacts();
    if redacts != Some(target.event_id().as_str()) {
        return Err(RedactionRefusal::OtherTarget {
            redacts: redacts.map(str::to_owned),
            target: target.event_id().to_string(),
        });
    }
    if redaction.room_id() != target.room_id() {
        return Err(RedactionRefusal::DifferentRoom {
            redaction_room: redaction.room_id().to_string(),
            target_room: target.room_id().to_string(),
        });
    }
    if source == RedactionSource::LocalClient {
        match target.event_type() {
            "m.room.create" => return Err(RedactionRefusal::CreateEvent),
            "m.room.server_acl" => return Err(RedactionRefusal::ServerAcl),
            _ => {}
        }
    }
    let level = levels.user_level(redaction.sender().as_str())?;
    let needed = levels.named_level(NamedLevel::Redact)?;
    if level >= needed {
        return Ok(RedactionGrounds::RedactPower);
    }
    if redaction.sender() == target.sender() {
        return Ok(RedactionGrounds::OwnEvent);
    }
    if source == RedactionSource::Received {
        let same_server = if redaction.room_version().auth.redaction_rule {
            // Rule L compared the servers of the event IDs (v1 and v2 IDs carry one).
            let own = redaction.event_id().server_name();
            own.is_some() && own == target.event_id().server_name()
        } else {
            redaction.sender().server_name() == target.sender().server_name()
        };
        if same_server {
            return Ok(RedactionGrounds::SameServer);
        }
    }
    Err(RedactionRefusal::InsufficientPower { level, needed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::event::EventBuilder;
    use crate::json::{Object, Value};
    use crate::room_version::{EventFormat, RoomVersion};

    /// A room of one version with its create event, building signed events in it.
    struct Room {
        version: RoomVersion,
        key: SigningKey,
        room_id: String,
        create: Option<Pdu>,
        depth: i64,
    }

    impl Room {
        fn new(version: RoomVersion, room_id: &str) -> Self {
            let mut room = Self {
                version,
                key: SigningKey::from_seed("ed25519:1", [9; 32]),
                room_id: room_id.to_owned(),
                create: None,
                depth: 0,
            };
            let mut content = Object::new();
            if version.auth.creator_in_content {
                content.insert("creator", Value::from("@alice:a.example"));
            }
            let create = room.build("@alice:a.example", "m.room.create", content, None, None);
            room.room_id = create.room_id().to_string();
            room.create = Some(create);
            room
        }

        fn create(&self) -> &Pdu {
            self.create.as_ref().expect("built by new")
        }

        fn build(
            &mut self,
            sender: &str,
            event_type: &str,
            content: Object,
            room_id: Option<&str>,
            redacts: Option<&Pdu>,
        ) -> Pdu {
            self.depth += 1;
            let server = sender.split_once(':').map_or("a.example", |(_, s)| s);
            let mut builder = EventBuilder::new(&self.version, sender, event_type)
                .content(content)
                .depth(self.depth)
                .origin_server_ts(self.depth);
            let room_id = room_id.unwrap_or(&self.room_id).to_owned();
            if !(event_type == "m.room.create" && self.version.room_id_from_create_event) {
                builder = builder.room_id(&room_id);
            }
            if matches!(event_type, "m.room.create" | "m.room.server_acl") {
                builder = builder.state_key("");
            }
            if self.version.event_format == EventFormat::EventIdInPdu {
                builder = builder.event_id(&format!("${}:{server}", self.depth));
            }
            if let Some(target) = redacts {
                builder = builder.field("redacts", Value::from(target.event_id().as_str()));
            }
            builder.build(server, &self.key).expect("event builds")
        }

        fn event(&mut self, sender: &str, event_type: &str) -> Pdu {
            self.build(sender, event_type, Object::new(), None, None)
        }

        /// A redaction of `target`, naming it where the version reads `redacts` (and
        /// in both places from v11, as clients send it).
        fn redaction(&mut self, sender: &str, target: &Pdu) -> Pdu {
            let mut content = Object::new();
            if self.version.redaction.keeps_redaction_redacts {
                content.insert("redacts", Value::from(target.event_id().as_str()));
            }
            self.build(sender, "m.room.redaction", content, None, Some(target))
        }

        fn levels(&self) -> PowerLevels<'_> {
            PowerLevels::new(&self.version, self.create().as_object(), None)
        }
    }

    #[test]
    fn every_version_agrees_on_power_own_events_and_servers() {
        for version in RoomVersion::ALL {
            let mut room = Room::new(version, "!room:a.example");
            let bobs = room.event("@bob:a.example", "m.room.message");
            let carols = room.event("@carol:c.example", "m.room.message");

            let by_alice = room.redaction("@alice:a.example", &bobs);
            let by_bob = room.redaction("@bob:a.example", &bobs);
            let by_dave = room.redaction("@dave:a.example", &bobs);
            let by_eve = room.redaction("@eve:c.example", &bobs);
            let of_carol = room.redaction("@bob:a.example", &carols);
            let levels = room.levels();
            let local = RedactionSource::LocalClient;
            let received = RedactionSource::Received;
            let id = version.id;

            assert_eq!(
                may_redact(&by_alice, &bobs, &levels, local),
                Ok(RedactionGrounds::RedactPower),
                "{id}"
            );
            assert_eq!(
                may_redact(&by_bob, &bobs, &levels, local),
                Ok(RedactionGrounds::OwnEvent),
                "{id}"
            );
            // Another user of the same server: not for a local client...
            assert!(
                matches!(
                    may_redact(&by_dave, &bobs, &levels, local),
                    Err(RedactionRefusal::InsufficientPower { needed: 50, .. })
                ),
                "{id}"
            );
            // ...but a received one is vouched for by its server.
            assert_eq!(
                may_redact(&by_dave, &bobs, &levels, received),
                Ok(RedactionGrounds::SameServer),
                "{id}"
            );
            // A user of another server without power may not, either way.
            for source in [local, received] {
                assert!(
                    may_redact(&by_eve, &bobs, &levels, source).is_err(),
                    "{id} {source:?}"
                );
                assert!(
                    may_redact(&of_carol, &carols, &levels, source).is_err(),
                    "{id} {source:?}"
                );
            }
        }
    }

    #[test]
    fn the_redaction_must_name_its_target_in_the_same_room() {
        let mut room = Room::new(RoomVersion::V11, "!room:a.example");
        let first = room.event("@bob:a.example", "m.room.message");
        let second = room.event("@bob:a.example", "m.room.message");
        let redaction = room.redaction("@bob:a.example", &first);
        let elsewhere = room.build(
            "@bob:a.example",
            "m.room.redaction",
            Object::new(),
            Some("!other:a.example"),
            Some(&first),
        );
        let levels = room.levels();
        assert!(matches!(
            may_redact(&redaction, &second, &levels, RedactionSource::Received),
            Err(RedactionRefusal::OtherTarget { redacts: Some(named), .. })
                if named == first.event_id().as_str()
        ));
        assert!(matches!(
            may_redact(&first, &second, &levels, RedactionSource::Received),
            Err(RedactionRefusal::NotARedaction { .. })
        ));
        // v11 reads `redacts` from content only: the top-level one names nothing.
        assert!(matches!(
            may_redact(&elsewhere, &first, &levels, RedactionSource::Received),
            Err(RedactionRefusal::OtherTarget { redacts: None, .. })
        ));
        let mut content = Object::new();
        content.insert("redacts", Value::from(first.event_id().as_str()));
        let in_other_room = room.build(
            "@bob:a.example",
            "m.room.redaction",
            content,
            Some("!other:a.example"),
            None,
        );
        let levels = room.levels();
        assert!(matches!(
            may_redact(&in_other_room, &first, &levels, RedactionSource::Received),
            Err(RedactionRefusal::DifferentRoom { .. })
        ));
    }

    #[test]
    fn local_users_may_not_strip_the_create_or_acl_event() {
        let mut room = Room::new(RoomVersion::V11, "!room:a.example");
        let create = room.create().clone();
        let acl = room.event("@alice:a.example", "m.room.server_acl");
        let of_create = room.redaction("@alice:a.example", &create);
        let of_acl = room.redaction("@alice:a.example", &acl);
        let levels = room.levels();
        assert_eq!(
            may_redact(&of_create, &create, &levels, RedactionSource::LocalClient),
            Err(RedactionRefusal::CreateEvent)
        );
        assert_eq!(
            may_redact(&of_acl, &acl, &levels, RedactionSource::LocalClient),
            Err(RedactionRefusal::ServerAcl)
        );
        // Synapse applies such a redaction when it is received.
        assert_eq!(
            may_redact(&of_acl, &acl, &levels, RedactionSource::Received),
            Ok(RedactionGrounds::RedactPower)
        );
    }
}
