//! Configuration warnings, printed on stderr: no subscriber exists yet while the configuration is read.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// Prints a configuration warning on stderr, once per distinct message per process: no subscriber exists yet
/// while the configuration is read, and a config read twice should not warn twice.
pub(crate) fn warn_once(message: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN
        .get_or_init(Default::default)
        .lock()
        .map(|mut seen| seen.insert(message.to_owned()))
        .unwrap_or(true);
    if first {
        eprintln!("traced: warning: {message}");
    }
}
