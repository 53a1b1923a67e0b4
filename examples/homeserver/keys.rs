//! The server's ed25519 signing key, kept in the data directory as `signing.key` in
//! Synapse's format (`ed25519 <version> <unpadded base64 seed>`), generated on first
//! start. The seed comes from the operating system's random source here; the core crate
//! only ever receives it.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use matrix_serverlib::base64;
use matrix_serverlib::crypto::SigningKey;

/// The key file's name inside the data directory.
const KEY_FILE: &str = "signing.key";

/// Loads the signing key from `data_dir`, creating it on first start.
///
/// # Errors
///
/// When the file cannot be read or written, or is not a key file.
pub(crate) fn load_or_generate(data_dir: &Path) -> io::Result<SigningKey> {
    let path = data_dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => parse_key_file(&text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an ed25519 key file")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let seed: [u8; 32] = rand::random();
            let version = format!("a_{}", crate::random_string(4));
            let key = SigningKey::from_seed(format!("ed25519:{version}"), seed);
            write_private(
                &path,
                &format!("ed25519 {version} {}\n", base64::encode(seed)),
            )?;
            Ok(key)
        }
        Err(error) => Err(error),
    }
}

/// Parses `ed25519 <version> <seed>`.
fn parse_key_file(text: &str) -> Option<SigningKey> {
    let mut parts = text.split_whitespace();
    let (Some("ed25519"), Some(version), Some(seed)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    SigningKey::from_base64_seed(format!("ed25519:{version}"), seed).ok()
}

/// Writes a file only its owner can read (on Unix), durably.
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
