//! The public helpers against the global propagator, and extracted contexts as parents of real SDK spans.

use std::collections::{BTreeMap, HashMap};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use traced_runtime::config::PropagatorKind;
use traced_runtime::propagation::{self, baggage, MapExtractor, MapInjector, Propagator};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

/// The only test that installs a global propagator, so no other test in this binary can race with it.
#[test]
fn global_helpers_extract_and_inject() {
    opentelemetry::global::set_text_map_propagator(Propagator::from_kinds(&[
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
    ]));

    // Message-queue headers in mixed case.
    let mut incoming: BTreeMap<String, String> = BTreeMap::new();
    incoming.insert("Traceparent".to_owned(), format!("00-{TRACE}-{SPAN}-03"));
    incoming.insert("TraceState".to_owned(), "vendor=abc".to_owned());
    incoming.insert(
        "BAGGAGE".to_owned(),
        "user=alice%20b,tier=gold;ttl=60".to_owned(),
    );
    let cx = propagation::extract_from_map(&incoming);
    let span = cx.span();
    let sc = span.span_context();
    assert_eq!(sc.trace_id().to_string(), TRACE);
    assert_eq!(sc.span_id().to_string(), SPAN);
    assert_eq!(sc.trace_flags().to_u8(), 0x03);
    assert!(sc.is_remote());
    assert_eq!(sc.trace_state().header(), "vendor=abc");
    assert_eq!(
        cx.baggage().get("user").map(|v| v.as_str()),
        Some("alice b")
    );

    // inject_into_map writes the current context.
    let _guard = cx.clone().attach();
    assert_eq!(baggage::get("tier").as_deref(), Some("gold"));
    let mut outgoing: Vec<(String, String)> = vec![("TRACEPARENT".to_owned(), "stale".to_owned())];
    propagation::inject_into_map(&mut outgoing);
    outgoing.sort();
    assert_eq!(
        outgoing,
        [
            (
                "baggage".to_owned(),
                "tier=gold;ttl=60,user=alice%20b".to_owned()
            ),
            ("traceparent".to_owned(), format!("00-{TRACE}-{SPAN}-03")),
            ("tracestate".to_owned(), "vendor=abc".to_owned()),
        ]
    );

    // inject with an explicit context and an adapter.
    let cx2 = baggage::with("extra", "1");
    let mut map: HashMap<String, String> = HashMap::new();
    propagation::inject(&cx2, &mut MapInjector(&mut map));
    assert_eq!(map["baggage"], "extra=1,tier=gold;ttl=60,user=alice%20b");
    assert_eq!(map["traceparent"], format!("00-{TRACE}-{SPAN}-03"));

    // extract over an adapter directly; nothing valid gives back the current context.
    let empty: Vec<(String, String)> = Vec::new();
    let same = propagation::extract(&MapExtractor(&empty));
    assert_eq!(same.span().span_context().trace_id().to_string(), TRACE);
}

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

#[test]
fn extracted_context_is_the_parent_of_a_new_span_and_random_flag_survives() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("propagation-test");
    let p = Propagator::default();

    let mut incoming = HashMap::new();
    incoming.insert("traceparent".to_owned(), format!("00-{TRACE}-{SPAN}-03"));
    incoming.insert("tracestate".to_owned(), "vendor=abc".to_owned());
    let parent = p.extract_with_context(&Context::new(), &incoming);

    let span = tracer.start_with_context("handle", &parent);
    let child = Context::new().with_span(span);
    let mut outgoing = HashMap::new();
    p.inject_context(&child, &mut outgoing);
    let child_span_id = child.span().span_context().span_id();
    child.span().end();

    // The child continues the trace, keeps sampled + random, and carries the tracestate on.
    assert_eq!(
        outgoing["traceparent"],
        format!("00-{TRACE}-{child_span_id}-03")
    );
    assert_eq!(outgoing["tracestate"], "vendor=abc");
    assert_ne!(child_span_id.to_string(), SPAN);

    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_context.trace_id().to_string(), TRACE);
    assert_eq!(spans[0].parent_span_id.to_string(), SPAN);
    assert!(spans[0].parent_span_is_remote);
}

#[test]
fn unsampled_remote_parent_is_respected_by_the_parent_based_sampler() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("propagation-test");
    let p = Propagator::from_names(&["b3multi"]).unwrap();

    let mut incoming = HashMap::new();
    incoming.insert("x-b3-traceid".to_owned(), TRACE.to_owned());
    incoming.insert("x-b3-spanid".to_owned(), SPAN.to_owned());
    incoming.insert("x-b3-sampled".to_owned(), "0".to_owned());
    let parent = p.extract_with_context(&Context::new(), &incoming);
    let span = tracer.start_with_context("handle", &parent);
    assert!(!span.span_context().is_sampled());
    assert_eq!(span.span_context().trace_id().to_string(), TRACE);
    drop(span);
    assert!(exporter.get_finished_spans().unwrap().is_empty());
}

#[test]
fn baggage_helpers_build_on_a_given_context() {
    let remote = SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(SPAN).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let cx = Context::new().with_remote_span_context(remote.clone());
    let cx = baggage::with_in(&cx, "k", "v w");
    // The span context is untouched by adding baggage.
    assert_eq!(cx.span().span_context(), &remote);
    let mut out = HashMap::new();
    Propagator::default().inject_context(&cx, &mut out);
    assert_eq!(out["baggage"], "k=v%20w");
}

#[cfg(feature = "http")]
#[test]
fn header_map_carriers_work_with_the_composite() {
    use http::{HeaderMap, HeaderValue};
    use traced_runtime::propagation::{HeaderExtractor, HeaderInjector};

    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{TRACE}-{SPAN}-01")).unwrap(),
    );
    headers.append("tracestate", HeaderValue::from_static("a=1"));
    headers.append("tracestate", HeaderValue::from_static("b=2"));
    headers.insert("baggage", HeaderValue::from_bytes(b"k=\xff").unwrap());
    let p = Propagator::default();
    let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&headers));
    assert_eq!(cx.span().span_context().trace_state().header(), "a=1,b=2");
    // The non-text baggage value is skipped, not a panic.
    assert_eq!(cx.baggage().len(), 0);

    let mut out = HeaderMap::new();
    p.inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(out["traceparent"], format!("00-{TRACE}-{SPAN}-01").as_str());
    assert_eq!(out["tracestate"], "a=1,b=2");
    assert!(out.get("baggage").is_none());
}
