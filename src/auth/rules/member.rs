//! Rule F: `m.room.member` events.

use super::third_party_invite;
use crate::auth::check::Event;
use crate::auth::fields::server_of;
use crate::auth::power_levels_reader::NamedLevel;
use crate::auth::rejection::Rejection;
use crate::auth::state::JOIN_RULES;
use crate::event::CreateContent;
use crate::json::{self, Value};

/// What the membership rules read about the event and the state.
struct Change<'a> {
    event: &'a Event<'a>,
    /// The state key: whose membership changes.
    target: &'a str,
    /// The sender's current membership.
    sender_membership: Option<&'a str>,
    /// The target's current membership.
    target_membership: Option<&'a str>,
    /// The join rule: `None` when `join_rule` is not a string. Without a join-rules
    /// event Synapse reads `invite`; so does a join-rules event without `join_rule`.
    join_rule: Option<&'a str>,
}

/// Rule F.
pub(in crate::auth) fn check(event: &Event<'_>) -> Result<(), Rejection> {
    // Rule F.1: a state key and a membership are required.
    let target = event
        .state_key
        .ok_or(Rejection::MemberMalformed { field: "state_key" })?;
    let membership = event.membership.ok_or(Rejection::MemberMalformed {
        field: "membership",
    })?;
    // Rule F.2 (v8+), the authorising server's signature on an event carrying
    // `join_authorised_via_users_server`, is checked with the other signatures when
    // the PDU is received (`crypto::required_signers`), not here.

    // Rule F.3.1: the creator's own first join, right after the create event.
    if membership == "join" && is_creator_first_join(event, target) {
        return Ok(());
    }
    // Synapse (beyond the spec): a non-federating room also refuses member events whose
    // target is on another server than the creator.
    if server_of(target).is_none() {
        return Err(Rejection::MemberMalformed { field: "state_key" });
    }
    event.check_federation(target)?;

    let state = event.state;
    let join_rule = match state.get(JOIN_RULES, "") {
        Some(rules) => match rules.content().get("join_rule") {
            // Synapse's `content.get("join_rule", "invite")`: a JSON null is not absent.
            None => Some("invite"),
            Some(rule) => rule.as_str(),
        },
        None => Some("invite"),
    };
    let change = Change {
        event,
        target,
        sender_membership: state.membership_of(event.sender),
        target_membership: state.membership_of(target),
        join_rule,
    };
    match membership {
        "join" => change.join(),
        "invite" => change.invite(),
        "leave" => change.leave(),
        "ban" => change.ban(),
        "knock" if event.version.auth.knock => change.knock(),
        // Rule F.8: any other membership (`knock` before v7).
        other => Err(Rejection::UnknownMembership {
            membership: other.to_owned(),
        }),
    }
}

/// Rule F.3.1: `prev_events` is exactly the create event and the target is the creator
/// (v1–10 `content.creator`, v11+ the create event's sender).
fn is_creator_first_join(event: &Event<'_>, target: &str) -> bool {
    // The creator first: it rules out nearly every join without reading prev_events.
    let creator = if event.version.auth.creator_in_content {
        CreateContent::new(event.create.content()).creator()
    } else {
        Some(event.create.sender().as_str())
    };
    if creator != Some(target) {
        return false;
    }
    matches!(event.pdu.prev_events(), [prev] if prev == event.create.event_id())
}

impl Change<'_> {
    fn sender(&self) -> &str {
        self.event.sender
    }

    fn sender_joined(&self) -> bool {
        self.sender_membership == Some("join")
    }

    fn sender_joined_or_invited(&self) -> bool {
        matches!(self.sender_membership, Some("join" | "invite"))
    }

    fn owned(membership: Option<&str>) -> Option<String> {
        membership.map(str::to_owned)
    }

    /// Rule F.3: joins.
    fn join(&self) -> Result<(), Rejection> {
        let auth = &self.event.version.auth;
        // Rule F.3.2: only the user can join, and not while banned.
        if self.sender() != self.target {
            return Err(Rejection::JoinForOtherUser {
                sender: self.sender().to_owned(),
                target: self.target.to_owned(),
            });
        }
        if self.target_membership == Some("ban") {
            return Err(Rejection::JoinBanned {
                user: self.target.to_owned(),
            });
        }
        match self.join_rule {
            // Rule F.3.5: public rooms.
            Some("public") => Ok(()),
            // Rule F.3.4 (v8+, v10+ also knock_restricted): restricted rooms.
            Some("restricted") if auth.restricted_join_rule => self.restricted_join(),
            Some("knock_restricted") if auth.knock_restricted_join_rule => self.restricted_join(),
            // Rule F.3.3: invite (v7+: knock) rooms need an invite or membership.
            Some(rule @ "invite") => self.invited_join(rule),
            Some(rule @ "knock") if auth.knock => self.invited_join(rule),
            // Rule F.3.6: anything else.
            rule => Err(Rejection::JoinRuleForbids {
                user: self.target.to_owned(),
                join_rule: rule.map(str::to_owned),
            }),
        }
    }

    /// Rule F.3.3.
    fn invited_join(&self, join_rule: &str) -> Result<(), Rejection> {
        if self.sender_joined_or_invited() {
            return Ok(());
        }
        Err(Rejection::JoinNotInvited {
            user: self.target.to_owned(),
            join_rule: join_rule.to_owned(),
            membership: Self::owned(self.sender_membership),
        })
    }

    /// Rule F.3.4: members and invitees join; others need an authorising user who is
    /// joined and may invite.
    fn restricted_join(&self) -> Result<(), Rejection> {
        if self.sender_joined_or_invited() {
            return Ok(());
        }
        let authoriser = match self.event.content().get("join_authorised_via_users_server") {
            None | Some(Value::Null) => {
                return Err(Rejection::JoinMissingAuthoriser {
                    user: self.target.to_owned(),
                });
            }
            Some(value) => value,
        };
        let state = self.event.state;
        let membership = authoriser
            .as_str()
            .and_then(|user| state.membership_of(user));
        let Some(authoriser) = authoriser.as_str().filter(|_| membership == Some("join")) else {
            return Err(Rejection::JoinAuthoriserNotJoined {
                authoriser: json::to_string(authoriser),
                membership: Self::owned(membership),
            });
        };
        let level = self.event.levels.user_level(authoriser)?;
        let needed = self.event.levels.named_level(NamedLevel::Invite)?;
        if level < needed {
            return Err(Rejection::JoinAuthoriserInsufficientPower {
                authoriser: authoriser.to_owned(),
                level,
                needed,
            });
        }
        Ok(())
    }

    /// Rule F.4: invites.
    fn invite(&self) -> Result<(), Rejection> {
        let target_banned = self.target_membership == Some("ban");
        // Rule F.4.1: third-party invites.
        if self.event.pdu.has_third_party_invite() {
            if target_banned {
                return Err(Rejection::ThirdPartyInviteTargetBanned {
                    target: self.target.to_owned(),
                });
            }
            return third_party_invite::verify(self.event, self.target)
                .map_err(|problem| Rejection::ThirdPartyInviteInvalid { problem });
        }
        // Rule F.4.2: the sender must be joined, the target neither joined nor banned,
        // and the sender able to invite.
        if !self.sender_joined() {
            return Err(Rejection::InviteSenderNotJoined {
                sender: self.sender().to_owned(),
                membership: Self::owned(self.sender_membership),
            });
        }
        if target_banned {
            return Err(Rejection::InviteTargetBanned {
                target: self.target.to_owned(),
            });
        }
        if self.target_membership == Some("join") {
            return Err(Rejection::InviteTargetJoined {
                target: self.target.to_owned(),
            });
        }
        let level = self.event.levels.user_level(self.sender())?;
        let needed = self.event.levels.named_level(NamedLevel::Invite)?;
        if level < needed {
            return Err(Rejection::InviteInsufficientPower { level, needed });
        }
        Ok(())
    }

    /// Rule F.5: leaves, kicks and unbans.
    fn leave(&self) -> Result<(), Rejection> {
        // Rule F.5.1: leaving oneself needs an invite or membership (v7+: or a knock).
        if self.sender() == self.target {
            let knocked = self.event.version.auth.knock && self.sender_membership == Some("knock");
            if self.sender_joined_or_invited() || knocked {
                return Ok(());
            }
            return Err(Rejection::LeaveNotMember {
                user: self.target.to_owned(),
                membership: Self::owned(self.sender_membership),
            });
        }
        // Rule F.5.2: kickers must be joined.
        if !self.sender_joined() {
            return Err(Rejection::LeaveSenderNotJoined {
                sender: self.sender().to_owned(),
                membership: Self::owned(self.sender_membership),
            });
        }
        let levels = &self.event.levels;
        let level = levels.user_level(self.sender())?;
        // Rule F.5.3: unbanning needs the ban level.
        if self.target_membership == Some("ban") {
            let needed = levels.named_level(NamedLevel::Ban)?;
            if level < needed {
                return Err(Rejection::UnbanInsufficientPower {
                    target: self.target.to_owned(),
                    level,
                    needed,
                });
            }
        }
        // Rule F.5.4: kicking needs the kick level and more power than the target.
        let needed = levels.named_level(NamedLevel::Kick)?;
        let target_level = levels.user_level(self.target)?;
        if level < needed || level <= target_level {
            return Err(Rejection::KickInsufficientPower {
                target: self.target.to_owned(),
                level,
                needed,
                target_level,
            });
        }
        Ok(())
    }

    /// Rule F.6: bans.
    fn ban(&self) -> Result<(), Rejection> {
        if !self.sender_joined() {
            return Err(Rejection::BanSenderNotJoined {
                sender: self.sender().to_owned(),
                membership: Self::owned(self.sender_membership),
            });
        }
        let levels = &self.event.levels;
        let level = levels.user_level(self.sender())?;
        let needed = levels.named_level(NamedLevel::Ban)?;
        let target_level = levels.user_level(self.target)?;
        if level < needed || level <= target_level {
            return Err(Rejection::BanInsufficientPower {
                target: self.target.to_owned(),
                level,
                needed,
                target_level,
            });
        }
        Ok(())
    }

    /// Rule F.7 (v7+): knocks.
    fn knock(&self) -> Result<(), Rejection> {
        let auth = &self.event.version.auth;
        let knockable = match self.join_rule {
            Some("knock") => true,
            Some("knock_restricted") => auth.knock_restricted_join_rule,
            _ => false,
        };
        if !knockable {
            return Err(Rejection::KnockJoinRule {
                join_rule: self.join_rule.map(str::to_owned),
            });
        }
        if self.sender() != self.target {
            return Err(Rejection::KnockForOtherUser {
                sender: self.sender().to_owned(),
                target: self.target.to_owned(),
            });
        }
        match self.sender_membership {
            Some(membership @ ("ban" | "invite" | "join")) => Err(Rejection::KnockAlreadyMember {
                user: self.target.to_owned(),
                membership: membership.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}
