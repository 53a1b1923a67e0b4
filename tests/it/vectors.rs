//! Replays every committed vector file in `test-vectors/` through the conformance
//! module, and the shared Synapse development cases when they sit beside the project.

use std::path::{Path, PathBuf};

use matrix_serverlib::conformance::{VectorOutcome, replay_vector};
use matrix_serverlib::json;

/// Ops whose development cases the library answers; the rest are refused with an
/// error answer until their modules exist.
const IMPLEMENTED_OPS: &[&str] = &[
    "auth",
    "auth_types",
    "canonical",
    "content_hash",
    "errors",
    "event_id",
    "federation_errors",
    "redact",
    "resolve",
    "sign",
    "sign_event",
    "sign_request",
    "verify",
    "verify_event",
    "verify_key_document",
    "verify_request",
];

fn vector_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                pending.push(entry.path());
            }
        } else if path
            .extension()
            .is_some_and(|extension| extension == "jsonl")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Replays `file`, returning (vectors, disagreements described).
fn replay_file(file: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read(file).unwrap();
    let mut count = 0;
    let mut failures = Vec::new();
    for (index, line) in text.split(|&byte| byte == b'\n').enumerate() {
        match replay_vector(line) {
            VectorOutcome::Blank => continue,
            VectorOutcome::Agree | VectorOutcome::KnownDifference { .. } => {}
            VectorOutcome::Disagree { expected, actual } => failures.push(format!(
                "{}:{}: expected {} got {}",
                file.display(),
                index + 1,
                json::to_string(&expected),
                json::to_string(&actual)
            )),
            other => failures.push(format!("{}:{}: {other:?}", file.display(), index + 1)),
        }
        count += 1;
    }
    (count, failures)
}

fn assert_all_agree(files: &[PathBuf]) -> usize {
    let mut total = 0;
    let mut failures = Vec::new();
    for file in files {
        let (count, file_failures) = replay_file(file);
        total += count;
        failures.extend(file_failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} vectors disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    total
}

#[test]
fn committed_vectors_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    let files = vector_files(&root);
    assert!(
        !files.is_empty(),
        "no vector files under {}",
        root.display()
    );
    let total = assert_all_agree(&files);
    assert!(total >= 300, "only {total} committed vectors");
}

#[test]
fn shared_development_cases_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/dev-cases");
    if !root.is_dir() {
        eprintln!("no development cases at {}; skipped", root.display());
        return;
    }
    let files: Vec<PathBuf> = vector_files(&root)
        .into_iter()
        .filter(|file| {
            let stem = file
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default();
            IMPLEMENTED_OPS.iter().any(|op| {
                stem == *op
                    || stem
                        .strip_prefix(op)
                        .is_some_and(|rest| rest.starts_with("_v"))
            })
        })
        .collect();
    assert!(!files.is_empty());
    assert_all_agree(&files);
}

/// Every committed auth vector whose event and auth events parse as PDUs with the
/// ordinary checks (`Pdu::from_object`, what servers receive) gets from `auth::check`
/// the verdict Synapse gave, with the auth events as the state.
#[test]
fn strictly_parsed_auth_vectors_get_synapses_verdict() {
    use matrix_serverlib::auth::{self, AuthEvents};
    use matrix_serverlib::event::Pdu;
    use matrix_serverlib::room_version::RoomVersion;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/auth");
    let mut compared = 0;
    for file in vector_files(&root) {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let vector = json::parse(line.as_bytes(), &json::ParseOptions::lenient()).unwrap();
            let case = vector
                .get("case")
                .and_then(|case| case.as_object())
                .unwrap();
            let allowed = vector
                .get("expect")
                .and_then(|expect| expect.get("allowed"))
                .and_then(|allowed| allowed.as_bool());
            let version: RoomVersion = case
                .get("room_version")
                .and_then(|id| id.as_str())
                .and_then(|id| RoomVersion::from_id(id).ok())
                .unwrap();
            let event = case
                .get("event")
                .and_then(|event| event.as_object())
                .unwrap();
            let (Some(allowed), Ok(pdu)) = (allowed, Pdu::from_object(event.clone(), &version))
            else {
                continue;
            };
            let Ok(listed) = case
                .get("auth_events")
                .and_then(|listed| listed.as_array())
                .unwrap()
                .iter()
                .map(|entry| {
                    let entry = entry.as_object().ok_or(())?;
                    Pdu::from_object(entry.clone(), &version).map_err(|_| ())
                })
                .collect::<Result<Vec<Pdu>, ()>>()
            else {
                continue;
            };
            let state: AuthEvents<'_> = listed.iter().collect();
            assert_eq!(
                auth::check(&pdu, &state).is_ok(),
                allowed,
                "{}: {}",
                file.display(),
                pdu.event_id()
            );
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} vectors compared");
}
