//! Registration files: YAML (the format every bridge ships) read into a JSON value,
//! then checked by the core's `Registration::from_json` and, all together, by
//! `Registrations::new` (distinct IDs and tokens, valid senders). Each error names the
//! file.

use std::path::PathBuf;

use matrix_serverlib::appservice::{Registration, Registrations};
use matrix_serverlib::id::ServerName;

/// Loads the registration files in order for the server `server_name`.
///
/// # Errors
///
/// A message naming the file and the cause: unreadable, not YAML, not a valid
/// registration (bad regex, missing token...), or in conflict with an earlier file
/// (duplicate ID or token).
pub(crate) fn load(files: &[PathBuf], server_name: &str) -> Result<Registrations, String> {
    let server =
        ServerName::parse(server_name).map_err(|e| format!("--server-name {server_name}: {e}"))?;
    let mut registrations = Vec::with_capacity(files.len());
    for file in files {
        let named = |e: String| format!("appservice registration {}: {e}", file.display());
        let text = std::fs::read_to_string(file).map_err(|e| named(e.to_string()))?;
        registrations.push(parse(&text).map_err(named)?);
        // Checked as each file is added, so that a conflict names the later file.
        Registrations::new(registrations.clone(), &server).map_err(|e| named(e.to_string()))?;
    }
    Registrations::new(registrations, &server).map_err(|e| format!("appservice registrations: {e}"))
}

/// One registration from YAML text.
///
/// # Errors
///
/// A message when the text is not YAML or not a valid registration.
pub(crate) fn parse(text: &str) -> Result<Registration, String> {
    let value: serde_json::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    Registration::from_json(&value).map_err(|e| e.to_string())
}
