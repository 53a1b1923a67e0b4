//! Signing servers shared by the crypto and ingest benches: four servers with
//! deterministic keys, and the public keys a receiver would have fetched.

use matrix_serverlib::crypto::{PublicKeys, SigningKey};

/// Four servers `s0.example` to `s3.example` with key ID `ed25519:k`, and their keys.
pub(crate) fn signing_servers() -> (Vec<(String, SigningKey)>, PublicKeys) {
    let servers: Vec<(String, SigningKey)> = (0..4u8)
        .map(|index| {
            (
                format!("s{index}.example"),
                SigningKey::from_seed("ed25519:k", [index + 1; 32]),
            )
        })
        .collect();
    let mut keys = PublicKeys::new();
    for (server, key) in &servers {
        keys.insert(server.clone(), "ed25519:k", key.public_key());
    }
    (servers, keys)
}
