//! One error, one line: what a user sees on stderr (the default compact format) when an `Err` passes up through
//! `#[traced]` fns, and what the spans keep whatever `RUST_LOG` says.
//!
//! Each case runs this test binary again as a child (`child` below, selected by an environment variable) with
//! `traced::init`'s global subscriber writing to stderr; the child prints what its spans recorded on stdout, the
//! parent reads both.

use std::collections::BTreeMap;
use std::io;
use std::process::Command;

use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use traced::config::{Config, LogFormat};
use traced::traced;

const CASE: &str = "TRACED_ERROR_LINES_CASE";

#[traced]
fn read_block() -> io::Result<u32> {
    Err(io::Error::other("disk full"))
}

#[traced]
fn load_page() -> io::Result<u32> {
    read_block()
}

#[traced]
fn render() -> io::Result<u32> {
    let page = load_page()?;
    Ok(page + 1)
}

#[traced]
fn render_boxed() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    // Boxing by `?` changes the type, not the error: still the same line.
    Ok(load_page()?)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot save the page")]
struct SaveError(#[source] io::Error);

#[traced]
fn save() -> Result<u32, SaveError> {
    load_page().map_err(SaveError)
}

#[traced(err(log = off))]
fn read_block_quietly() -> io::Result<u32> {
    Err(io::Error::other("not cached"))
}

#[traced]
fn load_cached() -> io::Result<u32> {
    read_block_quietly()
}

#[traced(err(log = off))]
fn probe() -> io::Result<u32> {
    Err(io::Error::other("expected miss"))
}

/// The child: runs one case under the global pipeline, then prints each span as
/// `SPAN name status=<error description> error.type=<..> exceptions=<n>`.
#[test]
fn child() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let spans = InMemorySpanExporter::default();
    let guard = Config::builder()
        .without_env()
        .with_exporters([])
        .with_logs_exporters([])
        .with_span_exporter(spans.clone())
        .with_log_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .with_log_format(LogFormat::Compact)
        .build()
        .expect("config")
        .init()
        .expect("pipeline");
    let _ = match case.as_str() {
        "unchanged" => render(),
        "boxed" => render_boxed().map_err(io::Error::other),
        "changed" => save().map_err(io::Error::other),
        "log-off" => load_cached().and(probe()),
        _ => panic!("unknown case {case}"),
    };
    guard.force_flush().expect("flush");
    for span in spans.get_finished_spans().expect("spans") {
        let status = match &span.status {
            Status::Error { description } => description.to_string(),
            other => format!("{other:?}"),
        };
        let error_type = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "error.type")
            .map(|kv| kv.value.to_string())
            .unwrap_or_default();
        let exceptions = span.events.iter().filter(|e| e.name == "exception").count();
        println!(
            "SPAN {} status={status} error.type={error_type} exceptions={exceptions}",
            span.name
        );
    }
}

/// What a case printed: the ERROR lines of target `traced`, and the spans by name.
struct Output {
    lines: Vec<String>,
    spans: BTreeMap<String, String>,
}

fn run(case: &str, rust_log: &str) -> Output {
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CASE, case)
        .env("RUST_LOG", rust_log)
        .env("NO_COLOR", "1")
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines = stderr
        .lines()
        .filter(|l| l.contains(" ERROR ") && l.contains(" traced: "))
        .map(str::to_owned)
        .collect();
    let spans = stdout
        .lines()
        // The first may share its line with the test harness's `test child ... `.
        .filter_map(|l| l.split_once("SPAN ").map(|(_, rest)| rest))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, rest)| (name.to_owned(), rest.to_owned()))
        .collect();
    Output { lines, spans }
}

/// The keys of a compact line, in order (`key=` after a space, outside quotes).
fn keys(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut quoted = false;
    let mut word = String::new();
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => word.clear(),
            '=' if !quoted && !word.is_empty() => keys.push(std::mem::take(&mut word)),
            c if !quoted => word.push(c),
            _ => {}
        }
    }
    keys
}

fn assert_failed(output: &Output, span: &str, message: &str, error_type: &str) {
    let recorded = output
        .spans
        .get(span)
        .unwrap_or_else(|| panic!("no span {span}: {:?}", output.spans));
    assert_eq!(
        recorded,
        &format!("status={message} error.type={error_type} exceptions=1"),
        "{span}"
    );
}

#[test]
fn an_error_passed_up_unchanged_is_one_line_where_it_first_appears() {
    let output = run("unchanged", "info");
    assert_eq!(output.lines.len(), 1, "{:#?}", output.lines);
    let line = &output.lines[0];
    assert!(
        line.contains(" render:load_page:read_block: traced: disk full"),
        "{line}"
    );
    assert!(
        line.contains("code.function.name=\"error_lines::read_block\""),
        "{line}"
    );
    // Every span still failed with the error.
    for span in ["read_block", "load_page", "render"] {
        assert_failed(&output, span, "disk full", "std::io::error::Error");
    }
}

#[test]
fn an_error_boxed_by_question_mark_is_not_logged_again() {
    let output = run("boxed", "info");
    assert_eq!(output.lines.len(), 1, "{:#?}", output.lines);
    assert_failed(&output, "render_boxed", "disk full", "alloc::boxed::Box");
}

#[test]
fn an_error_the_caller_changed_is_a_new_line() {
    let output = run("changed", "info");
    assert_eq!(output.lines.len(), 2, "{:#?}", output.lines);
    assert!(output.lines[0].contains("traced: disk full"));
    assert!(output.lines[1].contains(" save: traced: cannot save the page"));
    assert!(output.lines[1].contains("exception.stacktrace=\"disk full\""));
}

#[test]
fn no_field_is_printed_twice_on_a_line() {
    let output = run("unchanged", "info");
    let line = &output.lines[0];
    let keys = keys(line.split_once(" traced: ").expect("target").1);
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "{keys:?} in {line}");
    assert!(keys.contains(&"code.function.name".to_owned()), "{keys:?}");
}

#[test]
fn err_log_off_turns_the_line_off_for_a_fn() {
    let output = run("log-off", "info");
    // `read_block_quietly` logs nothing; `load_cached` returns its error and is the first to log it. `probe`,
    // called directly, logs nothing at all.
    assert_eq!(output.lines.len(), 1, "{:#?}", output.lines);
    assert!(
        output.lines[0].contains(" load_cached: traced: not cached"),
        "{:?}",
        output.lines
    );
    assert_failed(
        &output,
        "read_block_quietly",
        "not cached",
        "std::io::error::Error",
    );
    assert_failed(&output, "probe", "expected miss", "std::io::error::Error");
}

#[test]
fn filtering_the_lines_out_keeps_the_exception_events() {
    let output = run("unchanged", "info,traced=off");
    assert!(output.lines.is_empty(), "{:#?}", output.lines);
    for span in ["read_block", "load_page", "render"] {
        assert_failed(&output, span, "disk full", "std::io::error::Error");
    }
}
