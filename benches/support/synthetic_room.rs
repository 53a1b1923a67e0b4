//! A deterministic generator of synthetic forked rooms for state-resolution benches
//! and cases: a linear history of joins and state, then several branches that change
//! state concurrently. Every event is built, hashed and signed with the library, and
//! authorised against the state it was sent in, so resolution does real work.
//!
//! Shared by `benches/state_res.rs`, the side-by-side comparison package under
//! `benches/ruma-compare/` and `examples/synthetic_room.rs` (through `#[path]`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use matrix_serverlib::crypto::SigningKey;
use matrix_serverlib::event::StateKey as AuthStateKey;
use matrix_serverlib::event::{EventBuilder, Pdu};
use matrix_serverlib::id::EventId;
use matrix_serverlib::json::{Object, Value};
use matrix_serverlib::room_version::RoomVersion;

/// The size and shape of a synthetic room.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomShape {
    /// Members who join before the fork.
    pub(crate) members: usize,
    /// Extra state events (custom types) before the fork.
    pub(crate) extra_state: usize,
    /// Number of branches after the fork.
    pub(crate) branches: usize,
    /// State changes on each branch.
    pub(crate) changes_per_branch: usize,
    /// Seed of the deterministic choices.
    pub(crate) seed: u64,
}

impl RoomShape {
    /// About 100 state events, 17 conflicted.
    pub(crate) const SMALL: Self = Self {
        members: 80,
        extra_state: 15,
        branches: 2,
        changes_per_branch: 5,
        seed: 1,
    };
    /// About 5,000 state events, about 840 conflicted.
    pub(crate) const MEDIUM: Self = Self {
        members: 4_900,
        extra_state: 95,
        branches: 2,
        changes_per_branch: 245,
        seed: 2,
    };
    /// About 50,000 state events, about 4,900 conflicted.
    pub(crate) const LARGE: Self = Self {
        members: 49_000,
        extra_state: 995,
        branches: 2,
        changes_per_branch: 1_400,
        seed: 3,
    };
}

/// A generated room: every event, and the state at the end of each branch.
pub(crate) struct SyntheticRoom {
    /// The room version.
    pub(crate) version: RoomVersion,
    /// Every event, oldest first.
    pub(crate) events: Vec<Pdu>,
    /// The state sets to resolve: the event IDs of each branch's final state.
    pub(crate) state_sets: Vec<Vec<EventId>>,
}

impl SyntheticRoom {
    /// The events by ID, as a caller's store would hold them.
    pub(crate) fn event_map(&self) -> HashMap<EventId, Pdu> {
        self.events
            .iter()
            .map(|pdu| (pdu.event_id().clone(), pdu.clone()))
            .collect()
    }

    /// Each state set as a map from `(type, state_key)` to event ID.
    pub(crate) fn state_maps(
        &self,
        events: &HashMap<EventId, Pdu>,
    ) -> Vec<BTreeMap<AuthStateKey, EventId>> {
        self.state_sets
            .iter()
            .map(|set| {
                set.iter()
                    .filter_map(|id| {
                        let pdu = events.get(id)?;
                        let key = AuthStateKey::new(
                            pdu.event_type(),
                            pdu.state_key().unwrap_or_default(),
                        );
                        Some((key, id.clone()))
                    })
                    .collect()
            })
            .collect()
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

type StateKey = (String, String);

/// Builds events on one line of history.
struct Branch {
    state: BTreeMap<StateKey, EventId>,
    last: EventId,
    depth: i64,
}

struct Builder {
    version: RoomVersion,
    room_id: String,
    key: SigningKey,
    events: Vec<Pdu>,
    clock: i64,
}

const SERVER: &str = "synthetic.example";

fn user(index: usize) -> String {
    format!("@user{index}:{SERVER}")
}

fn object(entries: &[(&str, Value)]) -> Object {
    entries
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

impl Builder {
    /// Sends a state event on `branch`, with the auth events the rules select.
    fn send(
        &mut self,
        branch: &mut Branch,
        sender: &str,
        event_type: &str,
        state_key: &str,
        content: Object,
    ) -> EventId {
        let mut auth_keys = vec![
            ("m.room.power_levels", String::new()),
            ("m.room.member", sender.to_owned()),
        ];
        if !self.version.room_id_from_create_event {
            auth_keys.push(("m.room.create", String::new()));
        }
        if event_type == "m.room.member" {
            auth_keys.push(("m.room.member", state_key.to_owned()));
            auth_keys.push(("m.room.join_rules", String::new()));
        }
        let mut auth_ids: Vec<&EventId> = auth_keys
            .iter()
            .filter_map(|(kind, key)| branch.state.get(&((*kind).to_owned(), key.clone())))
            .collect();
        auth_ids.sort();
        auth_ids.dedup();
        self.clock += 1;
        let mut builder = EventBuilder::new(&self.version, sender, event_type)
            .room_id(&self.room_id)
            .state_key(state_key)
            .content(content)
            .prev_event(branch.last.as_str())
            .depth(branch.depth + 1)
            .origin_server_ts(1_700_000_000_000 + self.clock);
        for id in auth_ids {
            builder = builder.auth_event(id.as_str());
        }
        let pdu = builder
            .build(SERVER, &self.key)
            .expect("synthetic events are valid");
        let id = pdu.event_id().clone();
        branch
            .state
            .insert((event_type.to_owned(), state_key.to_owned()), id.clone());
        branch.last = id.clone();
        branch.depth += 1;
        self.events.push(pdu);
        id
    }
}

/// Generates a room of `shape` in `version` (room versions 3 and later).
pub(crate) fn generate(shape: RoomShape, version: RoomVersion) -> SyntheticRoom {
    let mut rng = Rng(shape.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let key = SigningKey::from_seed("ed25519:synthetic", [42; 32]);
    let creator = user(0);
    let create_content = object(&[
        ("creator", Value::from(creator.as_str())),
        ("room_version", Value::from(version.id)),
    ]);
    let mut create = EventBuilder::new(&version, &creator, "m.room.create")
        .state_key("")
        .content(create_content)
        .depth(1)
        .origin_server_ts(1_700_000_000_000);
    if !version.room_id_from_create_event {
        create = create.room_id(&format!("!synthetic:{SERVER}"));
    }
    let create = create.build(SERVER, &key).expect("create event is valid");
    let room_id = create.room_id().as_str().to_owned();
    let create_id = create.event_id().clone();
    let mut builder = Builder {
        version,
        room_id,
        key,
        events: vec![create],
        clock: 0,
    };
    let mut trunk = Branch {
        state: BTreeMap::from([(
            ("m.room.create".to_owned(), String::new()),
            create_id.clone(),
        )]),
        last: create_id,
        depth: 1,
    };
    let moderators = 10.min(shape.members);
    builder.send(
        &mut trunk,
        &creator,
        "m.room.member",
        &creator,
        object(&[("membership", Value::from("join"))]),
    );
    let users: Object = (0..moderators)
        .map(|index| (user(index), Value::from(if index == 0 { 100 } else { 50 })))
        .filter(|(name, _)| !(version.auth.creators_infinite_power && *name == creator))
        .collect();
    let power = object(&[
        ("users", Value::Object(users.clone())),
        ("state_default", Value::from(50)),
    ]);
    builder.send(&mut trunk, &creator, "m.room.power_levels", "", power);
    builder.send(
        &mut trunk,
        &creator,
        "m.room.join_rules",
        "",
        object(&[("join_rule", Value::from("public"))]),
    );
    for index in 1..shape.members {
        let member = user(index);
        builder.send(
            &mut trunk,
            &member,
            "m.room.member",
            &member,
            object(&[("membership", Value::from("join"))]),
        );
    }
    for index in 0..shape.extra_state {
        let content = object(&[("value", Value::from(index as i64))]);
        builder.send(
            &mut trunk,
            &creator,
            "org.example.setting",
            &format!("setting{index}"),
            content,
        );
    }
    let mut state_sets = Vec::with_capacity(shape.branches);
    for _ in 0..shape.branches {
        let mut branch = Branch {
            state: trunk.state.clone(),
            last: trunk.last.clone(),
            depth: trunk.depth,
        };
        // Banned users send nothing more on their branch, so every event is allowed.
        let mut banned = BTreeSet::new();
        for change in 0..shape.changes_per_branch {
            let target = user(moderators + rng.below(shape.members.saturating_sub(moderators)));
            let moderator = user(1 + rng.below(moderators.saturating_sub(1)));
            let action = if banned.contains(&target) {
                4
            } else {
                rng.below(20)
            };
            match action {
                0 | 1 => {
                    banned.insert(target.clone());
                    let content = object(&[("membership", Value::from("ban"))]);
                    builder.send(&mut branch, &moderator, "m.room.member", &target, content);
                }
                2 | 3 => {
                    builder.send(
                        &mut branch,
                        &target,
                        "m.room.member",
                        &target,
                        object(&[("membership", Value::from("leave"))]),
                    );
                }
                4 => {
                    let content = object(&[("topic", Value::from(format!("topic {change}")))]);
                    builder.send(&mut branch, &moderator, "m.room.topic", "", content);
                }
                5 => {
                    let mut changed = users.clone();
                    changed.insert(target.clone(), Value::from(rng.below(40) as i64));
                    let power = object(&[
                        ("users", Value::Object(changed)),
                        ("state_default", Value::from(50)),
                    ]);
                    builder.send(&mut branch, &creator, "m.room.power_levels", "", power);
                }
                _ => {
                    let content = object(&[
                        ("membership", Value::from("join")),
                        ("displayname", Value::from(format!("name {change}"))),
                    ]);
                    builder.send(&mut branch, &target, "m.room.member", &target, content);
                }
            }
        }
        state_sets.push(branch.state.into_values().collect());
    }
    SyntheticRoom {
        version,
        events: builder.events,
        state_sets,
    }
}
