//! Rule K: `m.room.power_levels` events.

use crate::auth::check::Event;
use crate::auth::power_levels_reader::{NamedLevel, PowerLevel, PowerLevelsContent};
use crate::auth::rejection::Rejection;
use crate::json::{self, Object, Value};

/// Rule K (after rules G, I and J passed).
pub(in crate::auth) fn check(event: &Event<'_>) -> Result<(), Rejection> {
    let new = PowerLevelsContent::new(event.content(), event.version);
    // Rule K.1 (v10+): every level is a JSON integer.
    if event.version.power_levels.integer_only {
        check_integer_types(new.content())?;
    }
    // Rule K.2: `users` maps user IDs to levels.
    check_users(&new)?;
    // Rule K.3 (v12): creators have no entry in `users`.
    if event.version.auth.creators_infinite_power {
        check_no_creators(event, new.content())?;
    }
    // Rule K.4: the room's first power levels need nothing more.
    let Some(old) = event.levels.content() else {
        return Ok(());
    };
    let level = event.levels.user_level(event.sender)?;
    let diff = Diff { old, new, level };
    // Rule K.5: the named levels.
    for name in NamedLevel::ALL {
        let (old, new) = (old.named(name)?, new.named(name)?);
        if diff.changes_above_sender(old, new) {
            return Err(Rejection::PowerLevelsNamedAboveSender {
                name,
                old,
                new,
                level,
            });
        }
    }
    // Rule K.6: `events` (v6+: and `notifications`) entries.
    diff.check_map("events")?;
    if event.version.power_levels.notifications_checked {
        diff.check_map("notifications")?;
    }
    // Rule K.7: `users` entries.
    diff.check_users(event.sender)?;
    // Rule K.8: allow.
    Ok(())
}

/// Rule K.1: the seven named levels, and the values of `events`, `notifications` and
/// `users`, must be JSON integers when present.
fn check_integer_types(content: &Object) -> Result<(), Rejection> {
    let not_integer = |path: &str, value: &Value| Rejection::PowerLevelsNotInteger {
        path: path.to_owned(),
        value: json::to_string(value),
    };
    for name in NamedLevel::ALL {
        if let Some(value) = content.get(name.key())
            && !is_integer(value)
        {
            return Err(not_integer(name.key(), value));
        }
    }
    for key in ["events", "notifications", "users"] {
        let Some(value) = content.get(key) else {
            continue;
        };
        let Some(map) = value.as_object() else {
            return Err(not_integer(key, value));
        };
        if let Some((entry, value)) = map.iter().find(|(_, value)| !is_integer(value)) {
            return Err(not_integer(&format!("{key}.{entry}"), value));
        }
    }
    Ok(())
}

fn is_integer(value: &Value) -> bool {
    value.as_number().is_some_and(|number| number.is_integer())
}

/// Rule K.2: `users`, if present, is an object whose keys are user IDs and whose values
/// are levels under the room version's rules.
///
/// A key counts as a user ID as Synapse parses one here: `@`, then a `:` somewhere
/// after it. (The spec asks for a valid user ID; Synapse's looser check decides which
/// events the network accepted.)
fn check_users(new: &PowerLevelsContent<'_>) -> Result<(), Rejection> {
    let users = match new.content().get("users") {
        None => return Ok(()),
        Some(Value::Object(users)) => users,
        Some(_) => return Err(Rejection::PowerLevelsUsersNotObject),
    };
    for (user, value) in users {
        let is_user_id = user
            .strip_prefix('@')
            .is_some_and(|rest| rest.contains(':'));
        if !is_user_id {
            return Err(Rejection::PowerLevelsInvalidUserId {
                user: user.to_owned(),
            });
        }
        if new.level(value, user).is_err() {
            return Err(Rejection::PowerLevelsInvalidUserLevel {
                user: user.to_owned(),
                value: json::to_string(value),
            });
        }
    }
    Ok(())
}

/// Rule K.3 (v12): neither the create event's sender nor an additional creator may
/// appear in `users`.
fn check_no_creators(event: &Event<'_>, content_new: &Object) -> Result<(), Rejection> {
    let Some(users) = content_new.get("users").and_then(Value::as_object) else {
        return Ok(());
    };
    let additional = event
        .create
        .content()
        .get("additional_creators")
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str);
    let creator = std::iter::once(event.create.sender().as_str())
        .chain(additional)
        .find(|user| users.contains_key(user));
    match creator {
        Some(user) => Err(Rejection::PowerLevelsCreatorInUsers {
            user: user.to_owned(),
        }),
        None => Ok(()),
    }
}

/// One key of a levels map: its old and new level.
type LevelChange<'a> = (&'a str, Option<i64>, Option<i64>);

/// The old and new power levels and the sender's level, for rules K.5 to K.7.
struct Diff<'a> {
    old: PowerLevelsContent<'a>,
    new: PowerLevelsContent<'a>,
    level: PowerLevel,
}

impl Diff<'_> {
    /// True when an entry changed (added, removed or altered) and its old or new value
    /// is above the sender's level.
    fn changes_above_sender(&self, old: Option<i64>, new: Option<i64>) -> bool {
        old != new
            && [old, new]
                .into_iter()
                .flatten()
                .any(|value| self.level < value)
    }

    /// The entries of `map` in the old and new content, merged in key order: each key
    /// of either side once, with its old and new level (absent or `null` as `None`).
    fn merged(&self, map: &str) -> Result<Vec<LevelChange<'_>>, Rejection> {
        let (old, new) = (self.old.map(map)?, self.new.map(map)?);
        let mut old_entries = old.into_iter().flat_map(Object::iter).peekable();
        let mut new_entries = new.into_iter().flat_map(Object::iter).peekable();
        let mut merged = Vec::new();
        loop {
            // Both sides are sorted, so one walk pairs equal keys.
            let (key, old_value, new_value) = match (old_entries.peek(), new_entries.peek()) {
                (None, None) => break,
                (Some(&(old_key, _)), Some(&(new_key, _))) if old_key == new_key => (
                    old_key,
                    old_entries.next().map(|e| e.1),
                    new_entries.next().map(|e| e.1),
                ),
                (Some(&(old_key, _)), Some(&(new_key, _))) if old_key < new_key => {
                    (old_key, old_entries.next().map(|e| e.1), None)
                }
                (Some(&(old_key, _)), None) => (old_key, old_entries.next().map(|e| e.1), None),
                (_, Some(&(new_key, _))) => (new_key, None, new_entries.next().map(|e| e.1)),
            };
            let old_level = old_value
                .map(|value| self.old.entry_level(map, key, value))
                .transpose()?;
            let new_level = new_value
                .map(|value| self.new.entry_level(map, key, value))
                .transpose()?;
            merged.push((key, old_level.flatten(), new_level.flatten()));
        }
        Ok(merged)
    }

    /// Rule K.6 for `events` or `notifications`.
    fn check_map(&self, map: &str) -> Result<(), Rejection> {
        for (key, old, new) in self.merged(map)? {
            if self.changes_above_sender(old, new) {
                return Err(Rejection::PowerLevelsEventAboveSender {
                    path: format!("{map}.{key}"),
                    old,
                    new,
                    level: self.level,
                });
            }
        }
        Ok(())
    }

    /// Rule K.7: another user's changed or removed entry must be below the sender's
    /// level; no changed entry may end above it.
    fn check_users(&self, sender: &str) -> Result<(), Rejection> {
        for (user, old, new) in self.merged("users")? {
            if old == new {
                continue;
            }
            let others_not_below = user != sender && old.is_some_and(|old| self.level <= old);
            if others_not_below || self.changes_above_sender(old, new) {
                return Err(Rejection::PowerLevelsUserAboveSender {
                    user: user.to_owned(),
                    old,
                    new,
                    level: self.level,
                });
            }
        }
        Ok(())
    }
}
