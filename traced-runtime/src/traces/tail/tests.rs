use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

use super::*;

/// Trace ids the `traceidratio` rule keeps at ratio 0.5 (low 63 bits below 2^62) and does not.
const KEPT_BY_HALF: u128 = 1;
const NOT_KEPT_BY_HALF: u128 = 1 << 63;

fn span(trace: u128, id: u64, parent: u64, lasted: Duration) -> SpanData {
    let start_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::default(),
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("s{id}").into(),
        start_time,
        end_time: start_time + lasted,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

fn ended(span: SpanData) -> ExportSpan {
    span.into()
}

fn failed(mut span: SpanData) -> SpanData {
    span.status = Status::error("boom");
    span
}

struct Stage {
    tail: Tail,
    stats: Arc<SharedStats>,
    out: Vec<ExportSpan>,
    now: Instant,
}

impl Stage {
    fn new(config: TailSampling) -> Self {
        let stats = Arc::new(SharedStats::default());
        Stage {
            tail: Tail::new(&config, Duration::from_secs(30), stats.clone()),
            stats,
            out: Vec::new(),
            now: Instant::now(),
        }
    }

    fn admit(&mut self, spans: impl IntoIterator<Item = ExportSpan>) {
        self.tail.admit(spans, &mut self.out, false, self.now);
    }

    fn released(&mut self) -> Vec<String> {
        let mut names: Vec<String> = self
            .out
            .drain(..)
            .map(|s| s.data.name.into_owned())
            .collect();
        names.sort();
        names
    }

    fn reason_of(&self, name: &str) -> Option<String> {
        let span = &self.out.iter().find(|s| s.data.name == name)?.data;
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == SAMPLING_REASON)
            .map(|kv| kv.value.as_str().into_owned())
    }
}

#[test]
fn a_trace_waits_for_its_local_root_then_goes_whole_or_not_at_all() {
    let mut stage = Stage::new(TailSampling::new().keep_errors().keep_ratio(0.5));
    // A failing child of a trace the ratio would not keep: held, then kept by its error.
    stage.admit([ended(span(NOT_KEPT_BY_HALF, 2, 1, Duration::ZERO))]);
    stage.admit([ended(failed(span(NOT_KEPT_BY_HALF, 3, 1, Duration::ZERO)))]);
    assert!(stage.out.is_empty());
    stage.admit([ended(span(NOT_KEPT_BY_HALF, 1, 0, Duration::ZERO))]);
    assert_eq!(stage.reason_of("s1").as_deref(), Some(ERROR));
    assert_eq!(stage.reason_of("s2"), None, "only the local root says why");
    assert_eq!(stage.released(), ["s1", "s2", "s3"]);
    // A fine trace: kept or not by its id.
    stage.admit([
        ended(span(KEPT_BY_HALF, 5, 4, Duration::ZERO)),
        ended(span(KEPT_BY_HALF, 4, 0, Duration::ZERO)),
    ]);
    assert_eq!(stage.reason_of("s4").as_deref(), Some(RATIO));
    assert_eq!(stage.released(), ["s4", "s5"]);
    stage.admit([
        ended(span(NOT_KEPT_BY_HALF + 1, 7, 6, Duration::ZERO)),
        ended(span(NOT_KEPT_BY_HALF + 1, 6, 0, Duration::ZERO)),
    ]);
    assert!(stage.out.is_empty());
    let stats = stage.stats.snapshot();
    assert_eq!(
        (
            stats.tail_kept_error,
            stats.tail_kept_ratio,
            stats.tail_discarded
        ),
        (1, 1, 2)
    );
}

#[test]
fn slow_roots_and_sampled_remote_parents_keep_their_trace() {
    let mut stage = Stage::new(TailSampling::new().keep_slower_than(Duration::from_millis(500)));
    stage.admit([ended(span(
        NOT_KEPT_BY_HALF,
        1,
        0,
        Duration::from_millis(500),
    ))]);
    assert_eq!(stage.reason_of("s1").as_deref(), Some(SLOW));
    stage.admit([ended(span(
        NOT_KEPT_BY_HALF + 1,
        2,
        0,
        Duration::from_millis(499),
    ))]);
    assert_eq!(stage.released(), ["s1"]);
    // A local root under a remote parent: its flag decides, not the ratio.
    let mut remote = span(NOT_KEPT_BY_HALF + 2, 3, 99, Duration::ZERO);
    remote.parent_span_is_remote = true;
    stage.admit([ExportSpan {
        parent_sampled: true,
        ..remote.clone().into()
    }]);
    assert_eq!(stage.reason_of("s3").as_deref(), Some(PARENT));
    remote.span_context = span(NOT_KEPT_BY_HALF + 3, 4, 0, Duration::ZERO).span_context;
    remote.name = "s4".into();
    stage.admit([ended(remote)]);
    assert_eq!(stage.released(), ["s3"]);
    let stats = stage.stats.snapshot();
    assert_eq!(
        (
            stats.tail_kept_slow,
            stats.tail_kept_parent,
            stats.tail_discarded
        ),
        (1, 1, 2)
    );
}

#[test]
fn late_spans_follow_the_remembered_verdict_then_the_ratio() {
    let mut stage = Stage::new(TailSampling::new().keep_errors().max_spans(2));
    stage.admit([ended(failed(span(NOT_KEPT_BY_HALF, 1, 0, Duration::ZERO)))]);
    stage.admit([ended(span(NOT_KEPT_BY_HALF + 1, 2, 0, Duration::ZERO))]);
    assert_eq!(stage.released(), ["s1"]);
    // Detached tasks of both traces end after their roots.
    stage.admit([
        ended(span(NOT_KEPT_BY_HALF, 3, 1, Duration::ZERO)),
        ended(span(NOT_KEPT_BY_HALF + 1, 4, 2, Duration::ZERO)),
    ]);
    assert_eq!(stage.released(), ["s3"]);
    assert_eq!(stage.stats.snapshot().tail_discarded, 2);
    // Two more traces decided: the first two verdicts are forgotten, and a late span of the first waits like a
    // new trace, decided without its root, by the ratio (0 here) when its time is up.
    stage.admit([
        ended(span(KEPT_BY_HALF, 5, 0, Duration::ZERO)),
        ended(span(KEPT_BY_HALF + 1, 6, 0, Duration::ZERO)),
        ended(span(NOT_KEPT_BY_HALF, 7, 1, Duration::ZERO)),
    ]);
    assert!(stage.out.is_empty());
    stage.now += Duration::from_secs(30);
    stage.admit([]);
    assert!(stage.out.is_empty());
    assert_eq!(stage.stats.snapshot().tail_discarded, 5);
}

#[test]
fn the_map_of_traces_stays_within_max_spans_waiting_and_as_many_decided() {
    let mut stage = Stage::new(TailSampling::new().keep_ratio(0.5).max_spans(4));
    for trace in 0..1_000u128 {
        // A trace complete at once, and a child of another whose root never comes.
        stage.admit([
            ended(span(trace << 64 | 1, 1, 0, Duration::ZERO)),
            ended(span(trace << 64 | 2, 2, 1, Duration::ZERO)),
        ]);
        let waiting = stage
            .tail
            .traces
            .values()
            .filter(|trace| matches!(trace, Trace::Waiting(_)))
            .count();
        assert!(stage.tail.held <= 4 && waiting == stage.tail.waiting.len());
        assert!(stage.tail.decided.len() <= 4);
        assert_eq!(stage.tail.traces.len(), waiting + stage.tail.decided.len());
    }
    assert_eq!(stage.stats.snapshot().tail_overflow, 996);
}

#[test]
fn overflow_decides_the_oldest_waiting_trace_by_ratio() {
    let mut stage = Stage::new(
        TailSampling::new()
            .keep_errors()
            .keep_ratio(0.5)
            .max_spans(3),
    );
    stage.admit([
        ended(failed(span(NOT_KEPT_BY_HALF, 11, 1, Duration::ZERO))),
        ended(span(KEPT_BY_HALF, 21, 2, Duration::ZERO)),
        ended(span(KEPT_BY_HALF, 22, 2, Duration::ZERO)),
    ]);
    assert!(stage.out.is_empty());
    // A fourth span: the oldest trace goes by ratio, its error notwithstanding.
    stage.admit([ended(span(KEPT_BY_HALF, 23, 2, Duration::ZERO))]);
    assert!(stage.out.is_empty());
    assert_eq!(stage.tail.held, 3);
    // One more: the next oldest, kept by ratio.
    stage.admit([ended(span(KEPT_BY_HALF + 2, 31, 3, Duration::ZERO))]);
    assert_eq!(stage.released(), ["s21", "s22", "s23"]);
    assert_eq!(stage.tail.held, 1);
    // Their roots follow the verdicts, and say why.
    stage.admit([
        ended(span(NOT_KEPT_BY_HALF, 1, 0, Duration::ZERO)),
        ended(span(KEPT_BY_HALF, 2, 0, Duration::ZERO)),
    ]);
    assert_eq!(stage.reason_of("s2").as_deref(), Some(RATIO));
    assert_eq!(stage.released(), ["s2"]);
    let stats = stage.stats.snapshot();
    assert_eq!(
        (
            stats.tail_overflow,
            stats.tail_kept_ratio,
            stats.tail_kept_error,
            stats.tail_discarded
        ),
        (2, 1, 0, 2)
    );
}

#[test]
fn a_root_that_never_ends_is_decided_after_the_patience_and_shutdown_decides_the_rest() {
    let mut stage = Stage::new(TailSampling::new().keep_errors());
    stage.admit([ended(failed(span(NOT_KEPT_BY_HALF, 2, 1, Duration::ZERO)))]);
    stage.now += Duration::from_secs(10);
    stage.admit([ended(span(NOT_KEPT_BY_HALF + 1, 4, 3, Duration::ZERO))]);
    stage.now += Duration::from_secs(20);
    stage.admit([]);
    assert_eq!(stage.released(), ["s2"], "the error kept it");
    assert_eq!(stage.tail.held, 1);
    stage.tail.admit([], &mut stage.out, true, stage.now);
    assert!(stage.out.is_empty());
    assert_eq!(stage.tail.held, 0);
    let stats = stage.stats.snapshot();
    assert_eq!((stats.tail_kept_error, stats.tail_discarded), (1, 1));
}

#[test]
fn the_provider_sampler_records_what_the_head_drops() {
    let sampler = RecordDropped(Sampler::AlwaysOff);
    let result = sampler.should_sample(
        None,
        TraceId::from(1u128),
        "s",
        &SpanKind::Internal,
        &[],
        &[],
    );
    assert!(matches!(result.decision, SamplingDecision::RecordOnly));
    let result = RecordDropped(Sampler::AlwaysOn).should_sample(
        None,
        TraceId::from(1u128),
        "s",
        &SpanKind::Internal,
        &[],
        &[],
    );
    assert!(matches!(result.decision, SamplingDecision::RecordAndSample));
}
