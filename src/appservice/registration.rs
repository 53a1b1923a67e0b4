//! One application-service registration: the fields Synapse reads from a registration
//! file, checked as Synapse's `synapse/config/appservice.py` checks them, with each
//! namespace regex compiled under a size bound.

use std::borrow::Cow;
use std::fmt;

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use regex_syntax::hir::{Hir, Look};
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

use super::RegistrationError;

/// The most bytes one namespace regex may compile to (and the most its lazy DFA may
/// use). Bridge namespaces are a few hundred bytes compiled; a pattern over this bound
/// is refused at load time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The three kinds of namespace a registration claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum NamespaceKind {
    /// `aliases`: room aliases, matched against `#localpart:server`.
    Aliases,
    /// `rooms`: room IDs, matched against `!opaque:server`.
    Rooms,
    /// `users`: user IDs, matched against `@localpart:server`.
    Users,
}

impl NamespaceKind {
    /// The key under `namespaces` in a registration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aliases => "aliases",
            Self::Rooms => "rooms",
            Self::Users => "users",
        }
    }
}

/// One namespace entry: a regex and whether the claim is exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Namespace {
    /// Whether ordinary users are kept out of what this regex matches.
    pub exclusive: bool,
    /// The regex as the registration gives it.
    pub regex: String,
}

/// One application service's registration, as a bridge ships it.
///
/// Built from JSON-like data with [`Registration::from_json`] (typed errors) or through
/// serde's `Deserialize` (the same checks, the error's text in the deserializer's
/// error). A YAML registration file is parsed into `serde_json::Value` by the caller
/// first; the core reads no YAML.
///
/// What depends on the server name (the sender's user ID) and on the other
/// registrations (unique IDs, distinct tokens) is checked by
/// [`Registrations::new`](super::Registrations::new).
///
/// `Debug` shows `<redacted>` in place of both tokens.
#[derive(Clone)]
pub struct Registration {
    id: String,
    url: Option<String>,
    as_token: String,
    hs_token: String,
    sender_localpart: String,
    users: NamespaceSet,
    aliases: NamespaceSet,
    rooms: NamespaceSet,
    rate_limited: bool,
    protocols: Vec<String>,
    receive_ephemeral: bool,
    unstable_push_ephemeral: bool,
}

impl Registration {
    /// Reads and checks one registration.
    ///
    /// As Synapse: `id`, `as_token`, `hs_token` and `sender_localpart` must be
    /// strings; `url` must be present, a string or `null` (no pushes, no queries), and
    /// loses its trailing `/`; `namespaces` must be an object whose optional `users`,
    /// `aliases` and `rooms` are lists of `{exclusive: bool, regex: string}`;
    /// `rate_limited` is `true` unless it is the boolean `false`; `protocols`, when
    /// truthy, is a list of strings; `receive_ephemeral` and the unstable
    /// `de.sorunome.msc2409.push_ephemeral` are read for truthiness, as Python reads
    /// them. Other keys are ignored, those of extensions Synapse type-checks
    /// (`org.matrix.msc3202`, `io.element.msc4190`, `io.element.msc4502.*`) included.
    ///
    /// Beyond Synapse: the `id` must not be empty, and neither token may be empty.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::NotAnObject`], [`RegistrationError::MissingField`],
    /// [`RegistrationError::WrongType`], [`RegistrationError::InvalidId`],
    /// [`RegistrationError::EmptyToken`], [`RegistrationError::Regex`] or
    /// [`RegistrationError::RegexTooLarge`].
    pub fn from_json(value: &Value) -> Result<Self, RegistrationError> {
        let object = value.as_object().ok_or(RegistrationError::NotAnObject)?;
        let id = required_string(object, "id")?;
        if id.is_empty() {
            return Err(RegistrationError::InvalidId {
                id,
                reason: "the id is empty",
            });
        }
        if id.contains('|') {
            return Err(RegistrationError::InvalidId {
                id,
                reason: "the id contains '|'",
            });
        }
        let as_token = required_string(object, "as_token")?;
        let hs_token = required_string(object, "hs_token")?;
        for (field, token) in [("as_token", &as_token), ("hs_token", &hs_token)] {
            if token.is_empty() {
                return Err(RegistrationError::EmptyToken { id, field });
            }
        }
        let sender_localpart = required_string(object, "sender_localpart")?;
        // Synapse: `url` must be a string or an explicit null, never missing, so that a
        // forgotten key does not silently turn pushes off.
        let url = match object.get("url") {
            None => return Err(RegistrationError::MissingField { field: "url" }),
            Some(Value::Null) => None,
            Some(Value::String(url)) => Some(url.trim_end_matches('/').to_owned()),
            Some(_) => return Err(wrong_type("url", "a string or null")),
        };
        let namespaces = match object.get("namespaces") {
            None => {
                return Err(RegistrationError::MissingField {
                    field: "namespaces",
                });
            }
            Some(Value::Object(namespaces)) => namespaces,
            Some(_) => return Err(wrong_type("namespaces", "an object")),
        };
        // Synapse: anything but a boolean means the default, rate limited.
        let rate_limited = !matches!(object.get("rate_limited"), Some(Value::Bool(false)));
        Ok(Self {
            id,
            url,
            as_token,
            hs_token,
            sender_localpart,
            users: NamespaceSet::read(namespaces, NamespaceKind::Users)?,
            aliases: NamespaceSet::read(namespaces, NamespaceKind::Aliases)?,
            rooms: NamespaceSet::read(namespaces, NamespaceKind::Rooms)?,
            rate_limited,
            protocols: protocols(object.get("protocols"))?,
            receive_ephemeral: object.get("receive_ephemeral").is_some_and(truthy),
            unstable_push_ephemeral: object
                .get("de.sorunome.msc2409.push_ephemeral")
                .is_some_and(truthy),
        })
    }

    /// The registration's `id`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The base URL pushes and queries go to, without a trailing `/`; `None` when the
    /// registration says `url: null` (the service receives nothing).
    #[must_use]
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The token the application service sends to the homeserver.
    #[must_use]
    pub fn as_token(&self) -> &str {
        &self.as_token
    }

    /// The token the homeserver sends to the application service.
    #[must_use]
    pub fn hs_token(&self) -> &str {
        &self.hs_token
    }

    /// The localpart of the service's own user.
    #[must_use]
    pub fn sender_localpart(&self) -> &str {
        &self.sender_localpart
    }

    /// The namespaces of one kind, in the registration's order.
    #[must_use]
    pub fn namespaces(&self, kind: NamespaceKind) -> &[Namespace] {
        &self.set(kind).entries
    }

    /// Whether the service's users are rate limited (Synapse's default: yes; the
    /// sender never is, see
    /// [`ApplicationService::is_rate_limited`](super::ApplicationService::is_rate_limited)).
    #[must_use]
    pub fn rate_limited(&self) -> bool {
        self.rate_limited
    }

    /// The third-party protocols the service bridges.
    #[must_use]
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Whether the service asked for ephemeral events (typing, receipts, presence),
    /// through `receive_ephemeral` or the unstable
    /// `de.sorunome.msc2409.push_ephemeral`.
    #[must_use]
    pub fn receive_ephemeral(&self) -> bool {
        self.receive_ephemeral || self.unstable_push_ephemeral
    }

    /// Whether `text` is in a namespace of this kind.
    ///
    /// Synapse tests each namespace with Python's `re.match`, which anchors at the
    /// **start only**: `@_irc_` matches `@_irc_alice:example.org`. A pattern that
    /// should match a whole ID must end in `$` (Python's `$` also matches before a
    /// final newline, which no valid ID ends with, so the two engines agree on IDs).
    /// The regexes here are anchored the same way, at the start only.
    #[must_use]
    pub fn is_in_namespace(&self, kind: NamespaceKind, text: &str) -> bool {
        self.set(kind).set.is_match(text)
    }

    /// The first namespace of this kind, in the registration's order, that matches
    /// `text` (Synapse's `_matches_regex`).
    #[must_use]
    pub fn matching_namespace(&self, kind: NamespaceKind, text: &str) -> Option<&Namespace> {
        self.set(kind).first_match(text)
    }

    /// Whether the first namespace of this kind that matches `text` is exclusive
    /// (Synapse's `_is_exclusive`: a non-exclusive namespace listed before an
    /// exclusive one that also matches makes the claim non-exclusive).
    #[must_use]
    pub fn is_exclusive(&self, kind: NamespaceKind, text: &str) -> bool {
        self.matching_namespace(kind, text)
            .is_some_and(|namespace| namespace.exclusive)
    }

    /// Whether transaction bodies carry the stable `ephemeral` key.
    pub(crate) fn stable_ephemeral(&self) -> bool {
        self.receive_ephemeral
    }

    /// Whether transaction bodies carry the unstable `de.sorunome.msc2409.ephemeral`.
    pub(crate) fn unstable_ephemeral(&self) -> bool {
        self.unstable_push_ephemeral
    }

    /// The anchored patterns of one kind, in order, as compiled.
    pub(crate) fn anchored_patterns(&self, kind: NamespaceKind) -> &[String] {
        self.set(kind).set.patterns()
    }

    fn set(&self, kind: NamespaceKind) -> &NamespaceSet {
        match kind {
            NamespaceKind::Aliases => &self.aliases,
            NamespaceKind::Rooms => &self.rooms,
            NamespaceKind::Users => &self.users,
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("as_token", &"<redacted>")
            .field("hs_token", &"<redacted>")
            .field("sender_localpart", &self.sender_localpart)
            .field("users", &self.users.entries)
            .field("aliases", &self.aliases.entries)
            .field("rooms", &self.rooms.entries)
            .field("rate_limited", &self.rate_limited)
            .field("protocols", &self.protocols)
            .field("receive_ephemeral", &self.receive_ephemeral)
            .field("unstable_push_ephemeral", &self.unstable_push_ephemeral)
            .finish()
    }
}

impl<'de> Deserialize<'de> for Registration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(D::Error::custom)
    }
}

/// The namespaces of one kind, and one compiled set of them, each pattern anchored at
/// the start.
#[derive(Clone)]
struct NamespaceSet {
    entries: Vec<Namespace>,
    set: RegexSet,
}

impl NamespaceSet {
    fn read(
        namespaces: &Map<String, Value>,
        kind: NamespaceKind,
    ) -> Result<Self, RegistrationError> {
        let key = kind.as_str();
        let list = match namespaces.get(key) {
            None => &Vec::new(),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(wrong_type(format!("namespaces.{key}"), "a list")),
        };
        let mut entries = Vec::with_capacity(list.len());
        let mut anchored = Vec::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            let path = format!("namespaces.{key}[{index}]");
            let Some(entry) = entry.as_object() else {
                return Err(wrong_type(path, "an object"));
            };
            let Some(Value::String(regex)) = entry.get("regex") else {
                return Err(wrong_type(format!("{path}.regex"), "a string"));
            };
            let Some(Value::Bool(exclusive)) = entry.get("exclusive") else {
                return Err(wrong_type(format!("{path}.exclusive"), "a boolean"));
            };
            anchored.push(compile(regex, &format!("{path}.regex"))?);
            entries.push(Namespace {
                exclusive: *exclusive,
                regex: regex.clone(),
            });
        }
        let limit = REGEX_SIZE_LIMIT.saturating_mul(anchored.len().max(1));
        let set = RegexSetBuilder::new(&anchored)
            .size_limit(limit)
            .dfa_size_limit(limit)
            .build()
            .map_err(|error| regex_error(error, format!("namespaces.{key}"), String::new()))?;
        Ok(Self { entries, set })
    }

    fn first_match(&self, text: &str) -> Option<&Namespace> {
        if self.entries.is_empty() {
            return None;
        }
        // `SetMatches` iterates in pattern order, so the first is the one Synapse's
        // loop over the namespaces would stop at.
        let index = self.set.matches(text).iter().next()?;
        self.entries.get(index)
    }
}

/// Compiles one namespace pattern under the size bound and returns it anchored at the
/// start, as text for the set.
///
/// The anchor is added to the parsed pattern, not spliced into its text, so that no
/// pattern can escape it (an `(?x)` comment would swallow a closing parenthesis).
fn compile(pattern: &str, path: &str) -> Result<String, RegistrationError> {
    let translated = python_escapes(pattern);
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&translated)
        .map_err(|error| RegistrationError::Regex {
            path: path.to_owned(),
            pattern: pattern.to_owned(),
            reason: error.to_string(),
        })?;
    let anchored = Hir::concat(vec![Hir::look(Look::Start), hir]).to_string();
    RegexBuilder::new(&anchored)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| regex_error(error, path.to_owned(), pattern.to_owned()))?;
    Ok(anchored)
}

/// Python's `\Z` (end of text) is `\z` to the regex crate, which has no `\Z`.
fn python_escapes(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains("\\Z") {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => out.push_str("\\z"),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn regex_error(error: regex::Error, path: String, pattern: String) -> RegistrationError {
    match error {
        regex::Error::CompiledTooBig(limit) => RegistrationError::RegexTooLarge {
            path,
            pattern,
            limit,
        },
        other => RegistrationError::Regex {
            path,
            pattern,
            reason: other.to_string(),
        },
    }
}

fn required_string(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<String, RegistrationError> {
    match object.get(field) {
        None => Err(RegistrationError::MissingField { field }),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

/// `protocols`: Synapse checks it only when it is truthy, and then wants a list of
/// strings.
fn protocols(value: Option<&Value>) -> Result<Vec<String>, RegistrationError> {
    let Some(value) = value.filter(|value| truthy(value)) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(wrong_type("protocols", "a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(protocol) => Ok(protocol.clone()),
            _ => Err(wrong_type(format!("protocols[{index}]"), "a string")),
        })
        .collect()
}

/// Python's truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

fn wrong_type(path: impl Into<String>, expected: &'static str) -> RegistrationError {
    RegistrationError::WrongType {
        path: path.into(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn minimal() -> Value {
        json!({
            "id": "irc",
            "url": "http://127.0.0.1:9000/",
            "as_token": "as-secret",
            "hs_token": "hs-secret",
            "sender_localpart": "_irc_bot",
            "namespaces": {"users": [{"exclusive": true, "regex": "@_irc_.*"}]},
        })
    }

    fn with(key: &str, value: Value) -> Value {
        let mut registration = minimal();
        registration[key] = value;
        registration
    }

    fn without(key: &str) -> Value {
        let mut registration = minimal();
        registration
            .as_object_mut()
            .map(|object| object.remove(key));
        registration
    }

    #[test]
    fn reads_every_field_with_synapse_defaults() {
        let registration = Registration::from_json(&minimal()).unwrap();
        assert_eq!(registration.id(), "irc");
        assert_eq!(registration.url(), Some("http://127.0.0.1:9000"));
        assert_eq!(registration.as_token(), "as-secret");
        assert_eq!(registration.hs_token(), "hs-secret");
        assert_eq!(registration.sender_localpart(), "_irc_bot");
        assert!(registration.rate_limited());
        assert!(registration.protocols().is_empty());
        assert!(!registration.receive_ephemeral());
        assert_eq!(
            registration.namespaces(NamespaceKind::Users),
            [Namespace {
                exclusive: true,
                regex: "@_irc_.*".to_owned()
            }]
        );
        assert!(registration.namespaces(NamespaceKind::Rooms).is_empty());
        let debug = format!("{registration:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn required_fields_are_required() {
        for field in [
            "id",
            "as_token",
            "hs_token",
            "sender_localpart",
            "url",
            "namespaces",
        ] {
            assert_eq!(
                Registration::from_json(&without(field)).unwrap_err(),
                RegistrationError::MissingField { field },
                "{field}"
            );
        }
        assert_eq!(
            Registration::from_json(&json!([])).unwrap_err(),
            RegistrationError::NotAnObject
        );
        assert_eq!(
            Registration::from_json(&with("as_token", json!(5))).unwrap_err(),
            RegistrationError::WrongType {
                path: "as_token".to_owned(),
                expected: "a string"
            }
        );
    }

    #[test]
    fn url_null_means_no_pushes_but_a_number_is_refused() {
        let registration = Registration::from_json(&with("url", Value::Null)).unwrap();
        assert_eq!(registration.url(), None);
        assert!(matches!(
            Registration::from_json(&with("url", json!(1))),
            Err(RegistrationError::WrongType { path, .. }) if path == "url"
        ));
    }

    #[test]
    fn empty_tokens_and_bad_ids_are_refused() {
        assert_eq!(
            Registration::from_json(&with("hs_token", json!(""))).unwrap_err(),
            RegistrationError::EmptyToken {
                id: "irc".to_owned(),
                field: "hs_token"
            }
        );
        for id in ["", "a|b"] {
            assert!(matches!(
                Registration::from_json(&with("id", json!(id))),
                Err(RegistrationError::InvalidId { .. })
            ));
        }
    }

    #[test]
    fn flags_follow_python_truthiness() {
        assert!(
            !Registration::from_json(&with("rate_limited", json!(false)))
                .unwrap()
                .rate_limited()
        );
        // Synapse: anything that is not a boolean means the default, true.
        assert!(
            Registration::from_json(&with("rate_limited", json!("false")))
                .unwrap()
                .rate_limited()
        );
        let stable = Registration::from_json(&with("receive_ephemeral", json!(true))).unwrap();
        assert!(stable.receive_ephemeral() && stable.stable_ephemeral());
        assert!(!stable.unstable_ephemeral());
        let unstable =
            Registration::from_json(&with("de.sorunome.msc2409.push_ephemeral", json!(1))).unwrap();
        assert!(unstable.receive_ephemeral() && unstable.unstable_ephemeral());
        assert!(!unstable.stable_ephemeral());
        assert!(
            !Registration::from_json(&with("receive_ephemeral", json!("")))
                .unwrap()
                .receive_ephemeral()
        );
    }

    #[test]
    fn protocols_are_a_list_of_strings_when_truthy() {
        let registration = Registration::from_json(&with("protocols", json!(["irc"]))).unwrap();
        assert_eq!(registration.protocols(), ["irc"]);
        assert!(Registration::from_json(&with("protocols", json!(false))).is_ok());
        assert!(matches!(
            Registration::from_json(&with("protocols", json!("irc"))),
            Err(RegistrationError::WrongType { path, .. }) if path == "protocols"
        ));
        assert!(matches!(
            Registration::from_json(&with("protocols", json!(["irc", 1]))),
            Err(RegistrationError::WrongType { path, .. }) if path == "protocols[1]"
        ));
    }

    #[test]
    fn namespace_entries_need_a_string_regex_and_a_boolean_exclusive() {
        let cases = [
            (json!({"users": {}}), "namespaces.users"),
            (json!({"users": null}), "namespaces.users"),
            (json!({"rooms": ["x"]}), "namespaces.rooms[0]"),
            (
                json!({"aliases": [{"exclusive": true}]}),
                "namespaces.aliases[0].regex",
            ),
            (
                json!({"users": [{"regex": "@a", "exclusive": "yes"}]}),
                "namespaces.users[0].exclusive",
            ),
        ];
        for (namespaces, expected) in cases {
            match Registration::from_json(&with("namespaces", namespaces)) {
                Err(RegistrationError::WrongType { path, .. }) => assert_eq!(path, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
        assert!(Registration::from_json(&with("namespaces", json!({}))).is_ok());
    }

    #[test]
    fn bad_and_oversized_regexes_are_refused_with_their_path() {
        let bad = json!({"users": [
            {"exclusive": false, "regex": "@a"},
            {"exclusive": true, "regex": "(@b"},
        ]});
        match Registration::from_json(&with("namespaces", bad)) {
            Err(RegistrationError::Regex { path, pattern, .. }) => {
                assert_eq!(path, "namespaces.users[1].regex");
                assert_eq!(pattern, "(@b");
            }
            other => panic!("{other:?}"),
        }
        // Look-around needs backtracking: the linear-time engine refuses it.
        let lookahead = json!({"users": [{"exclusive": true, "regex": "@(?!admin)"}]});
        assert!(matches!(
            Registration::from_json(&with("namespaces", lookahead)),
            Err(RegistrationError::Regex { .. })
        ));
        let huge = json!({"aliases": [{"exclusive": true, "regex": "#\\w{1000}"}]});
        assert!(matches!(
            Registration::from_json(&with("namespaces", huge)),
            Err(RegistrationError::RegexTooLarge { path, limit: REGEX_SIZE_LIMIT, .. })
                if path == "namespaces.aliases[0].regex"
        ));
    }

    #[test]
    fn matching_is_anchored_at_the_start_only_as_re_match_is() {
        let namespaces = json!({"users": [
            {"exclusive": false, "regex": "@_irc_"},
            {"exclusive": true, "regex": "@_irc_.*:example\\.org$"},
            {"exclusive": true, "regex": "@whole:example\\.org\\Z"},
        ]});
        let registration = Registration::from_json(&with("namespaces", namespaces)).unwrap();
        let users = NamespaceKind::Users;
        assert!(registration.is_in_namespace(users, "@_irc_alice:example.org"));
        assert!(registration.is_in_namespace(users, "@_irc_alice:other.org"));
        assert!(!registration.is_in_namespace(users, "@bob_irc_:example.org"));
        assert!(!registration.is_in_namespace(users, "x@_irc_alice:example.org"));
        assert!(registration.is_in_namespace(users, "@whole:example.org"));
        assert!(!registration.is_in_namespace(users, "@whole:example.org.evil"));
        // The first matching namespace decides exclusivity, as in Synapse.
        assert_eq!(
            registration
                .matching_namespace(users, "@_irc_a:example.org")
                .map(|n| n.exclusive),
            Some(false)
        );
        assert!(!registration.is_exclusive(users, "@_irc_a:example.org"));
        assert!(registration.is_exclusive(users, "@whole:example.org"));
        assert!(!registration.is_exclusive(users, "@nobody:example.org"));
    }

    #[test]
    fn the_anchor_survives_alternation_and_verbose_comments() {
        let namespaces = json!({"users": [
            {"exclusive": true, "regex": "@a|@b"},
            {"exclusive": true, "regex": "(?x) @c  # a comment"},
        ]});
        let registration = Registration::from_json(&with("namespaces", namespaces)).unwrap();
        let users = NamespaceKind::Users;
        assert!(registration.is_in_namespace(users, "@b:x"));
        assert!(!registration.is_in_namespace(users, "x@b:x"));
        assert!(registration.is_in_namespace(users, "@c:x"));
        assert!(!registration.is_in_namespace(users, "x@c:x"));
    }

    /// Patterns and texts run through Python 3.11's `re.match` (the call Synapse's
    /// `_matches_regex` makes); each case lists the texts Python matched.
    #[test]
    fn agrees_with_python_re_match() {
        let texts = [
            "@_irc_alice:example.org",
            "@_irc_alice:example.org.evil",
            "@_irc_:example.org",
            "x@_irc_a:example.org",
            "@a:x",
            "@b:x",
            "@bot:x",
            "@BOT:x",
            "@c:x",
            "@\u{e9}:example.org",
            "@abc",
            "@abc:x",
            "@x:y",
            "@mybot:x",
            "@foo_1:x",
            "@12:x",
            "@1:x",
            "#_portal_x:example.org",
            "#_portal_",
            "!room:x",
            "!rooms:x",
        ];
        let cases: [(&str, &[&str]); 14] = [
            (
                "@_irc_",
                &[
                    "@_irc_alice:example.org",
                    "@_irc_alice:example.org.evil",
                    "@_irc_:example.org",
                ],
            ),
            (
                "@_irc_.*:example\\.org$",
                &["@_irc_alice:example.org", "@_irc_:example.org"],
            ),
            (
                "@_irc_.*:example\\.org\\Z",
                &["@_irc_alice:example.org", "@_irc_:example.org"],
            ),
            ("@a|@b", &["@a:x", "@b:x", "@bot:x", "@abc", "@abc:x"]),
            ("(?i)@BOT", &["@bot:x", "@BOT:x"]),
            ("(?x) @c  # comment", &["@c:x"]),
            (
                "@\\w+:example\\.org",
                &[
                    "@_irc_alice:example.org",
                    "@_irc_alice:example.org.evil",
                    "@_irc_:example.org",
                    "@\u{e9}:example.org",
                ],
            ),
            ("@[a-z]+$", &["@abc"]),
            ("^@x", &["@x:y"]),
            (".*bot", &["@bot:x", "@mybot:x"]),
            ("@(foo|bar)_", &["@foo_1:x"]),
            ("@\\d{2}", &["@12:x"]),
            ("#_portal_.+", &["#_portal_x:example.org"]),
            ("!room", &["!room:x", "!rooms:x"]),
        ];
        for (pattern, matched) in cases {
            let namespaces = json!({"users": [{"exclusive": true, "regex": pattern}]});
            let registration = Registration::from_json(&with("namespaces", namespaces)).unwrap();
            let ours: Vec<&str> = texts
                .iter()
                .copied()
                .filter(|text| registration.is_in_namespace(NamespaceKind::Users, text))
                .collect();
            assert_eq!(ours, matched, "{pattern}");
        }
    }

    /// The one known difference: Python's `$` also matches before a final newline.
    /// No valid user ID, alias or room ID ends in a newline (the server-name grammar
    /// has none), so the two agree on every ID.
    #[test]
    fn dollar_before_a_final_newline_differs_from_python() {
        let namespaces =
            json!({"users": [{"exclusive": true, "regex": "@_irc_.*:example\\.org$"}]});
        let registration = Registration::from_json(&with("namespaces", namespaces)).unwrap();
        // Python's re.match matches this text; the regex crate does not.
        assert!(!registration.is_in_namespace(NamespaceKind::Users, "@_irc_a:example.org\n"));
        assert!(crate::id::UserId::parse("@_irc_a:example.org\n").is_err());
    }

    #[test]
    fn python_end_of_text_escape_is_translated() {
        assert_eq!(python_escapes("@a\\Z"), "@a\\z");
        assert_eq!(python_escapes("@a\\\\Z"), "@a\\\\Z");
        assert_eq!(python_escapes("@a\\d"), "@a\\d");
    }

    #[test]
    fn deserializes_through_serde_with_the_same_checks() {
        let registration: Registration = serde_json::from_value(minimal()).unwrap();
        assert_eq!(registration.id(), "irc");
        let error = serde_json::from_value::<Registration>(without("hs_token")).unwrap_err();
        assert!(error.to_string().contains("hs_token"), "{error}");
    }
}
