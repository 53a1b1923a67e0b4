//! The interest rules: which services receive a room event, and which an ephemeral
//! event (typing, receipts, presence), as Synapse's `ApplicationService` and
//! `handlers/appservice.py` decide. The room's aliases and members come from the
//! caller through [`RoomFacts`], read only when the event alone does not decide.

use super::{ApplicationService, NamespaceKind, Registrations};
use crate::event::Pdu;
use crate::id::{RoomId, UserId};
use crate::json::{Object, Value};

/// What the interest rules need to know about a room beyond its ID, from the caller's
/// storage. Each method is called at most once per question, and only when the
/// answer is still open.
pub trait RoomFacts {
    /// The room's local aliases (its entries in the server's room directory).
    fn aliases(&self) -> impl Iterator<Item = &str>;

    /// The room's current members that are local users with membership `join`
    /// (Synapse's `get_local_users_in_room`; remote users never count, even when
    /// they match a user namespace).
    fn joined_local_members(&self) -> impl Iterator<Item = &str>;
}

/// [`RoomFacts`] over two slices the caller already holds.
#[derive(Debug, Clone, Copy)]
pub struct RoomSnapshot<'a, A, M> {
    aliases: &'a [A],
    members: &'a [M],
}

impl<'a, A: AsRef<str>, M: AsRef<str>> RoomSnapshot<'a, A, M> {
    /// The room's local aliases and its joined local members.
    #[must_use]
    pub fn new(aliases: &'a [A], joined_local_members: &'a [M]) -> Self {
        Self {
            aliases,
            members: joined_local_members,
        }
    }
}

impl RoomSnapshot<'static, &'static str, &'static str> {
    /// A room with no local aliases and no joined local members.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            aliases: &[],
            members: &[],
        }
    }
}

impl<A: AsRef<str>, M: AsRef<str>> RoomFacts for RoomSnapshot<'_, A, M> {
    fn aliases(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().map(AsRef::as_ref)
    }

    fn joined_local_members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(AsRef::as_ref)
    }
}

impl ApplicationService {
    /// Whether the service is interested in a room (Synapse's `is_interested_in_room`):
    /// the room ID is in its room namespace, one of the room's aliases in its alias
    /// namespace, or one of the room's joined local members is its sender or in its
    /// user namespace.
    #[must_use]
    pub fn is_interested_in_room<R: RoomFacts + ?Sized>(&self, room_id: &RoomId, room: &R) -> bool {
        let registration = self.registration();
        registration.is_in_namespace(NamespaceKind::Rooms, room_id.as_str())
            || room
                .aliases()
                .any(|alias| registration.is_in_namespace(NamespaceKind::Aliases, alias))
            || room
                .joined_local_members()
                .any(|member| self.is_interested_in_user(member))
    }

    /// Whether the service receives `event` in its transactions (Synapse's
    /// `is_interested_in_event`): the sender interests it, or for an `m.room.member`
    /// event the `state_key`, or it is interested in the room.
    #[must_use]
    pub fn is_interested_in_event<R: RoomFacts + ?Sized>(&self, event: &Pdu, room: &R) -> bool {
        self.event_alone_decides(event) || self.is_interested_in_room(event.room_id(), room)
    }

    /// Whether the service receives a user's presence (Synapse's
    /// `is_interested_in_presence`): it asked for ephemeral events and the user
    /// interests it or is in a room that does. `rooms` are the rooms the user has
    /// joined, each with its facts (Synapse's `get_rooms_for_user`).
    #[must_use]
    pub fn is_interested_in_presence<R: RoomFacts>(
        &self,
        user_id: &UserId,
        rooms: &[(&RoomId, R)],
    ) -> bool {
        self.registration().receive_ephemeral()
            && (self.is_interested_in_user(user_id.as_str())
                || rooms
                    .iter()
                    .any(|(room_id, room)| self.is_interested_in_room(room_id, room)))
    }

    /// The content of an `m.receipt` event (event ID → receipt type → user ID →
    /// receipt) as this service may see it: `m.read.private` receipts only of users
    /// that interest it, and event IDs left with no receipt dropped. `None` when
    /// nothing is left, and the event is not sent (as Synapse's
    /// `_filter_private_receipts`).
    #[must_use]
    pub fn receipt_content(&self, content: &Object) -> Option<Object> {
        let mut out = Object::new();
        for (event_id, receipts) in content {
            let Some(receipts) = receipts.as_object() else {
                out.insert(event_id, receipts.clone());
                continue;
            };
            let mut kept = Object::new();
            for (receipt_type, users) in receipts {
                if receipt_type != "m.read.private" {
                    kept.insert(receipt_type, users.clone());
                    continue;
                }
                let visible: Object = users
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(user_id, _)| self.is_interested_in_user(user_id))
                    .map(|(user_id, receipt)| (user_id.to_owned(), receipt.clone()))
                    .collect();
                if !visible.is_empty() {
                    kept.insert(receipt_type, Value::Object(visible));
                }
            }
            if !kept.is_empty() {
                out.insert(event_id, Value::Object(kept));
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The checks that need nothing but the event: sender, a member event's target,
    /// the room ID.
    fn event_alone_decides(&self, event: &Pdu) -> bool {
        self.is_interested_in_user(event.sender().as_str())
            || (event.event_type() == "m.room.member"
                && event
                    .state_key()
                    .is_some_and(|target| self.is_interested_in_user(target)))
            || self
                .registration()
                .is_in_namespace(NamespaceKind::Rooms, event.room_id().as_str())
    }
}

impl Registrations {
    /// The services that receive `event`, in registration order: each for which
    /// [`ApplicationService::is_interested_in_event`] holds. The room's aliases and
    /// members are read once each, and only if a service is still undecided; each
    /// text is searched once against the namespaces of all services together.
    #[must_use]
    pub fn interested_in_event<R: RoomFacts + ?Sized>(
        &self,
        event: &Pdu,
        room: &R,
    ) -> Vec<&ApplicationService> {
        let mut marks = Marks::new(self);
        marks.user(event.sender().as_str());
        if event.event_type() == "m.room.member"
            && let Some(target) = event.state_key()
        {
            marks.user(target);
        }
        marks.namespace(NamespaceKind::Rooms, event.room_id().as_str());
        marks.finish_with_room(room)
    }

    /// The services interested in a room, in registration order.
    #[must_use]
    pub fn interested_in_room<R: RoomFacts + ?Sized>(
        &self,
        room_id: &RoomId,
        room: &R,
    ) -> Vec<&ApplicationService> {
        let mut marks = Marks::new(self);
        marks.namespace(NamespaceKind::Rooms, room_id.as_str());
        marks.finish_with_room(room)
    }

    /// The services that receive a typing or receipt event in a room: those that
    /// asked for ephemeral events and are interested in the room (Synapse's typing
    /// and receipt handlers for application services). Filter each receipt with
    /// [`ApplicationService::receipt_content`] before sending it.
    #[must_use]
    pub fn ephemeral_in_room<R: RoomFacts + ?Sized>(
        &self,
        room_id: &RoomId,
        room: &R,
    ) -> Vec<&ApplicationService> {
        self.interested_in_room(room_id, room)
            .into_iter()
            .filter(|service| service.registration().receive_ephemeral())
            .collect()
    }

    /// The services that receive a presence update of `user_id`, in order; `rooms`
    /// are the user's rooms. See [`ApplicationService::is_interested_in_presence`].
    #[must_use]
    pub fn ephemeral_for_presence<R: RoomFacts>(
        &self,
        user_id: &UserId,
        rooms: &[(&RoomId, R)],
    ) -> Vec<&ApplicationService> {
        self.services()
            .iter()
            .filter(|service| service.is_interested_in_presence(user_id, rooms))
            .collect()
    }
}

/// Which services are decided interested so far, for one question.
struct Marks<'r> {
    registrations: &'r Registrations,
    decided: Vec<bool>,
    scratch: Vec<bool>,
}

impl<'r> Marks<'r> {
    fn new(registrations: &'r Registrations) -> Self {
        Self {
            registrations,
            decided: vec![false; registrations.len()],
            scratch: Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.decided.iter().any(|done| !done)
    }

    /// Marks the services interested in a user: its sender, or a user namespace.
    fn user(&mut self, user_id: &str) {
        for (service, done) in self
            .registrations
            .services()
            .iter()
            .zip(self.decided.iter_mut())
        {
            if service.sender().as_str() == user_id {
                *done = true;
            }
        }
        self.namespace(NamespaceKind::Users, user_id);
    }

    /// Marks the services with a namespace of this kind matching `text`.
    fn namespace(&mut self, kind: NamespaceKind, text: &str) {
        if !self.open() {
            return;
        }
        match self.registrations.combined(kind) {
            Some(combined) => combined.mark(text, &mut self.decided, &mut self.scratch),
            None => {
                for (service, done) in self
                    .registrations
                    .services()
                    .iter()
                    .zip(self.decided.iter_mut())
                {
                    if !*done && service.registration().is_in_namespace(kind, text) {
                        *done = true;
                    }
                }
            }
        }
    }

    /// Decides the services still open by the room's aliases, then its members.
    fn finish_with_room<R: RoomFacts + ?Sized>(mut self, room: &R) -> Vec<&'r ApplicationService> {
        let services = self.registrations.services();
        let alias_open = services.iter().zip(&self.decided).any(|(service, done)| {
            !done
                && !service
                    .registration()
                    .namespaces(NamespaceKind::Aliases)
                    .is_empty()
        });
        if self.open() && alias_open {
            for alias in room.aliases() {
                self.namespace(NamespaceKind::Aliases, alias);
                if !self.open() {
                    break;
                }
            }
        }
        if self.open() {
            for member in room.joined_local_members() {
                self.user(member);
                if !self.open() {
                    break;
                }
            }
        }
        services
            .iter()
            .zip(self.decided)
            .filter_map(|(service, done)| done.then_some(service))
            .collect()
    }
}
