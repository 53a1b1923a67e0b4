//! Third-party invites: the check of an invite's signed token (rule F.4.1) and rule H
//! for `m.room.third_party_invite` events.

use crate::auth::check::Event;
use crate::auth::power_levels_reader::NamedLevel;
use crate::auth::rejection::{Rejection, ThirdPartyInviteProblem};
use crate::auth::state::THIRD_PARTY_INVITE;
use crate::base64;
use crate::crypto::{PublicKeys, VerifyKey, verify_json};
use crate::event::ThirdPartyInviteContent;
use crate::json::{self, Object, Value};

/// Rule H: sending `m.room.third_party_invite` needs the invite level.
pub(in crate::auth) fn check_event(event: &Event<'_>) -> Result<(), Rejection> {
    let level = event.levels.user_level(event.sender)?;
    let needed = event.levels.named_level(NamedLevel::Invite)?;
    if level < needed {
        return Err(Rejection::ThirdPartyInviteInsufficientPower { level, needed });
    }
    Ok(())
}

/// Rule F.4.1: the invite's `third_party_invite.signed` names `target`, matches an
/// `m.room.third_party_invite` in the state sent by the same sender, and carries a
/// signature that one of that event's public keys verifies.
pub(in crate::auth) fn verify(
    event: &Event<'_>,
    target: &str,
) -> Result<(), ThirdPartyInviteProblem> {
    let invite = event
        .content()
        .get("third_party_invite")
        .and_then(Value::as_object)
        .ok_or(ThirdPartyInviteProblem::NotObject)?;
    let signed = invite
        .get("signed")
        .and_then(Value::as_object)
        .ok_or(ThirdPartyInviteProblem::MissingSigned)?;
    let field = |field: &'static str| {
        signed
            .get(field)
            .ok_or(ThirdPartyInviteProblem::MissingField { field })
    };
    let mxid = field("mxid")?;
    let token = field("token")?;
    let signatures = field("signatures")?;
    if mxid.as_str() != Some(target) {
        return Err(ThirdPartyInviteProblem::MxidMismatch {
            mxid: json::to_string(mxid),
            target: target.to_owned(),
        });
    }
    let invite_event = token
        .as_str()
        .and_then(|token| event.state.get(THIRD_PARTY_INVITE, token))
        .ok_or_else(|| ThirdPartyInviteProblem::NoInviteEvent {
            token: json::to_string(token),
        })?;
    let invite_sender = invite_event.sender().as_str();
    if invite_sender != event.sender {
        return Err(ThirdPartyInviteProblem::SenderMismatch {
            invite_sender: Some(invite_sender.to_owned()),
            sender: event.sender.to_owned(),
        });
    }
    let public_keys = ThirdPartyInviteContent::new(invite_event.content()).public_keys();
    let verified = public_keys
        .iter()
        .filter_map(|key| decode_key(key))
        .any(|key| signed_by(signed, signatures, key));
    if verified {
        Ok(())
    } else {
        Err(ThirdPartyInviteProblem::NoValidSignature)
    }
}

/// An identity server's public key, in either base64 alphabet.
fn decode_key(text: &str) -> Option<VerifyKey> {
    let bytes: [u8; 32] = base64::decode_any(text).ok()?.try_into().ok()?;
    VerifyKey::from_bytes(&bytes).ok()
}

/// True when some `ed25519:` signature in `signatures` verifies over `signed` with
/// `key` (under the signing-JSON rules: `signatures` and `unsigned` removed).
///
/// Synapse tries, for each public key, only the first `ed25519:` signature in the
/// object's order and moves to the next key when it fails; JSON objects here are
/// sorted, so this tries every signature, as the spec says ("any signature").
fn signed_by(signed: &Object, signatures: &Value, key: VerifyKey) -> bool {
    let Some(signatures) = signatures.as_object() else {
        return false;
    };
    signatures.iter().any(|(server, block)| {
        let Some(block) = block.as_object() else {
            return false;
        };
        block
            .keys()
            .filter(|id| id.starts_with("ed25519:"))
            .any(|key_id| {
                let mut keys = PublicKeys::new();
                keys.insert(server, key_id, key);
                verify_json(signed, server, &keys).is_ok()
            })
    })
}
