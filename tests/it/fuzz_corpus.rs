//! Replays the committed fuzz seed corpus through the same laws the fuzz targets check,
//! so a normal `cargo test` covers them.

use std::path::Path;

#[path = "../../fuzz/laws.rs"]
mod laws;

fn replay(target: &str, law: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        law(&data);
        count += 1;
    }
    assert!(count > 0, "empty corpus for {target}");
}

#[test]
fn canonical_json_corpus() {
    replay("canonical_json", laws::canonical_json);
}

#[test]
fn identifiers_corpus() {
    replay("identifiers", laws::identifiers);
}

#[test]
fn pdu_corpus() {
    replay("pdu", laws::pdu);
}

#[test]
fn redact_corpus() {
    replay("redact", laws::redact_event);
}

#[test]
fn receive_corpus() {
    replay("receive", laws::receive);
}

#[test]
fn auth_corpus() {
    replay("auth", laws::auth);
}

#[test]
fn resolve_corpus() {
    replay("resolve", laws::resolve);
}

#[test]
fn key_document_corpus() {
    replay("key_document", laws::key_document);
}

#[test]
fn send_join_corpus() {
    replay("send_join", laws::send_join);
}

#[test]
fn transaction_corpus() {
    replay("transaction", laws::transaction);
}

#[test]
fn ingest_corpus() {
    replay("ingest", laws::ingest);
}

#[test]
fn xmatrix_corpus() {
    replay("xmatrix", laws::xmatrix);
}

#[test]
fn resolve_well_known_corpus() {
    replay("resolve_well_known", laws::resolve_well_known);
}

#[test]
fn incoming_invite_corpus() {
    replay("incoming_invite", laws::incoming_invite);
}

#[test]
fn serde_value_corpus() {
    replay("serde_value", laws::serde_value);
}

#[test]
fn appservice_registration_corpus() {
    replay("appservice_registration", laws::appservice_registration);
}
