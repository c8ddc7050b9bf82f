use std::borrow::Cow;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use opentelemetry_sdk::Resource;

use super::waterfall::{format_duration, render, Completeness};
use super::{colour_wanted, ConsoleExporter};
use crate::test_writer::SharedWriter as Output;

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const OTHER_TRACE: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;

/// Somewhere in 2023, so that the tests do not depend on the clock.
fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

/// A span of `TRACE` from `start_ms` to `end_ms`; `parent` 0 means a root.
fn span(id: u64, parent: u64, name: &'static str, start_ms: u64, end_ms: u64) -> SpanData {
    span_in(TRACE, id, parent, name, start_ms, end_ms)
}

fn span_in(
    trace: u128,
    id: u64,
    parent: u64,
    name: &'static str,
    start_ms: u64,
    end_ms: u64,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(name),
        start_time: at(start_ms),
        end_time: at(end_ms),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: Default::default(),
    }
}

fn with(mut span: SpanData, attributes: Vec<KeyValue>) -> SpanData {
    span.attributes = attributes;
    span
}

fn kind(mut span: SpanData, kind: SpanKind) -> SpanData {
    span.span_kind = kind;
    span
}

fn failed(mut span: SpanData, description: &'static str) -> SpanData {
    span.status = Status::error(description);
    span
}

fn event(mut span: SpanData, name: &'static str, ms: u64, attributes: Vec<KeyValue>) -> SpanData {
    span.events
        .events
        .push(Event::new(name, at(ms), attributes, 0));
    span
}

fn exporter() -> (ConsoleExporter, Output) {
    let output = Output::default();
    (
        ConsoleExporter::with_writer(Box::new(output.clone()), false),
        output,
    )
}

fn export(exporter: &ConsoleExporter, batch: Vec<SpanData>) -> OTelSdkResult {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(exporter.export(batch))
}

/// The trace of the module documentation: a request, a database call, a failed payment with an exception.
fn checkout() -> Vec<SpanData> {
    vec![
        with(
            kind(span(1, 0, "GET /checkout", 0, 120), SpanKind::Server),
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/checkout"),
                KeyValue::new("http.response.status_code", 500),
                KeyValue::new("code.filepath", "src/main.rs"),
            ],
        ),
        with(
            span(2, 1, "load_cart", 30, 60),
            vec![KeyValue::new("cart.items", 3)],
        ),
        with(
            kind(span(3, 2, "SELECT carts", 35, 55), SpanKind::Client),
            vec![KeyValue::new("db.system.name", "postgresql")],
        ),
        event(
            with(
                failed(
                    kind(span(4, 1, "charge", 60, 120), SpanKind::Client),
                    "card declined",
                ),
                vec![KeyValue::new("error.type", "CardDeclined")],
            ),
            "exception",
            118,
            vec![
                KeyValue::new("exception.type", "CardDeclined"),
                KeyValue::new("exception.message", "insufficient funds"),
            ],
        ),
    ]
}

/// `·` before, `█` over `[start, end)`, `·` after, on the 40-cell axis.
fn bar(start: usize, end: usize) -> String {
    format!(
        "{}{}{}",
        "·".repeat(start),
        "█".repeat(end - start),
        "·".repeat(40 - end)
    )
}

/// The lines of a rendering, without the blank line that separates traces.
fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

/// The tree-and-name column of a row, without its padding.
fn name_of(row: &str) -> &str {
    let indent = row.len() - row.trim_start().len();
    row[indent..]
        .find("  ")
        .map_or(row, |end| &row[..indent + end])
}

#[test]
fn a_finished_trace_prints_as_a_waterfall() {
    let (mut exporter, output) = exporter();
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name("checkout")
            .build(),
    );
    export(&exporter, checkout()).unwrap();
    assert_eq!(
        output.take(),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 · checkout · 120ms · 4 spans
GET /checkout        120ms  ████████████████████████████████████████  server method=GET route=/checkout status=500
├─ load_cart        30.0ms  ··········██████████····················  cart.items=3
│  └─ SELECT carts  20.0ms  ···········████████·····················  client db=postgresql
└─ charge ✗         60.0ms  ····················████████████████████  client card declined error.type=CardDeclined
     ◆ exception                                                   ◆  CardDeclined: insufficient funds

"
    );
}

#[test]
fn children_are_ordered_by_start_time_with_tree_glyphs() {
    let trace = vec![
        span(6, 3, "second.inner", 60, 80),
        span(3, 1, "second", 50, 90),
        span(5, 2, "first.inner", 20, 30),
        span(2, 1, "first", 10, 40),
        span(1, 0, "root", 0, 100),
    ];
    assert_eq!(
        render(&trace, &[], None, Completeness::Complete, false),
        "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 · 100ms · 5 spans
root                 100ms  ████████████████████████████████████████
├─ first            30.0ms  ····████████████························
│  └─ first.inner   10.0ms  ········████····························
└─ second           40.0ms  ····················████████████████····
   └─ second.inner  20.0ms  ························████████········

"
    );
}

#[test]
fn bars_are_proportional_to_time_on_the_axis_of_the_trace() {
    let trace = vec![
        span(1, 0, "root", 0, 1000),
        span(2, 1, "middle", 250, 750),
        span(3, 1, "late", 900, 1000),
        // 1 µs of a 1 s trace still gets a cell, where it ran.
        SpanData {
            end_time: at(500) + Duration::from_micros(1),
            ..span(4, 1, "blip", 500, 500)
        },
    ];
    let text = render(&trace, &[], None, Completeness::Complete, false);
    let bars: Vec<&str> = lines(&text)[1..]
        .iter()
        .map(|l| l.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(bars, [bar(0, 40), bar(10, 30), bar(20, 21), bar(36, 40)]);
    assert!(text.contains("├─ blip    1.00µs  "), "{text}");
}

#[test]
fn a_trace_of_zero_duration_gets_one_cell_per_span() {
    let trace = vec![span(1, 0, "root", 5, 5), span(2, 1, "child", 5, 5)];
    let text = render(&trace, &[], None, Completeness::Complete, false);
    assert!(
        text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 0ns · 2 spans\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("root      0ns  {}\n", bar(0, 1))),
        "{text}"
    );
    assert!(
        text.contains(&format!("└─ child  0ns  {}\n", bar(0, 1))),
        "{text}"
    );
}

#[test]
fn spans_are_held_until_the_root_ends() {
    let (exporter, output) = exporter();
    export(&exporter, vec![span(3, 2, "query", 20, 30)]).unwrap();
    export(&exporter, vec![span(2, 1, "handler", 10, 40)]).unwrap();
    assert_eq!(output.take(), "");
    export(&exporter, vec![span(1, 0, "request", 0, 50)]).unwrap();
    let text = output.take();
    let names: Vec<&str> = lines(&text)[1..4].iter().map(|l| name_of(l)).collect();
    assert_eq!(names, ["request", "└─ handler", "   └─ query"]);
    assert!(
        text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 50.0ms · 3 spans\n"),
        "{text}"
    );
    // Nothing left behind to print again.
    exporter.force_flush().unwrap();
    assert_eq!(output.take(), "");
}

#[test]
fn a_root_sees_children_of_its_own_batch_in_any_order() {
    let (exporter, output) = exporter();
    export(
        &exporter,
        vec![span(1, 0, "request", 0, 50), span(2, 1, "handler", 10, 40)],
    )
    .unwrap();
    assert!(output.take().contains("└─ handler"));
}

#[test]
fn traces_print_separately_as_each_root_ends() {
    let (exporter, output) = exporter();
    export(
        &exporter,
        vec![
            span(2, 1, "a.child", 1, 2),
            span_in(OTHER_TRACE, 2, 1, "b.child", 1, 2),
        ],
    )
    .unwrap();
    export(&exporter, vec![span_in(OTHER_TRACE, 1, 0, "b.root", 0, 3)]).unwrap();
    let b = output.take();
    assert!(
        b.starts_with("trace 0af7651916cd43dd8448eb211c80319c "),
        "{b}"
    );
    assert!(b.contains("└─ b.child") && !b.contains("a."), "{b}");
    export(&exporter, vec![span(1, 0, "a.root", 0, 3)]).unwrap();
    let a = output.take();
    assert!(
        a.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 "),
        "{a}"
    );
    assert!(a.contains("└─ a.child") && !a.contains("b."), "{a}");
}

#[test]
fn a_span_with_a_remote_parent_is_a_root() {
    let (exporter, output) = exporter();
    export(&exporter, vec![span(2, 1, "handler", 10, 40)]).unwrap();
    let server = SpanData {
        parent_span_is_remote: true,
        ..span(1, 99, "GET /", 0, 50)
    };
    export(&exporter, vec![server]).unwrap();
    let text = output.take();
    assert!(
        text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 50.0ms · 2 spans\n"),
        "{text}"
    );
    assert!(text.contains("└─ handler"), "{text}");
}

#[test]
fn a_hop_back_into_this_process_is_drawn_under_the_span_that_sent_it() {
    // A trace of this test's own: the propagated spans are remembered process-wide.
    const HOP_TRACE: u128 = 0x5eed_0000_0000_0000_0000_0000_0000_0014;
    let (exporter, output) = exporter();
    let remote = |span: SpanData| SpanData {
        parent_span_is_remote: true,
        ..span
    };
    // The client span 3 sent its context out; the request came back to this process as the server span 4.
    crate::propagated::remember(&SpanContext::new(
        TraceId::from(HOP_TRACE),
        SpanId::from(3),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    ));
    export(
        &exporter,
        vec![
            span_in(HOP_TRACE, 5, 4, "get_stock", 22, 28),
            remote(span_in(HOP_TRACE, 4, 3, "GET /inventory/{id}", 21, 29)),
        ],
    )
    .unwrap();
    assert_eq!(output.take(), "", "the hop waits for the span that sent it");
    export(&exporter, vec![span_in(HOP_TRACE, 3, 2, "GET", 20, 30)]).unwrap();
    assert_eq!(output.take(), "");
    // The server span of the request from outside (its parent is in another process) ends last.
    export(
        &exporter,
        vec![remote(span_in(HOP_TRACE, 2, 1, "GET /orders/{id}", 0, 40))],
    )
    .unwrap();
    let text = output.take();
    assert_eq!(text.matches("trace ").count(), 1, "one waterfall:\n{text}");
    assert!(text.contains("· 4 spans"), "{text}");
    let names: Vec<&str> = lines(&text)[1..].iter().map(|row| name_of(row)).collect();
    assert_eq!(
        names,
        [
            "GET /orders/{id}",
            "└─ GET",
            "   └─ GET /inventory/{id}",
            "      └─ get_stock"
        ],
        "{text}"
    );
}

#[test]
fn a_span_ending_after_its_parent_was_printed_prints_at_once() {
    let (exporter, output) = exporter();
    export(
        &exporter,
        vec![span(2, 1, "handler", 10, 40), span(1, 0, "request", 0, 50)],
    )
    .unwrap();
    output.take();
    // A spawned task that outlived the request, with a child of its own.
    export(&exporter, vec![span(4, 3, "retry", 60, 70)]).unwrap();
    assert_eq!(output.take(), "");
    export(&exporter, vec![span(3, 1, "background", 50, 150)]).unwrap();
    assert_eq!(
        output.take(),
        format!(
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 · 100ms · 2 spans · continued: the parent span was printed earlier
background   100ms  {}
└─ retry    10.0ms  {}

",
            bar(0, 40),
            bar(4, 8)
        )
    );
}

#[test]
fn force_flush_prints_incomplete_traces() {
    let (exporter, output) = exporter();
    export(
        &exporter,
        vec![span(3, 1, "second", 30, 40), span(2, 1, "first", 0, 20)],
    )
    .unwrap();
    exporter.force_flush().unwrap();
    assert_eq!(
        output.take(),
        format!(
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 · 40.0ms · 2 spans · incomplete: the root span has not ended
first   20.0ms  {}
second  10.0ms  {}

",
            bar(0, 20),
            bar(30, 40)
        )
    );
    exporter.force_flush().unwrap();
    assert_eq!(output.take(), "");
    // The root, when it comes, prints on its own with the printed spans as history.
    export(&exporter, vec![span(1, 0, "root", 0, 50)]).unwrap();
    assert!(output.take().contains("· 1 span\nroot  50.0ms"));
}

#[test]
fn shutdown_prints_what_is_held_then_refuses_spans() {
    let (exporter, output) = exporter();
    export(&exporter, vec![span(2, 1, "orphan", 0, 10)]).unwrap();
    exporter.shutdown().unwrap();
    assert!(output
        .take()
        .contains("incomplete: the root span has not ended\norphan  10.0ms"));
    assert!(matches!(
        export(&exporter, vec![span(1, 0, "root", 0, 10)]),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    assert!(matches!(
        exporter.shutdown(),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    drop(exporter);
    assert_eq!(output.take(), "");
}

#[test]
fn dropping_the_exporter_prints_what_is_held() {
    let (exporter, output) = exporter();
    export(&exporter, vec![span(2, 1, "orphan", 0, 10)]).unwrap();
    drop(exporter);
    assert!(output.take().contains("\norphan  10.0ms"));
}

#[test]
fn a_full_buffer_prints_the_oldest_trace() {
    let (exporter, output) = exporter();
    let exporter = exporter.with_buffer_capacity(3);
    export(
        &exporter,
        vec![span(2, 1, "a1", 0, 10), span(3, 1, "a2", 10, 20)],
    )
    .unwrap();
    export(&exporter, vec![span_in(OTHER_TRACE, 2, 1, "b1", 0, 10)]).unwrap();
    assert_eq!(output.take(), "");
    export(&exporter, vec![span_in(OTHER_TRACE, 3, 1, "b2", 0, 10)]).unwrap();
    let text = output.take();
    assert!(
        text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 20.0ms · 2 spans · incomplete"),
        "{text}"
    );
    assert!(
        text.contains("\na1 ") && text.contains("\na2 ") && !text.contains("b1"),
        "{text}"
    );
    assert!(
        format!("{exporter:?}").contains("buffered: 2"),
        "{exporter:?}"
    );
    exporter.force_flush().unwrap();
    let text = output.take();
    assert!(
        text.starts_with("trace 0af7651916cd43dd8448eb211c80319c · 10.0ms · 2 spans · incomplete"),
        "{text}"
    );
}

#[test]
fn the_buffer_holds_no_more_than_its_capacity() {
    let (exporter, output) = exporter();
    let exporter = exporter.with_buffer_capacity(100);
    for trace in 1..=50u128 {
        // Roots that never end: every span waits.
        export(
            &exporter,
            vec![
                span_in(trace, 2, 1, "a", 0, 1),
                span_in(trace, 3, 1, "b", 0, 1),
            ],
        )
        .unwrap();
    }
    assert_eq!(output.take(), "");
    export(&exporter, vec![span_in(51, 2, 1, "a", 0, 1)]).unwrap();
    let text = output.take();
    assert_eq!(text.matches("trace ").count(), 1, "{text}");
    assert!(text.starts_with(&format!("trace {:032x} ", 1)), "{text}");
    exporter.force_flush().unwrap();
    assert_eq!(output.take().matches("trace ").count(), 50);
}

#[test]
fn attributes_are_compact_and_noise_is_left_out() {
    let noisy = with(
        kind(span(1, 0, "publish", 0, 10), SpanKind::Producer),
        vec![
            KeyValue::new("code.filepath", "src/main.rs"),
            KeyValue::new("code.lineno", 12),
            KeyValue::new("thread.id", 3),
            KeyValue::new("busy_ns", 100),
            KeyValue::new("idle_ns", 100),
            KeyValue::new("http.method", "POST"),
            KeyValue::new("db.system", "redis"),
            KeyValue::new("user.id", 42),
            KeyValue::new("note", "hello\nworld"),
            KeyValue::new("long", "a".repeat(40)),
            KeyValue::new("extra", "x"),
            KeyValue::new("more", true),
        ],
    );
    let noisy = event(event(noisy, "retrying", 2, vec![]), "sent", 5, vec![]);
    let text = render(&[noisy], &[], None, Completeness::Complete, false);
    assert_eq!(
        lines(&text)[1],
        format!(
            "publish  10.0ms  {}  producer method=POST db=redis user.id=42 note=\"hello world\" long={}… +2 attrs +2 events",
            bar(0, 40),
            "a".repeat(31)
        )
    );
}

#[test]
fn long_names_are_cut_so_that_bars_stay_aligned() {
    let long = "handle_a_request_with_a_name_far_longer_than_any_column_should_be";
    let trace = vec![span(1, 0, "root", 0, 10), span(2, 1, long, 0, 10)];
    let text = render(&trace, &[], None, Completeness::Complete, false);
    let cut = format!("└─ {}…", &long[..44]);
    assert_eq!(cut.chars().count(), 48);
    assert_eq!(lines(&text)[2], format!("{cut}  10.0ms  {}", bar(0, 40)));
    assert_eq!(
        lines(&text)[1],
        format!("root{}  10.0ms  {}", " ".repeat(44), bar(0, 40))
    );
}

#[test]
fn control_characters_cannot_break_the_layout_or_drive_the_terminal() {
    let trace = vec![failed(
        span(1, 0, "evil\n\x1b[2Jname", 0, 10),
        "line one\nline two",
    )];
    let text = render(&trace, &[], None, Completeness::Complete, false);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_eq!(
        lines(&text)[1],
        format!("evil  [2Jname ✗  10.0ms  {}  line one line two", bar(0, 40))
    );
}

#[test]
fn spans_in_a_parent_cycle_are_still_printed() {
    let trace = vec![span(2, 1, "b", 5, 10), span(1, 2, "a", 0, 10)];
    let text = render(&trace, &[], None, Completeness::Incomplete, false);
    let names: Vec<&str> = lines(&text)[1..].iter().map(|l| name_of(l)).collect();
    assert_eq!(names, ["a", "└─ b"]);
}

#[test]
fn a_deep_recursion_renders_with_bounded_indentation() {
    let depth = 3_000u64;
    let trace: Vec<SpanData> = (1..=depth)
        .map(|id| span(id, id - 1, "recurse", id, 2 * depth - id))
        .collect();
    let text = render(&trace, &[], None, Completeness::Complete, false);
    let rows = &lines(&text)[1..];
    assert_eq!(rows.len(), depth as usize);
    assert!(rows
        .iter()
        .all(|r| r.find("recurse").unwrap() <= 3 * 13 * "│".len()));
    assert!(
        rows[depth as usize - 1].starts_with(&format!("{}└─ recurse", " ".repeat(36))),
        "{}",
        rows[2999]
    );
}

#[test]
fn colour_changes_nothing_but_the_escape_codes() {
    let plain = render(
        &checkout(),
        &[],
        Some("checkout"),
        Completeness::Incomplete,
        false,
    );
    let coloured = render(
        &checkout(),
        &[],
        Some("checkout"),
        Completeness::Incomplete,
        true,
    );
    assert!(!plain.contains('\x1b'));
    assert!(
        coloured.contains("\x1b[1mload_cart\x1b[0m"),
        "names are bold: {coloured}"
    );
    assert!(
        coloured.contains("\x1b[31m ✗\x1b[0m"),
        "errors are red: {coloured}"
    );
    assert!(
        coloured.contains("\x1b[31mcard declined\x1b[0m"),
        "{coloured}"
    );
    assert!(
        coloured.contains(&format!("\x1b[36m{}\x1b[0m", "█".repeat(10))),
        "bars are cyan: {coloured}"
    );
    assert_eq!(strip_escapes(&coloured), plain);
}

fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        rest = &rest[i + rest[i..].find('m').unwrap() + 1..];
    }
    out + rest
}

#[test]
fn durations_keep_three_significant_digits() {
    let cases = [
        (Duration::ZERO, "0ns"),
        (Duration::from_nanos(850), "850ns"),
        (Duration::from_nanos(1_000), "1.00µs"),
        (Duration::from_nanos(9_996), "10.0µs"),
        (Duration::from_nanos(12_345), "12.3µs"),
        (Duration::from_nanos(999_499), "999µs"),
        (Duration::from_nanos(999_500), "1.00ms"),
        (Duration::from_micros(1_204), "1.20ms"),
        (Duration::from_millis(340), "340ms"),
        (Duration::from_millis(2_500), "2.50s"),
        (Duration::from_millis(59_940), "59.9s"),
        (Duration::from_millis(59_960), "1m00s"),
        (Duration::from_millis(61_400), "1m01s"),
        (Duration::from_millis(3_599_600), "1h00m"),
        (Duration::from_secs(7_409), "2h03m"),
    ];
    for (duration, text) in cases {
        assert_eq!(format_duration(duration), text, "{duration:?}");
    }
}

#[test]
fn colour_only_on_a_terminal_that_did_not_opt_out() {
    use std::ffi::OsStr;
    let os = |s| Some(OsStr::new(s));
    assert!(colour_wanted(true, None, os("xterm-256color")));
    assert!(
        colour_wanted(true, os(""), None),
        "an empty NO_COLOR does not count"
    );
    assert!(!colour_wanted(false, None, None));
    assert!(!colour_wanted(true, os("1"), None));
    assert!(!colour_wanted(true, None, os("dumb")));
}

#[test]
fn a_failing_writer_is_reported() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let exporter = ConsoleExporter::with_writer(Box::new(Broken), false);
    let result = export(&exporter, vec![span(1, 0, "root", 0, 1)]);
    assert!(
        matches!(result, Err(OTelSdkError::InternalFailure(_))),
        "{result:?}"
    );
}

#[test]
fn works_under_the_sdk_with_the_service_name_of_the_resource() {
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let output = Output::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder_empty().with_service_name("shop").build())
        .with_simple_exporter(ConsoleExporter::with_writer(
            Box::new(output.clone()),
            false,
        ))
        .build();
    let tracer = provider.tracer("test");
    tracer.in_span("outer", |_| tracer.in_span("inner", |_| {}));
    let text = output.take();
    let rows = lines(&text);
    assert!(
        rows[0].starts_with("trace ") && rows[0].contains(" · shop · "),
        "{text}"
    );
    assert!(
        rows[1].starts_with("outer ") && rows[2].starts_with("└─ inner "),
        "{text}"
    );
    provider.shutdown().unwrap();
}
