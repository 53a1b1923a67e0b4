//! The constants for room versions 1 to 12 and lookup by version string.

use super::{
    AuthRules, EventFormat, PowerLevelRules, RedactionRules, RoomVersion, RoomVersionError,
    SignatureRules, StateResAlgorithm,
};
use crate::id::EventIdFormat;

impl RoomVersion {
    /// Room version 1.
    pub const V1: Self = Self {
        id: "1",
        event_format: EventFormat::EventIdInPdu,
        event_id_format: EventIdFormat::Legacy,
        room_id_from_create_event: false,
        strict_canonical_json: false,
        strict_event_byte_limits: false,
        state_res: StateResAlgorithm::V1,
        redaction: RedactionRules {
            keeps_origin_membership_prev_state: true,
            keeps_aliases: true,
            keeps_join_rules_allow: false,
            keeps_join_authorised_via_users_server: false,
            keeps_all_create_content: false,
            keeps_power_levels_invite: false,
            keeps_redaction_redacts: false,
            keeps_third_party_invite_signed: false,
        },
        auth: AuthRules {
            redaction_rule: true,
            aliases_rule: true,
            knock: false,
            restricted_join_rule: false,
            knock_restricted_join_rule: false,
            creator_in_content: true,
            creators_infinite_power: false,
        },
        power_levels: PowerLevelRules {
            string_values: true,
            float_values: true,
            integer_only: false,
            notifications_checked: false,
        },
        signatures: SignatureRules {
            event_id_server_signs: true,
            enforce_key_validity: false,
            authorising_server_signs: false,
        },
    };

    /// Room version 2: state resolution v2.
    pub const V2: Self = Self {
        id: "2",
        state_res: StateResAlgorithm::V2,
        ..Self::V1
    };

    /// Room version 3: event IDs are reference hashes (standard base64).
    pub const V3: Self = Self {
        id: "3",
        event_format: EventFormat::ReferenceHashIds,
        event_id_format: EventIdFormat::Base64Standard,
        auth: AuthRules {
            redaction_rule: false,
            ..Self::V2.auth
        },
        signatures: SignatureRules {
            event_id_server_signs: false,
            ..Self::V2.signatures
        },
        ..Self::V2
    };

    /// Room version 4: URL-safe event IDs.
    pub const V4: Self = Self {
        id: "4",
        event_id_format: EventIdFormat::Base64UrlSafe,
        ..Self::V3
    };

    /// Room version 5: signing-key validity enforced.
    pub const V5: Self = Self {
        id: "5",
        signatures: SignatureRules {
            enforce_key_validity: true,
            ..Self::V4.signatures
        },
        ..Self::V4
    };

    /// Room version 6: strict canonical JSON, no aliases special case, notifications
    /// levels checked, no float power levels.
    pub const V6: Self = Self {
        id: "6",
        strict_canonical_json: true,
        redaction: RedactionRules {
            keeps_aliases: false,
            ..Self::V5.redaction
        },
        auth: AuthRules {
            aliases_rule: false,
            ..Self::V5.auth
        },
        power_levels: PowerLevelRules {
            float_values: false,
            notifications_checked: true,
            ..Self::V5.power_levels
        },
        ..Self::V5
    };

    /// Room version 7: knocking.
    pub const V7: Self = Self {
        id: "7",
        auth: AuthRules {
            knock: true,
            ..Self::V6.auth
        },
        ..Self::V6
    };

    /// Room version 8: restricted join rule.
    pub const V8: Self = Self {
        id: "8",
        redaction: RedactionRules {
            keeps_join_rules_allow: true,
            ..Self::V7.redaction
        },
        auth: AuthRules {
            restricted_join_rule: true,
            ..Self::V7.auth
        },
        signatures: SignatureRules {
            authorising_server_signs: true,
            ..Self::V7.signatures
        },
        ..Self::V7
    };

    /// Room version 9: redaction keeps `join_authorised_via_users_server`.
    pub const V9: Self = Self {
        id: "9",
        redaction: RedactionRules {
            keeps_join_authorised_via_users_server: true,
            ..Self::V8.redaction
        },
        ..Self::V8
    };

    /// Room version 10: `knock_restricted`, integer-only power levels.
    pub const V10: Self = Self {
        id: "10",
        auth: AuthRules {
            knock_restricted_join_rule: true,
            ..Self::V9.auth
        },
        power_levels: PowerLevelRules {
            string_values: false,
            integer_only: true,
            ..Self::V9.power_levels
        },
        ..Self::V9
    };

    /// Room version 11: new redaction rules, creator is the create event's sender.
    pub const V11: Self = Self {
        id: "11",
        strict_event_byte_limits: true,
        redaction: RedactionRules {
            keeps_origin_membership_prev_state: false,
            keeps_all_create_content: true,
            keeps_power_levels_invite: true,
            keeps_redaction_redacts: true,
            keeps_third_party_invite_signed: true,
            ..Self::V10.redaction
        },
        auth: AuthRules {
            creator_in_content: false,
            ..Self::V10.auth
        },
        ..Self::V10
    };

    /// Room version 12: room ID from the create event, infinitely powerful creators,
    /// state resolution v2.1.
    pub const V12: Self = Self {
        id: "12",
        room_id_from_create_event: true,
        state_res: StateResAlgorithm::V2_1,
        auth: AuthRules {
            creators_infinite_power: true,
            ..Self::V11.auth
        },
        ..Self::V11
    };

    /// Every supported version, oldest first.
    pub const ALL: [Self; 12] = [
        Self::V1,
        Self::V2,
        Self::V3,
        Self::V4,
        Self::V5,
        Self::V6,
        Self::V7,
        Self::V8,
        Self::V9,
        Self::V10,
        Self::V11,
        Self::V12,
    ];

    /// The version for new rooms: `"12"`.
    pub const DEFAULT: Self = Self::V12;

    /// The rules of the version named `id`.
    ///
    /// # Errors
    ///
    /// [`RoomVersionError::Invalid`] when `id` breaks the version grammar,
    /// [`RoomVersionError::Unsupported`] for a well-formed version this library does
    /// not implement.
    pub fn from_id(id: &str) -> Result<Self, RoomVersionError> {
        if let Some(version) = Self::ALL.iter().find(|version| version.id == id) {
            return Ok(*version);
        }
        if is_valid_room_version_id(id) {
            Err(RoomVersionError::Unsupported { id: id.to_owned() })
        } else {
            Err(RoomVersionError::Invalid { id: id.to_owned() })
        }
    }

    /// True when events of this version may carry `value`: any JSON before room
    /// version 6, strict canonical JSON (integers within ±(2^53−1), no floats) from 6.
    /// Servers check content this way before they start a multi-event change (such as
    /// a room's initial state) that a PDU would later refuse half-way.
    #[must_use]
    pub fn allows_json(&self, value: &crate::json::Value) -> bool {
        !self.strict_canonical_json || value.is_strict_canonical()
    }
}

/// True when `id` follows the room-version grammar: 1 to 32 characters of `a-z`,
/// `0-9`, `.` and `-`.
#[must_use]
pub fn is_valid_room_version_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version sets of `../shared/spec-notes.md` §1, one row per switch: every
    /// switch must be on for exactly the listed versions.
    #[test]
    fn switches_match_the_spec_matrix() {
        type Switch = fn(&RoomVersion) -> bool;
        let rows: &[(&str, Switch, &[u8])] = &[
            (
                "event_id_in_pdu",
                |v| v.event_format == EventFormat::EventIdInPdu,
                &[1, 2],
            ),
            (
                "std_b64_ids",
                |v| v.event_id_format == EventIdFormat::Base64Standard,
                &[3],
            ),
            (
                "urlsafe_ids",
                |v| v.event_id_format == EventIdFormat::Base64UrlSafe,
                &[4, 5, 6, 7, 8, 9, 10, 11, 12],
            ),
            (
                "state_res_v1",
                |v| v.state_res == StateResAlgorithm::V1,
                &[1],
            ),
            (
                "state_res_v2",
                |v| v.state_res == StateResAlgorithm::V2,
                &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            ),
            (
                "state_res_v2_1",
                |v| v.state_res == StateResAlgorithm::V2_1,
                &[12],
            ),
            (
                "event_id_server_signs",
                |v| v.signatures.event_id_server_signs,
                &[1, 2],
            ),
            ("redaction_rule", |v| v.auth.redaction_rule, &[1, 2]),
            (
                "aliases_rule",
                |v| v.auth.aliases_rule && v.redaction.keeps_aliases,
                &[1, 2, 3, 4, 5],
            ),
            (
                "enforce_key_validity",
                |v| v.signatures.enforce_key_validity,
                &[5, 6, 7, 8, 9, 10, 11, 12],
            ),
            (
                "strict_canonical_json",
                |v| v.strict_canonical_json,
                &[6, 7, 8, 9, 10, 11, 12],
            ),
            (
                "float_power_levels",
                |v| v.power_levels.float_values,
                &[1, 2, 3, 4, 5],
            ),
            (
                "string_power_levels",
                |v| v.power_levels.string_values,
                &[1, 2, 3, 4, 5, 6, 7, 8, 9],
            ),
            (
                "integer_only_power_levels",
                |v| v.power_levels.integer_only,
                &[10, 11, 12],
            ),
            (
                "notifications_checked",
                |v| v.power_levels.notifications_checked,
                &[6, 7, 8, 9, 10, 11, 12],
            ),
            ("knock", |v| v.auth.knock, &[7, 8, 9, 10, 11, 12]),
            (
                "restricted",
                |v| {
                    v.auth.restricted_join_rule
                        && v.redaction.keeps_join_rules_allow
                        && v.signatures.authorising_server_signs
                },
                &[8, 9, 10, 11, 12],
            ),
            (
                "redact_keeps_join_authorised_via",
                |v| v.redaction.keeps_join_authorised_via_users_server,
                &[9, 10, 11, 12],
            ),
            (
                "knock_restricted",
                |v| v.auth.knock_restricted_join_rule,
                &[10, 11, 12],
            ),
            (
                "creator_in_content",
                |v| v.auth.creator_in_content,
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            ),
            (
                "v11_redaction",
                |v| {
                    let r = v.redaction;
                    !r.keeps_origin_membership_prev_state
                        && r.keeps_all_create_content
                        && r.keeps_power_levels_invite
                        && r.keeps_third_party_invite_signed
                },
                &[11, 12],
            ),
            (
                "redacts_in_content",
                |v| v.redaction.keeps_redaction_redacts,
                &[11, 12],
            ),
            (
                "room_id_is_create_hash",
                |v| v.room_id_from_create_event,
                &[12],
            ),
            (
                "creators_infinite_pl",
                |v| v.auth.creators_infinite_power,
                &[12],
            ),
        ];
        for (name, switch, expected) in rows {
            let on: Vec<u8> = RoomVersion::ALL
                .iter()
                .filter(|version| switch(version))
                .map(|version| version.id.parse().unwrap())
                .collect();
            assert_eq!(&on, expected, "switch {name}");
        }
    }

    #[test]
    fn lookup_by_id() {
        for (index, version) in RoomVersion::ALL.iter().enumerate() {
            assert_eq!(version.id, (index + 1).to_string());
            assert_eq!(RoomVersion::from_id(version.id), Ok(*version));
        }
        assert_eq!(RoomVersion::DEFAULT.id, "12");
        assert_eq!(
            RoomVersion::from_id("13"),
            Err(RoomVersionError::Unsupported { id: "13".into() })
        );
        assert_eq!(
            RoomVersion::from_id("org.example.custom"),
            Err(RoomVersionError::Unsupported {
                id: "org.example.custom".into()
            })
        );
        for bad in ["", "V1", "1 ", "a".repeat(33).as_str(), "1_0"] {
            assert_eq!(
                RoomVersion::from_id(bad),
                Err(RoomVersionError::Invalid { id: bad.into() })
            );
        }
    }

    #[test]
    fn spec_grammar_examples() {
        for id in ["1", "1.2", "1.2-beta", "com.example.version"] {
            assert!(is_valid_room_version_id(id), "{id}");
        }
    }
}
