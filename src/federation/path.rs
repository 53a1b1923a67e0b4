//! The one place that builds federation request-targets, and a raw query parser
//! (<https://spec.matrix.org/v1.16/server-server-api/>).
//!
//! A signed request's `uri` must be byte for byte the request-target sent on the wire,
//! so every request-target is built here and nowhere else. Every path argument and query
//! value is percent-encoded as Synapse encodes them (`urllib.parse.quote(arg, safe="")`):
//! everything but `A–Z a–z 0–9 - . _ ~` becomes `%XX`, so `!` is `%21`, `:` is `%3A`,
//! `$` is `%24`, `@` is `%40` and `/` is `%2F`. Repeated query parameters (`ver` of
//! make_join, `v` of backfill) are written once per value, and on the server side
//! [`parse_query`] keeps every occurrence, which most web frameworks' query extractors
//! do not.
//!
//! ```
//! use matrix_serverlib::federation::path;
//! use matrix_serverlib::id::{RoomId, UserId};
//!
//! let room: RoomId = "!abc:example.org".parse()?;
//! let user: UserId = "@alice:example.org".parse()?;
//! let target = path::make_join(&room, &user, &["10", "11"]);
//! assert_eq!(
//!     target,
//!     "/_matrix/federation/v1/make_join/%21abc%3Aexample.org/%40alice%3Aexample.org?ver=10&ver=11"
//! );
//! let query = path::parse_query(target.split_once('?').map_or("", |(_, q)| q))?;
//! assert_eq!(path::values(&query, "ver"), ["10", "11"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use crate::id::{EventId, RoomAliasId, RoomId, ServerName, UserId};

/// The prefix of every federation endpoint.
const FEDERATION: &str = "/_matrix/federation";

/// `PUT /_matrix/federation/v1/send/{txnId}`.
#[must_use]
pub fn send(txn_id: &str) -> String {
    format!("{FEDERATION}/v1/send/{}", encode(txn_id))
}

/// `GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=...`, one `ver` for each
/// room version the joining server supports.
#[must_use]
pub fn make_join(room_id: &RoomId, user_id: &UserId, versions: &[&str]) -> String {
    let mut target = format!(
        "{FEDERATION}/v1/make_join/{}/{}",
        encode(room_id.as_str()),
        encode(user_id.as_str())
    );
    push_query(
        &mut target,
        versions.iter().map(|version| ("ver", *version)),
    );
    target
}

/// `PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}`, with
/// `?omit_members=true` when asking for a partial-state join.
#[must_use]
pub fn send_join_v2(room_id: &RoomId, event_id: &EventId, omit_members: bool) -> String {
    let mut target = room_event(2, "send_join", room_id, event_id);
    if omit_members {
        push_query(&mut target, [("omit_members", "true")]);
    }
    target
}

/// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`.
#[must_use]
pub fn make_leave(room_id: &RoomId, user_id: &UserId) -> String {
    format!(
        "{FEDERATION}/v1/make_leave/{}/{}",
        encode(room_id.as_str()),
        encode(user_id.as_str())
    )
}

/// `PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}`.
#[must_use]
pub fn send_leave_v2(room_id: &RoomId, event_id: &EventId) -> String {
    room_event(2, "send_leave", room_id, event_id)
}

/// `GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver=...`.
#[must_use]
pub fn make_knock(room_id: &RoomId, user_id: &UserId, versions: &[&str]) -> String {
    let mut target = format!(
        "{FEDERATION}/v1/make_knock/{}/{}",
        encode(room_id.as_str()),
        encode(user_id.as_str())
    );
    push_query(
        &mut target,
        versions.iter().map(|version| ("ver", *version)),
    );
    target
}

/// `PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}`.
#[must_use]
pub fn send_knock(room_id: &RoomId, event_id: &EventId) -> String {
    room_event(1, "send_knock", room_id, event_id)
}

/// `PUT /_matrix/federation/v2/invite/{roomId}/{eventId}`.
#[must_use]
pub fn invite_v2(room_id: &RoomId, event_id: &EventId) -> String {
    room_event(2, "invite", room_id, event_id)
}

/// `PUT /_matrix/federation/v1/invite/{roomId}/{eventId}`, the fallback for servers
/// without v2 (rooms of version 1 or 2 only).
#[must_use]
pub fn invite_v1(room_id: &RoomId, event_id: &EventId) -> String {
    room_event(1, "invite", room_id, event_id)
}

/// `GET /_matrix/federation/v1/state/{roomId}?event_id=...`: the state at an event.
#[must_use]
pub fn state(room_id: &RoomId, event_id: &EventId) -> String {
    let mut target = format!("{FEDERATION}/v1/state/{}", encode(room_id.as_str()));
    push_query(&mut target, [("event_id", event_id.as_str())]);
    target
}

/// `GET /_matrix/federation/v1/state_ids/{roomId}?event_id=...`.
#[must_use]
pub fn state_ids(room_id: &RoomId, event_id: &EventId) -> String {
    let mut target = format!("{FEDERATION}/v1/state_ids/{}", encode(room_id.as_str()));
    push_query(&mut target, [("event_id", event_id.as_str())]);
    target
}

/// `GET /_matrix/federation/v1/event/{eventId}`.
#[must_use]
pub fn event(event_id: &EventId) -> String {
    format!("{FEDERATION}/v1/event/{}", encode(event_id.as_str()))
}

/// `GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}`.
#[must_use]
pub fn event_auth(room_id: &RoomId, event_id: &EventId) -> String {
    room_event(1, "event_auth", room_id, event_id)
}

/// `GET /_matrix/federation/v1/backfill/{roomId}?v=...&limit=N`: up to `limit` events
/// (the given ones included) before the events `from`.
#[must_use]
pub fn backfill(room_id: &RoomId, from: &[EventId], limit: u32) -> String {
    let mut target = format!("{FEDERATION}/v1/backfill/{}", encode(room_id.as_str()));
    let limit = limit.to_string();
    push_query(
        &mut target,
        from.iter()
            .map(|id| ("v", id.as_str()))
            .chain([("limit", limit.as_str())]),
    );
    target
}

/// `POST /_matrix/federation/v1/get_missing_events/{roomId}`.
#[must_use]
pub fn get_missing_events(room_id: &RoomId) -> String {
    format!(
        "{FEDERATION}/v1/get_missing_events/{}",
        encode(room_id.as_str())
    )
}

/// `GET /_matrix/federation/v1/query/directory?room_alias=...`.
#[must_use]
pub fn query_directory(alias: &RoomAliasId) -> String {
    let mut target = format!("{FEDERATION}/v1/query/directory");
    push_query(&mut target, [("room_alias", alias.as_str())]);
    target
}

/// `GET /_matrix/federation/v1/query/profile?user_id=...[&field=...]`; `field` is
/// `displayname` or `avatar_url`, or `None` for the whole profile.
#[must_use]
pub fn query_profile(user_id: &UserId, field: Option<&str>) -> String {
    let mut target = format!("{FEDERATION}/v1/query/profile");
    push_query(
        &mut target,
        [("user_id", user_id.as_str())]
            .into_iter()
            .chain(field.map(|field| ("field", field))),
    );
    target
}

/// `GET /_matrix/federation/v1/user/devices/{userId}`.
#[must_use]
pub fn user_devices(user_id: &UserId) -> String {
    format!("{FEDERATION}/v1/user/devices/{}", encode(user_id.as_str()))
}

/// `GET /_matrix/federation/v1/version`.
#[must_use]
pub fn version() -> String {
    format!("{FEDERATION}/v1/version")
}

/// `GET /_matrix/key/v2/server`: a server's own key document.
#[must_use]
pub fn key_server() -> String {
    "/_matrix/key/v2/server".to_owned()
}

/// `POST /_matrix/key/v2/query`: keys of several servers, through a notary.
#[must_use]
pub fn key_query() -> String {
    "/_matrix/key/v2/query".to_owned()
}

/// `GET /_matrix/key/v2/query/{serverName}`: one server's keys, through a notary.
#[must_use]
pub fn key_query_server(server: &ServerName) -> String {
    format!("/_matrix/key/v2/query/{}", encode(server.as_str()))
}

/// Percent-encodes `text` as one path segment or query value: every byte outside
/// `A–Z a–z 0–9 - . _ ~` becomes `%XX` (upper-case hex), as Synapse's
/// `urllib.parse.quote(text, safe="")` does.
#[must_use]
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Why a raw path segment or query string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A `%` not followed by two hex digits, at this byte offset of the segment, query
    /// name or query value.
    #[error("bad percent-escape at byte {offset}")]
    BadEscape {
        /// The offset of the `%`.
        offset: usize,
    },
    /// The decoded bytes are not UTF-8.
    #[error("percent-decoded text is not UTF-8")]
    NotUtf8,
    /// More parameters than [`MAX_QUERY_PARAMS`].
    #[error("more than {max} query parameters")]
    TooManyParams {
        /// The limit.
        max: usize,
    },
}

impl crate::federation::MatrixError for PathError {
    fn errcode(&self) -> crate::federation::ErrorCode {
        crate::federation::ErrorCode::InvalidParam
    }
}

/// The most query parameters [`parse_query`] reads; a longer query is refused.
pub const MAX_QUERY_PARAMS: usize = 1_000;

/// Decodes one percent-encoded path segment (`+` stays `+`, as in paths).
///
/// # Errors
///
/// [`PathError::BadEscape`] or [`PathError::NotUtf8`].
pub fn decode(segment: &str) -> Result<String, PathError> {
    decode_bytes(segment, false)
}

/// Parses a raw query string (what follows `?`, without it) into its parameters in
/// order, repeated names kept: `ver=1&ver=2` gives both. Names and values are
/// percent-decoded, and `+` reads as a space, as HTML forms and Synapse's
/// `parse_qs` read it. Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` is a
/// name with an empty value.
///
/// # Errors
///
/// [`PathError`] for a bad escape, text that is not UTF-8 once decoded, or more than
/// [`MAX_QUERY_PARAMS`] parameters.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, PathError> {
    let mut params = Vec::new();
    for piece in raw.split('&').filter(|piece| !piece.is_empty()) {
        if params.len() == MAX_QUERY_PARAMS {
            return Err(PathError::TooManyParams {
                max: MAX_QUERY_PARAMS,
            });
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        params.push((decode_bytes(name, true)?, decode_bytes(value, true)?));
    }
    Ok(params)
}

/// Every value of the parameter `name`, in order.
#[must_use]
pub fn values<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The first value of the parameter `name`.
#[must_use]
pub fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `{FEDERATION}/v{version}/{endpoint}/{roomId}/{eventId}`.
fn room_event(version: u8, endpoint: &str, room_id: &RoomId, event_id: &EventId) -> String {
    format!(
        "{FEDERATION}/v{version}/{endpoint}/{}/{}",
        encode(room_id.as_str()),
        encode(event_id.as_str())
    )
}

/// Appends `?name=value&...` (nothing when `params` is empty).
fn push_query<'a>(target: &mut String, params: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (index, (name, value)) in params.into_iter().enumerate() {
        target.push(if index == 0 { '?' } else { '&' });
        target.push_str(&encode(name));
        target.push('=');
        target.push_str(&encode(value));
    }
}

fn decode_bytes(text: &str, plus_is_space: bool) -> Result<String, PathError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or(PathError::BadEscape { offset: index })?;
                out.push(hex);
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn synapse_encoding_of_ids() {
        let room: RoomId = "!a/b+c:example.org".parse().unwrap();
        let event: EventId = "$abc+/d:example.org".parse().unwrap();
        assert_eq!(
            send_join_v2(&room, &event, true),
            "/_matrix/federation/v2/send_join/%21a%2Fb%2Bc%3Aexample.org/%24abc%2B%2Fd%3Aexample.org\
             ?omit_members=true"
        );
        assert_eq!(
            backfill(&room, &[event.clone(), event], 10),
            "/_matrix/federation/v1/backfill/%21a%2Fb%2Bc%3Aexample.org\
             ?v=%24abc%2B%2Fd%3Aexample.org&v=%24abc%2B%2Fd%3Aexample.org&limit=10"
        );
    }

    #[test]
    fn synapse_make_join_query_keeps_every_version() {
        // The query Synapse 1.163 sends with make_join (a loopback trace): every
        // version it knows, unstable identifiers included.
        let raw = "ver=1&ver=2&ver=3&ver=4&ver=5&ver=6&ver=7&ver=8&ver=9&ver=10&ver=11\
                   &ver=org.matrix.msc3757.10&ver=org.matrix.msc3757.11&ver=12";
        let params = parse_query(raw).unwrap();
        let versions = values(&params, "ver");
        assert_eq!(versions.len(), 14);
        assert_eq!(versions[11], "org.matrix.msc3757.10");
        assert_eq!(versions.last(), Some(&"12"));
        assert_eq!(first(&params, "ver"), Some("1"));
        assert!(values(&params, "v").is_empty());
    }

    #[test]
    fn query_decoding() {
        let params = parse_query("a=%21x%3Ay&&b&c=1+2&d=%2B").unwrap();
        assert_eq!(
            params,
            [
                ("a".to_owned(), "!x:y".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "1 2".to_owned()),
                ("d".to_owned(), "+".to_owned()),
            ]
        );
        assert_eq!(parse_query("a=%2"), Err(PathError::BadEscape { offset: 0 }));
        assert_eq!(
            parse_query("a=%zz"),
            Err(PathError::BadEscape { offset: 0 })
        );
        assert_eq!(parse_query("a=%ff"), Err(PathError::NotUtf8));
        assert_eq!(decode("a+b%20c").unwrap(), "a+b c");
        let long = "a=1&".repeat(MAX_QUERY_PARAMS + 1);
        assert!(matches!(
            parse_query(&long),
            Err(PathError::TooManyParams { .. })
        ));
    }

    #[test]
    fn v12_room_ids_and_fixed_targets() {
        let room: RoomId = "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
            .parse()
            .unwrap();
        let event: EventId = "$31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
            .parse()
            .unwrap();
        assert_eq!(
            state_ids(&room, &event),
            "/_matrix/federation/v1/state_ids/%2131hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM\
             ?event_id=%2431hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
        );
        assert_eq!(key_server(), "/_matrix/key/v2/server");
        assert_eq!(version(), "/_matrix/federation/v1/version");
        let user: UserId = "@a:x.example".parse().unwrap();
        assert_eq!(
            query_profile(&user, Some("displayname")),
            "/_matrix/federation/v1/query/profile?user_id=%40a%3Ax.example&field=displayname"
        );
        assert_eq!(
            query_profile(&user, None),
            "/_matrix/federation/v1/query/profile?user_id=%40a%3Ax.example"
        );
    }

    proptest! {
        /// What a builder writes, a server reads back: a path segment decodes to the ID,
        /// and a query value parses to it, for IDs of any characters.
        #[test]
        fn encode_round_trips(text in "[!:$@+/%a-zA-Z0-9 =&?#~._\u{e9}\u{65e5}-]{0,40}") {
            prop_assert_eq!(decode(&encode(&text)).unwrap(), text.clone());
            let query = format!("x={}&y=1", encode(&text));
            let params = parse_query(&query).unwrap();
            prop_assert_eq!(first(&params, "x"), Some(text.as_str()));
            // The encoded form is a single segment of unreserved characters and escapes.
            prop_assert!(encode(&text).bytes().all(|b| b.is_ascii_alphanumeric()
                || b"-._~%".contains(&b)));
        }

        #[test]
        fn parse_query_never_panics(raw in ".{0,200}") {
            let _ = parse_query(&raw);
        }
    }
}
