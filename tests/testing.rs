//! `traced::testing` as its users see it: captures in parallel threads of one process, across tasks spawned on a
//! multi-thread runtime, stable snapshots, and the messages of failed lookups.
#![cfg(not(feature = "off"))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier};

use opentelemetry::trace::Status;
use opentelemetry::Value;
use traced::testing::{capture, capture_async};
use traced::traced;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
#[error("action {0} failed")]
struct ActionFailed(&'static str);

#[traced]
fn load_checkpoint() -> u32 {
    7
}

#[traced(fields(action = name))]
fn execute_action(name: &'static str) -> Result<(), ActionFailed> {
    if name == "audit" {
        return Err(ActionFailed(name));
    }
    Ok(())
}

#[traced]
fn execute_actions() -> Result<(), ActionFailed> {
    execute_action("notify")?;
    execute_action("audit")
}

#[traced(kind = consumer)]
fn process_event() -> Result<u32, ActionFailed> {
    let checkpoint = load_checkpoint();
    execute_actions()?;
    Ok(checkpoint)
}

#[test]
fn a_capture_returns_the_value_and_the_span_tree() {
    let (result, captured) = capture(process_event);
    assert!(result.is_err());
    let root = captured.span("process_event");
    assert!(root.is_error());
    assert_eq!(root.status(), &Status::error("action audit failed"));
    assert_eq!(
        root.children()
            .iter()
            .map(|child| child.name())
            .collect::<Vec<_>>(),
        ["load_checkpoint", "execute_actions"]
    );
    let actions = captured.spans_named("execute_action");
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[1].attr("action"), Some(&Value::from("audit")));
    assert_eq!(
        actions[1]
            .attr("error.type")
            .map(ToString::to_string)
            .as_deref(),
        Some("testing::ActionFailed")
    );
    assert_eq!(
        actions[1].parent().map(|p| p.name()),
        Some("execute_actions")
    );
    assert!(actions[1].events().iter().any(|e| e.name == "exception"));
    assert_eq!(captured.stats().exported, 5);
}

/// The rendering a snapshot test would store: the same on every run and with every source layout.
#[test]
fn the_tree_is_a_stable_snapshot() {
    let tree = || capture(process_event).1.tree();
    let first = tree();
    assert_eq!(first, tree(), "two runs render the same tree");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines[0], "process_event [consumer] ERROR \"action audit failed\"",
        "{first}"
    );
    let structure: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !line.trim_start_matches(['│', ' ']).starts_with(['·', '◆']))
        .collect();
    assert_eq!(
        structure,
        [
            "process_event [consumer] ERROR \"action audit failed\"",
            "├─ load_checkpoint",
            "└─ execute_actions ERROR \"action audit failed\"",
            "   ├─ execute_action",
            "   └─ execute_action ERROR \"action audit failed\"",
        ],
        "{first}"
    );
    for volatile in [
        "duration_ms",
        "code.line.number",
        "code.column.number",
        "thread.id",
    ] {
        assert!(!first.contains(volatile), "{volatile} in {first}");
    }
    assert!(
        first.contains("· code.function.name=\"testing::load_checkpoint\""),
        "{first}"
    );
    assert!(first.contains("◆ exception"), "{first}");
}

/// Captures in parallel threads of one process (what `cargo test` does with a test binary) see only their own
/// spans, though every thread runs the same instrumented code at the same time.
#[test]
fn parallel_captures_never_see_each_other() {
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let start = start.clone();
            std::thread::spawn(move || {
                let ((), captured) = capture(|| {
                    start.wait();
                    for round in 0..50 {
                        tracing::info_span!("work", thread, round).in_scope(load_checkpoint);
                    }
                });
                (thread, captured)
            })
        })
        .collect();
    for handle in threads {
        let (thread, captured) = handle.join().expect("capture thread");
        let work = captured.spans_named("work");
        assert_eq!(work.len(), 50, "thread {thread}");
        assert!(work
            .iter()
            .all(|span| span.attr("thread") == Some(&Value::I64(thread as i64))));
        assert_eq!(captured.spans_named("load_checkpoint").len(), 50);
    }
}

#[traced]
async fn child_task() -> u32 {
    tracing::info_span!("inside_the_task").in_scope(|| 3)
}

#[traced]
async fn spawning_parent() -> (u32, u32) {
    // Blocks this worker until the task is done, so the task runs on the runtime's other worker thread.
    let (done, wait) = std::sync::mpsc::channel();
    let task = tokio::spawn(
        async move {
            let value = child_task().await;
            done.send(()).expect("parent waits");
            value
        }
        .in_current_span(),
    );
    tokio::task::block_in_place(|| wait.recv().expect("task ran"));
    let from_task = task.await.expect("task");
    let from_traced_spawn = tokio::spawn(child_task().in_current_span())
        .await
        .expect("task");
    (from_task, from_traced_spawn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_follows_tasks_spawned_with_their_context_onto_other_threads() {
    let (values, captured) = capture_async(spawning_parent()).await;
    assert_eq!(values, (3, 3));
    let parent = captured.span("spawning_parent");
    let children = captured.spans_named("child_task");
    assert_eq!(children.len(), 2, "{}", captured.tree());
    for child in &children {
        assert_eq!(child.parent().map(|p| p.name()), Some("spawning_parent"));
        assert_eq!(
            child.children().first().map(|c| c.name()),
            Some("inside_the_task")
        );
    }
    assert_ne!(
        children[0].attr("thread.id"),
        parent.attr("thread.id"),
        "the first task ran on the other worker thread"
    );
}

#[test]
fn a_missing_span_panics_with_the_names_that_exist() {
    let (_, captured) = capture(process_event);
    let message = catch_unwind(AssertUnwindSafe(|| {
        captured.span("missing");
    }))
    .expect_err("no span named missing");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("no span named \"missing\"")
            && message.contains("\"process_event\"")
            && message.contains("\"load_checkpoint\""),
        "{message}"
    );
    let several = catch_unwind(AssertUnwindSafe(|| {
        captured.span("execute_action");
    }))
    .expect_err("two spans named execute_action");
    let several = several.downcast_ref::<String>().expect("message");
    assert!(
        several.contains("2 spans named \"execute_action\""),
        "{several}"
    );
}

#[test]
fn sampling_and_redaction_apply_as_configured() {
    let ((), sampled_out) = traced::testing::config()
        .with_sampler(traced::config::SamplerConfig::AlwaysOff)
        .capture(|| {
            load_checkpoint();
        });
    assert!(sampled_out.spans().is_empty(), "{}", sampled_out.tree());

    let ((), redacted) = capture(|| {
        tracing::info_span!("login", password = "hunter2", user = "ada").in_scope(|| {});
    });
    let login = redacted.span("login");
    assert_eq!(login.attr("password"), Some(&Value::from("[REDACTED]")));
    assert_eq!(login.attr("user"), Some(&Value::from("ada")));
}

/// A span's thread and target come first, as the span layer keeps them (three values, not three attributes per
/// span), and count against the attribute limit like any attribute.
#[test]
fn a_spans_thread_and_target_come_first_and_count_against_the_limit() {
    let thread_name = std::thread::current().name().map(str::to_owned);
    let mut origin = vec!["thread.id"];
    origin.extend(thread_name.as_ref().map(|_| "thread.name"));
    origin.push("target");
    let make =
        || tracing::info_span!(target: "orders::db", "query", table = "orders").in_scope(|| {});
    let keys = |captured: &traced::testing::Captured| -> Vec<String> {
        let span = captured.span("query");
        span.attributes()
            .iter()
            .map(|kv| kv.key.to_string())
            .collect()
    };

    let ((), captured) = capture(make);
    let all = keys(&captured);
    assert_eq!(all[..origin.len()], origin[..], "{all:?}");
    assert_eq!(all[origin.len()], "table", "{all:?}");
    let query = captured.span("query");
    assert_eq!(query.attr("target"), Some(&Value::from("orders::db")));
    assert_eq!(
        query.attr("thread.name"),
        thread_name.map(Value::from).as_ref()
    );

    // Room for two: the first two, in order, and nothing after them.
    let ((), limited) = traced::testing::config()
        .with_span_attribute_count_limit(2)
        .capture(make);
    assert_eq!(keys(&limited), origin[..2], "{}", limited.tree());
}

/// The function metrics a capture's calls recorded: counts by result, caller and error type, the durations and
/// nothing left under way, asserted by attribute.
#[test]
fn a_capture_holds_the_function_metrics_of_its_calls() {
    let (_, captured) = capture(|| {
        let _ = process_event();
        let _ = process_event();
        let _ = execute_action("audit");
    });
    let calls = captured.metric("function.calls");
    let action = |caller: &str, result: &str| {
        calls
            .point(&[
                ("function", "execute_action"),
                ("caller.function", caller),
                ("result", result),
            ])
            .value()
    };
    assert_eq!(action("execute_actions", "ok"), 2);
    assert_eq!(action("execute_actions", "error"), 2);
    assert_eq!(action("", "error"), 1, "called from no #[traced] fn");
    let failed = calls.point(&[("function", "process_event"), ("result", "error")]);
    assert_eq!(failed.value(), 2);
    assert_eq!(
        failed.attr("error.type").and_then(|v| match v {
            Value::String(s) => Some(s.as_str().to_owned()),
            _ => None,
        }),
        Some("testing::ActionFailed".to_owned())
    );
    assert_eq!(failed.attr("module"), Some(&Value::from("testing")));
    assert!(calls
        .points_where(&[("function", "load_checkpoint"), ("result", "error")])
        .is_empty());

    let durations = captured.metric("function.calls.duration");
    assert_eq!(durations.unit(), "s");
    assert_eq!(
        durations.total(),
        2 + 2 + 2 + 4 + 1,
        "every call measured once"
    );
    let event = durations.point(&[("function", "process_event")]);
    assert_eq!(event.value(), 2);
    assert!(event.sum().is_some_and(|s| s > 0.0), "{event:?}");
    let concurrent = captured.metric("function.calls.concurrent");
    assert!(concurrent.points().iter().all(|p| p.value() == 0));

    let missing = catch_unwind(AssertUnwindSafe(|| {
        captured.metric("http.server.request.duration");
    }))
    .expect_err("no HTTP metric in this capture");
    let missing = missing.downcast_ref::<String>().expect("message");
    assert!(
        missing.contains("\"http.server.request.duration\"") && missing.contains("function.calls"),
        "{missing}"
    );
    let ambiguous = catch_unwind(AssertUnwindSafe(|| {
        calls.point(&[("function", "execute_action")]);
    }))
    .expect_err("three points of execute_action");
    let ambiguous = ambiguous.downcast_ref::<String>().expect("message");
    assert!(
        ambiguous.contains("3 points of function.calls") && ambiguous.contains("caller.function="),
        "{ambiguous}"
    );
}

/// Captures in parallel threads count only their own calls of the same fns, and their own log records.
#[test]
fn parallel_captures_count_only_their_own_calls_and_logs() {
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let start = start.clone();
            std::thread::spawn(move || {
                let ((), captured) = capture(|| {
                    start.wait();
                    for round in 0..=thread {
                        load_checkpoint();
                        tracing::info!(thread, round, "checkpoint loaded");
                    }
                });
                (thread, captured)
            })
        })
        .collect();
    for handle in threads {
        let (thread, captured) = handle.join().expect("capture thread");
        let loads = captured
            .metric("function.calls")
            .point(&[("function", "load_checkpoint")])
            .value();
        assert_eq!(loads, thread as i64 + 1, "thread {thread}");
        let logs = captured.logs();
        assert_eq!(logs.len(), thread + 1, "thread {thread}: {logs:?}");
        assert!(logs
            .iter()
            .all(|log| log.attr("thread") == Some(&Value::I64(thread as i64))));
    }
}

/// Calls in tasks spawned with their context on another worker thread are the capture's too (a spawned task is
/// a task of its own: no `#[traced]` fn encloses it on it, so its caller is `""`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_tasks_spawned_with_their_context() {
    let (_, captured) = capture_async(spawning_parent()).await;
    let calls = captured.metric("function.calls");
    assert_eq!(
        calls
            .point(&[("function", "child_task"), ("caller.function", "")])
            .value(),
        2,
        "{calls:?}"
    );
    assert_eq!(
        calls.point(&[("function", "spawning_parent")]).value(),
        1,
        "{calls:?}"
    );
}

#[traced]
fn place_order(id: u32) -> Result<u32, ActionFailed> {
    tracing::info!(order.id = id, "placing the order");
    if id == 0 {
        tracing::warn!("empty order");
        return Err(ActionFailed("place"));
    }
    Ok(id)
}

/// The log records of a capture: body, level, typed fields, and the ids of the span each belongs to, with the
/// one error line of a failing fn.
#[test]
fn a_capture_holds_the_log_records_of_its_events() {
    let (_, captured) = capture(|| {
        tracing::info!("before any span");
        let _ = place_order(3);
        let _ = place_order(0);
    });
    let logs = captured.logs();
    let bodies: Vec<Option<&str>> = logs.iter().map(|log| log.body()).collect();
    assert_eq!(
        &bodies[..4],
        [
            Some("before any span"),
            Some("placing the order"),
            Some("placing the order"),
            Some("empty order")
        ],
        "{logs:?}"
    );
    assert!(!logs[0].trace_id().to_bytes().iter().any(|b| *b != 0));
    assert!(logs[0].span().is_none());
    let orders = captured.spans_named("place_order");
    for (log, span) in logs[1..3].iter().zip(&orders) {
        assert_eq!(log.level(), tracing::Level::INFO);
        assert_eq!(log.severity_number(), 9);
        assert_eq!(log.trace_id(), span.span_context().trace_id());
        assert_eq!(log.span_id(), span.span_context().span_id());
        assert_eq!(log.span().map(|s| s.name()), Some("place_order"));
    }
    assert_eq!(logs[1].attr("order.id"), Some(&Value::I64(3)));
    assert_eq!(logs[3].level(), tracing::Level::WARN);
    let error_line = logs
        .iter()
        .find(|log| log.level() == tracing::Level::ERROR)
        .expect("the error line of place_order(0)");
    assert_eq!(error_line.span_id(), orders[1].span_context().span_id());
    assert!(
        error_line.attr("exception.type").is_some(),
        "{error_line:?}"
    );
}
