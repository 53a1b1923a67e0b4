//! A room of hand-made events for the unit tests of the graph walks and state
//! resolution: events named by short strings, with `auth_events` and `prev_events`
//! given by name. Room versions 1 and 2 use readable IDs (`$NAME:example.com`); later
//! versions compute them, so names map to IDs.

use std::collections::{BTreeMap, HashMap};

use crate::event::Pdu;
use crate::id::EventId;
use crate::json::{self, Object, ParseOptions, Value};
use crate::room_version::{EventFormat, RoomVersion};

/// A test room.
#[derive(Debug, Clone)]
pub(crate) struct TestRoom {
    pub(crate) version: RoomVersion,
    pub(crate) events: BTreeMap<EventId, Pdu>,
    names: HashMap<String, EventId>,
    room_id: String,
    ts: i64,
}

/// `@name:example.com`.
pub(crate) fn user(name: &str) -> String {
    format!("@{name}:example.com")
}

/// The content of a create event sent by `creator` in room `version` (from room
/// version 11 on the sender is the creator and the content names none).
pub(crate) fn create_content(version: &RoomVersion, creator: &str) -> String {
    if version.auth.creator_in_content {
        format!(
            r#"{{"creator":"{creator}","room_version":"{}"}}"#,
            version.id
        )
    } else {
        format!(r#"{{"room_version":"{}"}}"#, version.id)
    }
}

impl TestRoom {
    pub(crate) fn new(version: RoomVersion) -> Self {
        Self {
            version,
            events: BTreeMap::new(),
            names: HashMap::new(),
            room_id: "!room:example.com".to_owned(),
            ts: 1_000,
        }
    }

    /// The ID of the event called `name` (a legacy ID for a name never added).
    pub(crate) fn id(&self, name: &str) -> EventId {
        self.names
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("${name}:example.com").parse().unwrap())
    }

    /// The event called `name`.
    pub(crate) fn pdu(&self, name: &str) -> &Pdu {
        &self.events[&self.id(name)]
    }

    /// Adds the room's create event, called `create`, sent by `creator`.
    pub(crate) fn add_create(&mut self, creator: &str) -> EventId {
        let content = create_content(&self.version, creator);
        self.add(
            "create",
            "m.room.create",
            creator,
            Some(""),
            &content,
            &[],
            &[],
        )
    }

    /// Adds an event; `content` is JSON text; `auth` and `prev` name earlier events (or
    /// any name, for dangling references).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        name: &str,
        event_type: &str,
        sender: &str,
        state_key: Option<&str>,
        content: &str,
        auth: &[&str],
        prev: &[&str],
    ) -> EventId {
        let auth: Vec<EventId> = auth.iter().map(|name| self.id(name)).collect();
        let prev: Vec<EventId> = prev.iter().map(|name| self.id(name)).collect();
        self.add_with_ids(name, event_type, sender, state_key, content, &auth, &prev)
    }

    /// As [`TestRoom::add`] with references as IDs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_with_ids(
        &mut self,
        name: &str,
        event_type: &str,
        sender: &str,
        state_key: Option<&str>,
        content: &str,
        auth: &[EventId],
        prev: &[EventId],
    ) -> EventId {
        let legacy = self.version.event_format == EventFormat::EventIdInPdu;
        let reference = |id: &EventId| {
            if legacy {
                Value::Array(vec![Value::from(id.as_str()), Value::Object(Object::new())])
            } else {
                Value::from(id.as_str())
            }
        };
        let depth = prev
            .iter()
            .filter_map(|id| self.events.get(id))
            .map(Pdu::depth)
            .max()
            .unwrap_or(0)
            + 1;
        self.ts += 1;
        let mut object = Object::new();
        object.insert("type", Value::from(event_type));
        object.insert("sender", Value::from(sender));
        if let Some(state_key) = state_key {
            object.insert("state_key", Value::from(state_key));
        }
        let content = json::parse(content.as_bytes(), &ParseOptions::lenient()).unwrap();
        object.insert("content", content);
        object.insert(
            "auth_events",
            Value::Array(auth.iter().map(reference).collect()),
        );
        object.insert(
            "prev_events",
            Value::Array(prev.iter().map(reference).collect()),
        );
        object.insert("depth", Value::from(depth));
        object.insert("origin_server_ts", Value::from(self.ts));
        object.insert("hashes", Value::Object(Object::new()));
        object.insert("signatures", Value::Object(Object::new()));
        let create_v12 = self.version.room_id_from_create_event && event_type == "m.room.create";
        if !create_v12 {
            object.insert("room_id", Value::from(self.room_id.as_str()));
        }
        if legacy {
            object.insert("event_id", Value::from(format!("${name}:example.com")));
        }
        let pdu = Pdu::from_object(object, &self.version).unwrap();
        let id = pdu.event_id().clone();
        if create_v12 {
            self.room_id = pdu.room_id().as_str().to_owned();
        }
        self.names.insert(name.to_owned(), id.clone());
        self.events.insert(id.clone(), pdu);
        id
    }

    /// The IDs of `names`.
    pub(crate) fn ids(&self, names: &[&str]) -> Vec<EventId> {
        names.iter().map(|name| self.id(name)).collect()
    }

    /// The name of `id`, for readable assertions.
    pub(crate) fn name(&self, id: &EventId) -> String {
        self.names
            .iter()
            .find(|(_, known)| *known == id)
            .map_or_else(|| id.to_string(), |(name, _)| name.clone())
    }
}
