//! Compile-time behaviour of `#[traced]`: every supported fn shape compiles and runs (`tests/ui/pass`), and every
//! error message is pinned with the token it points at (`tests/ui/fail`, one file per message).
//!
//! Regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test --test ui`, then read them.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

use std::process::Command;

/// The compiler that generated the `.stderr` snapshots: rustc's wording and layout change between releases.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc)
        .arg("--version")
        .output()
        .expect("run rustc --version");
    String::from_utf8(output.stdout).expect("rustc --version is UTF-8")
}

#[test]
fn ui() {
    let version = rustc_version();
    assert!(
        version.starts_with(SNAPSHOT_RUSTC),
        "UI snapshots were generated with rustc 1.95; this is {}: regenerate with \
         TRYBUILD=overwrite cargo test --test ui and review the .stderr files",
        version.trim()
    );
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
