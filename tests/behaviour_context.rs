//! Where a `#[traced]` span sits in its trace, read from exported spans: explicit parents (tracing span, remote
//! OpenTelemetry context, span context), `root`, links, nesting across sync, async, `impl Future`, `#[async_trait]`
//! and recursive boxed fns; impl-block options and `skip`; and the fn's behaviour with no subscriber at all.
// These tests exercise the expansion; with the feature `off` the attribute expands to nothing.
#![cfg(not(feature = "off"))]

mod common;

use std::future::Future;
use std::panic::catch_unwind;
use std::pin::Pin;
use std::time::Duration;

use common::{capture, capture_async, capture_with};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Value;
use traced::traced;
use traced::SpanExt;
use traced_test_support::span::{get, is_child_of, span_id, string, trace_id};
use tracing_subscriber::filter::LevelFilter;

/// A span context as a caller in another process would send it.
fn remote_context() -> SpanContext {
    SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Explicit parents, root, links

/// What a field reads of the current context: the `tenant.id` baggage entry and the trace id.
fn tenant() -> String {
    use opentelemetry::baggage::BaggageExt;
    opentelemetry::Context::current()
        .baggage()
        .get("tenant.id")
        .map_or_else(|| "none".to_owned(), ToString::to_string)
}

fn current_trace() -> String {
    opentelemetry::Context::current()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

#[traced(parent = cx, fields(tenant = tenant(), seen.trace = current_trace()))]
fn fields_under_the_parent(cx: &opentelemetry::Context) {}

#[traced(parent = remote_context(), fields(seen.trace = current_trace()))]
fn fields_under_a_span_context() {}

#[test]
fn parent_applies_before_the_fields_are_evaluated() {
    use opentelemetry::baggage::BaggageExt;
    let ((), spans) = capture(|| {
        let cx = opentelemetry::Context::new()
            .with_remote_span_context(remote_context())
            .with_baggage([opentelemetry::KeyValue::new("tenant.id", "acme")]);
        // Another context is current: the fields still read the parent's.
        let _other = opentelemetry::Context::new()
            .with_baggage([opentelemetry::KeyValue::new("tenant.id", "other")])
            .attach();
        fields_under_the_parent(&cx);
        fields_under_a_span_context();
        // The parent's context is current only while the span starts.
        assert_eq!(tenant(), "other");
    });
    let span = spans.one("fields_under_the_parent");
    assert_eq!(string(span, "tenant"), "acme");
    let remote = remote_context().trace_id().to_string();
    assert_eq!(string(span, "seen.trace"), remote);
    let span = spans.one("fields_under_a_span_context");
    assert_eq!(string(span, "seen.trace"), remote);
}

#[traced(parent = cx, fields(tenant = tenant()))]
async fn async_under_context(cx: opentelemetry::Context) -> u32 {
    tokio::task::yield_now().await;
    4
}

#[test]
fn an_async_fn_with_a_parent_runs_on_other_tasks_under_it() {
    use opentelemetry::baggage::BaggageExt;
    let cx = opentelemetry::Context::new()
        .with_remote_span_context(remote_context())
        .with_baggage([opentelemetry::KeyValue::new("tenant.id", "acme")]);
    // `tokio::spawn` needs the future to be `Send`, with the parent it holds.
    let (returned, spans) = common::capture_multi_thread(async move {
        tokio::spawn(async_under_context(cx)).await.unwrap()
    });
    assert_eq!(returned, 4);
    let span = spans.one("async_under_context");
    assert_eq!(trace_id(span), remote_context().trace_id());
    assert_eq!(string(span, "tenant"), "acme");
}

#[traced(parent = parent)]
fn under_optional_span(parent: Option<&tracing::Span>) {}

#[traced(parent = cx)]
fn under_optional_context(cx: Option<opentelemetry::Context>) {}

#[test]
fn an_optional_parent_is_the_parent_or_a_root() {
    let ((), spans) = capture(|| {
        let chosen = tracing::info_span!("chosen");
        let _current = tracing::info_span!("current").entered();
        under_optional_span(Some(&chosen));
        under_optional_span(None);
        let remote = opentelemetry::Context::new().with_remote_span_context(remote_context());
        under_optional_context(Some(remote));
        under_optional_context(None);
    });
    let [given, none] = spans.all("under_optional_span")[..] else {
        panic!("two under_optional_span spans");
    };
    assert!(is_child_of(given, spans.one("chosen")));
    assert_eq!(none.parent_span_id, SpanId::INVALID, "None: a root");
    assert_ne!(trace_id(none), trace_id(spans.one("current")));
    let [given, none] = spans.all("under_optional_context")[..] else {
        panic!("two under_optional_context spans");
    };
    assert_eq!(trace_id(given), remote_context().trace_id());
    assert_eq!(none.parent_span_id, SpanId::INVALID, "None: a root");
    assert_ne!(trace_id(none), trace_id(spans.one("current")));
}

#[traced(parent = parent)]
fn under_span(parent: &tracing::Span) -> u32 {
    1
}

#[traced(parent = cx)]
fn under_context(cx: &opentelemetry::Context) -> u32 {
    2
}

#[traced(parent = remote_context())]
fn under_span_context() -> u32 {
    3
}

#[traced]
fn current() {
    unrelated_root();
    under_span(&tracing::Span::none());
}

#[traced(root)]
fn unrelated_root() {}

#[test]
fn parent_span_overrides_the_current_span() {
    let ((), spans) = capture(|| {
        let chosen = tracing::info_span!("chosen");
        let _current = tracing::info_span!("current").entered();
        assert_eq!(under_span(&chosen), 1);
    });
    let child = spans.one("under_span");
    assert!(is_child_of(child, spans.one("chosen")));
    assert!(!is_child_of(child, spans.one("current")));
}

#[test]
fn parent_remote_context_continues_the_remote_trace() {
    let ((), spans) = capture(|| {
        let cx = opentelemetry::Context::new().with_remote_span_context(remote_context());
        assert_eq!(under_context(&cx), 2);
        assert_eq!(under_span_context(), 3);
    });
    for name in ["under_context", "under_span_context"] {
        let span = spans.one(name);
        assert_eq!(trace_id(span), remote_context().trace_id(), "{name}");
        assert_eq!(span.parent_span_id, remote_context().span_id(), "{name}");
        assert!(span.parent_span_is_remote, "{name}");
    }
}

#[test]
fn root_starts_a_new_trace_inside_a_parent() {
    let ((), spans) = capture(current);
    let outer = spans.one("current");
    let root = spans.one("unrelated_root");
    assert_ne!(trace_id(root), trace_id(outer));
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    // `parent = Span::none()` also detaches from the current span.
    let detached = spans.one("under_span");
    assert_ne!(trace_id(detached), trace_id(outer));
}

#[traced(link = other)]
fn linked(other: &SpanContext) {}

#[traced(link = first, link = second)]
fn linked_twice(first: &tracing::Span, second: &opentelemetry::Context) {}

#[test]
fn link_adds_links_to_other_span_contexts() {
    let ((), spans) = capture(|| {
        linked(&remote_context());
        let first = tracing::info_span!("first");
        let cx = opentelemetry::Context::new().with_remote_span_context(remote_context());
        linked_twice(&first, &cx);
        // The link target's context is only known once the span exists; check it inside.
        assert!(first.context().span().span_context().is_valid());
    });
    let span = spans.one("linked");
    assert_eq!(span.links.links.len(), 1);
    assert_eq!(span.links.links[0].span_context, remote_context());
    // A link does not make a parent.
    assert_eq!(span.parent_span_id, SpanId::INVALID);

    let span = spans.one("linked_twice");
    let first = spans.one("first");
    let targets: Vec<_> = span
        .links
        .links
        .iter()
        .map(|l| l.span_context.clone())
        .collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert_eq!(targets[0].span_id(), span_id(first));
    assert_eq!(targets[1], remote_context());
}

// ---------------------------------------------------------------------------------------------------------------
// Nesting

#[traced]
fn outer_sync() -> u32 {
    middle_sync() + 1
}

#[traced]
fn middle_sync() -> u32 {
    inner_sync() + 1
}

#[traced]
fn inner_sync() -> u32 {
    1
}

#[test]
fn nested_sync_calls_form_a_chain() {
    let (n, spans) = capture(outer_sync);
    assert_eq!(n, 3);
    let outer = spans.one("outer_sync");
    let middle = spans.one("middle_sync");
    assert!(is_child_of(middle, outer));
    assert!(is_child_of(spans.one("inner_sync"), middle));
    assert_eq!(outer.parent_span_id, SpanId::INVALID);
}

#[traced]
async fn outer_async() -> u32 {
    let a = inner_async().await;
    tokio::task::yield_now().await;
    a + inner_async().await
}

#[traced]
async fn inner_async() -> u32 {
    tokio::task::yield_now().await;
    2
}

#[traced]
fn outer_future() -> impl Future<Output = u32> {
    let started = inner_sync();
    async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        started + inner_async().await
    }
}

#[test]
fn nested_async_calls_form_a_tree() {
    let (n, spans) = capture_async(outer_async);
    assert_eq!(n, 4);
    let outer = spans.one("outer_async");
    let inner = spans.all("inner_async");
    assert_eq!(inner.len(), 2);
    assert!(inner.iter().all(|child| is_child_of(child, outer)));
}

#[test]
fn impl_future_span_is_the_parent_of_calls_at_the_call_and_in_the_future() {
    let (n, spans) = capture_async(|| async { outer_future().await });
    assert_eq!(n, 3);
    let outer = spans.one("outer_future");
    assert!(is_child_of(spans.one("inner_sync"), outer));
    assert!(is_child_of(spans.one("inner_async"), outer));
    let Value::F64(ms) = get(outer, "duration_ms") else {
        panic!("duration_ms is not an f64");
    };
    assert!(
        *ms >= 20.0,
        "the sleep inside the future is inside the span: {ms}"
    );
}

#[traced]
fn fib(n: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            n
        } else {
            fib(n - 1).await + fib(n - 2).await
        }
    })
}

#[test]
fn recursive_boxed_async_fn_nests_each_call() {
    let (n, spans) = capture_async(|| fib(3));
    assert_eq!(n, 2);
    let calls = spans.all("fib");
    assert_eq!(calls.len(), 5, "fib(3), fib(2), fib(1), fib(1), fib(0)");
    let roots: Vec<_> = calls
        .iter()
        .filter(|s| s.parent_span_id == SpanId::INVALID)
        .collect();
    assert_eq!(roots.len(), 1);
    let root = roots[0];
    let children = calls.iter().filter(|s| is_child_of(s, root)).count();
    assert_eq!(children, 2, "fib(3) calls fib(2) and fib(1)");
    for call in &calls {
        assert_eq!(trace_id(call), trace_id(root));
        if call.parent_span_id != SpanId::INVALID {
            assert!(
                calls.iter().any(|p| is_child_of(call, p)),
                "parent is a fib span"
            );
        }
    }
}

#[traced]
async fn hops(n: u32) -> u32 {
    let mut sum = 0;
    for _ in 0..n {
        tokio::task::yield_now().await;
        sum += inner_async().await;
    }
    sum
}

#[test]
fn async_spans_nest_while_tasks_move_between_worker_threads() {
    let (sums, spans) = common::capture_multi_thread(async {
        let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(hops(3))).collect();
        let mut sums = Vec::new();
        for task in tasks {
            sums.push(task.await.unwrap());
        }
        sums
    });
    assert_eq!(sums, [6, 6, 6, 6]);
    let parents = spans.all("hops");
    assert_eq!(parents.len(), 4);
    let children = spans.all("inner_async");
    assert_eq!(children.len(), 12);
    for parent in &parents {
        let own = children.iter().filter(|c| is_child_of(c, parent)).count();
        assert_eq!(own, 3, "each task's calls nest under its own span");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// #[async_trait], in both attribute orders and on the fn

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: u32) -> anyhow::Result<u32>;
}

/// `#[traced]` above `#[async_trait]`: sees the `async fn`.
struct Above;

#[traced]
#[async_trait::async_trait]
impl Store for Above {
    #[traced(args(key))]
    async fn load(&self, key: u32) -> anyhow::Result<u32> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        anyhow::ensure!(key > 0, "key must be positive");
        Ok(inner_async().await + key)
    }
}

/// `#[traced]` below `#[async_trait]`: sees the `Box::pin(async move { .. })` body.
struct Below;

#[async_trait::async_trait]
#[traced]
impl Store for Below {
    #[traced(args(key))]
    async fn load(&self, key: u32) -> anyhow::Result<u32> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        anyhow::ensure!(key > 0, "key must be positive");
        Ok(inner_async().await + key)
    }
}

/// `#[traced]` on the fn inside an `#[async_trait]` impl.
struct OnFn;

#[async_trait::async_trait]
impl Store for OnFn {
    #[traced(args(key))]
    async fn load(&self, key: u32) -> anyhow::Result<u32> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        anyhow::ensure!(key > 0, "key must be positive");
        Ok(inner_async().await + key)
    }
}

#[test]
fn async_trait_impls_are_traced_in_both_attribute_orders() {
    let ((), spans) = capture_async(|| async {
        let stores: [&dyn Store; 3] = [&Above, &Below, &OnFn];
        for store in stores {
            assert_eq!(store.load(1).await.unwrap(), 3);
            assert!(store.load(0).await.is_err());
        }
    });
    for name in ["Above::load", "Below::load", "load"] {
        let calls = spans.all(name);
        assert_eq!(calls.len(), 2, "{name}: {:?}", spans.names());
        let ok = calls
            .iter()
            .find(|s| get(s, "key") == &Value::I64(1))
            .unwrap();
        let failed = calls
            .iter()
            .find(|s| get(s, "key") == &Value::I64(0))
            .unwrap();
        assert_eq!(ok.status, Status::Unset, "{name}");
        assert!(
            spans.all("inner_async").iter().any(|c| is_child_of(c, ok)),
            "{name}: nested call is a child"
        );
        let Value::F64(ms) = get(ok, "duration_ms") else {
            panic!("{name}: duration_ms is not an f64");
        };
        assert!(*ms >= 10.0, "{name}: the sleep is inside the span: {ms}");
        assert_eq!(
            failed.status,
            Status::error("key must be positive"),
            "{name}"
        );
        assert_eq!(string(failed, "error.type"), "anyhow::Error", "{name}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Impl-block options

/// A repository whose block options every method inherits.
struct Repo;

#[traced(kind = client, target = "repo", fields(db.system = "postgresql"), err(off), ret)]
impl Repo {
    fn find(&self) -> Result<u32, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    #[traced(kind = server, fields(db.operation = "select"), err(Debug))]
    fn select(&self) -> Result<u32, std::fmt::Error> {
        Err(std::fmt::Error)
    }

    #[traced(skip)]
    fn helper(&self) -> u32 {
        7
    }

    fn uses_helper(&self) -> u32 {
        self.helper()
    }
}

/// A block at debug level.
struct Quiet;

#[traced(level = "debug")]
impl Quiet {
    fn hushed(&self) -> u32 {
        1
    }

    #[traced(level = "info")]
    fn said(&self) -> u32 {
        2
    }
}

#[test]
fn impl_block_options_are_inherited_and_overridden_per_fn() {
    let ((), spans) = capture(|| {
        assert!(Repo.find().is_err());
        assert!(Repo.select().is_err());
        assert_eq!(Repo.uses_helper(), 7);
    });
    assert_eq!(
        spans.names(),
        ["Repo::find", "Repo::select", "Repo::uses_helper"]
    );

    let find = spans.one("Repo::find");
    assert_eq!(find.span_kind, SpanKind::Client);
    assert_eq!(string(find, "target"), "repo");
    assert_eq!(string(find, "db.system"), "postgresql");
    assert_eq!(find.status, Status::Unset, "err(off) inherited");
    assert_eq!(string(find, "return.value"), "Err(Error)", "ret inherited");

    let select = spans.one("Repo::select");
    assert_eq!(select.span_kind, SpanKind::Server, "kind overridden");
    assert_eq!(string(select, "target"), "repo", "target inherited");
    assert_eq!(string(select, "db.system"), "postgresql", "fields add up");
    assert_eq!(string(select, "db.operation"), "select");
    assert_eq!(
        select.status,
        Status::error("Error"),
        "err(Debug) overrides"
    );

    assert_eq!(
        get(spans.one("Repo::uses_helper"), "return.value"),
        &Value::I64(7)
    );
}

#[test]
fn impl_block_level_is_inherited_and_overridden() {
    let (sum, spans) = capture_with(LevelFilter::INFO, || Quiet.hushed() + Quiet.said());
    assert_eq!(sum, 3);
    assert_eq!(spans.names(), ["Quiet::said"]);
}

// ---------------------------------------------------------------------------------------------------------------
// No subscriber

#[traced]
fn panics_untraced() {
    panic!("untraced boom");
}

#[traced(args(a), ret, fields(sum = a + b))]
fn adds(a: u32, b: u32) -> Result<u32, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_owned())
}

#[test]
fn without_a_subscriber_fns_return_their_values_and_panics_propagate() {
    let no_subscriber =
        tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    assert!(no_subscriber, "this test runs without any subscriber");
    assert_eq!(outer_sync(), 3);
    assert_eq!(adds(1, 2), Ok(3));
    assert_eq!(adds(u32::MAX, 1), Err("overflow".to_owned()));
    let rt = common::runtime();
    assert_eq!(rt.block_on(outer_async()), 4);
    assert_eq!(rt.block_on(outer_future()), 3);
    assert_eq!(rt.block_on(fib(6)), 8);
    assert_eq!(rt.block_on(Above.load(1)).unwrap(), 3);
    assert_eq!(Repo.uses_helper(), 7);
    let payload = catch_unwind(panics_untraced).unwrap_err();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "untraced boom");
}

#[test]
fn with_the_span_filtered_out_fns_return_their_values_and_panics_propagate() {
    let ((), spans) = capture_with(LevelFilter::ERROR, || {
        assert_eq!(adds(2, 2), Ok(4));
        assert_eq!(adds(u32::MAX, 1), Err("overflow".to_owned()));
        assert_eq!(common::runtime().block_on(fib(4)), 3);
        let payload = catch_unwind(panics_untraced).unwrap_err();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "untraced boom");
    });
    assert_eq!(spans.len(), 0, "{:?}", spans.names());
}
