//! Room versions as typed rule sets
//! (<https://spec.matrix.org/v1.16/rooms/>).
//!
//! Every supported version, `"1"` to `"12"`, is a constant [`RoomVersion`] value built
//! from named switches: event format, event-ID format, strict canonical JSON, the state
//! resolution algorithm, redaction rules, authorization rules, power-level rules and
//! signature rules. Code elsewhere in the crate tests these switches, never a version
//! number, so a new version is a new constant rather than a hunt for `if version ==`.
//!
//! ```
//! use matrix_serverlib::room_version::{RoomVersion, StateResAlgorithm};
//!
//! let version = RoomVersion::from_id("10")?;
//! assert!(version.auth.knock_restricted_join_rule);
//! assert_eq!(version.state_res, StateResAlgorithm::V2);
//! assert!(RoomVersion::from_id("13").is_err());
//! # Ok::<(), matrix_serverlib::room_version::RoomVersionError>(())
//! ```

mod error;
mod rules;
mod versions;

pub use error::RoomVersionError;
pub use rules::{
    AuthRules, EventFormat, PowerLevelRules, RedactionRules, RoomVersion, SignatureRules,
    StateResAlgorithm,
};
pub use versions::is_valid_room_version_id;
