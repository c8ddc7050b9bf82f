//! Tail sampling over real OTLP (HTTP protobuf to the in-process receiver): whole local traces kept by error, by
//! slowness, by ratio and by a sampled remote parent, nothing of the others; late spans of detached tasks; the
//! bound on held spans; a root that never ends; the head sampler's flag still propagated; and every span
//! counted: exported + dropped + failed + tail_discarded = spans ended.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
};
use traced_runtime::config::{Config, LogFormat, Protocol, SamplerConfig, TailSampling};
use traced_runtime::{Guard, SpanExt, Stats};
use traced_test_support::proto::tonic::common::v1::any_value::Value;
use traced_test_support::{ReceivedSpan, Receiver};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

const SLOW: Duration = Duration::from_millis(200);

fn config(receiver: &Receiver, tail: TailSampling, sampler: SamplerConfig) -> Config {
    let mut config = Config {
        service_name: Some("tail-test".into()),
        log_format: LogFormat::None,
        sampler,
        tail_sampling: Some(tail),
        ..Config::default()
    };
    config.otlp.endpoint = receiver.http_endpoint();
    config.otlp.protocol = Protocol::HttpProtobuf;
    // Spans only: the log records of the steps' errors, and the metrics, would go to endpoints nobody listens on.
    config.logs.exporters = Vec::new();
    config.metrics.exporters = Vec::new();
    config.batch.schedule_delay = Duration::from_secs(60);
    config.batch.export_timeout = Duration::from_secs(10);
    config.batch.max_queue_size = 8192;
    config
}

fn pipeline(config: Config) -> (Dispatch, Guard) {
    let (layer, guard) = config.layer().expect("pipeline");
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// The `traceidratio` rule, written out: the low 63 bits of the trace id below `ratio * 2^63`.
fn ratio_keeps(ratio: f64, trace_id: &[u8]) -> bool {
    let low = u64::from_be_bytes(trace_id[8..16].try_into().unwrap());
    (low >> 1) < (ratio * (1u64 << 63) as f64) as u64
}

fn trace_id_bytes(trace_id: TraceId) -> Vec<u8> {
    trace_id.to_bytes().to_vec()
}

fn reason(span: &ReceivedSpan) -> Option<&str> {
    span.attr("sampling.reason")
}

fn by_trace(spans: Vec<ReceivedSpan>) -> HashMap<Vec<u8>, Vec<ReceivedSpan>> {
    let mut traces: HashMap<Vec<u8>, Vec<ReceivedSpan>> = HashMap::new();
    for span in spans {
        traces.entry(span.trace_id.clone()).or_default().push(span);
    }
    traces
}

/// Every span ended is accounted for once the pipeline is shut down, overall and by the one exporter.
fn assert_accounted(stats: &Stats, ended: u64) {
    assert_eq!(
        stats.exported + stats.dropped + stats.failed + stats.tail_discarded,
        ended,
        "{stats:?}"
    );
    assert_eq!(
        (stats.dropped, stats.failed, stats.queued),
        (0, 0, 0),
        "{stats:?}"
    );
    let [otlp] = &stats.exporters[..] else {
        panic!("{stats:?}")
    };
    assert_eq!(
        otlp.exported + otlp.dropped + otlp.failed + otlp.queued + stats.tail_discarded,
        ended,
        "{stats:?}"
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Fine,
    Failing,
    Slow,
}

#[traced::traced]
fn step(index: usize, fail: bool) -> Result<usize, std::io::Error> {
    if fail {
        Err(std::io::Error::other(format!("step {index} failed")))
    } else {
        Ok(index)
    }
}

/// A root and three children; a failing trace fails in one of its children, a slow one sleeps past [`SLOW`].
#[traced::traced]
fn request(kind: Kind, failing_step: usize) -> TraceId {
    let trace_id = tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id();
    for index in 0..3 {
        let _ = step(index, kind == Kind::Failing && index == failing_step);
    }
    if kind == Kind::Slow {
        std::thread::sleep(SLOW + Duration::from_millis(20));
    }
    trace_id
}

#[test]
fn whole_traces_kept_by_error_slowness_and_ratio_nothing_of_the_others() {
    const RATIO: f64 = 0.1;
    let receiver = Receiver::start();
    // The head sampler drops every trace: tail sampling records them all the same.
    let (dispatch, guard) = pipeline(config(
        &receiver,
        TailSampling::new()
            .keep_errors()
            .keep_slower_than(SLOW)
            .keep_ratio(RATIO),
        SamplerConfig::AlwaysOff,
    ));
    let kinds: Vec<Kind> = (0..1_000)
        .map(|i| match i % 100 {
            17 => Kind::Failing,
            63 => Kind::Slow,
            _ => Kind::Fine,
        })
        .collect();
    let trace_ids: Vec<(Kind, Vec<u8>)> = tracing::dispatcher::with_default(&dispatch, || {
        kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| (kind, trace_id_bytes(request(kind, i % 3))))
            .collect()
    });
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();

    let mut traces = by_trace(receiver.spans());
    let mut kept_by_ratio = 0u64;
    let mut fine_but_slow = 0u64;
    for (kind, trace_id) in &trace_ids {
        let Some(spans) = traces.remove(trace_id) else {
            assert_eq!(*kind, Kind::Fine, "a {kind:?} trace was not kept");
            assert!(
                !ratio_keeps(RATIO, trace_id),
                "a trace the ratio keeps was discarded"
            );
            continue;
        };
        // Kept whole: the root and its three children, under it.
        assert_eq!(spans.len(), 4, "{kind:?} trace incomplete: {spans:?}");
        let root = spans.iter().find(|s| s.name == "request").expect("root");
        assert!(root.parent_span_id.is_empty());
        let children: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == "step").collect();
        assert_eq!(children.len(), 3);
        assert!(children.iter().all(|c| c.parent_span_id == root.span_id));
        assert!(spans
            .iter()
            .filter(|s| s.name == "step")
            .all(|s| reason(s).is_none()));
        match (kind, reason(root)) {
            (Kind::Failing, Some("error")) | (Kind::Slow, Some("slow")) => {}
            (Kind::Fine, Some("ratio")) => {
                assert!(ratio_keeps(RATIO, trace_id));
                kept_by_ratio += 1;
            }
            // A fine trace this loaded machine made slow is kept as slow, rightly.
            (Kind::Fine, Some("slow")) => {
                let Some(Value::DoubleValue(ms)) = root.attribute("duration_ms") else {
                    panic!("no duration_ms on {root:?}");
                };
                assert!(*ms >= SLOW.as_secs_f64() * 1e3, "{ms} ms");
                fine_but_slow += 1;
            }
            other => panic!("kept for the wrong reason: {other:?}"),
        }
    }
    assert!(traces.is_empty(), "spans of unknown traces: {traces:?}");
    // 980 fine traces at 10 %: a binomial count, mean 98, standard deviation 9.4; five of them either way.
    let within_ratio = trace_ids
        .iter()
        .filter(|(kind, id)| *kind == Kind::Fine && ratio_keeps(RATIO, id))
        .count();
    assert!((51..=145).contains(&within_ratio), "{within_ratio} of 980");
    assert!(kept_by_ratio <= within_ratio as u64);
    assert_eq!(
        (
            stats.tail_kept_error,
            stats.tail_kept_slow,
            stats.tail_kept_ratio
        ),
        (10, 10 + fine_but_slow, kept_by_ratio),
        "{stats:?}"
    );
    assert_eq!(stats.exported, 4 * (20 + fine_but_slow + kept_by_ratio));
    assert_eq!(stats.tail_overflow, 0);
    assert_accounted(&stats, 4_000);
}

#[test]
fn a_detached_tasks_late_span_follows_its_trace() {
    let receiver = Receiver::start();
    let (dispatch, guard) = pipeline(config(
        &receiver,
        TailSampling::new().keep_errors(),
        SamplerConfig::ParentBasedAlwaysOn,
    ));
    let ids = tracing::dispatcher::with_default(&dispatch, || {
        let mut ids = Vec::new();
        for fail in [true, false] {
            let root = tracing::info_span!("root", fail);
            let cx = root.context();
            ids.push(cx.span().span_context().trace_id());
            {
                let _entered = root.enter();
                let _ = step(0, fail);
            }
            drop(root);
            // The stage has decided the trace; the detached task (parented by context, not by the `tracing`
            // tree, so the root did not wait for it) ends now.
            guard.force_flush().unwrap();
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let late = tracing::info_span!(parent: None, "late", fail);
                        late.set_parent(cx);
                        drop(late.entered());
                    });
                });
            });
        }
        ids
    });
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    let traces = by_trace(receiver.spans());
    let kept = &traces[&trace_id_bytes(ids[0])];
    let mut names: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["late", "root", "step"]);
    let root = kept.iter().find(|s| s.name == "root").unwrap();
    let late = kept.iter().find(|s| s.name == "late").unwrap();
    assert_eq!(late.parent_span_id, root.span_id);
    assert_eq!(reason(root), Some("error"));
    assert!(!traces.contains_key(&trace_id_bytes(ids[1])));
    assert_eq!(
        (stats.tail_kept_error, stats.exported, stats.tail_discarded),
        (1, 3, 3)
    );
    assert_accounted(&stats, 6);
}

#[test]
fn a_queue_of_discarded_traces_drains_without_waiting_for_the_schedule_delay() {
    let receiver = Receiver::start();
    let mut config = config(
        &receiver,
        TailSampling::new(),
        SamplerConfig::ParentBasedAlwaysOn,
    );
    // A batch of one span: the queue signals the export thread only as it goes from none to one, so the spans
    // that come while the thread wakes stay queued after its take of one, which tail sampling discards, leaving
    // the lane short of a batch.
    config.batch.max_export_batch_size = 1;
    let (dispatch, guard) = pipeline(config);
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..500 {
            request(Kind::Fine, 0);
        }
    });
    // No flush: the export thread takes every span by itself, long before the schedule delay (60 s).
    let ended = 500 * 4;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut stats = guard.stats();
    while stats.tail_discarded < ended && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        stats = guard.stats();
    }
    assert_eq!(stats.tail_discarded, ended, "{stats:?}");
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    assert_accounted(&stats, ended);
    assert_eq!(receiver.span_count(), 0);
}

#[test]
fn held_spans_stay_within_max_spans_and_the_overflow_is_counted() {
    const RATIO: f64 = 0.5;
    let receiver = Receiver::start();
    let (dispatch, guard) = pipeline(config(
        &receiver,
        TailSampling::new().keep_ratio(RATIO).max_spans(100),
        SamplerConfig::ParentBasedAlwaysOn,
    ));
    // 50 roots held open, five finished children each: 250 spans waiting for their roots.
    let (roots, ids): (Vec<tracing::Span>, Vec<Vec<u8>>) =
        tracing::dispatcher::with_default(&dispatch, || {
            (0..50)
                .map(|_| {
                    let root = tracing::info_span!("root");
                    let id = root.context().span().span_context().trace_id();
                    root.in_scope(|| {
                        for i in 0..5 {
                            drop(tracing::info_span!("child", i).entered());
                        }
                    });
                    (root, trace_id_bytes(id))
                })
                .unzip()
        });
    guard.force_flush().unwrap();
    let stats = guard.stats();
    // The oldest 30 traces were decided one by one as the 101st span came; the newest 20 (100 spans) wait.
    assert_eq!(stats.tail_overflow, 30, "{stats:?}");
    let decided = stats.exported + stats.tail_discarded + stats.dropped + stats.failed;
    assert_eq!(250 - decided, 100, "held spans: {stats:?}");
    let overflowed_kept = ids[..30].iter().filter(|id| ratio_keeps(RATIO, id)).count() as u64;
    assert_eq!(stats.tail_kept_ratio, overflowed_kept);
    assert_eq!(receiver.span_count() as u64, 5 * overflowed_kept);

    drop(roots);
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    let traces = by_trace(receiver.spans());
    for id in &ids {
        match traces.get(id) {
            // Kept traces are whole, the root saying why, whether it came before the verdict or after it.
            Some(spans) => {
                assert!(ratio_keeps(RATIO, id));
                assert_eq!(spans.len(), 6);
                let root = spans.iter().find(|s| s.name == "root").unwrap();
                assert_eq!(reason(root), Some("ratio"));
            }
            None => assert!(!ratio_keeps(RATIO, id)),
        }
    }
    assert_eq!(stats.tail_overflow, 30);
    assert_accounted(&stats, 300);
}

#[test]
fn held_spans_are_queued_until_their_trace_is_decided() {
    let receiver = Receiver::start();
    let (dispatch, guard) = pipeline(config(
        &receiver,
        TailSampling::new().keep_errors(),
        SamplerConfig::ParentBasedAlwaysOn,
    ));
    let root = tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!("root");
        root.in_scope(|| {
            let _ = step(0, true);
            let _ = step(1, false);
        });
        root
    });
    // A flush exports what is decided: nothing yet, the root is open (and the export timeout is 10 s).
    guard.force_flush().unwrap();
    let held = guard.stats();
    assert_eq!(
        (held.exported, held.queued, held.tail_discarded),
        (0, 2, 0),
        "{held:?}"
    );
    assert_eq!(held.exporters[0].queued, 2, "{held:?}");
    drop(root);
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    assert_eq!(receiver.spans().len(), 3);
    assert_eq!(stats.tail_kept_error, 1);
    assert_accounted(&stats, 3);
}

#[test]
fn a_root_that_never_ends_is_decided_after_the_export_timeout() {
    let receiver = Receiver::start();
    let mut config = config(
        &receiver,
        TailSampling::new().keep_errors(),
        SamplerConfig::ParentBasedAlwaysOn,
    );
    config.batch.export_timeout = Duration::from_secs(1);
    config.batch.schedule_delay = Duration::from_millis(100);
    let (dispatch, guard) = pipeline(config);
    let root = tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!("root");
        root.in_scope(|| {
            let _ = step(0, false);
            let _ = step(1, true);
        });
        root
    });
    // The root is still open: its children go once they waited an export timeout, kept by the error.
    assert_eq!(receiver.wait_for(2, Duration::from_secs(10)), 2);
    assert!(receiver.spans().iter().all(|s| s.name == "step"));
    assert_eq!(guard.stats().tail_kept_error, 1);
    drop(root);
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    let spans = receiver.spans();
    let root = spans
        .iter()
        .find(|s| s.name == "root")
        .expect("the root follows");
    assert_eq!(reason(root), Some("error"));
    assert_accounted(&stats, 3);
}

#[test]
fn a_sampled_remote_parent_keeps_the_trace_and_downstream_gets_the_head_flag() {
    let receiver = Receiver::start();
    // The head sampler drops new traces and follows remote parents; tail sampling keeps errors only.
    let (dispatch, guard) = pipeline(config(
        &receiver,
        TailSampling::new().keep_errors(),
        SamplerConfig::ParentBasedAlwaysOff,
    ));
    let remote = |trace: u128, flags| {
        opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(trace),
            SpanId::from(7),
            flags,
            true,
            TraceState::default(),
        ))
    };
    let outgoing = tracing::dispatcher::with_default(&dispatch, || {
        for (trace, flags) in [(1u128, TraceFlags::SAMPLED), (2, TraceFlags::default())] {
            let server = tracing::info_span!("server");
            server.set_parent(remote(trace, flags));
            server.in_scope(|| step(0, false)).unwrap();
        }
        // A new trace that fails below its root, with a child made through the OpenTelemetry API: kept whole
        // here, while the services it calls are told what the head sampler said: not sampled.
        let root = tracing::info_span!("failing");
        root.in_scope(|| {
            let mut headers = HashMap::new();
            traced_runtime::propagation::inject_into_map(&mut headers);
            let _ = step(0, true);
            drop(opentelemetry::global::tracer("api").start("api-child"));
            headers
        })
    });
    let traceparent = &outgoing["traceparent"];
    assert!(traceparent.ends_with("-00"), "{traceparent}");
    let (result, stats) = guard.shutdown_with_stats();
    result.unwrap();
    let traces = by_trace(receiver.spans());
    let kept = &traces[&TraceId::from(1u128).to_bytes().to_vec()];
    let server = kept.iter().find(|s| s.name == "server").unwrap();
    assert_eq!(reason(server), Some("parent"));
    assert_eq!(kept.len(), 2);
    assert!(!traces.contains_key(TraceId::from(2u128).to_bytes().as_slice()));
    let failing_id = traceparent.split('-').nth(1).unwrap();
    let failing = traces
        .iter()
        .find(|(id, _)| id.iter().map(|b| format!("{b:02x}")).collect::<String>() == failing_id)
        .map(|(_, spans)| spans)
        .expect("the failing trace is kept");
    let mut names: Vec<&str> = failing.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["api-child", "failing", "step"]);
    assert_eq!(
        (
            stats.tail_kept_parent,
            stats.tail_kept_error,
            stats.tail_discarded
        ),
        (1, 1, 2)
    );
    assert_accounted(&stats, 7);
}
