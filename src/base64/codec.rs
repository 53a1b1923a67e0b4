//! Encoders and lenient decoders for the two alphabets.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Why a base64 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// The text is not base64 of the expected alphabet.
    #[error("invalid base64: {reason}")]
    Invalid {
        /// What the decoder objected to.
        reason: String,
    },
    /// The decoded bytes have the wrong length.
    #[error("decoded {actual} bytes where {expected} were expected")]
    WrongLength {
        /// The length required.
        expected: usize,
        /// The length found.
        actual: usize,
    },
}

const ENCODE_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new().with_encode_padding(false);

const DECODE_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, ENCODE_CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, ENCODE_CONFIG);
const STANDARD_DECODE: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, DECODE_CONFIG);
const URL_SAFE_DECODE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, DECODE_CONFIG);

/// Unpadded standard-alphabet base64 of `bytes`.
#[must_use]
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Unpadded URL-safe base64 of `bytes`.
#[must_use]
pub fn encode_url_safe(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE.encode(bytes)
}

/// Decodes standard-alphabet base64, padded or not, allowing non-zero trailing bits.
///
/// # Errors
///
/// [`Base64Error::Invalid`] when `text` is not standard base64.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, Base64Error> {
    STANDARD_DECODE.decode(text).map_err(invalid)
}

/// Decodes URL-safe base64, padded or not, allowing non-zero trailing bits.
///
/// # Errors
///
/// [`Base64Error::Invalid`] when `text` is not URL-safe base64.
pub fn decode_url_safe(text: impl AsRef<[u8]>) -> Result<Vec<u8>, Base64Error> {
    URL_SAFE_DECODE.decode(text).map_err(invalid)
}

/// Decodes base64 in either alphabet (not mixed), as allowed for identity-server keys.
///
/// # Errors
///
/// [`Base64Error::Invalid`] when `text` is base64 in neither alphabet.
pub fn decode_any(text: impl AsRef<[u8]>) -> Result<Vec<u8>, Base64Error> {
    let text = text.as_ref();
    decode(text).or_else(|_| decode_url_safe(text))
}

/// Decodes base64 the way Synapse does (Python's `unpaddedbase64`): either alphabet,
/// even mixed within one string, padded or not. Used for keys, seeds, signatures and
/// hashes, where accepting what Synapse accepts keeps servers in agreement.
///
/// # Errors
///
/// [`Base64Error::Invalid`] when `text` is not base64 in either alphabet.
pub fn decode_lenient(text: impl AsRef<[u8]>) -> Result<Vec<u8>, Base64Error> {
    let text = text.as_ref();
    if text.iter().any(|&byte| byte == b'-' || byte == b'_') {
        let standard: Vec<u8> = text
            .iter()
            .map(|&byte| match byte {
                b'-' => b'+',
                b'_' => b'/',
                other => other,
            })
            .collect();
        decode(standard)
    } else {
        decode(text)
    }
}

/// Decodes base64 of either alphabet (as [`decode_lenient`]) into exactly `N` bytes
/// (keys, seeds, signatures).
///
/// # Errors
///
/// [`Base64Error::Invalid`] for bad base64, [`Base64Error::WrongLength`] when it does
/// not decode to `N` bytes.
pub fn decode_array<const N: usize>(text: impl AsRef<[u8]>) -> Result<[u8; N], Base64Error> {
    let bytes = decode_lenient(text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| Base64Error::WrongLength {
        expected: N,
        actual: bytes.len(),
    })
}

fn invalid(error: base64::DecodeError) -> Base64Error {
    Base64Error::Invalid {
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(encode(input), expected);
            assert_eq!(decode(expected).unwrap(), input.as_bytes());
        }
    }

    #[test]
    fn published_seed_with_trailing_bits_decodes() {
        let published: [u8; 32] =
            decode_array("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").unwrap();
        let canonical: [u8; 32] =
            decode_array("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0").unwrap();
        assert_eq!(published, canonical);
        assert_eq!(
            encode(published),
            "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"
        );
    }

    #[test]
    fn alphabets_are_kept_apart() {
        let bytes = [0xfb, 0xff, 0xbf];
        assert_eq!(encode(bytes), "+/+/");
        assert_eq!(encode_url_safe(bytes), "-_-_");
        assert!(decode("-_-_").is_err());
        assert!(decode_url_safe("+/+/").is_err());
        assert_eq!(decode_any("-_-_").unwrap(), bytes);
        assert_eq!(decode_any("+/+/").unwrap(), bytes);
        assert_eq!(decode_lenient("+_-/").unwrap(), bytes);
        assert_eq!(decode_array::<3>("-_-_").unwrap(), bytes);
        assert_eq!(decode("Zm8=").unwrap(), b"fo");
    }

    #[test]
    fn wrong_lengths_and_garbage_are_errors() {
        assert_eq!(
            decode_array::<4>("Zm9v"),
            Err(Base64Error::WrongLength {
                expected: 4,
                actual: 3
            })
        );
        assert!(matches!(decode("Z"), Err(Base64Error::Invalid { .. })));
        assert!(matches!(decode("Zm9v!"), Err(Base64Error::Invalid { .. })));
    }
}
