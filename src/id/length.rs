//! The 255 limit on identifier length and how it is measured.

use super::error::IdError;

/// The longest user ID, room ID, event ID or room alias the spec allows: 255 bytes,
/// sigil and server name included.
pub const MAX_ID_LEN: usize = 255;

/// How the [`MAX_ID_LEN`] limit is measured.
///
/// The spec counts bytes of UTF-8, and so does Synapse from room version 11 on. For
/// room versions 1 to 10 Synapse counts code points instead (its
/// `strict_event_byte_limits_room_versions` switch), so a `sender`, `room_id` or
/// `event_id` of up to 255 non-ASCII code points is accepted there. Parse IDs read
/// from events of those versions with [`LengthLimit::CodePoints`] to agree with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LengthLimit {
    /// At most 255 bytes of UTF-8: the spec's rule (the default).
    #[default]
    Bytes,
    /// At most 255 code points: Synapse's rule for room versions 1 to 10.
    CodePoints,
}

/// Rejects empty text and text over the limit.
pub(super) fn check_length(text: &str, limit: LengthLimit) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    let len = match limit {
        LengthLimit::Bytes => text.len(),
        LengthLimit::CodePoints => text.chars().count(),
    };
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong {
            len,
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_bytes_or_code_points() {
        let ascii = "a".repeat(255);
        assert_eq!(check_length(&ascii, LengthLimit::Bytes), Ok(()));
        assert_eq!(
            check_length(&format!("{ascii}a"), LengthLimit::Bytes),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
        let wide = "é".repeat(200);
        assert_eq!(
            check_length(&wide, LengthLimit::Bytes),
            Err(IdError::TooLong { len: 400, max: 255 })
        );
        assert_eq!(check_length(&wide, LengthLimit::CodePoints), Ok(()));
        assert_eq!(
            check_length("", LengthLimit::CodePoints),
            Err(IdError::Empty)
        );
    }
}
