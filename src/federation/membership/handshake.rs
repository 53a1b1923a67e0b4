//! The step machine the joining, leaving and knocking sides share: fail-over across
//! candidate residents, the make_* request, checking the template and signing our
//! event from it, then the send_* request and its answer
//! (<https://spec.matrix.org/v1.16/server-server-api/#joining-rooms>).

use super::error::{AttemptError, HandshakeError};
use super::incoming::Membership;
use super::invite::{InviteStateEvent, state_entry};
use super::response::{Expected, JoinedRoom, SendJoinResponse};
use crate::base64;
use crate::crypto::{self, PublicKeys, SigningKey};
use crate::event::Pdu;
use crate::federation::keyring::KeyNeed;
use crate::federation::outbound::{Method, OutboundRequest, Reply, RequestId};
use crate::federation::path;
use crate::id::{RoomId, ServerName, UserId};
use crate::json::{self, Object, ParseOptions, Value};
use crate::room_version::{EventFormat, RoomVersion};

/// The most `knock_room_state` entries read from a send_knock answer.
pub const MAX_KNOCK_ROOM_STATE: usize = 1_000;

/// What a joining, leaving or knocking server starts a handshake with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeParams {
    /// Our user who joins, leaves or knocks.
    pub user_id: UserId,
    /// The room.
    pub room_id: RoomId,
    /// The residents to try, in order.
    pub candidates: Vec<ServerName>,
    /// The room versions we support (sent as `ver`, in this order).
    pub supported_versions: Vec<RoomVersion>,
    /// Extra member content (such as `displayname`, or `reason`); `membership` is
    /// set by the handshake.
    pub content: Object,
    /// Our server name.
    pub our_server: ServerName,
    /// Our signing key.
    pub key: SigningKey,
    /// Now, for `origin_server_ts`.
    pub now_ms: i64,
    /// For joins: ask for a partial-state answer (`omit_members=true`).
    pub request_partial_state: bool,
}

impl HandshakeParams {
    /// Parameters supporting every room version, with no extra content, asking for
    /// full state.
    #[must_use]
    pub fn new(
        user_id: UserId,
        room_id: RoomId,
        candidates: Vec<ServerName>,
        our_server: ServerName,
        key: SigningKey,
        now_ms: i64,
    ) -> Self {
        Self {
            user_id,
            room_id,
            candidates,
            supported_versions: RoomVersion::ALL.to_vec(),
            content: Object::new(),
            our_server,
            key,
            now_ms,
            request_partial_state: false,
        }
    }

    /// With these supported room versions.
    #[must_use]
    pub fn with_supported_versions(mut self, versions: Vec<RoomVersion>) -> Self {
        self.supported_versions = versions;
        self
    }

    /// With extra member content.
    #[must_use]
    pub fn with_content(mut self, content: Object) -> Self {
        self.content = content;
        self
    }

    /// Asking for a partial-state join.
    #[must_use]
    pub fn with_partial_state(mut self, partial: bool) -> Self {
        self.request_partial_state = partial;
        self
    }
}

/// What a handshake wants next.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Step<T> {
    /// Send this request and hand the reply to `provide_reply`.
    Send(OutboundRequest),
    /// Fetch these keys and hand them to `provide_keys` (joins only: every server
    /// that must have signed an event of the send_join answer).
    NeedKeys(Vec<KeyNeed>),
    /// Nothing to do until a reply comes back.
    Waiting,
    /// The handshake succeeded.
    Done(Box<T>),
    /// Every resident failed (or one refused for good).
    Failed(HandshakeError),
}

impl Step<Outcome> {
    /// The same step for a handshake's own outcome type; `Done` has no counterpart
    /// (the wrappers match it themselves) and reads as finished.
    pub(super) fn map_outcome<T>(self) -> Step<T> {
        match self {
            Self::Send(request) => Step::Send(request),
            Self::NeedKeys(needs) => Step::NeedKeys(needs),
            Self::Waiting => Step::Waiting,
            Self::Failed(error) => Step::Failed(error),
            Self::Done(_) => Step::Failed(HandshakeError::Finished),
        }
    }
}

/// A room left through a resident.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LeftRoom {
    /// The room version.
    pub version: RoomVersion,
    /// The resident that accepted the leave.
    pub resident: ServerName,
    /// Our signed leave.
    pub leave_event: Pdu,
}

/// A room knocked on through a resident.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KnockedRoom {
    /// The room version.
    pub version: RoomVersion,
    /// The resident that accepted the knock.
    pub resident: ServerName,
    /// Our signed knock.
    pub knock_event: Pdu,
    /// The `knock_room_state` answered (it holds the create event).
    pub knock_room_state: Vec<InviteStateEvent>,
}

/// What a finished handshake produced.
#[derive(Debug)]
pub(super) enum Outcome {
    Joined(Box<JoinedRoom>),
    Knocked(Box<KnockedRoom>),
    Left(Box<LeftRoom>),
}

#[derive(Debug)]
enum State {
    Idle,
    AwaitMake {
        id: RequestId,
        server: ServerName,
    },
    ReadyToSend {
        server: ServerName,
        version: RoomVersion,
        event: Pdu,
    },
    AwaitSend {
        id: RequestId,
        server: ServerName,
        version: RoomVersion,
        event: Pdu,
    },
    AwaitKeys {
        server: ServerName,
        event: Pdu,
        response: Box<SendJoinResponse>,
        needs: Vec<KeyNeed>,
    },
    Done(Outcome),
    Ended,
}

/// The shared step machine.
#[derive(Debug)]
pub(super) struct Machine {
    params: HandshakeParams,
    membership: Membership,
    next_candidate: usize,
    attempts: Vec<(ServerName, AttemptError)>,
    stopped: bool,
    next_id: u64,
    state: State,
}

impl Machine {
    pub(super) fn new(params: HandshakeParams, membership: Membership) -> Self {
        Self {
            params,
            membership,
            next_candidate: 0,
            attempts: Vec::new(),
            stopped: false,
            next_id: 0,
            state: State::Idle,
        }
    }

    pub(super) fn poll(&mut self) -> Step<Outcome> {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Idle => self.start_attempt(),
            State::ReadyToSend {
                server,
                version,
                event,
            } => {
                let request = self.send_request(&server, &event);
                self.state = State::AwaitSend {
                    id: request.id,
                    server,
                    version,
                    event,
                };
                Step::Send(request)
            }
            State::AwaitKeys {
                server,
                event,
                response,
                needs,
            } => {
                let step = Step::NeedKeys(needs.clone());
                self.state = State::AwaitKeys {
                    server,
                    event,
                    response,
                    needs,
                };
                step
            }
            State::Done(outcome) => Step::Done(Box::new(outcome)),
            State::Ended => Step::Failed(HandshakeError::Finished),
            waiting => {
                self.state = waiting;
                Step::Waiting
            }
        }
    }

    pub(super) fn provide_reply(&mut self, id: RequestId, reply: Reply) {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::AwaitMake {
                id: expected,
                server,
            } if expected == id => {
                match success_body(reply).and_then(|body| self.sign_template(&body)) {
                    Ok((version, event)) => {
                        self.state = State::ReadyToSend {
                            server,
                            version,
                            event,
                        };
                    }
                    Err(error) => self.fail(server, error),
                }
            }
            State::AwaitSend {
                id: expected,
                server,
                version,
                event,
            } if expected == id => match success_body(reply) {
                Ok(body) => self.handle_send_answer(server, version, event, &body),
                Err(error) => self.fail(server, error),
            },
            other => self.state = other,
        }
    }

    pub(super) fn provide_keys(&mut self, keys: &PublicKeys) {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::AwaitKeys {
                server,
                event,
                response,
                ..
            } => match response.validate(event, server.clone(), &self.with_own_key(keys)) {
                Ok(room) => self.state = State::Done(Outcome::Joined(Box::new(room))),
                Err(error) => self.fail(server, error),
            },
            other => self.state = other,
        }
    }

    /// `keys` with our own public key added (a countersigned join returned by the
    /// resident carries our signature too), unless the caller already gave one.
    fn with_own_key(&self, keys: &PublicKeys) -> PublicKeys {
        let mut keys = keys.clone();
        let (server, key) = (self.params.our_server.as_str(), &self.params.key);
        if keys.get(server, key.key_id()).is_none() {
            keys.insert(server, key.key_id(), key.public_key());
        }
        keys
    }

    fn start_attempt(&mut self) -> Step<Outcome> {
        let server = if self.stopped {
            None
        } else {
            self.params.candidates.get(self.next_candidate).cloned()
        };
        let Some(server) = server else {
            self.state = State::Ended;
            if self.attempts.is_empty() {
                return Step::Failed(HandshakeError::NoCandidates);
            }
            let attempts = std::mem::take(&mut self.attempts);
            return Step::Failed(HandshakeError::AllFailed { attempts });
        };
        self.next_candidate += 1;
        let request = self.make_request(&server);
        self.state = State::AwaitMake {
            id: request.id,
            server,
        };
        Step::Send(request)
    }

    fn fail(&mut self, server: ServerName, error: AttemptError) {
        if !error.try_next() {
            self.stopped = true;
        }
        self.attempts.push((server, error));
        self.state = State::Idle;
    }

    fn request(
        &mut self,
        server: &ServerName,
        method: Method,
        uri: String,
        body: Option<Object>,
    ) -> OutboundRequest {
        let id = RequestId::new(self.next_id);
        self.next_id += 1;
        OutboundRequest::new(id, server.clone(), method, uri, body)
    }

    fn make_request(&mut self, server: &ServerName) -> OutboundRequest {
        let (room, user) = (&self.params.room_id, &self.params.user_id);
        let versions: Vec<&str> = self
            .params
            .supported_versions
            .iter()
            .map(|version| version.id)
            .collect();
        let uri = match self.membership {
            Membership::Join => path::make_join(room, user, &versions),
            Membership::Knock => path::make_knock(room, user, &versions),
            Membership::Leave => path::make_leave(room, user),
        };
        self.request(server, Method::Get, uri, None)
    }

    fn send_request(&mut self, server: &ServerName, event: &Pdu) -> OutboundRequest {
        let (room, id) = (&self.params.room_id, event.event_id());
        let uri = match self.membership {
            Membership::Join => path::send_join_v2(room, id, self.params.request_partial_state),
            Membership::Knock => path::send_knock(room, id),
            Membership::Leave => path::send_leave_v2(room, id),
        };
        let body = Some(event.as_object().clone());
        self.request(server, Method::Put, uri, body)
    }

    /// Checks the make_* answer and signs our event from its template.
    fn sign_template(&self, body: &[u8]) -> Result<(RoomVersion, Pdu), AttemptError> {
        let options = ParseOptions::lenient().with_max_len(body.len().max(1));
        let Ok(Value::Object(mut answer)) = json::parse(body, &options) else {
            return Err(bad("the make answer is not a JSON object"));
        };
        // The spec: a missing room_version means version 1 or 2, which share their
        // event format; like Synapse, take it as "1". Never guess from the event.
        let id = match answer.get("room_version") {
            None => "1",
            Some(Value::String(id)) => id.as_str(),
            Some(_) => return Err(bad("room_version is not a string")),
        };
        let version = self
            .params
            .supported_versions
            .iter()
            .find(|version| version.id == id)
            .copied()
            .ok_or_else(|| AttemptError::UnsupportedRoomVersion {
                room_version: id.to_owned(),
            })?;
        let Some(Value::Object(template)) = answer.remove("event") else {
            return Err(bad("the make answer has no event"));
        };
        self.check_template(&template)?;
        let event = self.fill_template(template, &version)?;
        Ok((version, event))
    }

    /// The spec's checks: our room, type member, sender and state key our user,
    /// membership the one asked for.
    fn check_template(&self, template: &Object) -> Result<(), AttemptError> {
        let text = |field: &str| template.get(field).and_then(Value::as_str);
        let user = self.params.user_id.as_str();
        let checks = [
            (
                "room_id",
                text("room_id") == Some(self.params.room_id.as_str()),
            ),
            ("type", text("type") == Some("m.room.member")),
            ("sender", text("sender") == Some(user)),
            ("state_key", text("state_key") == Some(user)),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(AttemptError::BadTemplate { field });
        }
        let membership = template
            .get("content")
            .and_then(|content| content.get("membership"))
            .and_then(Value::as_str);
        if membership != Some(self.membership.as_str()) {
            return Err(AttemptError::BadTemplate {
                field: "membership",
            });
        }
        Ok(())
    }

    /// Our event from the template: its prev and auth events and depth kept, our
    /// content merged over the template's, `origin`, `origin_server_ts` (and in room
    /// versions 1 and 2 an `event_id`) set, hashed and signed.
    fn fill_template(&self, mut event: Object, version: &RoomVersion) -> Result<Pdu, AttemptError> {
        for field in ["signatures", "hashes", "unsigned", "event_id"] {
            event.remove(field);
        }
        let mut content = match event.remove("content") {
            Some(Value::Object(content)) => content,
            _ => Object::new(),
        };
        for (key, value) in self.params.content.iter() {
            content.insert(key, value.clone());
        }
        content.insert("membership", Value::from(self.membership.as_str()));
        event.insert("content", Value::Object(content));
        let server = self.params.our_server.as_str();
        event.insert("origin", Value::from(server));
        event.insert("origin_server_ts", Value::from(self.params.now_ms));
        if version.event_format == EventFormat::EventIdInPdu {
            // The sending server picks a v1/v2 event ID; without randomness, derive a
            // unique one from the event's reference hash.
            let hash = crypto::reference_hash(&event, version);
            let opaque = base64::encode_url_safe(hash);
            let opaque = opaque.get(..22).unwrap_or(&opaque);
            event.insert("event_id", Value::from(format!("${opaque}:{server}")));
        }
        let signing = |reason: String| AttemptError::Signing { reason };
        crypto::sign_event(&mut event, version, server, &self.params.key)
            .map_err(|error| signing(error.to_string()))?;
        Pdu::from_object(event, version).map_err(|error| signing(error.to_string()))
    }

    fn handle_send_answer(
        &mut self,
        server: ServerName,
        version: RoomVersion,
        event: Pdu,
        body: &[u8],
    ) {
        match self.membership {
            Membership::Join => {
                let expected = Expected {
                    version: &version,
                    room_id: &self.params.room_id,
                    requested_partial: self.params.request_partial_state,
                };
                match SendJoinResponse::parse(body, &expected) {
                    Ok(response) => {
                        let needs = response.key_needs();
                        self.state = State::AwaitKeys {
                            server,
                            event,
                            response: Box::new(response),
                            needs,
                        };
                    }
                    Err(error) => self.fail(server, error),
                }
            }
            Membership::Knock => match knock_room_state(body, &version, &self.params.room_id) {
                Ok(state) => {
                    let room = KnockedRoom {
                        version,
                        resident: server,
                        knock_event: event,
                        knock_room_state: state,
                    };
                    self.state = State::Done(Outcome::Knocked(Box::new(room)));
                }
                Err(error) => self.fail(server, error),
            },
            Membership::Leave => {
                let room = LeftRoom {
                    version,
                    resident: server,
                    leave_event: event,
                };
                self.state = State::Done(Outcome::Left(Box::new(room)));
            }
        }
    }
}

/// The body of a 2xx reply; other statuses become a refusal with the `errcode`.
fn success_body(reply: Reply) -> Result<Vec<u8>, AttemptError> {
    match reply {
        Reply::Response { status, body } if (200..300).contains(&status) => Ok(body),
        Reply::Response { status, body } => {
            let options = ParseOptions::lenient().with_max_len(body.len().max(1));
            let errcode = json::parse(&body, &options)
                .ok()
                .and_then(|value| {
                    value
                        .get("errcode")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            Err(AttemptError::Refused { status, errcode })
        }
        _ => Err(AttemptError::Transport),
    }
}

/// `knock_room_state` of a send_knock answer, which must hold the create event.
fn knock_room_state(
    body: &[u8],
    version: &RoomVersion,
    room_id: &RoomId,
) -> Result<Vec<InviteStateEvent>, AttemptError> {
    let options = ParseOptions::lenient().with_max_len(body.len().max(1));
    let Ok(Value::Object(mut answer)) = json::parse(body, &options) else {
        return Err(bad("the send_knock answer is not a JSON object"));
    };
    let Some(Value::Array(entries)) = answer.remove("knock_room_state") else {
        return Err(bad("no knock_room_state"));
    };
    if entries.len() > MAX_KNOCK_ROOM_STATE {
        return Err(bad("too many knock_room_state entries"));
    }
    // Entries that do not parse, and full PDUs of another room, are left out.
    let state: Vec<InviteStateEvent> = entries
        .into_iter()
        .filter_map(|entry| state_entry(entry, version).ok())
        .filter(|entry| match entry {
            InviteStateEvent::Pdu(pdu) => pdu.room_id() == room_id,
            InviteStateEvent::Stripped { .. } => true,
        })
        .collect();
    let has_create = state.iter().any(|entry| match entry {
        InviteStateEvent::Pdu(pdu) => pdu.event_type() == "m.room.create",
        InviteStateEvent::Stripped { event_type, .. } => event_type == "m.room.create",
    });
    if !has_create {
        return Err(bad("knock_room_state has no create event"));
    }
    Ok(state)
}

fn bad(reason: &str) -> AttemptError {
    AttemptError::BadResponse {
        reason: reason.to_owned(),
    }
}
