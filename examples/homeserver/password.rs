//! Password hashing with Argon2id (default parameters), stored as
//! `argon2id$<salt>$<hash>` in unpadded base64. Slow by design: call it off the
//! async threads.

use argon2::Argon2;

use matrix_serverlib::base64;

/// Hashes `password` with a fresh random salt.
///
/// # Errors
///
/// When Argon2 refuses the input (a password over 4 GiB).
pub(crate) fn hash(password: &str) -> Result<String, argon2::Error> {
    let salt: [u8; 16] = rand::random();
    let digest = digest(password, &salt)?;
    Ok(format!(
        "argon2id${}${}",
        base64::encode(salt),
        base64::encode(digest)
    ))
}

/// True when `password` matches the stored hash.
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("argon2id"), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (base64::decode(salt), base64::decode(expected)) else {
        return false;
    };
    let Ok(actual) = digest(password, &salt) else {
        return false;
    };
    // Compare in constant time: fold every byte difference together.
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(&expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn digest(password: &str, salt: &[u8]) -> Result<[u8; 32], argon2::Error> {
    let mut out = [0u8; 32];
    Argon2::default().hash_password_into(password.as_bytes(), salt, &mut out)?;
    Ok(out)
}
