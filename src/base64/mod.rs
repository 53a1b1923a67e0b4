//! Unpadded base64 as Matrix uses it
//! (<https://spec.matrix.org/v1.16/appendices/#unpadded-base64>).
//!
//! Output is always unpadded. The standard alphabet (`+`, `/`) is used for hashes,
//! signatures, keys and room-version-3 event IDs; the URL-safe alphabet (`-`, `_`) for
//! event IDs from room version 4 on and for room-version-12 room IDs.
//!
//! Decoders accept padded and unpadded input and non-zero trailing bits: the spec's own
//! test seed (`…XA1`) has them. Each decoder accepts only its own alphabet; use
//! [`decode_any`] where the spec allows either (identity-server keys).
//!
//! ```
//! use matrix_serverlib::base64;
//!
//! assert_eq!(base64::encode(b"foobar"), "Zm9vYmFy");
//! assert_eq!(base64::encode(b"fo"), "Zm8");
//! assert_eq!(base64::decode("Zm8=")?, b"fo");
//! # Ok::<(), matrix_serverlib::base64::Base64Error>(())
//! ```

mod codec;

pub use codec::{
    Base64Error, decode, decode_any, decode_array, decode_lenient, decode_url_safe, encode,
    encode_url_safe,
};
